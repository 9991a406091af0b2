#!/usr/bin/env bash
# bench/killtest.sh BLD LUA_SRC N: kill bld with SIGKILL at N random points of
# a build of Lua 5.4 (bench/lua/setup.sh), each time followed by a normal
# build, and check that a killed build leaves nothing behind that matters.
#
#   BLD      the bld binary (go build -o /tmp/bld ./cmd/bld)
#   LUA_SRC  an unpacked Lua 5.4 source tree (/work/src/lua5.4-5.4.4)
#   N        how many kills
#
# First a clean build in a workspace of its own gives the reference outputs
# and the durations of a full build (empty cache) and of a restoring one
# (outputs removed, cache full). Then, in a second workspace, kill i:
#   - removes the outputs (bld clean), and for odd i the cache too, so that
#     kills land among compiles (odd) or among cache restores (even);
#   - starts `bld build -j2 //...` and sends SIGKILL after a random delay
#     within that kind of build's duration;
#   - after 1 s, no process of the killed build may run: every action has
#     the variable BLD_KILLTEST=<this run's directory> (--action_env), so
#     its processes, and the sandbox helpers, are found by their environment;
#   - a normal build must succeed, with outputs byte-identical to the
#     reference, `bld cache verify` must say ok, and again no process;
#   - temporary files are counted: .tmp-* in the cache, entries of
#     bld-out/.bld/sandbox and bld-out/.bld/running; a .tmp-* or .bld-tmp-*
#     anywhere in bld-out after the normal build is a failure.
# Prints one line per kill and a summary; exits 1 if any check failed.
# KEEP=1 keeps the temporary directory.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 3 ]]; then
	echo "usage: $0 BLD LUA_SRC N" >&2
	exit 2
fi
bld=$(realpath "$1")
src=$(realpath "$2")
n=$3
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d /tmp/bld-killtest.XXXXXX)
if [[ -z "${KEEP:-}" ]]; then
	trap 'rm -rf "$tmp"' EXIT
else
	echo "keeping $tmp" >&2
fi
flags=(-j2 "--action_env=BLD_KILLTEST=$tmp")

# marked_pids prints the pids of processes whose environment has the mark.
marked_pids() {
	grep -lsxzF "BLD_KILLTEST=$tmp" /proc/[0-9]*/environ | sed 's|^/proc/\([0-9]*\)/environ$|\1|' || true
}

# outputs_digest prints one digest of every file under bld-out but .bld.
outputs_digest() {
	(cd "$1/bld-out" && find . -path ./.bld -prune -o -type f -print | sort | xargs sha256sum | sha256sum | cut -c1-16)
}

now() { date +%s.%N; }

"$here/lua/setup.sh" "$src" "$tmp/ref" >/dev/null
t0=$(now)
(cd "$tmp/ref" && "$bld" build "${flags[@]}" --cache-dir "$tmp/ref-cache" //... >/dev/null 2>&1)
t1=$(now)
(cd "$tmp/ref" && "$bld" clean >/dev/null && "$bld" build "${flags[@]}" --cache-dir "$tmp/ref-cache" //... >/dev/null 2>&1)
t2=$(now)
full=$(echo "$t1 - $t0" | bc)
restore=$(echo "$t2 - $t1" | bc)
want=$(outputs_digest "$tmp/ref")
echo "reference: full build ${full}s, restoring build ${restore}s, outputs $want"

"$here/lua/setup.sh" "$src" "$tmp/ws" >/dev/null
cache=$tmp/cache
failures=0 max_tmp=0 max_sandbox=0 max_running=0 orphans_total=0 killed_reported=0
fail() {
	echo "  FAIL: $*"
	failures=$((failures + 1))
}
for i in $(seq 1 "$n"); do
	(cd "$tmp/ws" && "$bld" clean >/dev/null 2>&1) || fail "bld clean"
	if ((i % 2)); then
		rm -rf "$cache"
		span=$full kind=compile
	else
		span=$restore kind=restore
	fi
	delay=$(awk -v s="$span" -v r="$RANDOM" 'BEGIN { printf "%.3f", s * r / 32768 }')
	(cd "$tmp/ws" && exec "$bld" build "${flags[@]}" --cache-dir "$cache" //... >"$tmp/killed.log" 2>&1) &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	sleep 1
	orphans=$(marked_pids | wc -l)
	if ((orphans)); then
		fail "kill $i: $orphans processes of the killed build still run: $(marked_pids | xargs -r ps -o pid=,args= -p | head -5 | tr '\n' ';')"
		orphans_total=$((orphans_total + orphans))
		marked_pids | xargs -r kill -KILL 2>/dev/null || true
	fi
	tmps=$( (find "$cache" -name ".tmp-*" 2>/dev/null || true) | wc -l)
	if ! (cd "$tmp/ws" && "$bld" build "${flags[@]}" --cache-dir "$cache" //... >"$tmp/next.log" 2>&1); then
		fail "kill $i: the next build failed: $(tail -5 "$tmp/next.log")"
	fi
	grep -q "left running" "$tmp/next.log" && killed_reported=$((killed_reported + 1))
	got=$(outputs_digest "$tmp/ws")
	[[ "$got" == "$want" ]] || fail "kill $i: outputs $got, want $want"
	if ! "$bld" cache verify --cache-dir "$cache" >"$tmp/verify.log" 2>&1; then
		fail "kill $i: cache verify: $(cat "$tmp/verify.log" | tr '\n' ' ')"
	fi
	left=$(marked_pids | wc -l)
	((left == 0)) || fail "kill $i: $left processes still run after the next build"
	outtmps=$( (find "$tmp/ws/bld-out" \( -name ".tmp-*" -o -name ".bld-tmp-*" \) 2>/dev/null || true) | wc -l)
	((outtmps == 0)) || fail "kill $i: $outtmps temporary files in bld-out: $(find "$tmp/ws/bld-out" \( -name ".tmp-*" -o -name ".bld-tmp-*" \) | head -3 | tr '\n' ' ')"
	tmps_after=$( (find "$cache" -name ".tmp-*" 2>/dev/null || true) | wc -l)
	sandbox=$( (ls -A "$tmp/ws/bld-out/.bld/sandbox" 2>/dev/null || true) | wc -l)
	running=$( (ls -A "$tmp/ws/bld-out/.bld/running" 2>/dev/null || true) | wc -l)
	((tmps_after > max_tmp)) && max_tmp=$tmps_after
	((sandbox > max_sandbox)) && max_sandbox=$sandbox
	((running > max_running)) && max_running=$running
	printf 'kill %3d (%s at %5.2fs): orphans %d, cache .tmp-* %d -> %d, exec roots %d, running records %d\n' \
		"$i" "$kind" "$delay" "$orphans" "$tmps" "$tmps_after" "$sandbox" "$running"
done
echo "summary: $n kills, $failures failed checks, $orphans_total orphaned processes," \
	"at most $max_tmp cache temporary files, $max_sandbox exec roots and $max_running running records" \
	"after a normal build; $killed_reported next builds killed leftovers"
((failures == 0))
