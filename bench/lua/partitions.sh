#!/usr/bin/env bash
# bench/lua/partitions.sh BLD SRC_DIR REPS: Lua 5.4's library (//src:lua_lib,
# 32 C files) compiled file by file, as 1 unity partition, 2, 4 and "auto",
# by bld at -j JOBS (default 2), from one run with the variants interleaved
# (the order rotates from run to run). For each: a full build with an empty
# cache (wall, CPU time of bld and its children, peak RSS of the largest
# compile from the event log's max_rss), then the rebuild after a comment is
# appended to one source (EDIT, default lgc.c): wall, and how many compiles
# ran. Medians of REPS runs are printed as a Markdown table.
#
#   BLD      the bld binary (go build -o /tmp/bld ./cmd/bld)
#   SRC_DIR  an unpacked Lua source tree (apt-get source lua5.4)
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 3 ]]; then
	echo "usage: $0 BLD SRC_DIR REPS" >&2
	exit 2
fi
bld=$(realpath "$1")
src=$(realpath "$2")
reps=$3
JOBS=${JOBS:-2}
EDIT=${EDIT:-lgc.c}
here=$(cd "$(dirname "$0")" && pwd)

variants=(file 1 2 4 auto)
attrs() {
	case $1 in
	file) echo "" ;;
	auto) echo 'partitions = "auto",' ;;
	*) echo "partitions = $1," ;;
	esac
}

tmp=$(mktemp -d /tmp/bld-partitions-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/tool.log

. "$here/timing.sh"

# build WS: sets $secs, $cpu, $compiles (CcCompile actions run) and $rss
# (largest max_rss of a compile, MB).
build() {
	local ws=$1
	timeit "$ws" "$bld" build -j "$JOBS" --cache-dir "$tmp/cache" --events "$tmp/events.jsonl" //src:lua_lib
	compiles=$(grep '"mnemonic":"CcCompile"' "$tmp/events.jsonl" | grep -c '"status":"ran"' || true)
	rss=$(grep -o '"max_rss":[0-9]*' "$tmp/events.jsonl" | cut -d: -f2 | sort -n | tail -n 1)
	rss=$(awk -v b="${rss:-0}" 'BEGIN { printf "%.0f", b / 1048576 }')
}

# A warm-up build, unrecorded: page cache for gcc and the sources.
"$here/setup.sh" "$src" "$tmp/warm" >/dev/null
build "$tmp/warm"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A wall cpus rsss ncomp ewall ecomp nparts
for ((r = 0; r < reps; r++)); do
	n=${#variants[@]}
	for ((k = 0; k < n; k++)); do
		v=${variants[$(((k + r) % n))]}
		ws=$tmp/ws
		rm -rf "$ws" "$tmp/cache"
		"$here/setup.sh" "$src" "$ws" "$(attrs "$v")" >/dev/null
		build "$ws"
		wall[$v]+=" $secs" cpus[$v]+=" $cpu" rsss[$v]+=" $rss" ncomp[$v]=$compiles
		nparts[$v]=$(find "$ws/bld-out/src/_objs/lua_lib" -name 'partition_*.c' | wc -l)
		printf '/* bld benchmark: run %d */\n' "$r" >>"$ws/src/$EDIT"
		build "$ws"
		ewall[$v]+=" $secs" ecomp[$v]=$compiles
		echo "run $((r + 1))/$reps: $v done" >&2
	done
done

base=$(median "${wall[1]}")
echo "Lua 5.4 liblua (32 C files), bld -j$JOBS, $reps runs, medians; load average before: $load0"
echo
echo "| variant | compiles | wall (s) | wall / 1 partition | CPU (s) | peak RSS of a compile (MB) | rebuild after editing $EDIT: wall (s), compiles |"
echo "|---|---|---|---|---|---|---|"
for v in "${variants[@]}"; do
	w=$(median "${wall[$v]}")
	label=$v
	case $v in
	file) label="file by file" ;;
	auto) label="auto (${nparts[$v]})" ;;
	1) label="1 partition" ;;
	*) label="$v partitions" ;;
	esac
	printf '| %s | %s | %s | %s | %s | %s | %s, %s |\n' "$label" "${ncomp[$v]}" "$w" \
		"$(awk -v a="$w" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" \
		"$(median "${cpus[$v]}")" "$(median "${rsss[$v]}")" "$(median "${ewall[$v]}")" "${ecomp[$v]}"
done
