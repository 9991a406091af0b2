#!/usr/bin/env bash
# bench/sandbox.sh: the per-action cost of the sandbox.
#
# Usage (from anywhere in the repo):
#   bench/sandbox.sh                 # N = 1000 trivial genrules, 5 runs per mode
#   RUNS=3 N=500 MODES="namespace off" JOBS=2 bench/sandbox.sh
#   BLD=/tmp/bld-old bench/sandbox.sh  # an already built bld
#
# Writes one wide workspace with bench/gen (N independent genrules, each
# `cat $(SRCS) > $@`), then, interleaving the modes run by run (rotating
# which goes first), times `bld build -j $JOBS --sandbox=MODE
# --cache-dir <fresh dir> //...` in a fresh copy of the workspace: every
# action runs, none is restored; and, when ninja is installed (NINJA=0 to
# skip it), `ninja -j $JOBS` on the same graph (bench/gen writes its
# build.ninja), interleaved with the modes. Prints the median wall time per
# mode, the difference from --sandbox=off per action, the ratio to ninja,
# and every sample. Before each timed run, `sync` writes back what the
# setup (deleting the last run's files, copying the workspace) left dirty,
# so that one tool's run does not pay for the setup's or the previous
# run's write-back (SYNC=0 to skip it, as the script did until 2026-11-30).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

RUNS=${RUNS:-5}
N=${N:-1000}
MODES=${MODES:-"namespace symlinks off"}
JOBS=${JOBS:-2}

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/bld-sandbox-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
if [[ -z "${BLD:-}" ]]; then
	go build -o "$tmp/bld" ./cmd/bld
	BLD=$tmp/bld
fi
go run ./bench/gen -shape wide -n "$N" -out "$tmp/src" >/dev/null


declare -A times=()
read -r -a modes <<<"$MODES"
tools=("${modes[@]}")
if [[ "${NINJA:-1}" != 0 ]] && command -v ninja >/dev/null; then
	tools+=(ninja)
fi
for ((r = 0; r < RUNS; r++)); do
	for ((i = 0; i < ${#tools[@]}; i++)); do
		mode=${tools[$(((i + r) % ${#tools[@]}))]}
		rm -rf "$tmp/ws" "$tmp/cache"
		cp -a "$tmp/src" "$tmp/ws"
		[[ "${SYNC:-1}" != 0 ]] && sync
		cd "$tmp/ws"
		cmd=("$BLD" build -j "$JOBS" --sandbox="$mode" --cache-dir "$tmp/cache" //...)
		[[ $mode == ninja ]] && cmd=(ninja -j "$JOBS")
		t0=$EPOCHREALTIME
		if ! "${cmd[@]}" >"$tmp/log" 2>&1; then
			echo "sandbox.sh: $mode failed:" >&2
			tail -n 20 "$tmp/log" >&2
			exit 1
		fi
		t1=$EPOCHREALTIME
		cd "$root"
		times[$mode]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	done
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Machine: $(nproc) cores ($cpu), $(uname -sr); N=$N trivial genrules, -j $JOBS, empty cache each run, median of $RUNS"
echo
echo "| --sandbox | wall (s) | per action vs off (ms) | vs ninja |"
echo "|---|---:|---:|---:|"
off="" ninja=""
# shellcheck disable=SC2086
[[ -n "${times[off]:-}" ]] && off=$(median ${times[off]})
# shellcheck disable=SC2086
[[ -n "${times[ninja]:-}" ]] && ninja=$(median ${times[ninja]})
for mode in "${tools[@]}"; do
	# shellcheck disable=SC2086
	m=$(median ${times[$mode]})
	d="-" x="-"
	[[ -n "$off" && $mode != ninja ]] && d=$(awk -v m="$m" -v o="$off" -v n="$N" 'BEGIN { printf "%+.2f", (m - o) * 1000 / n }')
	[[ -n "$ninja" ]] && x=$(awk -v m="$m" -v o="$ninja" 'BEGIN { printf "%.2fx", m / o }')
	echo "| $mode | $m | $d | $x |"
done
echo
echo "Samples (seconds, in run order):"
for mode in "${tools[@]}"; do echo "  $mode:${times[$mode]}"; done
