#!/usr/bin/env bash
#
# bench/isolation.sh: what dedicated isolation mode costs a chat completion, measured in
# one run against a shared-tenant baseline.
#
#   bench/isolation.sh            (from a built checkout: src/agenthost, src/agenthostctl)
#
# DESIGN
# One private environment, nothing shared with the dev instance or tests/run: a temp
# directory with its own MariaDB (free port, socket inside, --max-connections
# BENCH_MAX_CONNECTIONS) and lighttpd servers spawning agenthost with enforcement on, as
# in bench/admission.sh. Tenants (all on plan pro, whose limits are set generously at
# plan scope: every counter is exercised, none is reachable):
#   shared      one tenant in the shared database (the baseline),
#   s1..sN      BENCH_TENANTS shared tenants (a control: what spreading the calls over
#               many tenants costs whatever the mode),
#   solo        one dedicated tenant (its own database and account),
#   t1..tN      BENCH_TENANTS dedicated tenants,
# each group of N created BENCH_CREATE_JOBS at a time, timed.
# Phases, each the same mock chat completion sent by wrk for BENCH_DURATION seconds:
#   shared      the shared tenant's key,
#   shared-N    the N shared tenants' keys round-robin,
#   ded-1       the dedicated tenant's key: its pooled connection is always warm, so
#               this is the cost of the second database (one more commit per call),
#   ded-N       the N keys round-robin (bench/chat.lua, BENCH_KEYS_FILE): with N far
#               above `dedicated_pool` nearly every call evicts a pooled connection
#               and switches it to the next tenant (COM_CHANGE_USER: authentication
#               and the session settings again) or opens another one,
#   ded-N-pool  the same N keys through a second server that differs only in
#               `dedicated_pool` = BENCH_POOL_LARGE (0: no such phase or server).
# The phases rotate (shared, shared-N, ded-1, ded-N, ded-N-pool, shared, ...)
# BENCH_ROUNDS times at each concurrency so that drift of the machine over the run is
# shared. Before each phase the MariaDB status is flushed and read, and read again after
# it: a second table shows per request the connections opened (`Connections`) and
# switched to another tenant's account (COM_CHANGE_USER, in `Com_admin_commands`), the tables
# and table definitions opened (a thousand databases do not fit the default table
# caches), the InnoDB pages read from disk, pages written and fsyncs, and the peak of
# connections during the phase (`Max_used_connections`). Loopback only; every process
# started here is stopped by pid on exit. Keys are kept in the temp directory (mode 600)
# and never printed.
#
# Output: a table on stdout and the same in bench/results/isolation-<date>.txt.
#
# Environment: BENCH_DURATION (s per phase, 10), BENCH_WARMUP (s per phase, 3),
# BENCH_CONCURRENCY ("1 16"), BENCH_ROUNDS (rotations of the phases, 2), BENCH_TENANTS
# (tenants for shared-N and ded-N, 1000), BENCH_POOL (dedicated_pool of the main server, 4),
# BENCH_POOL_LARGE (dedicated_pool of the second server, 32; 0 skips it),
# BENCH_CREATE_JOBS (parallel `tenant create`, 4), BENCH_MAX_CONNECTIONS (1000),
# BENCH_MARIADB_OPTS (more mariadbd options, e.g. "--table-open-cache=10000
# --table-definition-cache=10000 --innodb-buffer-pool-size=1G"; MariaDB's defaults else),
# BENCH_WRK_THREADS (2), BENCH_PROCS (agenthost processes per server, 2),
# BENCH_APP_THREADS (worker threads per process, 8), BENCH_KEEP=1 (keep the temp
# directory), BENCH_TMP (parent of the temp directory, /tmp), BENCH_ALLOW_SANITIZERS=1
# (measure a sanitizer build anyway).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
PATH=$PATH:/usr/sbin:/sbin

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
concurrency=${BENCH_CONCURRENCY:-1 16}
rounds=${BENCH_ROUNDS:-2}
ntenants=${BENCH_TENANTS:-1000}
pool=${BENCH_POOL:-4}
pool_large=${BENCH_POOL_LARGE:-32}
create_jobs=${BENCH_CREATE_JOBS:-4}
max_conns=${BENCH_MAX_CONNECTIONS:-1000}
mariadb_opts=${BENCH_MARIADB_OPTS:-}
wrk_threads=${BENCH_WRK_THREADS:-2}
procs=${BENCH_PROCS:-2}
app_threads=${BENCH_APP_THREADS:-8}

BENCH_NAME=isolation.sh
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

# ---------------------------------------------------------------- environment

ctl() {
	src/agenthostctl -c "$T/base.conf" "$@"
}

# The status counters the table reads, as "name value" lines.
db_status() {
	sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Max_used_connections',
		'Threads_connected', 'Opened_tables', 'Opened_table_definitions', 'Aborted_connects',
		'Innodb_buffer_pool_reads', 'Innodb_pages_written', 'Innodb_data_fsyncs',
		'Com_admin_commands')"
}

# The documented bound on one server's MariaDB connections (docs/ISOLATION.md):
# processes x (threads + 1) x (1 + dedicated_pool).
conn_bound() {
	echo $((procs * (app_threads + 1) * (1 + $1)))
}

start_env() {
	local db_port port_base port_large nconn db_opts=()
	check_agenthost_build
	need mariadbd mariadb-install-db mariadb-admin mariadb lighttpd wrk curl python3 xargs
	# Both servers' pools stay open for the whole run (a connection idle past
	# dedicated_idle_s is closed only when its thread serves the next request).
	nconn=$(($(conn_bound "$pool") + 20))
	[ "$pool_large" -gt 0 ] && nconn=$((nconn + $(conn_bound "$pool_large")))
	[ "$nconn" -le "$max_conns" ] ||
		die "BENCH_POOL=$pool and BENCH_POOL_LARGE=$pool_large may need $nconn MariaDB connections, more than BENCH_MAX_CONNECTIONS=$max_conns"

	make_tmp
	mkdir -p "$T/tenants"
	read -r db_port port_base port_large <<<"$(free_ports 3)"
	[ -n "$port_large" ] || die "no free ports"

	read -r -a db_opts <<<"$mariadb_opts"
	say "MariaDB on 127.0.0.1:$db_port (max_connections $max_conns${mariadb_opts:+, $mariadb_opts})"
	start_mariadb "$db_port" --max-connections="$max_conns" "${db_opts[@]}"
	[ "$(sql 'SELECT @@max_connections')" = "$max_conns" ] ||
		die "MariaDB did not take max_connections $max_conns (open files limit?)"

	# The two configurations differ in `dedicated_pool` only. Request lines are not
	# logged (log_level = warn) so that no phase measures the log.
	cat >"$T/base.conf" <<EOF
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
dedicated_pool = $pool
dedicated_idle_s = 60
EOF
	sed "s/^dedicated_pool = .*/dedicated_pool = $pool_large/" "$T/base.conf" >"$T/large.conf"
	chmod 600 "$T/base.conf" "$T/large.conf"

	ctl master-key init >"$T/log/ctl.log" 2>&1 || die "master-key init failed; see $T/log/ctl.log"
	ctl migrate >>"$T/log/ctl.log" 2>&1 || die "migrate failed; see $T/log/ctl.log"

	start_lighttpd base "$port_base"
	URL_BASE=http://127.0.0.1:$port_base
	URL_LARGE=
	if [ "$pool_large" -gt 0 ]; then
		start_lighttpd large "$port_large"
		URL_LARGE=http://127.0.0.1:$port_large
	fi
	wait_for 150 http_ok "$URL_BASE/healthz" || die "agenthost (dedicated_pool $pool) did not start"
	if [ -n "$URL_LARGE" ]; then
		wait_for 150 http_ok "$URL_LARGE/healthz" ||
			die "agenthost (dedicated_pool $pool_large) did not start"
	fi
}

# Limits at the scope of plan pro: every one set (so every counter is exercised), none
# reachable, for all the tenants at once.
plan_limits() {
	local name value
	while read -r name value; do
		ctl limits set --plan pro "$name" "$value" >>"$T/log/ctl.log" 2>&1 ||
			die "limits set --plan pro $name failed; see $T/log/ctl.log"
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

# The API keys in the `tenant create` outputs $2... into file $1 (mode 600), in order.
keys_from() {
	local file=$1
	shift
	(umask 077 && python3 - "$@" >"$file") <<'PYEOF' || die "cannot read the new keys"
import json, sys
for path in sys.argv[1:]:
    with open(path) as f:
        print(json.load(f)["api_key"]["key"])
PYEOF
}

# A tenant with a key: $1 slug, $2 isolation; its key into $T/keys-$1.
one_tenant() {
	ctl tenant create "$1" --isolation "$2" --key k --plan pro \
		>"$T/tenants/$1.json" 2>>"$T/log/ctl.log" ||
		die "tenant create $1 failed; see $T/log/ctl.log"
	keys_from "$T/keys-$1" "$T/tenants/$1.json"
}

# $2 tenants ${1}1..${1}N of isolation $3 (N = BENCH_TENANTS), BENCH_CREATE_JOBS at a
# time; their keys into $T/keys-$1, the wall time into CREATE_S.
many_tenants() {
	local prefix=$1 iso=$2 t0 t1 i failed files=()
	say "creating $ntenants $iso tenants, $create_jobs in parallel"
	t0=$(date +%s.%N)
	# shellcheck disable=SC2016 # expanded by the inner shell
	seq 1 "$ntenants" | xargs -P "$create_jobs" -I{} sh -c \
		'"$0" -c "$1" tenant create "$3$4" --isolation "$5" --key k --plan pro \
			>"$2/$3$4.json" 2>"$2/$3$4.err" || echo "$3$4" >>"$2/failed"' \
		"$top/src/agenthostctl" "$T/base.conf" "$T/tenants" "$prefix" {} "$iso" || true
	t1=$(date +%s.%N)
	if [ -s "$T/tenants/failed" ]; then
		failed=$(wc -l <"$T/tenants/failed")
		i=$(head -n 1 "$T/tenants/failed")
		die "$failed of $ntenants tenant creations failed, e.g. $i: $(head -c 300 "$T/tenants/$i.err")"
	fi
	CREATE_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	for ((i = 1; i <= ntenants; i++)); do
		files+=("$T/tenants/$prefix$i.json")
	done
	keys_from "$T/keys-$prefix" "${files[@]}"
	[ "$(wc -l <"$T/keys-$prefix")" -eq "$ntenants" ] || die "expected $ntenants keys"
	say "created $ntenants $iso tenants in $CREATE_S s"
}

# One request to $1 with the first key of file $2: 200 and admission headers expected.
probe() {
	local url=$1 keys=$2 hdr
	hdr=$(head -n 1 "$keys" | sed 's/^/Authorization: Bearer /' |
		curl -sS -m 10 -D - -o "$T/log/probe.json" -X POST "$url/v1/chat/completions" \
			-H @- -H 'Content-Type: application/json' \
			--data '{"model":"mock-1","max_tokens":32,"messages":[{"role":"user","content":"[mock:words=16] probe"}]}') ||
		die "probe of $url failed"
	grep -q '^Status: 200\|^HTTP/1.1 200' <<<"$hdr" ||
		die "probe of $url: $(head -n 1 <<<"$hdr") $(head -c 300 "$T/log/probe.json")"
	grep -qi '^X-RateLimit-Limit-Requests:' <<<"$hdr" ||
		die "probe of $url: no admission headers (is enforcement on?)"
}

# ---------------------------------------------------------------- measuring

# The phases: name, server, keys.
PHASES=(shared shared-N ded-1 ded-N)
phase_url() {
	case $1 in
	ded-N-pool) echo "$URL_LARGE" ;;
	*) echo "$URL_BASE" ;;
	esac
}
phase_keys() {
	case $1 in
	shared) echo "$T/keys-shared" ;;
	shared-N) echo "$T/keys-s" ;;
	ded-1) echo "$T/keys-solo" ;;
	*) echo "$T/keys-t" ;;
	esac
}

# One measured phase: $1 phase, $2 connections, $3 round. MariaDB's status is flushed
# (Max_used_connections restarts from the connections open now) and read around it.
measure() {
	local p=$1 c=$2 r=$3 f=$T/res-$1-$2-$3
	sql 'FLUSH STATUS'
	db_status >"$f.before"
	BENCH_KEYS_FILE=$(phase_keys "$p") run_wrk "$(phase_url "$p")" "$c" "$duration" "$f"
	db_status >"$f.after"
	check_alive "$p, $c connection(s), round $r"
	check_run "$f" "$p, $c connection(s), round $r"
}

# One line of figures for phase $1 at $2 connections over all rounds: req/s mean_us
# p50_us p99_us per-round-req/s, then per request: connections opened, connections
# switched to another account (COM_CHANGE_USER), tables, table definitions opened, InnoDB pages read from disk, pages written, fsyncs; then the peak
# of Max_used_connections.
# req/s and the mean are over every request of every round; p50 and p99 are the median
# of the rounds' values (wrk gives percentiles, not the distribution).
summarize() {
	python3 - "$T" "$1" "$2" "$rounds" <<'PYEOF'
import statistics, sys
T, p, c, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def kv(path, sep):
    d = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(sep)
            if k:
                d[k] = float(v)
    return d

runs = []
for r in range(1, rounds + 1):
    f = f"{T}/res-{p}-{c}-{r}"
    res, b, a = kv(f, "="), kv(f + ".before", "\t"), kv(f + ".after", "\t")
    runs.append((res, b, a))
n = sum(x[0]["requests"] for x in runs)
us = sum(x[0]["duration_us"] for x in runs)
mean = sum(x[0]["lat_mean_us"] * x[0]["requests"] for x in runs) / n
p50 = statistics.median(x[0]["lat_p50_us"] for x in runs)
p99 = statistics.median(x[0]["lat_p99_us"] for x in runs)
per_round = "/".join("%.0f" % (x[0]["requests"] / (x[0]["duration_us"] / 1e6)) for x in runs)
# the status read after the phase is a connection of its own
conns = sum(x[2]["Connections"] - x[1]["Connections"] - 1 for x in runs)
per = [conns / n]
for k in ("Com_admin_commands", "Opened_tables", "Opened_table_definitions", "Innodb_buffer_pool_reads",
          "Innodb_pages_written", "Innodb_data_fsyncs"):
    per.append(sum(x[2][k] - x[1][k] for x in runs) / n)
peak = max(x[2]["Max_used_connections"] for x in runs)
print("%.1f %.1f %d %d %s %s %d" % (n / (us / 1e6), mean, p50, p99, per_round,
      " ".join("%.2f" % v for v in per), peak))
PYEOF
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'
}

report() {
	local c p rps mean p50 p99 rounds_rps cpr upr tpr dpr rpr wpr fpr peak b_rps b_p50 b_p99 pl
	printf 'agenthost isolation benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'machine: %s cores, %s; load average %s at the start, %s at the end\n' "$(nproc)" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$LOAD_START" \
		"$(cut -d ' ' -f 1 /proc/loadavg)"
	printf 'build: %s%s\n' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "unknown (not a git checkout)")" \
		"$(ldd "$top/src/agenthost" 2>/dev/null | grep -q libasan && echo ', with sanitizers (slower)')"
	printf 'setup: lighttpd -> %s agenthost processes x %s threads, enforcement on, mock provider;\n' \
		"$procs" "$app_threads"
	printf '       one MariaDB (%s), max_connections %s%s\n' \
		"$(sql 'SELECT VERSION()')" "$max_conns" "${mariadb_opts:+, options: $mariadb_opts}"
	printf 'load: wrk, %s s per phase after %s s warm-up, %s round(s) of the phases in turn,\n' \
		"$duration" "$warmup" "$rounds"
	printf '      POST /v1/chat/completions (mock-1, 16 words)\n'
	printf 'tenants: %s dedicated tenants created in %s s, %s shared ones in %s s (%s in parallel)\n' \
		"$ntenants" "$CREATE_DED_S" "$ntenants" "$CREATE_SHARED_S" "$create_jobs"
	printf '         %s tenant databases in all; table_open_cache %s, table_definition_cache %s,\n' \
		"$NDB" "$(sql 'SELECT @@table_open_cache')" "$(sql 'SELECT @@table_definition_cache')"
	printf '         innodb_buffer_pool_size %s MiB\n\n' \
		"$(sql 'SELECT @@innodb_buffer_pool_size DIV 1048576')"
	printf 'phases:\n'
	printf '  shared      one tenant in the shared database (the baseline)\n'
	printf '  shared-N    %s shared tenants round-robin\n' "$ntenants"
	printf '  ded-1       one dedicated tenant (dedicated_pool %s: always a pooled connection)\n' "$pool"
	printf '  ded-N       %s dedicated tenants round-robin, dedicated_pool %s\n' "$ntenants" "$pool"
	if [ -n "$URL_LARGE" ]; then
		printf '  ded-N-pool  the same %s tenants, dedicated_pool %s\n' "$ntenants" "$pool_large"
	fi
	printf '\n'
	printf 'throughput and latency\n'
	printf '%-5s %-10s %7s %6s %8s %8s %8s %6s %6s  %s\n' conns phase req/s vs_sh mean_ms \
		p50_ms p99_ms p50_x p99_x 'req/s per round'
	for c in $concurrency; do
		read -r b_rps _ b_p50 b_p99 _ <<<"$(summarize shared "$c")"
		for p in "${PHASES[@]}"; do
			read -r rps mean p50 p99 rounds_rps _ <<<"$(summarize "$p" "$c")"
			printf '%-5s %-10s %7.0f %6s %8s %8s %8s %6s %6s  %s\n' "$c" "$p" "$rps" \
				"$(ratio "$rps" "$b_rps")" "$(ms "$mean")" "$(ms "$p50")" "$(ms "$p99")" \
				"$(ratio "$p50" "$b_p50")" "$(ratio "$p99" "$b_p99")" "$rounds_rps"
		done
		printf '\n'
	done
	printf 'vs_sh: req/s against shared at the same concurrency; p50_x, p99_x: latency against\n'
	printf 'shared; p50 and p99 are the median over the rounds, req/s and mean over all requests\n\n'
	printf 'MariaDB work per request\n'
	printf '%-5s %-10s %8s %7s %7s %7s %7s %7s %7s %5s\n' conns phase conn/req chusr/r \
		tbl/req def/req rd/req wr/req fsync/r peak
	for c in $concurrency; do
		for p in "${PHASES[@]}"; do
			read -r _ _ _ _ _ cpr upr tpr dpr rpr wpr fpr peak <<<"$(summarize "$p" "$c")"
			printf '%-5s %-10s %8s %7s %7s %7s %7s %7s %7s %5s\n' "$c" "$p" "$cpr" "$upr" \
				"$tpr" "$dpr" "$rpr" "$wpr" "$fpr" "$peak"
		done
		printf '\n'
	done
	printf 'conn/req: connections opened (Connections); chusr/r: pooled connections switched to\n'
	printf 'another tenant (Com_admin_commands, which counts COM_CHANGE_USER; agenthost sends no\n'
	printf 'other admin command on this path); tbl/req, def/req: tables and table\n'
	printf 'definitions opened (Opened_tables, Opened_table_definitions); rd/req: InnoDB pages\n'
	printf 'read from disk (Innodb_buffer_pool_reads); wr/req: pages written\n'
	printf '(Innodb_pages_written); fsync/r: Innodb_data_fsyncs; peak: Max_used_connections\n'
	printf 'during the phase (the status is flushed before each phase)\n\n'
	printf 'MariaDB at the end: Max_used_connections %s (last phase), %s over the run; Threads_connected %s\n' \
		"$(sed -n 's/^Max_used_connections\t//p' "$T/status-end")" "$PEAK_RUN" \
		"$(sed -n 's/^Threads_connected\t//p' "$T/status-end")"
	pl="server with dedicated_pool $pool: $(conn_bound "$pool")"
	if [ -n "$URL_LARGE" ]; then
		pl="$pl; with dedicated_pool $pool_large: $(conn_bound "$pool_large")"
	fi
	printf 'documented bound, processes x (threads + 1) x (1 + dedicated_pool): %s\n' "$pl"
	printf 'aborted connects over the run: %s\n' \
		"$(sed -n 's/^Aborted_connects\t//p' "$T/status-end")"
}

check_int BENCH_DURATION "$duration" 1 600
check_int BENCH_WARMUP "$warmup" 0 600
check_int BENCH_ROUNDS "$rounds" 1 20
check_int BENCH_TENANTS "$ntenants" 1 100000
check_int BENCH_POOL "$pool" 1 64
check_int BENCH_POOL_LARGE "$pool_large" 0 64
check_int BENCH_CREATE_JOBS "$create_jobs" 1 64
check_int BENCH_MAX_CONNECTIONS "$max_conns" 10 100000
check_int BENCH_WRK_THREADS "$wrk_threads" 1 64
check_int BENCH_PROCS "$procs" 1 64
check_int BENCH_APP_THREADS "$app_threads" 1 256
[ -n "$concurrency" ] || die "BENCH_CONCURRENCY is empty"
for c in $concurrency; do
	check_int BENCH_CONCURRENCY "$c" 1 10000
done

LOAD_START=$(cut -d ' ' -f 1 /proc/loadavg)
start_env
if [ -n "$URL_LARGE" ]; then
	PHASES+=(ded-N-pool)
fi
plan_limits
one_tenant shared shared
one_tenant solo dedicated
many_tenants s shared
CREATE_SHARED_S=$CREATE_S
many_tenants t dedicated
CREATE_DED_S=$CREATE_S
NDB=$(sql "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'agenthost\\_t%'")
[ "$NDB" -eq $((ntenants + 1)) ] || die "expected $((ntenants + 1)) tenant databases, found $NDB"
for p in "${PHASES[@]}"; do
	probe "$(phase_url "$p")" "$(phase_keys "$p")"
done
say "all phases answer with admission headers"

# Warm-up at the highest concurrency, so that every worker thread has served each phase.
if [ "$warmup" -gt 0 ]; then
	say "warm-up, $warmup s per phase"
	cmax=0
	for c in $concurrency; do
		if [ "$c" -gt "$cmax" ]; then
			cmax=$c
		fi
	done
	for p in "${PHASES[@]}"; do
		BENCH_KEYS_FILE=$(phase_keys "$p") run_wrk "$(phase_url "$p")" "$cmax" "$warmup" "$T/warm-$p"
	done
fi
PEAK_RUN=$(sql "SHOW GLOBAL STATUS LIKE 'Max_used_connections'" | cut -f 2)
# Phases rotate (shared, shared-N, ded-1, ded-N, ded-N-pool, shared, ...) so that drift of the
# machine over the run is shared rather than charged to one phase.
for c in $concurrency; do
	for ((r = 1; r <= rounds; r++)); do
		for p in "${PHASES[@]}"; do
			say "measuring $p, $c connection(s), round $r of $rounds, $duration s"
			measure "$p" "$c" "$r"
			v=$(sed -n 's/^Max_used_connections\t//p' "$T/res-$p-$c-$r.after")
			if [ "$v" -gt "$PEAK_RUN" ]; then
				PEAK_RUN=$v
			fi
		done
	done
done
db_status >"$T/status-end"

mkdir -p "$top/bench/results"
result=$top/bench/results/isolation-$(date -u +%Y%m%d-%H%M%S).txt
report | tee "$result"
say "written to ${result#"$top"/}"
