#!/usr/bin/env bash
#
# bench/dashboard.sh: server time of every dashboard page with 1,000 tenants and
# 1,000,000 executions.
#
#   bench/dashboard.sh            (from a built checkout: src/agenthost, src/agenthostctl)
#
# DESIGN
# A private environment like bench/admission.sh (temp directory, own MariaDB on a free
# port, lighttpd spawning agenthost), nothing shared with tests/run or contrib/dev. The
# data is generated inside MariaDB with INSERT ... SELECT over the sequence engine
# (seq_1_to_N): 1,000 tenants, BENCH_EXECUTIONS executions spread over 30 days, 5 models
# and 10 agents per tenant, then the rollups (usage_daily, usage_5min for the last 24 h,
# usage_attr_daily) are derived from those rows by GROUP BY, so every page shows
# consistent numbers. An operator signs in and requests each page BENCH_REPEAT times
# (URLs answering 404, e.g. pages of another branch not merged yet, are skipped). The
# server time is read from agenthost's request log line (ms=) by request id, so the
# client and lighttpd are not counted. Target: < 100 ms per page.
#
# Output: a table on stdout and in bench/results/dashboard-<date>.txt.
#
# Environment: BENCH_EXECUTIONS (1000000), BENCH_TENANTS (1000), BENCH_REPEAT (7),
# BENCH_KEEP=1 (keep the temp directory), BENCH_TMP (parent of it, /tmp).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
PATH=$PATH:/usr/sbin:/sbin

executions=${BENCH_EXECUTIONS:-1000000}
tenants=${BENCH_TENANTS:-1000}
repeat=${BENCH_REPEAT:-7}

BENCH_NAME=dashboard.sh
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

ctl() {
	src/agenthostctl -c "$T/agenthost.conf" "$@"
}

sql() {
	mariadb --no-defaults -uroot --socket="$T/db/mysqld.sock" agenthost "$@"
}

start_env() {
	local db_port port f
	for f in src/agenthost src/agenthostctl; do
		[ -x "$f" ] || die "$f is not built (./configure && make)"
	done
	for f in mariadbd mariadb-install-db mariadb-admin lighttpd curl python3; do
		command -v "$f" >/dev/null || die "$f is not installed"
	done
	T=$(mktemp -d "${BENCH_TMP:-/tmp}/ah-dash.XXXXXX") || die "mktemp failed"
	mkdir -p "$T/log/app" "$T/run" "$T/db" "$T/www"
	read -r db_port port <<<"$(free_ports 2)"
	[ -n "$port" ] || die "no free ports"

	say "MariaDB on 127.0.0.1:$db_port"
	mariadb-install-db --no-defaults --datadir="$T/db/data" --user="$(id -un)" \
		--auth-root-authentication-method=normal --skip-test-db >"$T/log/mariadb-install.log" 2>&1 ||
		die "mariadb-install-db failed; see $T/log/mariadb-install.log"
	# Seeding speed only: the benchmark measures reads.
	mariadbd --no-defaults --user="$(id -un)" --datadir="$T/db/data" \
		--socket="$T/db/mysqld.sock" --port="$db_port" --bind-address=127.0.0.1 \
		--pid-file="$T/db/mysqld.pid" --log-error="$T/log/mariadb-error.log" \
		--skip-name-resolve --innodb-buffer-pool-size=768M \
		--innodb-flush-log-at-trx-commit=0 --innodb-log-file-size=512M \
		</dev/null >/dev/null 2>&1 &
	pids+=($!)
	wait_for 300 mariadb-admin --no-defaults -uroot --socket="$T/db/mysqld.sock" ping ||
		die "MariaDB did not start; see $T/log/mariadb-error.log"
	mariadb --no-defaults -uroot --socket="$T/db/mysqld.sock" -e 'CREATE DATABASE agenthost' ||
		die "cannot create the database"

	cat >"$T/agenthost.conf" <<EOF
threads = 4
log_level = info
db_socket = $T/db/mysqld.sock
db_user = root
db_name = agenthost
master_key_file = $T/master.key
sql_dir = $top/sql
state_dir = $T/state
template_dir = $top/templates
static_dir = $top/static
mock_latency_ms = 0
EOF
	chmod 600 "$T/agenthost.conf"
	ctl master-key init >"$T/log/ctl.log" 2>&1 || die "master-key init failed; see $T/log/ctl.log"
	ctl migrate >>"$T/log/ctl.log" 2>&1 || die "migrate failed; see $T/log/ctl.log"

	sed -e "s|@PORT@|$port|g" -e "s|@STATE@|$T/www|g" -e "s|@LOGDIR@|$T/log/app|g" \
		-e "s|@PIDFILE@|$T/run/lighttpd.pid|g" -e "s|@SOCKET@|$T/run/app.sock|g" \
		-e "s|@BIN@|$top/src/agenthost|g" -e "s|@CONF@|$T/agenthost.conf|g" \
		-e "s|@PROCS@|1|g" -e "s|@ERRORS@|$top/contrib/errors|g" contrib/lighttpd.conf.in >"$T/lighttpd.conf"
	lighttpd -D -f "$T/lighttpd.conf" >>"$T/log/app/lighttpd-stderr.log" 2>&1 &
	pids+=($!)
	URL=http://127.0.0.1:$port
	wait_for 150 http_ok "$URL/healthz" || die "agenthost did not start; see $T/log/app"
}

# ---------------------------------------------------------------- data

seed() {
	say "seeding $tenants tenants and $executions executions"
	sql >"$T/log/seed.log" <<EOF || die "seeding failed; see $T/log/seed.log"
SET SESSION sql_log_bin = 0;
INSERT INTO tenants (slug, name, plan_id, created_at, updated_at)
  SELECT CONCAT('bench-', seq), CONCAT('Bench tenant ', seq), (SELECT MIN(id) FROM plans),
         UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
  FROM seq_1_to_$tenants;
CREATE TEMPORARY TABLE bt (n INT PRIMARY KEY, id BIGINT NOT NULL, key_id BIGINT NOT NULL DEFAULT 0,
  agent_id BIGINT NOT NULL DEFAULT 0);
INSERT INTO bt (n, id) SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id FROM tenants
  WHERE slug LIKE 'bench-%';
INSERT INTO api_keys (tenant_id, name, prefix, key_hash, created_at)
  SELECT bt.id, 'bench', CONCAT('ak_', bt.n), UNHEX(SHA2(CONCAT('bench-key-', bt.n), 256)),
         UTC_TIMESTAMP(6) FROM bt;
INSERT INTO agents (tenant_id, name, model, instructions, created_at, updated_at)
  SELECT bt.id, CONCAT('agent-', s.seq), 'mock-1', '', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
  FROM bt JOIN seq_1_to_10 s;
UPDATE bt SET key_id = (SELECT MIN(k.id) FROM api_keys k WHERE k.tenant_id = bt.id),
  agent_id = (SELECT MIN(a.id) FROM agents a WHERE a.tenant_id = bt.id);
INSERT INTO executions (tenant_id, id, kind, key_id, agent_id, agent_name, model, provider,
                        status, reason_code, http_status, prompt_tokens, completion_tokens,
                        cost_micros, latency_ms, metadata, input, output, created_at)
  SELECT bt.id, CONCAT('run_bench', s.seq), IF(s.seq % 3 = 0, 'chat', 'run'),
         bt.key_id, IF(s.seq % 3 = 0, NULL, bt.agent_id),
         IF(s.seq % 3 = 0, '', 'agent-1'),
         ELT(1 + s.seq % 5, 'mock-1', 'gpt-4o-mini', 'claude-3-5-haiku-latest',
             'gemini-2.0-flash', 'gpt-4o'), 'mock',
         IF(s.seq % 50 = 0, 'failed', IF(s.seq % 41 = 0, 'refused', 'succeeded')),
         IF(s.seq % 50 = 0, 'upstream_error', IF(s.seq % 41 = 0, 'rate_limited', '')),
         IF(s.seq % 50 = 0, 502, IF(s.seq % 41 = 0, 429, 200)),
         100 + s.seq % 900, 50 + s.seq % 400, 200 + s.seq % 5000, 80 + s.seq % 3000,
         JSON_OBJECT('user', CONCAT('user', s.seq % 40), 'department',
                     ELT(1 + s.seq % 4, 'ops', 'research', 'sales', 'support')),
         'bench prompt', 'bench output',
         UTC_TIMESTAMP(6) - INTERVAL (s.seq * 2592 DIV $((executions / 1000 > 0 ? executions / 1000 : 1))) SECOND
  FROM seq_1_to_$executions s JOIN bt ON bt.n = s.seq % $tenants;
INSERT INTO usage_daily (tenant_id, day, key_id, agent_id, model, requests, errors,
                         prompt_tokens, completion_tokens, cost_micros)
  SELECT tenant_id, DATE(created_at), key_id, COALESCE(agent_id, 0), model, COUNT(*),
         SUM(status <> 'succeeded'), SUM(prompt_tokens), SUM(completion_tokens),
         SUM(cost_micros)
  FROM executions GROUP BY tenant_id, DATE(created_at), key_id, COALESCE(agent_id, 0), model;
INSERT INTO usage_attr_daily (tenant_id, day, agent_id, model, user, department, requests,
                              prompt_tokens, completion_tokens, cost_micros)
  SELECT tenant_id, DATE(created_at), COALESCE(agent_id, 0), model,
         JSON_VALUE(metadata, '$.user'), JSON_VALUE(metadata, '$.department'), COUNT(*),
         SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_micros)
  FROM executions GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO usage_5min (tenant_id, bucket, requests, succeeded, refused, failed, cost_micros,
                        tokens, latency_ms_sum, lat_le_100, lat_le_250, lat_le_500,
                        lat_le_1000, lat_le_2500, lat_le_5000, lat_le_10000, lat_gt_10000)
  SELECT tenant_id, UNIX_TIMESTAMP(created_at) DIV 300, COUNT(*), SUM(status = 'succeeded'),
         SUM(status = 'refused'), SUM(status = 'failed'), SUM(cost_micros),
         SUM(prompt_tokens + completion_tokens), SUM(latency_ms), SUM(latency_ms <= 100),
         SUM(latency_ms > 100 AND latency_ms <= 250), SUM(latency_ms > 250 AND latency_ms <= 500),
         SUM(latency_ms > 500 AND latency_ms <= 1000),
         SUM(latency_ms > 1000 AND latency_ms <= 2500),
         SUM(latency_ms > 2500 AND latency_ms <= 5000),
         SUM(latency_ms > 5000 AND latency_ms <= 10000), SUM(latency_ms > 10000)
  FROM executions WHERE created_at > UTC_TIMESTAMP() - INTERVAL 1 DAY GROUP BY 1, 2;
INSERT INTO breakers (tenant_id, provider, state, window_start, opened_at, open_until, updated_at)
  SELECT id, 'openai', 'open', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6),
         UTC_TIMESTAMP(6) + INTERVAL 1 HOUR, UTC_TIMESTAMP(6) FROM bt WHERE n % 97 = 0;
ANALYZE TABLE tenants, executions, usage_daily, usage_attr_daily, usage_5min, breakers \G
EOF
	FIRST_TENANT=$(sql -N -e "SELECT MIN(id) FROM tenants WHERE slug LIKE 'bench-%'")
	EXEC_ID=$(sql -N -e "SELECT id FROM executions WHERE tenant_id = $FIRST_TENANT ORDER BY seq DESC LIMIT 1")
	local n
	n=$(sql -N -e 'SELECT COUNT(*) FROM executions')
	say "executions: $n"
}

# ---------------------------------------------------------------- measuring

measure() {
	local pw=bench-password-123 month today from
	ctl admin add benchop --role operator <<<"$pw" >>"$T/log/ctl.log" 2>&1 ||
		die "admin add failed; see $T/log/ctl.log"
	month=$(date -u +%Y-%m)
	today=$(date -u +%Y-%m-%d)
	from=$(date -u -d '29 days ago' +%Y-%m-%d)
	BENCH_URL=$URL BENCH_PW=$pw BENCH_REPEAT=$repeat BENCH_LOG=$T/log/app/agenthost.log \
		BENCH_PAGES="/admin
/admin/usage
/admin/usage?tenant_id=$FIRST_TENANT&from=$from&to=$today
/admin/usage.csv?tenant_id=$FIRST_TENANT&from=$from&to=$today
/admin/showback?month=$month
/admin/showback?tenant_id=$FIRST_TENANT&month=$month
/admin/tenants/$FIRST_TENANT/invoice?month=$month
/admin/tenants/$FIRST_TENANT/invoice.csv?month=$month
/admin/health
/admin/executions
/admin/executions?before=500000
/admin/executions?tenant_id=$FIRST_TENANT
/admin/executions?status=failed
/admin/tenants/$FIRST_TENANT/executions/$EXEC_ID
/admin/tenants
/admin/tenants/$FIRST_TENANT
/admin/tenants/$FIRST_TENANT/keys
/admin/tenants/$FIRST_TENANT/provider-keys
/admin/tenants/$FIRST_TENANT/budgets
/admin/audit" python3 - <<'EOF'
import http.client, os, re, statistics, time, urllib.parse

base = urllib.parse.urlsplit(os.environ["BENCH_URL"])
cookies = {}

def req(method, path, body=None):
    c = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
    h = {}
    if cookies:
        h["Cookie"] = "; ".join("%s=%s" % kv for kv in cookies.items())
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(body)
    t0 = time.monotonic()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    dt = (time.monotonic() - t0) * 1000
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            n, _, rest = v.partition("=")
            cookies[n] = rest.split(";", 1)[0]
    c.close()
    return r.status, r.getheader("X-Request-Id"), data, dt

st, _, page, _ = req("GET", "/admin/login")
csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
st, _, _, _ = req("POST", "/admin/login", {"name": "benchop", "password": os.environ["BENCH_PW"], "csrf": csrf})
assert st == 303, "sign-in failed: %d" % st

results = []
for path in os.environ["BENCH_PAGES"].split("\n"):
    st, rid, _, _ = req("GET", path)
    if st == 404:
        results.append((path, None, None, "skipped (404: not in this build)"))
        continue
    if st != 200:
        results.append((path, None, None, "status %d" % st))
        continue
    ids = []
    for _ in range(int(os.environ["BENCH_REPEAT"])):
        st, rid, _, dt = req("GET", path)
        ids.append((rid, dt))
    time.sleep(0.3)  # let the log line land
    log = open(os.environ["BENCH_LOG"], encoding="utf-8", errors="replace").read()
    server = []
    for rid, dt in ids:
        m = re.search(r"id=%s .* ms=([0-9.]+)" % rid, log)
        server.append(float(m.group(1)) if m else dt)
    results.append((path, statistics.median(server), max(server), ""))

w = max(len(p) for p, *_ in results)
print("%-*s  %9s  %9s  %s" % (w, "page", "median ms", "max ms", "verdict"))
for path, med, mx, note in results:
    if med is None:
        print("%-*s  %9s  %9s  %s" % (w, path, "-", "-", note))
    else:
        print("%-*s  %9.1f  %9.1f  %s" % (w, path, med, mx, "ok" if mx < 100 else ("median ok, max over" if med < 100 else "OVER TARGET")))
EOF
}

check_int BENCH_EXECUTIONS "$executions" 1000 10000000
check_int BENCH_TENANTS "$tenants" 1 100000
check_int BENCH_REPEAT "$repeat" 1 100

start_env
t0=$(date +%s)
seed
t1=$(date +%s)
mkdir -p bench/results
out=bench/results/dashboard-$(date -u +%Y%m%d-%H%M%S).txt
{
	printf 'agenthost dashboard benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'machine: %s cores, %s\n' "$(nproc)" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	printf 'build: %s%s\n' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"$(ldd "$top/src/agenthost" 2>/dev/null | grep -q libasan && echo ', with sanitizers (slower)')"
	printf 'data: %s tenants, %s executions over 30 days (+ rollups), seeded in %s s\n' \
		"$tenants" "$executions" "$((t1 - t0))"
	printf 'each page: 1 warm-up + %s requests as an operator; server time from the agenthost request log (ms=)\n' "$repeat"
	printf 'target: < 100 ms server time per page\n\n'
	measure
} | tee "$out"
say "written to $out"
