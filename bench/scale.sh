#!/usr/bin/env bash
# bench/scale.sh: issue 13's scale targets, for one or more bld binaries
# side by side: loading and analysis alone, a full build, the first no-op
# right after it and the steady no-op, with wall time, CPU time and peak RSS
# of bld's own process; ninja's full build and no-op on the same graph.
#
# Usage:
#   bench/scale.sh SHAPE N BLD...         # e.g. bench/scale.sh layered 99999 /tmp/bld-old /tmp/bld
#   RUNS=3 NINJA=0 FULL=0 bench/scale.sh wide 10000 /tmp/bld
#
# For each run, each binary in turn (rotating which goes first; ninja is one
# more "binary" unless NINJA=0) gets a fresh copy of the workspace written by
# bench/gen and an empty cache, then:
#   nobuild - `bld build --nobuild //...`: loading and analysis only;
#   full    - bld-out/ removed, `bld build -j $JOBS //...` (FULL=0 skips
#             it and the no-ops: then only --nobuild is measured);
#   first   - the same command again: the first no-op after the build;
#   noop    - the same command again: a steady no-op.
# BLD_FLAGS (default --sandbox=off) is added to every bld command. BENCH_DIR
# (default /tmp) is where the workspaces and caches go: /dev/shm (a tmpfs)
# keeps a 100k full build off a slow disk (on an ext4 mounted with discard
# it did not finish in 19 minutes). Prints the
# median of each measurement per binary as a markdown table, then every
# sample. Peak RSS is GNU time's %M (the largest process it waited for: bld
# itself, not the genrules' sh and cat).
#
# With RUNS=1 the binaries run in the order given, and at 100k the first full
# build has been 6-9% faster than the second whichever binary it was (likely because the
# file system slows the creation of files right after the previous run's were
# deleted; docs/benchmarks.md, the twelfth session's check): run both orders,
# or RUNS >= 2.
set -euo pipefail
export LC_ALL=C

(($# >= 3)) || { echo "usage: bench/scale.sh SHAPE N BLD..." >&2; exit 2; }
shape=$1 n=$2
shift 2
bins=("$@")
RUNS=${RUNS:-1}
JOBS=${JOBS:-2}
FULL=${FULL:-1}
BLD_FLAGS=${BLD_FLAGS:---sandbox=off}
[[ -x /usr/bin/time ]] || { echo "scale.sh: needs GNU time (apt-get install time)" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${BENCH_DIR:-/tmp}/bld-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
go build -C "$root" -o "$tmp/gen" ./bench/gen
"$tmp/gen" -shape "$shape" -n "$n" -out "$tmp/src" >/dev/null

tools=()
for ((i = 0; i < ${#bins[@]}; i++)); do tools+=("$i"); done
[[ "${NINJA:-1}" != 0 ]] && command -v ninja >/dev/null && tools+=(ninja)

declare -A samples=()
# measure TOOL STEP CMD...: runs CMD in $tmp/ws and appends "wall cpu rssMB"
# to samples[TOOL STEP].
measure() {
	local tool=$1 step=$2
	shift 2
	if ! (cd "$tmp/ws" && /usr/bin/time -o "$tmp/time" -f "%e %U %S %M" "$@" >"$tmp/log" 2>&1); then
		echo "scale.sh: $tool $step failed: $*" >&2
		tail -n 20 "$tmp/log" >&2
		exit 1
	fi
	samples[$tool $step]+=" $(awk '{ printf "%.2f/%.2f/%.0f", $1, $2 + $3, $4 / 1024 }' "$tmp/time")"
}

for ((r = 0; r < RUNS; r++)); do
	for ((i = 0; i < ${#tools[@]}; i++)); do
		tool=${tools[$(((i + r) % ${#tools[@]}))]}
		rm -rf "$tmp/ws" "$tmp/cache"
		cp -a "$tmp/src" "$tmp/ws"
		[[ "${SYNC:-1}" != 0 ]] && sync # the setup's write-back is not the next run's cost (SYNC=0: skip)
		if [[ $tool == ninja ]]; then
			[[ $FULL != 0 ]] || continue
			measure ninja full ninja -j "$JOBS"
			measure ninja noop ninja -j "$JOBS"
			continue
		fi
		bld=(env BLD_CACHE_DIR="$tmp/cache" "${bins[$tool]}" build $BLD_FLAGS)
		measure "$tool" nobuild "${bld[@]}" --nobuild //...
		[[ $FULL != 0 ]] || continue
		rm -rf "$tmp/ws/bld-out"
		measure "$tool" full "${bld[@]}" -j "$JOBS" //...
		measure "$tool" first "${bld[@]}" -j "$JOBS" //...
		measure "$tool" noop "${bld[@]}" -j "$JOBS" //...
	done
done

# median of "wall/cpu/rss" samples, field by field
median() {
	printf '%s\n' $1 | awk -F/ '{ for (f = 1; f <= 3; f++) v[f, NR] = $f } END {
		for (f = 1; f <= 3; f++) {
			for (i = 1; i <= NR; i++) a[i] = v[f, i]
			for (i = 2; i <= NR; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			m[f] = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		}
		printf "%.2f s | %.2f s | %.0f MB", m[1], m[2], m[3] }'
}

echo "$(nproc) cores, $(uname -sr); $shape N=$n; -j $JOBS; $BLD_FLAGS; median of $RUNS; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | step | wall | CPU (user+sys, with commands) | peak RSS |"
echo "|---|---|---:|---:|---:|"
for tool in "${tools[@]}"; do
	name=ninja
	[[ $tool != ninja ]] && name=${bins[$tool]}
	for step in nobuild full first noop; do
		[[ -n ${samples[$tool $step]:-} ]] || continue
		echo "| $name | $step | $(median "${samples[$tool $step]}") |"
	done
done
echo
echo "Samples (wall s/CPU s/peak MB):"
for key in "${!samples[@]}"; do echo "  $key:${samples[$key]}"; done | sort
