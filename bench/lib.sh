# bench/lib.sh: helpers the benchmark scripts share; source it
# (`. "$(dirname "$0")/lib.sh"`), do not run it.

# median X...: the median of the numbers X (the mean of the middle two
# for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# start_remoteserver SERVER LOG: starts bench/remoteserver (the binary
# SERVER) empty, executing actions, on a free port, its output to LOG,
# after stopping the one this function started before (rs_pid); sets
# rs_pid and url (its grpc:// target). Exits if it does not start in 10 s.
start_remoteserver() {
	[[ -z ${rs_pid:-} ]] || { kill "$rs_pid"; wait "$rs_pid" 2>/dev/null || true; }
	"$1" -listen 127.0.0.1:0 -exec >"$2" 2>&1 &
	rs_pid=$!
	local i
	for ((i = 0; i < 100; i++)); do
		url=$(sed -n 's/.*(target \(grpc:[^)]*\)).*/\1/p' "$2")
		[[ -z $url ]] || return 0
		sleep 0.1
	done
	echo "${0##*/}: remoteserver did not start:" >&2
	cat "$2" >&2
	exit 1
}
