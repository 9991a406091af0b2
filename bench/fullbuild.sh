#!/usr/bin/env bash
# bench/fullbuild.sh: full builds of N trivial genrules with an empty cache,
# for two or more bld binaries and sandbox modes side by side, and ninja.
#
# Usage:
#   bench/fullbuild.sh BLD...              # e.g. bench/fullbuild.sh /tmp/bld-old /tmp/bld-new
#   RUNS=5 N=1000 MODES="off namespace" JOBS=2 bench/fullbuild.sh /tmp/bld-old /tmp/bld-new
#
# Each round runs every (binary, mode) and ninja once, rotating which goes
# first, each in a fresh copy of the workspace bench/gen writes (with an
# empty cache for bld), under GNU time. Prints the median wall time and CPU
# time (user+sys, bld and its commands) of each, and their ratios to ninja,
# then every sample. On a shared machine, CPU time is the steadier measure.
# BENCH_DIR (default /tmp) is where the workspaces and the cache go: on an
# ext4 without a journal, samples grow run after run as new inodes land
# beside recently deleted ones; BENCH_DIR=/dev/shm (a tmpfs) measures the
# tools without that drift. The drift is ext4's: without a journal, creating
# a file skips every inode of its block group freed lately (within 60 s, or
# 360 s while the inode table block is dirty), one by one, and each run
# begins by deleting the last run's ~2,000 files beside the new ones
# (docs/benchmarks.md, branch lean5). KEEP=1 moves each run's workspace and
# cache aside instead, deleted at the end, so that no run starts beside the
# last one's freed inodes (needs room for RUNS x tools workspaces).
set -euo pipefail
export LC_ALL=C
(($# >= 1)) || { echo "usage: bench/fullbuild.sh BLD..." >&2; exit 2; }
RUNS=${RUNS:-5} N=${N:-1000} JOBS=${JOBS:-2} BENCH_DIR=${BENCH_DIR:-/tmp}
MODES=${MODES:-"off namespace"}
[[ -x /usr/bin/time ]] || { echo "fullbuild.sh: needs GNU time" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "$BENCH_DIR/bld-fullbuild.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
go build -C "$root" -o "$tmp/gen" ./bench/gen
"$tmp/gen" -shape wide -n "$N" -out "$tmp/src" >/dev/null

tools=()
for b in "$@"; do for m in $MODES; do tools+=("$b $m"); done; done
tools+=(ninja)
declare -A wall=() cpu=()
for ((r = 0; r < RUNS; r++)); do
	for ((i = 0; i < ${#tools[@]}; i++)); do
		t=${tools[$(((i + r) % ${#tools[@]}))]}
		if [[ "${KEEP:-0}" != 0 ]]; then
			mkdir -p "$tmp/kept/$r.$i"
			[[ -d "$tmp/ws" ]] && mv "$tmp/ws" "$tmp/kept/$r.$i/"
			[[ -d "$tmp/cache" ]] && mv "$tmp/cache" "$tmp/kept/$r.$i/"
		fi
		rm -rf "$tmp/ws" "$tmp/cache"
		cp -a "$tmp/src" "$tmp/ws"
		[[ "${SYNC:-1}" != 0 ]] && sync # the setup's write-back is not the next run's cost (SYNC=0: skip)
		if [[ $t == ninja ]]; then
			cmd=(ninja -j "$JOBS")
		else
			read -r bin mode <<<"$t"
			cmd=("$bin" build -j "$JOBS" --sandbox="$mode" --cache-dir "$tmp/cache" //...)
		fi
		if ! (cd "$tmp/ws" && /usr/bin/time -o "$tmp/time" -f "%e %U %S" "${cmd[@]}" >"$tmp/log" 2>&1); then
			echo "fullbuild.sh: $t failed:" >&2
			tail -n 20 "$tmp/log" >&2
			exit 1
		fi
		read -r e u s <"$tmp/time"
		wall[$t]+=" $e"
		cpu[$t]+=" $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
	done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# shellcheck disable=SC2086
nw=$(median ${wall[ninja]})
# shellcheck disable=SC2086
nc=$(median ${cpu[ninja]})
echo "N=$N trivial genrules, -j $JOBS, empty cache each run, median of $RUNS; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| binary, --sandbox | wall (s) | vs ninja | user+sys (s) | vs ninja |"
echo "|---|---:|---:|---:|---:|"
for t in "${tools[@]}"; do
	# shellcheck disable=SC2086
	w=$(median ${wall[$t]})
	# shellcheck disable=SC2086
	c=$(median ${cpu[$t]})
	echo "| $t | $w | $(awk -v a="$w" -v b="$nw" 'BEGIN { printf "%.2fx", a / b }') | $c | $(awk -v a="$c" -v b="$nc" 'BEGIN { printf "%.2fx", a / b }') |"
done
echo
echo "Samples (wall; user+sys, in run order):"
for t in "${tools[@]}"; do echo "  $t: wall${wall[$t]}; cpu${cpu[$t]}"; done
