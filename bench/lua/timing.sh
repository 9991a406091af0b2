# bench/lua/timing.sh: sourced by run.sh and partitions.sh. Needs $tmp (a
# scratch directory) and $log (where a timed command's output goes).

# timeit DIR CMD...: runs CMD in DIR, its output to $log; sets $secs (wall)
# and $cpu (user+system of the tool and its children). A failing command
# ends the script with its output's tail.
TIMEFORMAT='%3U %3S'
timeit() {
	local dir=$1 t0 t1
	shift
	cd "$dir"
	t0=$EPOCHREALTIME
	if ! { time "$@" >"$log" 2>&1; } 2>"$tmp/rusage"; then
		echo "$(basename "$0"): FAILED in $dir: $*" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
	t1=$EPOCHREALTIME
	cd "$tmp"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$tmp/rusage")
}

# median "SAMPLES", distinct "SAMPLES": of space-separated numbers.
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
distinct() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -un | paste -sd/ -; }
