#!/usr/bin/env bash
# bench/remote.sh BLD [SERVER...]: time bld's remote execution against
# local builds, on 1,000 trivial genrules and on Lua 5.4.
#
#   BLD     the bld binary, with bld-remote beside it (go build -o /tmp/ ./cmd/bld/...)
#   SERVER  remote executors to measure besides the two local configurations
#           (default: remoteserver):
#             remoteserver  bld's own test server (bench/remoteserver -exec),
#                           started empty for every run on a free port; it
#                           runs the actions on this machine
#             buildbarn     a Buildbarn; BUILDBARN_RESET must be a command
#                           that (re)starts it with empty storage, e.g.
#                           "/work/peers/start-buildbarn.sh --clean" after a
#                           stop; BUILDBARN_STOP (optional) stops it at the
#                           end; BUILDBARN_URL (default grpc://127.0.0.1:8980)
#
# Configurations, interleaved run by run (the order rotates), each run in a
# fresh copy of the workspace with a fresh, empty --cache-dir:
#   local-nosandbox  bld build -j JOBS --sandbox=off //...
#   local            bld build -j JOBS //...           (default sandbox)
#   SERVER           bld build -j JOBS --remote_executor=URL //...
#                    "first": the remote empty (server restarted empty);
#                    "second": then another fresh copy of the workspace and
#                    another empty --cache-dir against the same server: a
#                    second checkout, answered by the remote cache.
# It prints, per workload, the median wall time of RUNS runs, the ratio to
# local-nosandbox, the per-action overhead (remote - local-nosandbox) /
# actions, and bytes up/down as bld's summary line gives them (last run);
# then every sample. Each build's outputs (but depfiles, whose line
# wrapping depends on the sandbox) are compared with local-nosandbox's.
#
# Environment: RUNS (3), JOBS (2), WORKLOADS ("genrules lua"), N (1000
# genrules), LUA_SRC (an unpacked Lua 5.4 source tree, default
# $BLD_LUA_SRC or /work/src/lua5.4-5.4.4), REMOTESERVER (a built
# bench/remoteserver; default: built here), BLD_REMOTE_FLAGS (added to
# remote builds, e.g. --remote_jobs=8), KEEP=1 keeps the temp dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

if [[ $# -lt 1 ]]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
fi
bld=$(realpath "$1")
shift
servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(remoteserver)
RUNS=${RUNS:-3}
JOBS=${JOBS:-2}
N=${N:-1000}
read -ra workloads <<<"${WORKLOADS:-genrules lua}"
LUA_SRC=${LUA_SRC:-${BLD_LUA_SRC:-/work/src/lua5.4-5.4.4}}
BUILDBARN_URL=${BUILDBARN_URL:-grpc://127.0.0.1:8980}
root=$(cd "$(dirname "$0")/.." && pwd)

tmp=$(mktemp -d /tmp/bld-remote-bench.XXXXXX)
rs_pid=""
cleanup() {
	[[ -z $rs_pid ]] || kill "$rs_pid" 2>/dev/null || true
	if [[ -n ${BUILDBARN_STOP:-} && " ${servers[*]} " == *" buildbarn "* ]]; then bash -c "$BUILDBARN_STOP" >/dev/null 2>&1 || true; fi
	if [[ -z ${KEEP:-} ]]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT

for s in "${servers[@]}"; do
	case $s in
	remoteserver)
		if [[ -z ${REMOTESERVER:-} ]]; then
			(cd "$root" && go build -o "$tmp/remoteserver" ./bench/remoteserver)
			REMOTESERVER=$tmp/remoteserver
		fi
		;;
	buildbarn) [[ -n ${BUILDBARN_RESET:-} ]] || { echo "remote.sh: buildbarn needs BUILDBARN_RESET (a command starting an empty Buildbarn)" >&2; exit 2; } ;;
	*) echo "remote.sh: unknown server $s (remoteserver, buildbarn)" >&2; exit 2 ;;
	esac
done
configs=(local-nosandbox local "${servers[@]}")

# Workspaces.
for w in "${workloads[@]}"; do
	case $w in
	genrules)
		(cd "$root" && go build -o "$tmp/gen" ./bench/gen)
		"$tmp/gen" -shape wide -n "$N" -out "$tmp/src-genrules" >/dev/null
		;;
	lua) "$root/bench/lua/setup.sh" "$LUA_SRC" "$tmp/src-lua" ;;
	*) echo "remote.sh: unknown workload $w (genrules, lua)" >&2; exit 2 ;;
	esac
done

# start_server S: an empty server S; sets $url.
start_server() {
	case $1 in
	remoteserver) start_remoteserver "$REMOTESERVER" "$tmp/remoteserver.log" ;;
	buildbarn)
		bash -c "$BUILDBARN_RESET" >"$tmp/buildbarn.log" 2>&1 || { cat "$tmp/buildbarn.log" >&2; exit 1; }
		url=$BUILDBARN_URL
		;;
	esac
}

log=$tmp/bld.log
TIMEFORMAT='%3U %3S'
# build WS FLAGS...: a fresh cache, bld build in WS; sets $secs, $actions,
# $ran, $restored, $remote (the summary's remote line).
build() {
	local ws=$1
	shift
	rm -rf "$tmp/cache"
	cd "$ws"
	local t0=$EPOCHREALTIME
	if ! "$bld" build -j "$JOBS" --cache-dir "$tmp/cache" "$@" //... >"$log" 2>&1; then
		echo "remote.sh: FAILED in $ws: bld build $*" >&2
		tail -n 30 "$log" >&2
		exit 1
	fi
	local t1=$EPOCHREALTIME
	cd "$root"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	actions=$(sed -n 's/^bld: \([0-9]*\) actions: .*/\1/p' "$log")
	ran=$(sed -n 's/^bld: [0-9]* actions: \([0-9]*\) ran.*/\1/p' "$log")
	restored=$(sed -n 's/^bld: [0-9]* actions: .* \([0-9]*\) restored.*/\1/p' "$log")
	remote=$(sed -n 's/^bld: remote: //p' "$log")
}

# sums WS: checksums of the outputs (depfiles left out).
sums() { (cd "$1" && find bld-out -path bld-out/.bld -prune -o -type f ! -name '*.d' -print | sort | xargs sha256sum); }

updown() { sed -n 's/.*; \([0-9.]* [KMG]*B\) up, \([0-9.]* [KMG]*B\) down.*/\1 up, \2 down/p' <<<"$1"; }

declare -A first second nact bytes1 bytes2 hits
samples=()
for w in "${workloads[@]}"; do
	for c in "${configs[@]}"; do first[$w/$c]="" second[$w/$c]=""; done
	for ((r = 0; r < RUNS; r++)); do
		n=${#configs[@]}
		for ((k = 0; k < n; k++)); do
			c=${configs[$(((k + r) % n))]}
			ws=$tmp/ws-$w-$c
			rm -rf "$ws" "$ws-2"
			cp -a "$tmp/src-$w" "$ws"
			case $c in
			local-nosandbox) build "$ws" --sandbox=off ;;
			local) build "$ws" ;;
			*)
				start_server "$c"
				# shellcheck disable=SC2086
				build "$ws" --remote_executor="$url" ${BLD_REMOTE_FLAGS:-}
				;;
			esac
			first[$w/$c]+=" $secs"
			nact[$w]=$actions
			[[ $c == local* ]] || bytes1[$w/$c]=$(updown "$remote")
			samples+=("$w $c first run $r: ${secs}s, $ran ran, ${restored:-0} restored; ${remote:-local}")
			[[ $c != local-nosandbox ]] || sums "$ws" >"$tmp/sums-$w"
			if [[ $c != local* ]]; then
				cp -a "$tmp/src-$w" "$ws-2"
				# shellcheck disable=SC2086
				build "$ws-2" --remote_executor="$url" ${BLD_REMOTE_FLAGS:-}
				second[$w/$c]+=" $secs"
				bytes2[$w/$c]=$(updown "$remote")
				hits[$w/$c]="${restored:-0}/$actions"
				samples+=("$w $c second checkout run $r: ${secs}s, $ran ran, ${restored:-0} restored; $remote")
				[[ $ran == 0 ]] || echo "remote.sh: warning: $w $c second checkout ran $ran actions" >&2
			fi
		done
		# Every configuration wrote what local-nosandbox wrote.
		for c in "${configs[@]}"; do
			for d in "$tmp/ws-$w-$c" "$tmp/ws-$w-$c-2"; do
				[[ -d $d ]] || continue
				if ! sums "$d" | cmp -s - "$tmp/sums-$w"; then
					echo "remote.sh: outputs of $w $c (${d##*/}) differ from local-nosandbox:" >&2
					sums "$d" | diff - "$tmp/sums-$w" | head -n 10 >&2
					exit 1
				fi
			done
		done
	done
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Machine: $(nproc) cores ($cpu), $(uname -sr); $("$bld" version 2>/dev/null | head -n 1 || true), bench/remote.sh at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown); -j $JOBS; median of $RUNS runs; fresh local cache every build"
echo
echo "| workload | configuration | actions | first build: wall (s) | vs local --sandbox=off | overhead per action (ms) | bytes (last run) | second checkout: wall (s) | remote hits | bytes (last run) |"
echo "|---|---|---:|---:|---:|---:|---|---:|---:|---|"
for w in "${workloads[@]}"; do
	# shellcheck disable=SC2086
	base=$(median ${first[$w/local-nosandbox]})
	for c in "${configs[@]}"; do
		# shellcheck disable=SC2086
		f=$(median ${first[$w/$c]})
		ratio=$(awk -v a="$f" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
		over=$(awk -v a="$f" -v b="$base" -v n="${nact[$w]}" 'BEGIN { printf "%.1f", (a - b) * 1000 / n }')
		if [[ $c == local* ]]; then
			label=$c
			[[ $c == local ]] && label="local (sandbox)"
			[[ $c == local-nosandbox ]] && label="local --sandbox=off" over="0"
			echo "| $w | $label | ${nact[$w]} | $f | $ratio | $over | — | — | — | — |"
		else
			# shellcheck disable=SC2086
			s=$(median ${second[$w/$c]})
			echo "| $w | --remote_executor $c | ${nact[$w]} | $f | $ratio | $over | ${bytes1[$w/$c]} | $s | ${hits[$w/$c]} | ${bytes2[$w/$c]} |"
		fi
	done
done
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Samples (in run order):"
printf '  %s\n' "${samples[@]}"
