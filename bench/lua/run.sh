#!/usr/bin/env bash
# bench/lua/run.sh BLD SRC_DIR REPS [FLAGS...]: time bld on a real C project,
# Lua 5.4, against itself under different flags and against ninja.
#
#   BLD      the bld binary (go build -o /tmp/bld ./cmd/bld)
#   SRC_DIR  an unpacked Lua source tree (cd /work/src && apt-get source lua5.4)
#   REPS     runs per measurement (medians are printed)
#   FLAGS    one argument per flag set to compare, each split on spaces and
#            added to every `bld build`, e.g. "--sandbox=namespace"
#            "--sandbox=off". No argument means one set: bld's defaults.
#
# Each run, for every flag set and for ninja, interleaved (the order rotates
# from run to run), in a fresh copy of the workspace (bench/lua/setup.sh) and
# with a fresh, empty --cache-dir so that the cache cannot answer:
#   full      `bld build -j JOBS //...` (ninja -j JOBS): wall and CPU time,
#             actions run;
#   edit H    then, for each header H of HEADERS in turn, a comment appended
#             to src/H and the same build again with --events: how many
#             CcCompile actions ran, against how many .c files include H
#             directly or transitively (gcc -MM, the ground truth).
# ninja runs a build.ninja written here with the commands bld's cc rules ran
# before depfiles (same flags, same output paths) plus -MD -MF and
# `deps = gcc`; the script checks that both tools' outputs are identical.
#
# Environment: JOBS (default 2), HEADERS (default "lopcodes.h lobject.h"),
# NINJA=0 to leave ninja out, KEEP=1 to keep the temporary directory.
# Needs gcc, ar and (unless NINJA=0) ninja.
set -euo pipefail
export LC_ALL=C

if [[ $# -lt 3 ]]; then
	echo "usage: $0 BLD SRC_DIR REPS [FLAGS...]" >&2
	exit 2
fi
bld=$(realpath "$1")
src=$(realpath "$2")
reps=$3
shift 3
flagsets=("$@")
[[ ${#flagsets[@]} -gt 0 ]] || flagsets=("")
JOBS=${JOBS:-2}
read -ra headers <<<"${HEADERS:-lopcodes.h lobject.h}"
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d /tmp/bld-lua-bench.XXXXXX)
if [[ -z "${KEEP:-}" ]]; then
	trap 'rm -rf "$tmp"' EXIT
else
	echo "keeping $tmp" >&2
fi

# The tools: "bld0", "bld1", ... (one per flag set), then "ninja".
tools=()
for i in "${!flagsets[@]}"; do tools+=("bld$i"); done
if [[ "${NINJA:-1}" != 0 ]]; then
	command -v ninja >/dev/null || { echo "run.sh: ninja not found (apt-get install ninja-build, or NINJA=0)" >&2; exit 1; }
	tools+=(ninja)
fi
name() {
	case $1 in
	ninja) echo "ninja $(ninja --version)" ;;
	bld*) local f=${flagsets[${1#bld}]}; echo "bld ${f:-(no flags)}" ;;
	esac
}

"$here/setup.sh" "$src" "$tmp/pristine"

# The compile flags of src/BUILD.star, in the order bld's cc rules put them.
cflags=(-iquote . -iquote bld-out -Isrc -Ibld-out/src -DLUA_COMPAT_5_3 -DLUA_USE_LINUX -std=gnu99 -O2 -Wall -Wextra)

# Ground truth: which sources include each header, from gcc -MM (-MG: the
# generated lua5.4-deb-multiarch.h does not exist yet; it includes nothing).
srcs=()
for c in "$tmp/pristine"/src/*.c; do srcs+=("src/${c##*/}"); done
declare -A truth
for h in "${headers[@]}"; do
	[[ -f "$tmp/pristine/src/$h" ]] || { echo "run.sh: no header src/$h" >&2; exit 1; }
	truth[$h]=0
done
for c in "${srcs[@]}"; do
	deps=$(cd "$tmp/pristine" && gcc -MM -MG "${cflags[@]}" "$c" | sed 's/\\$//' | tr -s ' ' '\n')
	for h in "${headers[@]}"; do
		if grep -qxF "src/$h" <<<"$deps"; then truth[$h]=$((truth[$h] + 1)); fi
	done
done

# build.ninja: the same actions as bld's (see rules/cc.star; bld's compiles
# now also get -ffile-prefix-map=EXECROOT=., which changes nothing here), same
# outputs.
write_ninja() {
	local out=$1 c stem objs=()
	{
		echo "cflags = ${cflags[*]}"
		cat <<'EOF'
rule cc
  command = gcc $cflags -MD -MF $out.d -c $in -o $out
  depfile = $out.d
  deps = gcc
rule ar
  command = ar rcsD $out $in
rule link
  command = gcc -o $out $in $linkopts
rule multiarch
  command = printf '#ifndef _LUA_DEB_MULTIARCH_\n#define _LUA_DEB_MULTIARCH_\n#define DEB_HOST_MULTIARCH "%s"\n#endif\n' "$$(gcc -print-multiarch)" > $out
EOF
		echo "build bld-out/src/lua5.4-deb-multiarch.h: multiarch"
		for c in "${srcs[@]}"; do
			stem=${c%.c}
			case $c in
			src/lua.c | src/luac.c) echo "build bld-out/src/_objs/${stem#src/}/$stem.o: cc $c || bld-out/src/lua5.4-deb-multiarch.h" ;;
			*)
				echo "build bld-out/src/_objs/lua_lib/$stem.o: cc $c || bld-out/src/lua5.4-deb-multiarch.h"
				objs+=("bld-out/src/_objs/lua_lib/$stem.o")
				;;
			esac
		done
		echo "build bld-out/src/liblua_lib.a: ar ${objs[*]}"
		echo "build bld-out/src/lua: link bld-out/src/_objs/lua/src/lua.o bld-out/src/liblua_lib.a"
		echo "  linkopts = -Wl,-E -lm -ldl"
		echo "build bld-out/src/luac: link bld-out/src/_objs/luac/src/luac.o bld-out/src/liblua_lib.a"
		echo "  linkopts = -lm -ldl"
	} >"$out"
}
write_ninja "$tmp/build.ninja"

log=$tmp/tool.log

. "$here/timing.sh"

# build TOOL WS: one build in WS; sets $secs, $cpu, $compiles (CcCompile
# actions run) and $ran (all actions run).
build() {
	local tool=$1 ws=$2 flags
	if [[ $tool == ninja ]]; then
		timeit "$ws" ninja -v -j "$JOBS"
		compiles=$(grep -cE '^\[[0-9]+/[0-9]+\] gcc .* -c src/' "$log" || true)
		ran=$(grep -cE '^\[[0-9]+/[0-9]+\] ' "$log" || true)
	else
		read -ra flags <<<"${flagsets[${tool#bld}]}"
		timeit "$ws" "$bld" build -j "$JOBS" --cache-dir "$tmp/cache" --events "$tmp/events.jsonl" "${flags[@]}" //...
		compiles=$(grep '"mnemonic":"CcCompile"' "$tmp/events.jsonl" | grep -c '"status":"ran"' || true)
		ran=$(grep -c '"status":"ran"' "$tmp/events.jsonl" || true)
	fi
}

# One unrecorded build first, so that the first recorded one does not pay for
# a cold page cache (gcc, the sources).
rm -rf "$tmp/ws" "$tmp/cache"
cp -a "$tmp/pristine" "$tmp/ws"
cp "$tmp/build.ninja" "$tmp/ws/"
build "${tools[0]}" "$tmp/ws"
version=$("$tmp/ws/bld-out/src/lua" -v)

load0=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A wall cpus ncomp nran sums
for ((r = 0; r < reps; r++)); do
	n=${#tools[@]}
	for ((k = 0; k < n; k++)); do
		tool=${tools[$(((k + r) % n))]}
		ws=$tmp/ws
		rm -rf "$ws" "$tmp/cache"
		cp -a "$tmp/pristine" "$ws"
		[[ $tool != ninja ]] || cp "$tmp/build.ninja" "$ws/"

		build "$tool" "$ws"
		wall[$tool,full]+=" $secs" cpus[$tool,full]+=" $cpu" ncomp[$tool,full]+=" $compiles" nran[$tool,full]+=" $ran"
		"$ws/bld-out/src/lua" -e 'assert(1 + 1 == 2 and _VERSION == "Lua 5.4")'
		sums[$tool]=$(cd "$ws/bld-out/src" && sha256sum lua luac liblua_lib.a | sha256sum | cut -c1-12)

		for h in "${headers[@]}"; do
			printf '/* bld benchmark: run %d edits %s */\n' "$r" "$h" >>"$ws/src/$h"
			build "$tool" "$ws"
			wall[$tool,$h]+=" $secs" cpus[$tool,$h]+=" $cpu" ncomp[$tool,$h]+=" $compiles" nran[$tool,$h]+=" $ran"
		done
		echo "run $((r + 1))/$reps: $(name "$tool") done" >&2
	done
done

# The table. "wall / first" compares each tool with the first one listed.
first=${tools[0]}
echo
echo "${version%%  *} from $src; ${#srcs[@]} .c files; -j $JOBS; median of $reps runs; load average (1, 5, 15 min) before: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| measurement | tool | wall (s) | CPU (s) | wall / $(name "$first") | CcCompile run | includers (gcc -MM) | actions run |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for m in full "${headers[@]}"; do
	if [[ $m == full ]]; then what="full build, empty cache"; inc=${#srcs[@]}; else what="append a comment to $m"; inc=${truth[$m]}; fi
	base=$(median "${wall[$first,$m]}")
	for tool in "${tools[@]}"; do
		w=$(median "${wall[$tool,$m]}")
		echo "| $what | $(name "$tool") | $w | $(median "${cpus[$tool,$m]}") | $(awk -v a="$w" -v b="$base" 'BEGIN { printf "%.2f", a / b }') | $(distinct "${ncomp[$tool,$m]}") | $inc | $(distinct "${nran[$tool,$m]}") |"
	done
done
echo
echo "Outputs (sha256 of lua, luac, liblua_lib.a):"
for tool in "${tools[@]}"; do echo "- $(name "$tool"): ${sums[$tool]}"; done
echo
echo "Samples (wall s / CPU s):"
for m in full "${headers[@]}"; do
	for tool in "${tools[@]}"; do
		echo "- $m, $(name "$tool"): wall${wall[$tool,$m]}; CPU${cpus[$tool,$m]}"
	done
done
