# bench/lib.sh: what the benchmarks share (sourced, not run): messages, argument checks,
# the processes a benchmark starts and their clean-up, free loopback ports, waiting, and
# reading the result files bench/chat.lua writes.
#
# The sourcing script sets BENCH_NAME (for messages), then fills `pids` with every
# process it starts and `T` with its temp directory; the EXIT trap stops them all and
# removes T unless the run failed or BENCH_KEEP=1.
# shellcheck shell=bash

pids=()
T=

say() { printf '==> %s\n' "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2
	exit 1
}

# A whole number in [lo, hi], or die naming the variable.
check_int() {
	local name=$1 v=$2 lo=$3 hi=$4
	if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt "$lo" ] || [ "$v" -gt "$hi" ]; then
		die "$name must be a whole number in $lo..$hi, got '$v'"
	fi
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# Stop everything started here, newest first, with lighttpd's spawned agenthost children.
stop_all() {
	local i pid kids k
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		kids=$(pgrep -P "$pid" 2>/dev/null || true)
		stop_pid "$pid"
		for k in $kids; do
			stop_pid "$k"
		done
	done
	pids=()
	wait 2>/dev/null || true
}

bench_cleanup() {
	local rc=$?
	stop_all
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$rc" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
			rm -rf "$T"
		else
			printf '%s: logs kept in %s\n' "$BENCH_NAME" "$T/log" >&2
		fi
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# n distinct free TCP ports on 127.0.0.1.
free_ports() {
	python3 - "$1" <<'PYEOF'
import random, socket, sys
n, held, port = int(sys.argv[1]), [], random.randrange(30000, 39000)
while len(held) < n and port < 50000:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        held.append(s)
    except OSError:
        s.close()
    port += 1
print(" ".join(str(s.getsockname()[1]) for s in held))
PYEOF
}

# Run the command (after the count) up to tries times, 0.1 s apart, until it succeeds.
wait_for() {
	local tries=$1 i
	shift
	for ((i = 0; i < tries; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

http_ok() {
	curl -fsS -m 2 -o /dev/null "$1"
}

# ---------------------------------------------------------------- wrk results (bench/chat.lua)

# Value of key $2 in results file $1.
val() {
	sed -n "s/^$2=//p" "$1"
}

# Check that a run's requests succeeded (rate limits or budgets must not have been hit).
check_run() {
	local f=$1 label=$2 n bad
	n=$(val "$f" requests)
	bad=$(($(val "$f" errors_status) + $(val "$f" errors_connect) + $(val "$f" errors_read) +
		$(val "$f" errors_write) + $(val "$f" errors_timeout)))
	[ "$n" -gt 0 ] || die "$label: no requests completed"
	# A handful of socket errors as wrk stops is normal; refusals are not.
	[ "$((bad * 1000))" -le "$n" ] ||
		die "$label: $bad of $n requests failed (see $f.wrk and the logs in $T/log); the numbers would mean nothing"
}

# Microseconds as milliseconds with three decimals.
ms() {
	awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'
}
