#!/usr/bin/env bash
# bench/incremental.sh: time an edit to one BUILD.star, two bld binaries
# interleaved (alternating which goes first), each in its own copy of a
# workspace already built once by that binary (the snapshot formats differ).
#
# Usage:
#   bench/incremental.sh RUNS EDIT BLD_BEFORE WS_BEFORE BLD_AFTER WS_AFTER
# EDIT is a BUILD.star (relative to the workspaces) to which each run
# appends a comment before `bld build //...`, or "none" for a no-op build.
# Prints one line per run (tool, wall s, CPU s of bld and its children, ms
# in the loading and analysis phases), then the medians and after/before
# ratios. BLD_CACHE_DIR is honoured.
#
# Wall and CPU are those of the command a user runs, `bld build //...`,
# without --trace: writing the trace of 10,000 up-to-date actions cost
# ~90 ms of CPU, more than the edit itself (~12 ms since incr5). The
# phases' ms come from a second edit in each round, built with --trace
# and timed by nothing else.
set -euo pipefail
runs=$1 edit=$2 before=$3 wsb=$4 after=$5 wsa=$6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
phase_ms() {
	python3 -c "
import json; d = json.load(open('$1'))
print(round(sum(e['dur'] for e in d['traceEvents'] if e.get('cat') == 'phase' and (e['name'].startswith('analysis') or e['name'] == 'loading')) / 1000, 1))"
}
for i in $(seq "$runs"); do
	order="before after"
	((i % 2 == 0)) && order="after before"
	for which in $order; do
		ws=$wsb bin=$before
		[[ $which == after ]] && ws=$wsa bin=$after
		[[ $edit != none ]] && echo "# edit $i $RANDOM" >>"$ws/$edit"
		s=$EPOCHREALTIME
		(cd "$ws" && /usr/bin/time -o "$tmp/time" -f "%U %S" "$bin" build //... >/dev/null 2>&1)
		e=$EPOCHREALTIME
		[[ $edit != none ]] && echo "# edit $i $RANDOM traced" >>"$ws/$edit"
		(cd "$ws" && "$bin" build --trace "$tmp/trace.json" //... >/dev/null 2>&1)
		echo "$which wall=$(python3 -c "print(round($e - $s, 3))") cpu=$(awk '{print $1 + $2}' "$tmp/time") analysis_ms=$(phase_ms "$tmp/trace.json")"
	done
done | tee "$tmp/runs"
python3 - "$tmp/runs" <<'PY'
import statistics, sys
d = {}
for line in open(sys.argv[1]):
    f = line.split()
    for kv in f[1:]:
        k, v = kv.split('=')
        d.setdefault((f[0], k), []).append(float(v))
for k in ['wall', 'cpu', 'analysis_ms']:
    b, a = statistics.median(d[('before', k)]), statistics.median(d[('after', k)])
    print(f"{k}: before {b:.3f} after {a:.3f} after/before {a / b:.2f} (medians of {len(d[('before', k)])})")
PY
