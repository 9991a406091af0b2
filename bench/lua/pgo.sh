#!/usr/bin/env bash
# bench/lua/pgo.sh BLD SRC_DIR REPS: Lua 5.4's interpreter built plain
# (-O2, //src:lua), with PGO (cc_pgo_binary's optimize stage) and with PGO
# then BOLT (its bolt stage), trained on bench/lua/workload.lua;
# then each program timed on the training workload and on another one
# (bench/lua/other.lua), REPS runs each, interleaved (all programs and
# workloads in every round), medians printed side by side. Also prints the
# stage table of the build and the load average before and after.
#
# The PGO target compiles the whole of Lua (liblua's sources and lua.c) in
# its srcs: cc_pgo_binary instruments and optimizes its srcs only, not deps.
set -euo pipefail
export LC_ALL=C
if [[ $# -ne 3 ]]; then
	echo "usage: $0 BLD SRC_DIR REPS" >&2
	exit 2
fi
bld=$1 src=$2 reps=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ws=$tmp/lua
"$here/setup.sh" "$src" "$ws"
cp "$here/workload.lua" "$here/other.lua" "$ws/src/"
cat >>"$ws/src/BUILD.star" <<'BUILD'

load("@bld//rules:pgo.star", "cc_pgo_binary")

# The interpreter and the whole library as one PGO (and BOLT) program.
cc_pgo_binary(
    name = "lua_pgo",
    srcs = glob(["*.c", "*.h"], exclude = ["luac.c"]) + [":multiarch_h"],
    includes = ["."],
    copts = COPTS,
    defines = ["LUA_COMPAT_5_3", "LUA_USE_LINUX"],
    linkopts = ["-Wl,-E", "-lm", "-ldl"],
    train_args = ["$(location workload.lua)"],
    train_data = ["workload.lua"],
    bolt = True,
)
BUILD
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$ws" && "$bld" build --cache-dir "$tmp/cache" -j 2 //src:lua //src:lua_pgo 2>&1 | grep -v '^BOLT-\|^$\|^\[')
declare -A progs=(
	[plain]=bld-out/src/lua
	[pgo]=bld-out/src/lua_pgo.stages/optimize/lua_pgo
	[pgo+bolt]=bld-out/src/lua_pgo.stages/bolt/lua_pgo
)
names=(plain pgo pgo+bolt)
declare -A loads=([train]="src/workload.lua" [other]="src/other.lua 2")
for name in "${names[@]}"; do
	for w in train other; do
		out=$(cd "$ws" && ${progs[$name]} ${loads[$w]} | md5sum)
		echo "$name $w: output $out"
	done
done
for ((r = 0; r < reps; r++)); do
	for name in "${names[@]}"; do
		for w in train other; do
			s=$(date +%s%N)
			(cd "$ws" && ${progs[$name]} ${loads[$w]} >/dev/null)
			e=$(date +%s%N)
			echo "$name $w $(((e - s) / 1000))" >>"$tmp/times"
		done
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %14s %14s\n' program "train (ms)" "other (ms)"
for name in "${names[@]}"; do
	row=()
	for w in train other; do
		med=$(awk -v n="$name" -v w="$w" '$1 == n && $2 == w { print $3 }' "$tmp/times" | sort -n |
			awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }')
		row+=("$med")
	done
	printf '%-10s %14s %14s\n' "$name" "${row[0]}" "${row[1]}"
done
