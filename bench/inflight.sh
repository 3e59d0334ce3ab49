#!/usr/bin/env bash
#
# bench/inflight.sh: thousands of streamed calls in flight on one host, and another
# tenant's short calls meanwhile (issue 12).
#
#   bench/inflight.sh            (from a built checkout: src/agenthost, src/agenthostctl)
#
# DESIGN
# The environment of bench/peers.sh, from bench/lib.sh, on 127.0.0.1 only: a temp
# directory with its own MariaDB, lighttpd (contrib/lighttpd.conf.in) spawning
# BENCH_PROCS agenthost processes x BENCH_APP_THREADS threads (the `./contrib/dev up`
# defaults, 2 x 8), enforcement on, the mock provider (no upstream: the mock's stream
# delay is a timer of the request's scheduler, so a 30 s stream costs what a 30 s
# upstream stream costs agenthost, minus libcurl).
#
# 1. Idle host: tenant B's short chat completions (mock-1, 16 words) with wrk at
#    BENCH_SHORT_CONNS connections for BENCH_SHORT_S seconds: p50 and p99.
# 2. BENCH_STREAMS streamed calls (BENCH_STREAM_WORDS words, one every
#    BENCH_STREAM_DELAY_MS: ~30 s each) from BENCH_STREAM_TENANTS tenants round-robin,
#    opened at BENCH_RAMP a second by bench/streams.py (asyncio, one process), each read
#    to its end; once they are all open, B's short calls again, same wrk run, and the
#    RSS of every agenthost process. The streams must all end with [DONE] (no error).
# 3. The bar: streams ok = BENCH_STREAMS with the peak of streams open at least
#    BENCH_STREAMS; B's p99 under load within 2 x its idle p99; agenthost memory per call
#    in flight ((RSS at the peak - RSS idle) / calls in flight), goal <= 50 KB.
#
# Output: bench/results/inflight-<date>.txt (and stdout), with the commit measured and the
# load average before and after.
#
# Environment: BENCH_STREAMS (5000), BENCH_STREAM_TENANTS (10), BENCH_STREAM_WORDS (31),
# BENCH_STREAM_DELAY_MS (1000), BENCH_RAMP (500 streams a second), BENCH_SHORT_CONNS (2),
# BENCH_SHORT_S (15), BENCH_PROCS (2), BENCH_APP_THREADS (8), BENCH_WRK_THREADS (1),
# BENCH_KEEP=1, BENCH_TMP, BENCH_ALLOW_SANITIZERS=1.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
PATH=$PATH:/usr/sbin:/sbin

streams=${BENCH_STREAMS:-5000}
stream_tenants=${BENCH_STREAM_TENANTS:-10}
words=${BENCH_STREAM_WORDS:-31}
delay=${BENCH_STREAM_DELAY_MS:-1000}
ramp=${BENCH_RAMP:-500}
short_conns=${BENCH_SHORT_CONNS:-2}
short_s=${BENCH_SHORT_S:-15}
procs=${BENCH_PROCS:-2}
app_threads=${BENCH_APP_THREADS:-8}
wrk_threads=${BENCH_WRK_THREADS:-1}

BENCH_NAME=inflight.sh
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

check_int BENCH_STREAMS "$streams" 1 100000
check_int BENCH_STREAM_TENANTS "$stream_tenants" 1 1000
need wrk python3 lighttpd mariadbd
check_agenthost_build

ctl() {
	"$top/src/agenthostctl" -c "$T/on.conf" "$@"
}

# Each stream holds a client socket, lighttpd's two and agenthost's one.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((streams + 512)) ] ||
	die "open files limit $(ulimit -n) is too low for $streams streams (ulimit -Hn)"

trap bench_cleanup EXIT
make_tmp
read -r db_port web_port < <(free_ports 2)
load_before=$(loadavg)
say "MariaDB on 127.0.0.1:$db_port"
start_mariadb "$db_port" --max-connections=2000
agenthost_conf on true "mock_stream_delay_ms = $delay"
ctl master-key init >>"$T/log/ctl.log" 2>&1 || die "master-key init failed"
ctl migrate >>"$T/log/ctl.log" 2>&1 || die "migrate failed"
bench_plan
make_tenants s "$stream_tenants" 4 "$T/keys-streams" on
make_tenants b 1 1 "$T/keys-short" on
start_lighttpd on "$web_port"
URL=http://127.0.0.1:$web_port
wait_for 100 http_ok "$URL/healthz" || die "agenthost did not come up; see $T/log"

rss_sum() {
	local p t=0
	for p in $(fcgi_children "$LIGHTTPD_PID"); do
		t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

short_run() {
	BENCH_KEY=$(head -n 1 "$T/keys-short") run_wrk "$URL" "$short_conns" "$short_s" "$1"
	check_run "$1" "$2"
}

cpu_mark
say "idle host: tenant B's short calls, $short_conns connections, $short_s s"
short_run "$T/short-idle" "short calls, idle"
rss_idle=$(rss_sum)

body=$(printf '{"model":"mock-1","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"[mock:words=%d] hold this stream open"}]}' \
	"$((words + 8))" "$words")
say "$streams streams of ~$((words * delay / 1000)) s, $ramp a second, from $stream_tenants tenants"
python3 "$top/bench/streams.py" "$URL" "$T/keys-streams" "$streams" "$ramp" "$body" \
	"$T/streams" >"$T/log/streams.log" 2>&1 &
spid=$!
pids+=("$spid")
# Wait for the ramp, then measure B while they are all open.
sleep "$(awk -v n="$streams" -v r="$ramp" 'BEGIN { printf "%.0f", n / r + 2 }')"
say "tenant B's short calls while the streams are open"
short_run "$T/short-busy" "short calls, $streams streams open"
rss_busy=$(rss_sum)
wait "$spid" || die "streams.py failed: $(tail -n 3 "$T/log/streams.log")"
unset 'pids[${#pids[@]}-1]'
check_alive "the streams"
cpu_line=$(cpu_note)
load_after=$(loadavg)

ok=$(val "$T/streams" ok)
failed=$(val "$T/streams" failed)
peak=$(val "$T/streams" peak_open)
idle99=$(val "$T/short-idle" lat_p99_us)
busy99=$(val "$T/short-busy" lat_p99_us)
per_call=$(awk -v a="$rss_idle" -v b="$rss_busy" -v n="$peak" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "-" }')
ratio=$(awk -v a="$idle99" -v b="$busy99" 'BEGIN { printf "%.2f", b / a }')

result=$(mktemp)
{
	echo "agenthost in-flight benchmark (issue 12), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "commit measured: $(commit_measured)"
	echo "machine: $(machine)"
	echo "load average (1/5/15 min): $load_before before the run, $load_after after it (the run included)"
	load_note "$load_before"
	echo "$cpu_line"
	echo "setup: lighttpd (contrib/lighttpd.conf.in) -> $procs agenthost processes x $app_threads threads,"
	echo "       enforcement on, mock provider (mock_stream_delay_ms = $delay), one MariaDB"
	echo "streams: $streams from $stream_tenants tenants, $words words each (~$((words * delay / 1000)) s), opened $ramp a second"
	echo "short calls: tenant B, mock-1 16 words, wrk $short_conns connections x $short_s s"
	echo
	echo "streams ok $ok, failed $failed, peak open at once $peak (after $(val "$T/streams" peak_at_s) s), all done in $(val "$T/streams" seconds) s"
	grep '^fail_example=' "$T/streams" || true
	printf '%-34s %10s %10s %10s\n' "tenant B's short calls" "req/s" "p50_ms" "p99_ms"
	printf '%-34s %10s %10s %10s\n' "idle host" "$(rps "$T/short-idle")" "$(ms "$(val "$T/short-idle" lat_p50_us)")" "$(ms "$idle99")"
	printf '%-34s %10s %10s %10s\n' "$peak streams open" "$(rps "$T/short-busy")" "$(ms "$(val "$T/short-busy" lat_p50_us)")" "$(ms "$busy99")"
	echo
	echo "agenthost RSS (all processes): idle $rss_idle KiB, with the streams open $rss_busy KiB: $per_call KiB per call in flight"
	echo
	echo "issue 12's bar"
	printf '%-52s %12s %10s %6s\n' "" measured bar met
	printf '%-52s %12s %10s %6s\n' "streams of ~30 s held at once, no error" "$peak/$ok" ">= 5000" \
		"$([ "$peak" -ge 5000 ] && [ "$ok" -eq "$streams" ] && [ "$failed" -eq 0 ] && echo yes || echo NO)"
	printf '%-52s %12s %10s %6s\n' "B's p99 with them open / idle" "${ratio}x" "<= 2x" \
		"$(awk -v r="$ratio" 'BEGIN { print (r <= 2 ? "yes" : "NO") }')"
	printf '%-52s %12s %10s %6s\n' "agenthost memory per call in flight" "${per_call} KiB" "<= 50 KB" \
		"$(awk -v r="$per_call" 'BEGIN { print (r + 0 <= 48.8 ? "yes" : "NO") }')"
} >"$result"
mkdir -p "$top/bench/results"
out=$top/bench/results/inflight-$(date -u +%Y%m%d-%H%M%S).txt
cp "$result" "$out"
cat "$result"
rm -f "$result"
say "written to ${out#"$top"/}"
