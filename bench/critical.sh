#!/usr/bin/env bash
# bench/critical.sh: how close bld and ninja come to the critical-path bound
# of a build, on the first build and on the second (which has the durations
# of the first: bld's bld-out/.bld/build_log, ninja's .ninja_log).
#
# Usage (from anywhere in the repo):
#   bench/critical.sh                      # both shapes, 3 runs, -j 2
#   RUNS=5 SHAPES=shallow-slow bench/critical.sh
#
# Shapes (bench/critical/main.go): chain-wide (a chain declared after wide
# independent actions) and shallow-slow (one 2 s action among quick ones,
# plus quicker deeper chains). Every action sleeps, so the machine's load
# moves the results less than CPU-bound actions would.
#
# For each run and tool, in a fresh copy of the workspace:
#   first  - no build log; bld with an empty cache, ninja with no .ninja_log;
#   second - outputs removed (rm -rf bld-out/b, keeping bld-out/.bld; ninja
#            -t clean, keeping .ninja_log) and bld's cache emptied, so that
#            every action runs again, with the durations of the first build.
# The bound is max(longest path, total work / j) by the durations the tool
# measured in that very build (bld's --events, ninja's .ninja_log); the
# ratio is wall time over bound. Prints medians as a markdown table, then
# every sample, and the load average before and after.
#
# Needs: go, ninja (apt-get install ninja-build). Knobs: RUNS, SHAPES, JOBS,
# KEEP=1 to keep the temp dir, BLD=path to an already built bld.
set -euo pipefail
export LC_ALL=C

RUNS=${RUNS:-3}
SHAPES=${SHAPES:-"chain-wide shallow-slow"}
JOBS=${JOBS:-2}

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/bld-critical.XXXXXX)
if [[ -z "${KEEP:-}" ]]; then
	trap 'rm -rf "$tmp"' EXIT
else
	echo "keeping $tmp" >&2
fi
command -v ninja >/dev/null || { echo "critical.sh: ninja not found (apt-get install ninja-build)" >&2; exit 1; }

cd "$root"
if [[ -z "${BLD:-}" ]]; then
	go build -o "$tmp/bld" ./cmd/bld
	BLD=$tmp/bld
fi
go build -o "$tmp/critical" ./bench/critical

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
samples=$tmp/samples
: >"$samples"

# wall CMD...: runs CMD, output to $tmp/tool.log, and sets $secs.
wall() {
	local t0=$EPOCHREALTIME
	"$@" >"$tmp/tool.log" 2>&1 || { cat "$tmp/tool.log" >&2; exit 1; }
	secs=$(echo "$EPOCHREALTIME - $t0" | bc -l)
}

for shape in $SHAPES; do
	"$tmp/critical" gen -shape "$shape" -out "$tmp/ws-$shape"
	for run in $(seq 1 "$RUNS"); do
		order="bld ninja"
		((run % 2 == 0)) && order="ninja bld"
		for tool in $order; do
			ws=$tmp/run-$shape-$tool
			rm -rf "$ws"
			cp -r "$tmp/ws-$shape" "$ws"
			cd "$ws"
			for build in first second; do
				if [[ $tool == bld ]]; then
					if [[ $build == second ]]; then rm -rf bld-out/b; fi
					export BLD_CACHE_DIR=$tmp/cache-$shape-$run-$build
					rm -rf "$BLD_CACHE_DIR"
					wall "$BLD" build -j "$JOBS" --events "$tmp/events.jsonl" //b:all
					read -r _ bound _ <<<"$("$tmp/critical" bound -shape "$shape" -j "$JOBS" -events "$tmp/events.jsonl")"
				else
					if [[ $build == second ]]; then ninja -t clean >/dev/null; fi
					wall ninja -j "$JOBS"
					read -r _ bound _ <<<"$("$tmp/critical" bound -shape "$shape" -j "$JOBS" -ninja-log .ninja_log)"
				fi
				ratio=$(echo "$secs / $bound" | bc -l)
				printf '%s %s %s %d %.3f %.3f %.3f\n' "$shape" "$tool" "$build" "$run" "$secs" "$bound" "$ratio" >>"$samples"
			done
			cd "$root"
		done
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "| shape | tool | build | wall (s) | bound (s) | wall / bound |"
echo "|---|---|---|---|---|---|"
for shape in $SHAPES; do
	for tool in bld ninja; do
		for build in first second; do
			sel() { awk -v s="$shape" -v t="$tool" -v b="$build" -v c="$1" '$1==s && $2==t && $3==b {print $c}' "$samples"; }
			printf '| %s | %s | %s | %.2f | %.2f | %.3f |\n' "$shape" "$tool" "$build" \
				"$(sel 5 | median)" "$(sel 6 | median)" "$(sel 7 | median)"
		done
	done
done
echo
echo "samples (shape tool build run wall bound ratio):"
cat "$samples"
