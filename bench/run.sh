#!/usr/bin/env bash
# bench/run.sh: time bld against ninja on the same synthetic graphs.
#
# Usage (from anywhere in the repo):
#   bench/run.sh                       # N = 1000 and 10000, wide and layered, 5 runs
#   RUNS=3 SIZES="1000" SHAPES="wide" bench/run.sh
#
# For each shape and N it writes one workspace with bench/gen (BUILD.star
# files and the same graph as build.ninja), then measures, interleaving the
# two tools run by run (and alternating which one goes first):
#   full   - a fresh copy of the workspace (no bld-out/, no .ninja_log) and an
#            empty bld cache (BLD_CACHE_DIR), then `bld build -j 2 //...` /
#            `ninja -j 2`;
#   no-op  - the same command again in the built workspace;
#   clean  - bld-out/ removed (bld clean; ninja -t clean), then the command
#            again: bld restores every output from its action cache, ninja
#            (which has none) runs every command.
# It checks that both tools wrote the same outputs, and prints the medians of
# wall time and of CPU time (user+system, the tool and its commands) with the
# bld/ninja ratios as a markdown table, then every sample.
#
# Needs: go, ninja (apt-get install ninja-build). Environment knobs: RUNS,
# SIZES, SHAPES, JOBS (default 2), BLD_FLAGS (added to every bld build, e.g.
# --sandbox=off), KEEP=1 to keep the temp dir, BLD=path to
# use an already built bld instead of building ./cmd/bld.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

RUNS=${RUNS:-5}
SIZES=${SIZES:-"1000 10000"}
SHAPES=${SHAPES:-"wide layered"}
JOBS=${JOBS:-2}

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/bld-bench.XXXXXX)
if [[ -z "${KEEP:-}" ]]; then
	trap 'rm -rf "$tmp"' EXIT
else
	echo "keeping $tmp" >&2
fi

command -v ninja >/dev/null || { echo "run.sh: ninja not found (apt-get install ninja-build)" >&2; exit 1; }

cd "$root"
if [[ -z "${BLD:-}" ]]; then
	go build -o "$tmp/bld" ./cmd/bld
	BLD=$tmp/bld
fi
go build -o "$tmp/gen" ./bench/gen

log=$tmp/tool.log

# timeit DIR CMD...: runs CMD in DIR, its output to $log, and sets $secs to
# the wall time and $cpu to the user+system CPU time of the tool and all its
# children. bash's EPOCHREALTIME and `time` cost no fork, so the clock
# brackets exactly the tool's process.
TIMEFORMAT='%3U %3S'
timeit() {
	local dir=$1
	shift
	cd "$dir"
	local t0=$EPOCHREALTIME
	if ! { time "$@" >"$log" 2>&1; } 2>"$tmp/rusage"; then
		echo "run.sh: FAILED in $dir: $*" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
	local t1=$EPOCHREALTIME
	cd "$root"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$tmp/rusage")
}


run_bld() { BLD_CACHE_DIR=$tmp/cache XDG_CACHE_HOME=$tmp/cache "$BLD" build -j "$JOBS" ${BLD_FLAGS:-} //...; }
run_ninja() { ninja -j "$JOBS"; }

rows=()
samples=()

for n in $SIZES; do
	for shape in $SHAPES; do
		ws=$tmp/$shape-$n
		"$tmp/gen" -shape "$shape" -n "$n" -out "$ws/src"
		declare -A full=() noop=() fullcpu=() noopcpu=() clean=() cleancpu=()
		full[bld]="" full[ninja]="" noop[bld]="" noop[ninja]="" clean[bld]="" clean[ninja]=""
		fullcpu[bld]="" fullcpu[ninja]="" noopcpu[bld]="" noopcpu[ninja]="" cleancpu[bld]="" cleancpu[ninja]=""
		for ((r = 0; r < RUNS; r++)); do
			if ((r % 2)); then order="ninja bld"; else order="bld ninja"; fi
			for tool in $order; do
				rm -rf "$ws/$tool"
				# Empty bld's cache for bld's run only: wiping it before
				# ninja's would also make bld's next no-op run everything.
				[[ $tool == ninja ]] || rm -rf "$tmp/cache"
				cp -a "$ws/src" "$ws/$tool"
				timeit "$ws/$tool" "run_$tool"
				full[$tool]+=" $secs"
				fullcpu[$tool]+=" $cpu"
			done
		done
		# Both tools must have written the same files with the same contents.
		(cd "$ws/ninja" && find bld-out -type f -name '*.txt' | sort >"$tmp/outs")
		[[ $(wc -l <"$tmp/outs") -eq $n ]] || { echo "run.sh: ninja wrote $(wc -l <"$tmp/outs") outputs, want $n" >&2; exit 1; }
		(cd "$ws/ninja" && xargs sha256sum <"$tmp/outs") >"$tmp/ninja.sum"
		(cd "$ws/bld" && xargs sha256sum <"$tmp/outs") >"$tmp/bld.sum" 2>&1 || true
		if ! cmp -s "$tmp/ninja.sum" "$tmp/bld.sum"; then
			echo "run.sh: bld and ninja outputs differ for $shape n=$n:" >&2
			diff "$tmp/ninja.sum" "$tmp/bld.sum" | head -n 20 >&2
			exit 1
		fi
		for ((r = 0; r < RUNS; r++)); do
			if ((r % 2)); then order="ninja bld"; else order="bld ninja"; fi
			for tool in $order; do
				timeit "$ws/$tool" "run_$tool"
				noop[$tool]+=" $secs"
				noopcpu[$tool]+=" $cpu"
			done
		done
		if ! grep -q "no work to do" "$log"; then
			echo "run.sh: warning: last ninja no-op did work" >&2
		fi
		for ((r = 0; r < RUNS; r++)); do
			if ((r % 2)); then order="ninja bld"; else order="bld ninja"; fi
			for tool in $order; do
				if [[ $tool == bld ]]; then rm -rf "$ws/bld/bld-out"; else (cd "$ws/ninja" && ninja -t clean >/dev/null); fi
				timeit "$ws/$tool" "run_$tool"
				clean[$tool]+=" $secs"
				cleancpu[$tool]+=" $cpu"
			done
		done
		for m in full noop clean; do
			declare -n times=$m cpus=${m}cpu
			# shellcheck disable=SC2086
			b=$(median ${times[bld]}) k=$(median ${times[ninja]})
			# shellcheck disable=SC2086
			bc=$(median ${cpus[bld]}) kc=$(median ${cpus[ninja]})
			ratio=$(awk -v b="$b" -v k="$k" 'BEGIN { printf "%.2f", b / k }')
			cratio=$(awk -v b="$bc" -v k="$kc" 'BEGIN { printf "%.2f", (k > 0 ? b / k : 0) }')
			case $m in
			full) label="full build, -j $JOBS" ;;
			noop) label="no-op rebuild" ;;
			clean) label="rebuild after clean (bld: from its cache)" ;;
			esac
			rows+=("| $shape | $n | $label | $b | $k | **$ratio** | $bc | $kc | $cratio |")
			samples+=("$shape n=$n $m wall bld:${times[bld]}  ninja:${times[ninja]}")
			samples+=("$shape n=$n $m cpu  bld:${cpus[bld]}  ninja:${cpus[ninja]}")
			unset -n times cpus
		done
		rm -rf "$ws"
		unset full noop fullcpu noopcpu clean cleancpu
	done
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$root" status --porcelain 2>/dev/null) ]] || rev+=" plus uncommitted changes"
echo "Machine: $(nproc) cores ($cpu), $(uname -sr); $(go version | cut -d' ' -f3); ninja $(ninja --version); bld at $rev; median of $RUNS runs"
echo
echo "| shape | N | measurement | bld wall (s) | ninja wall (s) | wall bld/ninja | bld CPU (s) | ninja CPU (s) | CPU bld/ninja |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "CPU is user+system time of the tool and every command it ran. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Samples (seconds, in run order):"
printf '  %s\n' "${samples[@]}"
