#!/usr/bin/env bash
# bench/remote_download.sh BLD (with bld-remote beside it: go build -o DIR/
# ./cmd/bld/...): what --remote_download_minimal and
# --remote_download_toplevel save against downloading every output, on Lua
# 5.4 built with --remote_executor against bld's test server
# (bench/remoteserver -exec, started empty for every run on a free port).
#
# Per mode (all, toplevel, minimal), interleaved run by run, each run in a
# fresh copy of the workspace and an empty --cache-dir:
#   first   the first build, every action executed remotely
#   second  another fresh copy and cache against the same server: a second
#           checkout, answered by the remote cache
#   noop    the same build again in the second checkout
# It prints the median wall time of RUNS runs and the bytes down the
# summary line gives (last run), then checks that the programs a toplevel
# build brings are byte-identical to those of an "all" build.
#
# Environment: RUNS (3), JOBS (2), LUA_SRC (default $BLD_LUA_SRC or
# /work/src/lua5.4-5.4.4), KEEP=1 keeps the temp dir.
set -euo pipefail
export LC_ALL=C
[[ $# -eq 1 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
bld=$(realpath "$1")
RUNS=${RUNS:-3}
JOBS=${JOBS:-2}
LUA_SRC=${LUA_SRC:-${BLD_LUA_SRC:-/work/src/lua5.4-5.4.4}}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/bld-download-bench.XXXXXX)
rs_pid=""
cleanup() {
	[[ -z $rs_pid ]] || kill "$rs_pid" 2>/dev/null || true
	if [[ -z ${KEEP:-} ]]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT
(cd "$root" && go build -o "$tmp/remoteserver" ./bench/remoteserver)
"$root/bench/lua/setup.sh" "$LUA_SRC" "$tmp/src" >/dev/null

start_server() {
	[[ -z $rs_pid ]] || { kill "$rs_pid"; wait "$rs_pid" 2>/dev/null || true; }
	: >"$tmp/server.log"
	"$tmp/remoteserver" -listen 127.0.0.1:0 -exec >"$tmp/server.log" 2>&1 &
	rs_pid=$!
	for ((i = 0; i < 100; i++)); do
		url=$(sed -n 's/.*(target \(grpc:[^)]*\)).*/\1/p' "$tmp/server.log")
		[[ -z $url ]] || return 0
		sleep 0.1
	done
	echo "remoteserver did not start" >&2
	exit 1
}

# build WS MODE: bld build in WS; sets $secs and $down.
build() {
	local ws=$1 mode=$2 t0 t1
	cd "$ws"
	t0=$EPOCHREALTIME
	"$bld" build -j "$JOBS" --cache-dir "$ws.cache" --remote_executor="$url" --remote_download_outputs="$mode" //... >"$tmp/log" 2>&1 ||
		{ tail -30 "$tmp/log" >&2; exit 1; }
	t1=$EPOCHREALTIME
	cd "$root"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	down=$(sed -n 's/^bld: remote: .*, \([^,]*\) down$/\1/p' "$tmp/log")
	[[ -n $down ]] || down="-"
}

modes=(all toplevel minimal)
declare -A samples bytes
for ((run = 0; run < RUNS; run++)); do
	for ((k = 0; k < ${#modes[@]}; k++)); do
		mode=${modes[$(((k + run) % ${#modes[@]}))]}
		start_server
		for phase in first second; do
			rm -rf "$tmp/ws-$mode-$phase" "$tmp/ws-$mode-$phase.cache"
			cp -a "$tmp/src" "$tmp/ws-$mode-$phase"
			build "$tmp/ws-$mode-$phase" "$mode"
			samples[$mode $phase]+="$secs "
			bytes[$mode $phase]=$down
		done
		build "$tmp/ws-$mode-second" "$mode"
		samples[$mode noop]+="$secs "
		bytes[$mode noop]=$down
	done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '| mode | build | wall (s), median of %d | down | samples |\n|---|---|---:|---:|---|\n' "$RUNS"
for mode in "${modes[@]}"; do
	for phase in first second noop; do
		printf '| %s | %s | %s | %s | %s|\n' "$mode" "$phase" "$(echo "${samples[$mode $phase]}" | median)" "${bytes[$mode $phase]}" "${samples[$mode $phase]}"
	done
done
for f in lua luac; do
	p=$(cd "$tmp/ws-all-first" && find bld-out -name "$f" -type f | head -1)
	if cmp -s "$tmp/ws-all-first/$p" "$tmp/ws-toplevel-first/$p"; then
		echo "$p: toplevel's is byte-identical to all's"
	else
		echo "$p: toplevel's DIFFERS from all's (or is missing)"; exit 1
	fi
done
