#!/usr/bin/env bash
#
# bench/admission.sh: what admission control adds to a request, measured in one run.
#
#   bench/admission.sh            (from a built checkout: src/agenthost, src/agenthostctl)
#
# DESIGN
# One private environment, nothing shared with the dev instance or tests/run: a temp
# directory with its own MariaDB (free port, socket inside), and two lighttpd servers on
# the same database, each spawning agenthost with the same configuration except
# `enforcement` (true for one, false for the other). A tenant on generous limits (every
# rate, concurrency and budget counter set, none reachable) sends the same mock chat
# completion to both: the mock provider answers locally with a fixed length, so the
# difference is identification + authorization + admission (limits, reservation against
# every budget, settle) versus identification alone. Both servers are warmed up, then
# measured with wrk for BENCH_DURATION seconds per phase at each concurrency of
# BENCH_CONCURRENCY: 1 connection shows the per-request cost, more connections show
# what it does to throughput and tail latency. Loopback only; every process started
# here is stopped by pid on exit.
#
# Output: a table on stdout and the same in bench/results/admission-<date>.txt.
#
# Environment: BENCH_DURATION (s per phase, 10), BENCH_WARMUP (s per server, 3),
# BENCH_CONCURRENCY ("1 16"), BENCH_WRK_THREADS (2), BENCH_PROCS (agenthost processes
# per server, 2), BENCH_APP_THREADS (worker threads per process, 8), BENCH_KEEP=1 (keep
# the temp directory), BENCH_TMP (parent of the temp directory, /tmp),
# BENCH_ALLOW_SANITIZERS=1 (measure a sanitizer build anyway).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
PATH=$PATH:/usr/sbin:/sbin

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
concurrency=${BENCH_CONCURRENCY:-1 16}
wrk_threads=${BENCH_WRK_THREADS:-2}
procs=${BENCH_PROCS:-2}
app_threads=${BENCH_APP_THREADS:-8}

BENCH_NAME=admission.sh
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

# One field of a JSON object read on stdin.
json_field() {
	python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# ---------------------------------------------------------------- environment

ctl() {
	src/agenthostctl -c "$T/on.conf" "$@"
}

start_env() {
	local db_port port_on port_off
	check_agenthost_build
	need mariadbd mariadb-install-db mariadb-admin mariadb lighttpd wrk curl python3

	make_tmp
	read -r db_port port_on port_off <<<"$(free_ports 3)"
	[ -n "$port_off" ] || die "no free ports"

	say "MariaDB on 127.0.0.1:$db_port"
	start_mariadb "$db_port"

	# The two configurations differ in `enforcement` only. Request lines are not logged
	# (log_level = warn) so that neither run measures the log.
	cat >"$T/on.conf" <<EOF
threads = $app_threads
log_level = warn
db_socket = $T/db/mysqld.sock
db_user = root
db_name = agenthost
master_key_file = $T/master.key
sql_dir = $top/sql
state_dir = $T/state
mock_latency_ms = 0
enforcement = true
EOF
	sed 's/^enforcement = true$/enforcement = false/' "$T/on.conf" >"$T/off.conf"
	chmod 600 "$T/on.conf" "$T/off.conf"

	ctl master-key init >"$T/log/ctl.log" 2>&1 || die "master-key init failed; see $T/log/ctl.log"
	ctl migrate >>"$T/log/ctl.log" 2>&1 || die "migrate failed; see $T/log/ctl.log"

	start_lighttpd on "$port_on"
	start_lighttpd off "$port_off"
	URL_ON=http://127.0.0.1:$port_on
	URL_OFF=http://127.0.0.1:$port_off
	wait_for 150 http_ok "$URL_ON/healthz" || die "agenthost (enforcement on) did not start"
	wait_for 150 http_ok "$URL_OFF/healthz" || die "agenthost (enforcement off) did not start"
}

# A tenant whose limits are all set (so every counter is exercised) and none reachable.
seed_tenant() {
	local out name value
	ctl tenant create bench --name "Benchmark" --plan pro >>"$T/log/ctl.log" 2>&1 ||
		die "tenant create failed; see $T/log/ctl.log"
	out=$(ctl key create --tenant bench --name bench 2>>"$T/log/ctl.log") ||
		die "key create failed; see $T/log/ctl.log"
	BENCH_KEY=$(json_field key <<<"$out") || die "cannot read the new key"
	export BENCH_KEY
	while read -r name value; do
		ctl limits set --tenant bench "$name" "$value" >>"$T/log/ctl.log" 2>&1 ||
			die "limits set $name failed; see $T/log/ctl.log"
	done <<'EOF'
rpm 1000000000
tpm 1000000000000
concurrency 100000
key_rpm 1000000000
key_tpm 1000000000000
key_concurrency 100000
budget_usd_daily 1000000
budget_usd_monthly 10000000
budget_tokens_daily 1000000000000
budget_tokens_monthly 1000000000000
budget_enforcement hard
EOF
}

# One request to $1: 200 expected; prints whether admission headers came back.
probe() {
	local url=$1 hdr
	hdr=$(curl -sS -m 10 -D - -o "$T/log/probe.json" -X POST "$url/v1/chat/completions" \
		-H "Authorization: Bearer $BENCH_KEY" -H 'Content-Type: application/json' \
		--data '{"model":"mock-1","max_tokens":32,"messages":[{"role":"user","content":"[mock:words=16] probe"}]}') ||
		die "probe of $url failed"
	grep -q '^Status: 200\|^HTTP/1.1 200' <<<"$hdr" ||
		die "probe of $url: $(head -n 1 <<<"$hdr") $(head -c 300 "$T/log/probe.json")"
	if grep -qi '^X-RateLimit-Limit-Requests:' <<<"$hdr"; then
		echo "admission headers present"
	else
		echo "no admission headers"
	fi
}

# ---------------------------------------------------------------- measuring

# The table: one block per concurrency.
report() {
	local c on off d50 d99 dm rps_on rps_off
	printf 'agenthost admission benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'machine: %s cores, %s\n' "$(nproc)" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	printf 'build: %s%s\n' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "unknown (not a git checkout)")" \
		"$(ldd "$top/src/agenthost" 2>/dev/null | grep -q libasan && echo ', with sanitizers (slower)')"
	printf 'setup: lighttpd -> %s agenthost processes x %s threads, one MariaDB, mock provider\n' \
		"$procs" "$app_threads"
	printf 'load: wrk, %s s per phase after %s s warm-up, POST /v1/chat/completions (mock-1, 16 words)\n' \
		"$duration" "$warmup"
	printf 'on = enforcement true (identify + authorize + admission: limits, reservation, settle)\n'
	printf 'off = enforcement false (identify + execute only)\n\n'
	printf '%-6s %-5s %10s %10s %10s %10s %10s %10s\n' conns mode req/s mean_ms p50_ms p90_ms \
		p99_ms p99.9_ms
	for c in $concurrency; do
		on=$T/res-on-$c
		off=$T/res-off-$c
		for m in on off; do
			f=$T/res-$m-$c
			printf '%-6s %-5s %10s %10s %10s %10s %10s %10s\n' "$c" "$m" "$(rps "$f")" \
				"$(ms "$(val "$f" lat_mean_us)")" "$(ms "$(val "$f" lat_p50_us)")" \
				"$(ms "$(val "$f" lat_p90_us)")" "$(ms "$(val "$f" lat_p99_us)")" \
				"$(ms "$(val "$f" lat_p99_9_us)")"
		done
		d50=$(($(val "$on" lat_p50_us) - $(val "$off" lat_p50_us)))
		d99=$(($(val "$on" lat_p99_us) - $(val "$off" lat_p99_us)))
		dm=$(awk -v a="$(val "$on" lat_mean_us)" -v b="$(val "$off" lat_mean_us)" \
			'BEGIN { printf "%.0f", a - b }')
		rps_on=$(rps "$on")
		rps_off=$(rps "$off")
		printf '%-6s %-5s %10s %10s %10s %10s %10s\n' "$c" "adds" \
			"$(awk -v a="$rps_on" -v b="$rps_off" 'BEGIN { printf "%+.1f%%", b ? (a - b) * 100 / b : 0 }')" \
			"$(ms "$dm")" "$(ms "$d50")" "" "$(ms "$d99")"
		printf '\n'
	done
	printf 'admission adds per request (median / p99):\n'
	for c in $concurrency; do
		printf '  %s connection(s): %s ms / %s ms\n' "$c" \
			"$(ms $(($(val "$T/res-on-$c" lat_p50_us) - $(val "$T/res-off-$c" lat_p50_us))))" \
			"$(ms $(($(val "$T/res-on-$c" lat_p99_us) - $(val "$T/res-off-$c" lat_p99_us))))"
	done
}

check_int BENCH_DURATION "$duration" 1 600
check_int BENCH_WARMUP "$warmup" 0 600
check_int BENCH_WRK_THREADS "$wrk_threads" 1 64
check_int BENCH_PROCS "$procs" 1 64
check_int BENCH_APP_THREADS "$app_threads" 1 256
[ -n "$concurrency" ] || die "BENCH_CONCURRENCY is empty"
for c in $concurrency; do
	check_int BENCH_CONCURRENCY "$c" 1 10000
done

start_env
seed_tenant
say "enforcement on:  $URL_ON ($(probe "$URL_ON"))"
say "enforcement off: $URL_OFF ($(probe "$URL_OFF"))"

if [ "$warmup" -gt 0 ]; then
	say "warm-up, $warmup s each"
	run_wrk "$URL_ON" 4 "$warmup" "$T/warm-on"
	run_wrk "$URL_OFF" 4 "$warmup" "$T/warm-off"
fi
# Phases alternate (on, off, on, off, ...) so that drift of the machine over the run is
# shared rather than charged to one side.
for c in $concurrency; do
	for m in on off; do
		url=$URL_ON
		[ "$m" = off ] && url=$URL_OFF
		say "measuring enforcement $m, $c connection(s), $duration s"
		run_wrk "$url" "$c" "$duration" "$T/res-$m-$c"
		check_run "$T/res-$m-$c" "enforcement $m, $c connection(s)"
	done
done

mkdir -p "$top/bench/results"
result=$top/bench/results/admission-$(date -u +%Y%m%d-%H%M%S).txt
report | tee "$result"
say "written to ${result#"$top"/}"
