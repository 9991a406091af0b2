#!/usr/bin/env bash
# bench/editninja.sh RUNS BLD [N]: one edit of a build file, bld against
# ninja, on the same generated workspace of N genrules (default 10,000;
# bench/gen writes the BUILD.star files and an equivalent build.ninja),
# alternating which goes first:
#
#   bld    a comment appended to one BUILD.star (p0042's, or p0000's in a
#          workspace too small to have p0042), then
#          `bld build -j2 --sandbox=off //...`: bld re-evaluates that package
#   ninja  a comment appended to build.ninja, then `ninja -j2`: ninja
#          re-reads its whole manifest (its one build file)
#
# Both then find every action up to date (each stats every input and
# output). It prints the median wall and CPU (user + system) time of each,
# their ratio, and every sample. bench/incremental.sh compares two bld
# binaries on the same edit.
#
# Environment: BENCH_DIR (where the workspace goes; default /tmp),
# KEEP=1 keeps it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

if [[ $# -lt 2 ]]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
fi
runs=$1
bld=$(realpath "$2")
n=${3:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${BENCH_DIR:-/tmp}/bld-editninja.XXXXXX")
cleanup() { if [[ -z ${KEEP:-} ]]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi; }
trap cleanup EXIT

(cd "$root" && go build -o "$tmp/gen" ./bench/gen)
"$tmp/gen" -shape wide -n "$n" -out "$tmp/ws" >/dev/null
cd "$tmp/ws"
ninja -j2 >/dev/null
"$bld" build -j2 --sandbox=off //... >/dev/null 2>&1
pkg=p0042
[[ -d $pkg ]] || pkg=p0000

TIMEFORMAT='%3R %3U %3S'
# edit TOOL I: one edit and build; appends to $walls_TOOL and $cpus_TOOL.
declare -A walls cpus
edit() {
	local t w u s
	if [[ $1 == bld ]]; then
		echo "# edit $2" >>"$pkg/BUILD.star"
		t=$( { time "$bld" build -j2 --sandbox=off //... >"$tmp/out" 2>&1; } 2>&1)
		grep -q "nothing to do" "$tmp/out" || { echo "editninja.sh: bld built something:" >&2; cat "$tmp/out" >&2; exit 1; }
	else
		echo "# edit $2" >>build.ninja
		t=$( { time ninja -j2 >"$tmp/out" 2>&1; } 2>&1)
		grep -q "no work to do" "$tmp/out" || { echo "editninja.sh: ninja built something:" >&2; cat "$tmp/out" >&2; exit 1; }
	fi
	read -r w u s <<<"$t"
	walls[$1]+=" $w"
	cpus[$1]+=" $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')"
}
for ((i = 0; i < runs; i++)); do
	if ((i % 2 == 0)); then edit bld "$i"; edit ninja "$i"; else edit ninja "$i"; edit bld "$i"; fi
done

# shellcheck disable=SC2086
bw=$(median ${walls[bld]}) bc=$(median ${cpus[bld]}) nw=$(median ${walls[ninja]}) nc=$(median ${cpus[ninja]})
echo "Machine: $(nproc) cores, $(uname -sr); $("$bld" version 2>/dev/null | head -n 1 || true); ninja $(ninja --version); $n genrules; medians of $runs edits each"
echo
echo "| tool | wall (s) | CPU (s) |"
echo "|---|---:|---:|"
echo "| bld (one BUILD.star) | $bw | $bc |"
echo "| ninja (build.ninja) | $nw | $nc |"
echo "| bld / ninja | $(awk -v a="$bw" -v b="$nw" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$bc" -v b="$nc" 'BEGIN { printf "%.2f", a / b }') |"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Samples: bld wall${walls[bld]}; ninja wall${walls[ninja]}"
