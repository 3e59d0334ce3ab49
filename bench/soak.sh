#!/usr/bin/env bash
#
# bench/soak.sh: agenthost under a long load, the memory of each of its processes
# sampled as the requests add up (issue 11: flat within 5% from 100k to 1M requests).
#
#   bench/soak.sh            (from a built checkout: src/agenthost, src/agenthostctl)
#
# DESIGN
# The environment of bench/peers.sh, from bench/lib.sh, on 127.0.0.1 only: a temp
# directory with its own MariaDB (MariaDB's defaults), the mock upstream
# (bench/mock-upstream.mjs) and lighttpd (contrib/lighttpd.conf.in) spawning BENCH_PROCS
# agenthost processes x BENCH_APP_THREADS threads with enforcement on, the `openai`
# provider's base_url on the mock. BENCH_TENANTS tenants on a plan whose limits are all
# set and none reachable (every counter exercised, nothing refused) send the same chat
# completion (gpt-4o-mini, max_tokens 32) round-robin, one key per request, with wrk at
# BENCH_CONNECTIONS connections until BENCH_SOAK_REQUESTS requests have been served.
# Requests are counted where they cannot be faked: the mock's count of calls (every
# agenthost request makes exactly one), polled every 0.2 s. Each time the count passes
# a multiple of BENCH_SOAK_STEP (and once before the load) the resident set size
# (VmRSS in /proc/PID/status) of every agenthost process is read, with lighttpd's,
# MariaDB's and the mock's for context; the pids must stay the same throughout (a
# process lighttpd restarted would hide a leak). The result: the series per process and
# the change of each agenthost process from the sample at BENCH_SOAK_BASE requests to
# the last one. A run with more than 0.1% failed requests fails. Every process started
# here is stopped by pid on exit.
#
# Output: bench/results/soak-<date>.txt (and stdout), with the commit measured and the
# load average before and after.
#
# Environment: BENCH_SOAK_REQUESTS (1000000), BENCH_SOAK_STEP (100000), BENCH_SOAK_BASE
# (the reference sample, 100000), BENCH_SOAK_MAX_S (give up after, 10800 s),
# BENCH_CONNECTIONS (50), BENCH_TENANTS (16), BENCH_LABEL (a note for the header, e.g.
# "short run to prove the script"), BENCH_WRK_THREADS (2), BENCH_PROCS (agenthost
# processes, 2), BENCH_APP_THREADS (worker threads per process, 8), BENCH_KEEP=1 (keep the
# temp directory), BENCH_TMP (parent of the temp directory, /tmp),
# BENCH_ALLOW_SANITIZERS=1 (measure a sanitizer build anyway).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
PATH=$PATH:/usr/sbin:/sbin

total=${BENCH_SOAK_REQUESTS:-1000000}
step=${BENCH_SOAK_STEP:-100000}
base=${BENCH_SOAK_BASE:-100000}
max_s=${BENCH_SOAK_MAX_S:-10800}
conns=${BENCH_CONNECTIONS:-50}
ntenants=${BENCH_TENANTS:-16}
label=${BENCH_LABEL:-}
wrk_threads=${BENCH_WRK_THREADS:-2}
procs=${BENCH_PROCS:-2}
app_threads=${BENCH_APP_THREADS:-8}

BENCH_NAME=soak.sh
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

BODY='{"model":"gpt-4o-mini","max_tokens":32,"messages":[{"role":"user","content":"benchmark request"}]}'

ctl() {
	"$top/src/agenthostctl" -c "$T/soak.conf" "$@"
}

# VmRSS of pid $1 in KiB ("-" when it is gone).
rss() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status" 2>/dev/null || echo -
}

# One line of $T/samples: requests, seconds, then the RSS of each agenthost process, of
# lighttpd, MariaDB and the mock. Dies if the agenthost processes are not the ones seen
# at the start.
sample() {
	local n=$1 secs=$2 now pid line
	now=$(fcgi_children "$LIGHTTPD_PID" | sort -n | tr '\n' ' ')
	[ "$now" = "$AH_PIDS" ] ||
		die "after $n requests the agenthost processes are '$now', not '$AH_PIDS' as at the start: one was restarted (see $T/log/soak)"
	line="$n $secs"
	for pid in $AH_PIDS $LIGHTTPD_PID $MARIADB_PID $MOCK_PID; do
		line="$line $(rss "$pid")"
	done
	echo "$line" >>"$T/samples"
}

all_procs_up() {
	[ "$(fcgi_children "$LIGHTTPD_PID" | wc -l)" -eq "$procs" ]
}

# The hook of run_wrk_until: a sample each time the count passes the next mark.
NEXT_MARK=0
on_poll() {
	local n=$1 secs=$2
	if [ "$n" -ge "$NEXT_MARK" ]; then
		sample "$n" "$secs"
		say "$n requests after $secs s"
		while [ "$NEXT_MARK" -le "$n" ]; do
			NEXT_MARK=$((NEXT_MARK + step))
		done
		[ "$NEXT_MARK" -gt "$total" ] && NEXT_MARK=$total
	fi
	return 0
}

report() {
	printf 'agenthost soak benchmark (issue 11), %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	[ -z "$label" ] || printf 'note: %s\n' "$label"
	printf 'commit measured: %s\n' "$COMMIT"
	printf 'machine: %s\n' "$(machine)"
	printf 'load average (1/5/15 min): %s before the run, %s after it (the run included)\n' \
		"$LOAD_START" "$(loadavg)"
	load_note "$LOAD_START"
	cpu_note
	printf 'setup: lighttpd (contrib/lighttpd.conf.in) -> %s agenthost processes x %s threads,\n' \
		"$procs" "$app_threads"
	printf '       enforcement on, one MariaDB %s (defaults), mock upstream in node %s\n' \
		"$(sql 'SELECT VERSION()')" "$(node --version)"
	printf 'load: wrk, %s connections, %s tenants round-robin (plan limits all set, none\n' \
		"$conns" "$ntenants"
	printf '      reachable), POST /v1/chat/completions %s\n' "$BODY"
	printf '      until %s requests; RSS sampled every %s requests (counted by the mock)\n' \
		"$total" "$step"
	printf 'wrk: %s requests in %.0f s, %s req/s, p50 %s ms, p99 %s ms, p99.9 %s ms, failed %s\n\n' \
		"$(val "$T/res" requests)" "$(awk -v us="$(val "$T/res" duration_us)" 'BEGIN { print us / 1e6 }')" \
		"$(rps "$T/res")" "$(ms "$(val "$T/res" lat_p50_us)")" "$(ms "$(val "$T/res" lat_p99_us)")" \
		"$(ms "$(val "$T/res" lat_p99_9_us)")" \
		"$(($(val "$T/res" errors_status) + $(val "$T/res" errors_connect) + $(val "$T/res" errors_read) + $(val "$T/res" errors_write) + $(val "$T/res" errors_timeout)))"
	python3 - "$T/samples" "$base" $AH_PIDS <<'PYEOF'
import sys
path, base, ah = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = [line.split() for line in open(path) if line.strip()]
names = ["agenthost[%s]" % p for p in ah] + ["lighttpd", "mariadbd", "mock"]
print("RSS in KiB (VmRSS) by requests served")
print("%10s %9s %8s " % ("requests", "seconds", "req/s") + " ".join("%16s" % n for n in names))
prev = None
for r in rows:
    n, s = int(r[0]), float(r[1])
    rate = "-" if prev is None or s == prev[1] else "%.0f" % ((n - prev[0]) / (s - prev[1]))
    print("%10d %9.1f %8s " % (n, s, rate) + " ".join("%16s" % v for v in r[2:]))
    prev = (n, s)
print()
ref = next((r for r in rows if int(r[0]) >= base), None)
last = rows[-1]
if ref is None or ref is last:
    print("change of each agenthost process: no sample at %d requests before the last one" % base)
    sys.exit(0)
print("change from %s requests to %s (issue 11's bar: within +-5%%)" % (ref[0], last[0]))
for i, p in enumerate(ah):
    a, b = ref[2 + i], last[2 + i]
    if a == "-" or b == "-":
        print("  agenthost[%s]: gone" % p)
        continue
    a, b = int(a), int(b)
    pct = (b - a) * 100.0 / a
    print("  agenthost[%s]: %d -> %d KiB, %+.1f%%  %s" % (p, a, b, pct,
          "within" if abs(pct) <= 5 else "OUTSIDE"))
PYEOF
}

check_int BENCH_SOAK_REQUESTS "$total" 1000 1000000000
check_int BENCH_SOAK_STEP "$step" 100 1000000000
check_int BENCH_SOAK_BASE "$base" 0 1000000000
check_int BENCH_SOAK_MAX_S "$max_s" 10 86400
check_int BENCH_CONNECTIONS "$conns" 1 10000
check_int BENCH_TENANTS "$ntenants" 1 100000
check_int BENCH_WRK_THREADS "$wrk_threads" 1 64
check_int BENCH_PROCS "$procs" 1 64
check_int BENCH_APP_THREADS "$app_threads" 1 256
need mariadbd mariadb-install-db mariadb-admin mariadb lighttpd wrk curl python3 node xargs
check_agenthost_build

LOAD_START=$(loadavg)
COMMIT=$(commit_measured)
cpu_mark
make_tmp
read -r db_port mock_port ah_port <<<"$(free_ports 3)"
[ -n "$ah_port" ] || die "no free ports"
say "MariaDB on 127.0.0.1:$db_port"
start_mariadb "$db_port"
start_mock "$mock_port"
upstream_conf soak true
ctl master-key init >"$T/log/ctl.log" 2>&1 || die "master-key init failed; see $T/log/ctl.log"
ctl migrate >>"$T/log/ctl.log" 2>&1 || die "migrate failed; see $T/log/ctl.log"
bench_plan
make_tenants s "$ntenants" 4 "$T/keys" soak
start_lighttpd soak "$ah_port"
URL=http://127.0.0.1:$ah_port
wait_for 150 http_ok "$URL/healthz" || die "agenthost did not start"
hdr=$(probe_chat "$URL" "$(head -n 1 "$T/keys")" "$BODY")
grep -qi '^X-RateLimit-Limit-Requests:' <<<"$hdr" || die "probe: no admission headers (is enforcement on?)"
# lighttpd starts its processes at once; wait until all are there
wait_for 100 all_procs_up ||
	die "lighttpd runs $(fcgi_children "$LIGHTTPD_PID" | wc -l) agenthost processes, not $procs"
AH_PIDS=$(fcgi_children "$LIGHTTPD_PID" | sort -n | tr '\n' ' ')
say "agenthost processes $AH_PIDS on $URL; $total requests at $conns connections"

sample 0 0
NEXT_MARK=$step
BENCH_KEYS_FILE=$T/keys BENCH_BODY=$BODY run_wrk_until "$URL" "$conns" "$total" "$max_s" "$T/res" on_poll
check_alive "soak"
check_run "$T/res" "soak"
n=$(tail -n 1 "$T/samples" | cut -d ' ' -f 1)
[ "$n" -ge "$total" ] || die "only $n of $total requests in $max_s s (BENCH_SOAK_MAX_S)"

mkdir -p "$top/bench/results"
result=$top/bench/results/soak-$(date -u +%Y%m%d-%H%M%S).txt
report | tee "$result"
say "written to ${result#"$top"/}"
