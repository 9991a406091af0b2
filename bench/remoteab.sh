#!/usr/bin/env bash
# bench/remoteab.sh RUNS BLD...: remote builds of several bld binaries,
# interleaved round by round (the order rotates), against bld's test server
# (bench/remoteserver -exec) on this machine, on 1,000 trivial genrules:
#
#   first   a fresh workspace, an empty local cache, a server started empty:
#           every action runs remotely (--remote_executor)
#   second  then another fresh workspace and empty local cache against the
#           same server: a second checkout, every action a remote cache hit
#
# Each BLD needs bld-remote beside it (go build -o DIR/ ./cmd/bld/...). It
# prints, per binary and configuration, the median wall time and the median
# CPU time (user + system) of bld and its children (bld-remote; not the
# server), then every sample. bench/remote.sh compares remote builds with
# local ones, one binary at a time; this compares binaries with each other
# (a change to the remote client, the pipe to bld-remote).
#
# Environment: N (1000 genrules), JOBS (2), REMOTESERVER (a built
# bench/remoteserver; default: built here), KEEP=1 keeps the temp dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

if [[ $# -lt 2 ]]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
fi
runs=$1
shift
bins=()
for b in "$@"; do bins+=("$(realpath "$b")"); done
N=${N:-1000}
JOBS=${JOBS:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/bld-remoteab.XXXXXX)
rs_pid=""
cleanup() {
	[[ -z $rs_pid ]] || kill "$rs_pid" 2>/dev/null || true
	if [[ -z ${KEEP:-} ]]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT

if [[ -z ${REMOTESERVER:-} ]]; then
	(cd "$root" && go build -o "$tmp/remoteserver" ./bench/remoteserver)
	REMOTESERVER=$tmp/remoteserver
fi
(cd "$root" && go build -o "$tmp/gen" ./bench/gen)
"$tmp/gen" -shape wide -n "$N" -out "$tmp/src" >/dev/null

# build BLD: a fresh copy of the workspace and an empty cache; sets $wall
# and $cpu (seconds).
TIMEFORMAT='%3R %3U %3S'
build() {
	rm -rf "$tmp/ws" "$tmp/cache"
	cp -a "$tmp/src" "$tmp/ws"
	local t
	if ! t=$( { time (cd "$tmp/ws" && "$1" build -j "$JOBS" --cache-dir "$tmp/cache" --remote_executor="$url" //... >"$tmp/bld.log" 2>&1); } 2>&1); then
		echo "remoteab.sh: FAILED: $1 build --remote_executor=$url" >&2
		tail -n 30 "$tmp/bld.log" >&2
		exit 1
	fi
	local u s
	read -r wall u s <<<"$t"
	cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
}

declare -A wall1 cpu1 wall2 cpu2
samples=()
n=${#bins[@]}
for ((r = 0; r < runs; r++)); do
	for ((k = 0; k < n; k++)); do
		b=${bins[$(((k + r) % n))]}
		start_remoteserver "$REMOTESERVER" "$tmp/remoteserver.log"
		build "$b"
		wall1[$b]+=" $wall" cpu1[$b]+=" $cpu"
		grep -q " 0 restored from the remote cache" "$tmp/bld.log" || echo "remoteab.sh: warning: $b first build restored from the remote cache" >&2
		build "$b"
		wall2[$b]+=" $wall" cpu2[$b]+=" $cpu"
		grep -q "^bld: remote: 0 action(s) ran" "$tmp/bld.log" || echo "remoteab.sh: warning: $b second checkout ran actions remotely" >&2
		samples+=("run $r $b: first ${wall1[$b]##* } s wall ${cpu1[$b]##* } s CPU; second ${wall2[$b]##* } s wall ${cpu2[$b]##* } s CPU")
	done
done

echo "Machine: $(nproc) cores, $(uname -sr); bench/remoteab.sh at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown); $N genrules, -j $JOBS; medians of $runs runs"
echo
echo "| bld | remote execution: wall (s) | CPU of bld + bld-remote (s) | second checkout: wall (s) | CPU (s) |"
echo "|---|---:|---:|---:|---:|"
for b in "${bins[@]}"; do
	# shellcheck disable=SC2086
	echo "| $b | $(median ${wall1[$b]}) | $(median ${cpu1[$b]}) | $(median ${wall2[$b]}) | $(median ${cpu2[$b]}) |"
done
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Samples (in run order):"
printf '  %s\n' "${samples[@]}"
