#!/usr/bin/env bash
#
# bench/peers.sh: agenthost next to the floor of its stack and a Node gateway, measured in
# one run against the same upstream (the benchmark of issue 11's bar).
#
#   bench/peers.sh            (from a built checkout: src/agenthost, src/agenthostctl)
#
# DESIGN
# One private environment on 127.0.0.1 only, nothing shared with the dev instance or
# tests/run: a temp directory with its own MariaDB (free port, socket inside, MariaDB's
# defaults) and the mock upstream (bench/mock-upstream.mjs: a fixed 284-byte OpenAI chat
# completion with usage). Every target gets the same POST /v1/chat/completions (model
# gpt-4o-mini, max_tokens 32) from wrk and bench/chat.lua, and each one but the first
# makes one call to the mock per request:
#   direct      the mock itself (what the upstream and wrk cost on their own),
#   floor       lighttpd spawning bench/floor/floor.c (built here): threaded libfcgi, one
#               libcurl POST of the body to the mock, the upstream's body back; the same
#               lighttpd setup (contrib/lighttpd.conf.in) and the same processes x
#               threads as agenthost: the least a gateway on this stack can cost,
#   portkey     Portkey's gateway from npm (@portkey-ai/gateway, pinned, installed into
#               a cache outside the checkout), routed to the mock by its
#               x-portkey-provider / x-portkey-custom-host headers, kept on loopback by
#               bench/listen-loopback.cjs,
#   on-N        agenthost behind lighttpd, enforcement = true, the `openai` provider's
#               base_url on the mock, N tenants' keys round-robin (chat.lua
#               BENCH_KEYS_FILE) for each N of BENCH_TENANT_SETS,
#   off-N       the same through a second lighttpd whose agenthost differs only in
#               enforcement = false.
# Tenants: the largest N of BENCH_TENANT_SETS, each with one key, created with
# `agenthostctl tenant create` BENCH_CREATE_JOBS at a time (timed: the header says how
# long), on a plan `bench` whose limits are all set and none reachable (rates,
# concurrency, USD and token budgets, hard enforcement), so every tenant and key counter
# is exercised and nothing is refused; set N is the first N of them. No global budget is
# set (BENCH_GLOBAL_BUDGET=1 sets one: it serialises every admission on one row).
# Nothing is cached across runs but the npm install of Portkey (same pinned version).
# A phase of agenthost ends when its ledger has written every call it answered (the
# ledger slots in state_dir): the time to catch up counts in its req/s (column drain_s),
# so that a rate the database cannot record is not reported as a rate served.
# Every request is checked: after each phase the mock's count of calls must have grown
# by at least the requests wrk counted (proof that a 200 came from the upstream), and a
# phase with more than 0.1% failed requests (non-2xx, socket errors) fails the run.
# Each target is warmed up at the highest concurrency (and a tenant set until every key
# has been used on every process); then phases rotate over the targets BENCH_ROUNDS times at each
# concurrency, so that drift of the machine is shared rather than charged to one target.
# Every process started here is stopped by pid on exit.
#
# Output: a table on stdout and the same in bench/results/peers-<date>.txt, with the
# commit measured, the load average before and after, and the ratios of issue 11's bar.
#
# Environment: BENCH_DURATION (s per phase, 10), BENCH_WARMUP (s per target, 3),
# BENCH_CONCURRENCY ("1 50"; the bar reads the lowest and the highest), BENCH_ROUNDS (2),
# BENCH_TENANT_SETS ("1 16 10000"), BENCH_TARGETS ("direct floor portkey on off"),
# BENCH_CREATE_JOBS (parallel `tenant create`, 4), BENCH_GLOBAL_BUDGET (0),
# BENCH_PORTKEY_VERSION (1.15.2), BENCH_CACHE (where Portkey is installed,
# ~/.cache/agenthost-bench), BENCH_MARIADB_OPTS (more mariadbd options), BENCH_WRK_THREADS
# (2), BENCH_PROCS (FastCGI processes per lighttpd, 2), BENCH_APP_THREADS (worker threads
# per process, 8), BENCH_AGENTHOST_THREADS (agenthost's `threads`, BENCH_APP_THREADS),
# BENCH_KEEP=1 (keep the temp directory), BENCH_TMP (parent of the temp directory, /tmp),
# BENCH_ALLOW_SANITIZERS=1 (measure a sanitizer build anyway).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
PATH=$PATH:/usr/sbin:/sbin

duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
concurrency=${BENCH_CONCURRENCY:-1 50}
rounds=${BENCH_ROUNDS:-2}
tenant_sets=${BENCH_TENANT_SETS:-1 16 10000}
targets=${BENCH_TARGETS:-direct floor portkey on off}
create_jobs=${BENCH_CREATE_JOBS:-4}
global_budget=${BENCH_GLOBAL_BUDGET:-0}
portkey_version=${BENCH_PORTKEY_VERSION:-1.15.2}
cache=${BENCH_CACHE:-$HOME/.cache/agenthost-bench}
mariadb_opts=${BENCH_MARIADB_OPTS:-}
wrk_threads=${BENCH_WRK_THREADS:-2}
procs=${BENCH_PROCS:-2}
app_threads=${BENCH_APP_THREADS:-8}
agenthost_threads=${BENCH_AGENTHOST_THREADS:-$app_threads}

BENCH_NAME=peers.sh
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

# The request every target gets.
BODY='{"model":"gpt-4o-mini","max_tokens":32,"messages":[{"role":"user","content":"benchmark request"}]}'

has_target() {
	[[ " $targets " == *" $1 "* ]]
}

ctl() {
	"$top/src/agenthostctl" -c "$T/on.conf" "$@"
}

# ---------------------------------------------------------------- the targets

# bench/floor/floor.c built into $T, behind lighttpd on port $1.
start_floor() {
	[ -r /usr/include/fcgiapp.h ] || die "libfcgi-dev is not installed (fcgiapp.h)"
	cc -O2 -Wall -o "$T/floor" "$top/bench/floor/floor.c" -lfcgi -lcurl -lpthread \
		>"$T/log/floor-build.log" 2>&1 ||
		die "cannot build bench/floor/floor.c (libfcgi-dev, libcurl4-openssl-dev?); see $T/log/floor-build.log"
	start_lighttpd floor "$1" "$T/floor" \
		"\"FLOOR_UPSTREAM\" => \"$MOCK_URL/v1/chat/completions\", \"FLOOR_API_KEY\" => \"sk-bench\", \"FLOOR_THREADS\" => \"$app_threads\""
	LIGHTTPD_FLOOR=$LIGHTTPD_PID
	URL_FLOOR=http://127.0.0.1:$1
	wait_for 150 curl -sS -m 1 -o /dev/null "$URL_FLOOR/" || die "the floor did not start; see $T/log/floor"
}

# Portkey's gateway, BENCH_PORTKEY_VERSION from npm, installed once into BENCH_CACHE
# (never into the checkout), on 127.0.0.1:$1.
start_portkey() {
	local dir=$cache/portkey-$portkey_version pkg have
	pkg=$dir/node_modules/@portkey-ai/gateway
	have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$pkg/package.json" 2>/dev/null || true)
	if [ "$have" != "$portkey_version" ]; then
		say "installing @portkey-ai/gateway@$portkey_version into $dir"
		mkdir -p "$dir"
		[ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
		(cd "$dir" && npm install --no-audit --no-fund "@portkey-ai/gateway@$portkey_version") \
			>"$T/log/npm-install.log" 2>&1 ||
			die "npm install @portkey-ai/gateway@$portkey_version failed; see $T/log/npm-install.log"
	fi
	[ -f "$pkg/build/start-server.js" ] || die "$pkg/build/start-server.js is missing"
	# It listens on every interface and has no option for that: the preload binds it to
	# 127.0.0.1. --headless: no UI.
	node --require "$top/bench/listen-loopback.cjs" "$pkg/build/start-server.js" --port="$1" \
		--headless >"$T/log/portkey.log" 2>&1 &
	pids+=($!)
	URL_PORTKEY=http://127.0.0.1:$1
	wait_for 300 curl -sS -m 1 -o /dev/null "$URL_PORTKEY/" ||
		die "Portkey's gateway did not start; see $T/log/portkey.log"
	ss -Htln "sport = :$1" 2>/dev/null | grep -qv '127.0.0.1:' &&
		die "Portkey's gateway listens beyond 127.0.0.1 (ss -tln)"
	return 0
}

# The tenants and their keys; agenthost, enforcement on and off.
start_agenthost() {
	local nmax=0 n port_on port_off
	upstream_conf on true
	upstream_conf off false
	ctl master-key init >"$T/log/ctl.log" 2>&1 || die "master-key init failed; see $T/log/ctl.log"
	ctl migrate >>"$T/log/ctl.log" 2>&1 || die "migrate failed; see $T/log/ctl.log"
	bench_plan
	if [ "$global_budget" = 1 ]; then
		for n in global_budget_usd_daily global_budget_usd_monthly; do
			ctl limits set --global "$n" 100000000 >>"$T/log/ctl.log" 2>&1 ||
				die "limits set --global $n failed; see $T/log/ctl.log"
		done
		for n in global_budget_tokens_daily global_budget_tokens_monthly; do
			ctl limits set --global "$n" 100000000000000 >>"$T/log/ctl.log" 2>&1 ||
				die "limits set --global $n failed; see $T/log/ctl.log"
		done
	fi
	for n in $tenant_sets; do
		[ "$n" -gt "$nmax" ] && nmax=$n
	done
	say "creating $nmax tenants with a key each, $create_jobs in parallel"
	make_tenants b "$nmax" "$create_jobs" "$T/keys-all" on
	NTENANTS=$nmax
	say "created $nmax tenants in $CREATE_S s"
	for n in $tenant_sets; do
		(umask 077 && head -n "$n" "$T/keys-all" >"$T/keys-$n")
	done
	read -r port_on port_off <<<"$(free_ports 2)"
	[ -n "$port_off" ] || die "no free ports"
	start_lighttpd on "$port_on"
	LIGHTTPD_ON=$LIGHTTPD_PID
	start_lighttpd off "$port_off"
	LIGHTTPD_OFF=$LIGHTTPD_PID
	URL_ON=http://127.0.0.1:$port_on
	URL_OFF=http://127.0.0.1:$port_off
	wait_for 150 http_ok "$URL_ON/healthz" || die "agenthost (enforcement on) did not start"
	wait_for 150 http_ok "$URL_OFF/healthz" || die "agenthost (enforcement off) did not start"
}

# The phases: direct floor portkey on-N... off-N... as selected.
PHASES=()
phase_list() {
	local t n
	for t in direct floor portkey; do
		has_target "$t" && PHASES+=("$t")
	done
	for t in on off; do
		if has_target "$t"; then
			for n in $tenant_sets; do
				PHASES+=("$t-$n")
			done
		fi
	done
	[ "${#PHASES[@]}" -gt 0 ] || die "BENCH_TARGETS selects nothing"
}

# Run "$@" with the request environment of phase $1 (its URL as the argument after it).
with_phase() {
	local p=$1
	shift
	case $p in
	direct) BENCH_KEY=sk-bench BENCH_BODY=$BODY "$@" "$MOCK_URL" ;;
	floor) BENCH_KEY=sk-bench BENCH_BODY=$BODY "$@" "$URL_FLOOR" ;;
	portkey)
		BENCH_KEY=sk-bench BENCH_BODY=$BODY BENCH_HEADERS="$(portkey_headers)" "$@" "$URL_PORTKEY"
		;;
	on-*) BENCH_KEYS_FILE=$T/keys-${p#on-} BENCH_BODY=$BODY "$@" "$URL_ON" ;;
	off-*) BENCH_KEYS_FILE=$T/keys-${p#off-} BENCH_BODY=$BODY "$@" "$URL_OFF" ;;
	*) die "unknown phase $p" ;;
	esac
}

portkey_headers() {
	printf 'x-portkey-provider: openai\nx-portkey-custom-host: %s/v1' "$MOCK_URL"
}

# One request to each phase's target: a 200 that reached the mock; agenthost's
# admission headers present with enforcement on and absent with it off.
probe_all() {
	local p hdr url key extra
	for p in "${PHASES[@]}"; do
		extra=
		key=sk-bench
		case $p in
		direct) url=$MOCK_URL ;;
		floor) url=$URL_FLOOR ;;
		portkey)
			url=$URL_PORTKEY
			extra=$(portkey_headers)
			;;
		on-*)
			url=$URL_ON
			key=$(head -n 1 "$T/keys-${p#on-}")
			;;
		off-*)
			url=$URL_OFF
			key=$(head -n 1 "$T/keys-${p#off-}")
			;;
		esac
		hdr=$(probe_chat "$url" "$key" "$BODY" "$extra")
		case $p in
		on-*)
			grep -qi '^X-RateLimit-Limit-Requests:' <<<"$hdr" ||
				die "probe of $p: no admission headers (is enforcement on?)"
			;;
		off-*)
			grep -qi '^X-RateLimit-Limit-Requests:' <<<"$hdr" &&
				die "probe of $p: admission headers with enforcement off"
			;;
		esac
		grep -q '"usage"' "$T/log/probe.json" || die "probe of $p: no usage in the answer"
	done
	return 0
}

# $1 phase, $2 connections, $3 seconds, $4 results: wrk with the phase's request.
wrk_phase() {
	local p=$1 c=$2 s=$3 out=$4
	with_phase "$p" wrk_to "$c" "$s" "$out"
}
wrk_to() {
	run_wrk "$4" "$1" "$2" "$3"
}

# Warm-up of phase $1 at $2 connections: BENCH_WARMUP seconds, and for a tenant set
# until the mock has answered (keys x wrk threads x processes x 2) calls, so that every
# key has been used on every process (each key is sent 2 x processes times by each wrk
# thread; lighttpd picks the process: a key one process never saw is left with odds
# below 1 %) before anything is measured (at most 300 s): what is measured is the steady
# state of a host serving that many tenants, not its first minute.
warm_phase() {
	local p=$1 c=$2 n threads=$wrk_threads
	[ "$warmup" -gt 0 ] && wrk_phase "$p" "$c" "$warmup" "$T/warm-$p"
	case $p in
	on-* | off-*)
		n=${p#*-}
		[ "$threads" -gt "$c" ] && threads=$c
		if [ "$n" -gt 16 ]; then
			say "warm-up of $p: until every key has been used on every process"
			with_phase "$p" warm_until "$c" "$((n * threads * procs * 2))" "$T/warm2-$p"
		fi
		;;
	esac
	case $p in
	on-* | off-*) ledger_drain >/dev/null || die "warm-up of $p: the ledger did not catch up" ;;
	esac
	[ ! -f "$T/warm-$p" ] || check_run "$T/warm-$p" "warm-up of $p"
	[ ! -f "$T/warm2-$p" ] || check_run "$T/warm2-$p" "warm-up of $p (every key)"
}
warm_until() {
	run_wrk_until "$4" "$1" "$2" 300 "$3"
}

# CPU time so far (clock ticks) of the processes serving phase $1: "db app", MariaDB and
# the FastCGI processes of the phase's lighttpd (agenthost, or floor.c with db 0; "- -"
# for the other targets).
phase_cpu() {
	local lp
	case $1 in
	floor)
		# shellcheck disable=SC2046 # one pid per word
		printf '0 %s\n' "$(proc_ticks $(fcgi_children "$LIGHTTPD_FLOOR"))"
		return 0
		;;
	on-*) lp=$LIGHTTPD_ON ;;
	off-*) lp=$LIGHTTPD_OFF ;;
	*)
		echo "- -"
		return 0
		;;
	esac
	# shellcheck disable=SC2046 # one pid per word
	printf '%s %s\n' "$(proc_ticks "$MARIADB_PID")" "$(proc_ticks $(fcgi_children "$lp"))"
}

# What MariaDB had done when SHOW GLOBAL STATUS wrote file $1: "statements commits
# rows-written" (Questions, Com_commit, Handler_write + Handler_update + Handler_delete:
# MariaDB 10.11 has no Innodb_rows_* counters; temporary tables count too). Read
# around a phase (the files stay in $T with BENCH_KEEP=1): the database's work per
# request, independent of the machine's load.
db_work() {
	awk '$1 == "Questions" { q = $2 } $1 == "Com_commit" { c = $2 }
		$1 == "Handler_write" || $1 == "Handler_update" ||
		$1 == "Handler_delete" { r += $2 } END { print q + 0, c + 0, r + 0 }' "$1"
}

# Wait until agenthost's ledger has written every call journaled so far (the ledger slots of
# the processes sharing $T/state: appended vs applied, exec/ledger.c) and print how long that
# took in microseconds. A gateway that answers faster than it can record falls behind, and
# the refusals that follow land in whatever phase comes next: the time to catch up is
# charged to the phase that caused it (its req/s counts it, its CPU and database work too).
ledger_drain() {
	python3 - "$T/state/ledger.slots" <<'PYEOF'
import os, struct, sys, time

def slots():
    try:
        with open(sys.argv[1], "rb") as f:
            d = f.read()
    except OSError:
        return {}
    out = {}
    for i in range(0, len(d) - 63, 64):
        pid, _, appended, applied = struct.unpack_from("<iiQQ", d, i)
        if pid > 0 and os.path.exists("/proc/%d" % pid):
            out[pid] = (appended, applied)
    return out

t0 = time.monotonic()
want = {pid: a for pid, (a, _) in slots().items()}
while time.monotonic() - t0 < 600:
    now = slots()
    if all(pid not in now or now[pid][1] >= a for pid, a in want.items()):
        break
    time.sleep(0.05)
else:
    sys.exit("the ledger did not catch up within 600 s")
print(int((time.monotonic() - t0) * 1e6))
PYEOF
}

# One measured phase: $1 phase, $2 connections, $3 round. The mock's count is read
# around it: the calls that reached the upstream go into the result file as `upstream`;
# the CPU time MariaDB and agenthost used during it as `db_ticks` and `app_ticks`
# (per request, it is the cost that other work on a shared machine does not distort).
measure() {
	local p=$1 c=$2 r=$3 f=$T/res-$1-$2-$3 before after n cpu0 cpu1 db0 db1 drain
	before=$(mock_count)
	cpu0=$(phase_cpu "$p")
	sql 'SHOW GLOBAL STATUS' >"$T/status-$p-$c-$r.0"
	db0=$(db_work "$T/status-$p-$c-$r.0")
	wrk_phase "$p" "$c" "$duration" "$f"
	case $p in
	on-* | off-*)
		drain=$(ledger_drain) || die "$p, $c connection(s), round $r: the ledger did not catch up"
		echo "drain_us=$drain" >>"$f"
		;;
	esac
	sql 'SHOW GLOBAL STATUS' >"$T/status-$p-$c-$r.1"
	db1=$(db_work "$T/status-$p-$c-$r.1")
	cpu1=$(phase_cpu "$p")
	after=$(mock_count)
	[ -n "$before" ] && [ -n "$after" ] || die "the mock upstream does not answer"
	echo "upstream=$((after - before))" >>"$f"
	if [ "$cpu0" != "- -" ]; then
		awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { split(a, x); split(b, y)
			printf "db_ticks=%d\napp_ticks=%d\n", y[1] - x[1], y[2] - x[2] }' >>"$f"
	fi
	awk -v a="$db0" -v b="$db1" 'BEGIN { split(a, x); split(b, y)
		printf "db_stmts=%d\ndb_commits=%d\ndb_rows=%d\n", y[1] - x[1], y[2] - x[2], y[3] - x[3] }' >>"$f"
	check_alive "$p, $c connection(s), round $r"
	check_run "$f" "$p, $c connection(s), round $r"
	n=$(val "$f" requests)
	[ "$((after - before))" -ge "$((n - n / 1000))" ] ||
		die "$p, $c connection(s), round $r: wrk counted $n answers but the mock upstream only $((after - before)) calls"
}

# ---------------------------------------------------------------- the report

report() {
	local cmin=999999 cmax=0 c
	for c in $concurrency; do
		[ "$c" -lt "$cmin" ] && cmin=$c
		[ "$c" -gt "$cmax" ] && cmax=$c
	done
	printf 'agenthost peers benchmark (issue 11), %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'commit measured: %s\n' "$COMMIT"
	printf 'machine: %s\n' "$(machine)"
	printf 'load average (1/5/15 min): %s before the run, %s after it (the run included)\n' \
		"$LOAD_START" "$(loadavg)"
	load_note "$LOAD_START"
	cpu_note
	printf 'versions: node %s, %s, MariaDB %s, libcurl %s, Portkey gateway %s\n' \
		"$(node --version)" "$(lighttpd -v 2>/dev/null | head -n 1 | cut -d ' ' -f 1)" \
		"$(sql 'SELECT VERSION()')" "$(curl-config --version 2>/dev/null | cut -d ' ' -f 2 || echo '?')" \
		"$(has_target portkey && echo "$portkey_version" || echo '(not run)')"
	printf 'setup: lighttpd (contrib/lighttpd.conf.in) -> %s FastCGI processes x %s threads for\n' \
		"$procs" "$app_threads"
	if [ "$agenthost_threads" = "$app_threads" ]; then
		printf '       the floor and for agenthost; one MariaDB (defaults%s); mock upstream in node\n' \
			"${mariadb_opts:+, $mariadb_opts}"
	else
		printf '       the floor, x %s threads for agenthost; one MariaDB (defaults%s); mock upstream in node\n' \
			"$agenthost_threads" "${mariadb_opts:+, $mariadb_opts}"
	fi
	printf 'load: wrk (%s threads at most), %s s per phase, %s round(s) of the phases in turn,\n' \
		"$wrk_threads" "$duration" "$rounds"
	printf '      warm-up %s s per target; POST /v1/chat/completions %s\n' "$warmup" "$BODY"
	if has_target on || has_target off; then
		printf 'tenants: %s, each with one key, created in %s s (agenthostctl tenant create, %s in\n' \
			"$NTENANTS" "$CREATE_S" "$create_jobs"
		printf '         parallel); plan limits all set, none reachable; global budget: %s\n' \
			"$([ "$global_budget" = 1 ] && echo set || echo 'not set')"
	fi
	printf '\n'
	python3 - "$T" "$rounds" "$cmin" "$cmax" "$concurrency" "$(getconf CLK_TCK)" "${PHASES[@]}" <<'PYEOF'
import statistics, sys
T, rounds, cmin, cmax = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
concs, hz, phases = sys.argv[5].split(), float(sys.argv[6]), sys.argv[7:]

def kv(path):
    d = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                d[k] = float(v)
    return d

S = {}
for c in concs:
    for p in phases:
        runs = [kv(f"{T}/res-{p}-{c}-{r}") for r in range(1, rounds + 1)]
        n = sum(x["requests"] for x in runs)
        us = sum(x["duration_us"] + x.get("drain_us", 0) for x in runs)
        S[p, c] = {
            "rps": n / (us / 1e6),
            "mean": sum(x["lat_mean_us"] * x["requests"] for x in runs) / n,
            "p50": statistics.median(x["lat_p50_us"] for x in runs),
            "p99": statistics.median(x["lat_p99_us"] for x in runs),
            "up": sum(x["upstream"] for x in runs) / n,
            "db": sum(x.get("db_ticks", 0) for x in runs) * 1000 / hz / n,
            "app": sum(x.get("app_ticks", 0) for x in runs) * 1000 / hz / n,
            "cpu": "db_ticks" in runs[0],
            "stmts": sum(x.get("db_stmts", 0) for x in runs) / n,
            "commits": sum(x.get("db_commits", 0) for x in runs) / n,
            "rows": sum(x.get("db_rows", 0) for x in runs) / n,
            "drain": sum(x.get("drain_us", 0) for x in runs) / 1e6 / len(runs),
            "rounds": "/".join("%.0f" % (x["requests"] / ((x["duration_us"] + x.get("drain_us", 0))
                                                          / 1e6)) for x in runs),
        }

def label(p):
    if p == "direct":
        return "mock upstream, direct"
    if p == "floor":
        return "floor (lighttpd + floor.c)"
    if p == "portkey":
        return "Portkey gateway"
    mode, n = p.split("-")
    return "agenthost %s, %s tenant%s" % (mode, n, "" if n == "1" else "s")

ms = lambda us: "%.3f" % (us / 1000)
print("%-5s %-30s %8s %8s %8s %8s %8s %8s %6s %6s %6s  %s" % ("conns", "target", "req/s",
      "p50_ms", "p99_ms", "mean_ms", "+p50_ms", "+p99_ms", "up/req", "db_ms", "app_ms",
      "req/s per round"))
for c in concs:
    d = S.get(("direct", c))
    for p in phases:
        s = S[p, c]
        add50 = ms(s["p50"] - d["p50"]) if d and p != "direct" else "-"
        add99 = ms(s["p99"] - d["p99"]) if d and p != "direct" else "-"
        cpu = lambda k: "%.3f" % s[k] if s["cpu"] else "-"
        print("%-5s %-30s %8.0f %8s %8s %8s %8s %8s %6.3f %6s %6s  %s" % (c, label(p), s["rps"],
              ms(s["p50"]), ms(s["p99"]), ms(s["mean"]), add50, add99, s["up"], cpu("db"),
              cpu("app"), s["rounds"]))
    print()
print("+p50_ms, +p99_ms: added over the mock called directly at the same concurrency.")
print("up/req: calls the mock upstream answered per request wrk counted (1.000 = every")
print("answer came from the upstream; a little more: calls in flight when wrk stopped).")
print("req/s and mean over all rounds; p50 and p99 are the median of the rounds' values.")
print("db_ms, app_ms: CPU time (user + system) per request of MariaDB and of the agenthost")
print("processes during the phase: what a request costs, whatever else shared the machine.")
print()
print("MariaDB's work per request (statements, commits, rows written by its handlers),")
print("agenthost phases; drain_s: seconds after wrk stopped until the ledger had written")
print("every call (mean of the rounds; counted in req/s, CPU and database work above)")
print("%-5s %-30s %8s %8s %8s %8s" % ("conns", "target", "stmts", "commits", "rows", "drain_s"))
for c in concs:
    for p in phases:
        if p.startswith("on-") or p.startswith("off-"):
            s = S[p, c]
            print("%-5s %-30s %8.3f %8.3f %8.3f %8.2f" % (c, label(p), s["stmts"], s["commits"],
                  s["rows"], s["drain"]))
print()

def get(p, c, k):
    s = S.get((p, c))
    return None if s is None else s[k]

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

def diff(a, b):
    return None if a is None or b is None else (a - b) / 1000

sets = sorted({int(p.split("-")[1]) for p in phases if p.startswith("on-")})
big = "on-%d" % sets[-1] if sets and sets[-1] > 16 else None
rows = [
    ("agenthost on, 16 tenants / floor, req/s at %s conns" % cmax,
     ratio(get("on-16", cmax, "rps"), get("floor", cmax, "rps")), ">=", 0.6, "x"),
    ("agenthost on, 16 tenants / Portkey, req/s at %s conns" % cmax,
     ratio(get("on-16", cmax, "rps"), get("portkey", cmax, "rps")), ">=", 5.0, "x"),
    ("agenthost on, 1 tenant / floor, req/s at %s conns" % cmax,
     ratio(get("on-1", cmax, "rps"), get("floor", cmax, "rps")), ">=", 0.5, "x"),
    ("agenthost on, 16 tenants, p50 added over direct at %s conn" % cmin,
     diff(get("on-16", cmin, "p50"), get("direct", cmin, "p50")), "<=", 0.35, "ms"),
    ("agenthost on, 16 tenants, p99 added over direct at %s conn" % cmin,
     diff(get("on-16", cmin, "p99"), get("direct", cmin, "p99")), "<=", 2.0, "ms"),
    ("agenthost on, 16 tenants / floor, p99 at %s conns" % cmax,
     ratio(get("on-16", cmax, "p99"), get("floor", cmax, "p99")), "<=", 2.0, "x"),
    ("agenthost on, %s / 16 tenants, req/s at %s conns" % (big[3:] if big else "10000", cmax),
     ratio(get(big, cmax, "rps"), get("on-16", cmax, "rps")) if big else None, ">=", 0.9, "x"),
]
print("issue 11's bar (enforcement and ledger on)")
print("%-62s %9s %10s  %s" % ("", "measured", "bar", "met"))
for name, v, op, bar, unit in rows:
    if v is None:
        print("%-62s %9s %10s  %s" % (name, "-", "%s %g%s" % (op, bar, unit), "not measured"))
        continue
    met = v >= bar if op == ">=" else v <= bar
    print("%-62s %9s %10s  %s" % (name, "%.3f%s" % (v, unit), "%s %g%s" % (op, bar, unit),
          "yes" if met else "NO"))
print()
print("for reference (req/s at %s conns, p50 added at %s conn)" % (cmax, cmin))
for p in phases:
    if p in ("direct", "floor"):
        continue
    r = ratio(get(p, cmax, "rps"), get("floor", cmax, "rps"))
    a = diff(get(p, cmin, "p50"), get("direct", cmin, "p50"))
    print("  %-30s %s x floor, +%s ms p50" % (label(p), "-" if r is None else "%.3f" % r,
          "-" if a is None else "%.3f" % a))
PYEOF
}

# ---------------------------------------------------------------- the run

check_int BENCH_DURATION "$duration" 1 600
check_int BENCH_WARMUP "$warmup" 0 600
check_int BENCH_ROUNDS "$rounds" 1 20
check_int BENCH_CREATE_JOBS "$create_jobs" 1 64
check_int BENCH_WRK_THREADS "$wrk_threads" 1 64
check_int BENCH_PROCS "$procs" 1 64
check_int BENCH_APP_THREADS "$app_threads" 1 256
check_int BENCH_AGENTHOST_THREADS "$agenthost_threads" 1 512
[ -n "$concurrency" ] || die "BENCH_CONCURRENCY is empty"
for c in $concurrency; do
	check_int BENCH_CONCURRENCY "$c" 1 10000
done
for n in $tenant_sets; do
	check_int BENCH_TENANT_SETS "$n" 1 1000000
done
for t in $targets; do
	case $t in
	direct | floor | portkey | on | off) ;;
	*) die "BENCH_TARGETS: unknown target '$t' (direct floor portkey on off)" ;;
	esac
done
[[ $portkey_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "BENCH_PORTKEY_VERSION: x.y.z"
phase_list

need mariadbd mariadb-install-db mariadb-admin mariadb lighttpd wrk curl python3 node xargs ss
if has_target on || has_target off; then
	check_agenthost_build
fi
if has_target floor; then
	need cc
fi
if has_target portkey; then
	need npm
fi

LOAD_START=$(loadavg)
COMMIT=$(commit_measured)
cpu_mark
make_tmp
# Ports are picked just before each server starts: creating the tenants takes minutes,
# long enough for something else on the machine to take a port picked at the start.
port() {
	local p
	p=$(free_ports 1)
	[ -n "$p" ] || die "no free port"
	echo "$p"
}
db_port=$(port)
say "MariaDB on 127.0.0.1:$db_port"
if [ -n "$mariadb_opts" ]; then
	read -r -a db_opts <<<"$mariadb_opts"
	start_mariadb "$db_port" "${db_opts[@]}"
else
	start_mariadb "$db_port"
fi
start_mock "$(port)"
say "mock upstream on $MOCK_URL"
if has_target floor; then
	start_floor "$(port)"
	say "floor on $URL_FLOOR"
fi
if has_target portkey; then
	start_portkey "$(port)"
	say "Portkey gateway $portkey_version on $URL_PORTKEY"
fi
if has_target on || has_target off; then
	start_agenthost
	say "agenthost on $URL_ON (enforcement on), $URL_OFF (off)"
fi
probe_all
say "every target answers 200 from the mock upstream"

cmax=0
for c in $concurrency; do
	[ "$c" -gt "$cmax" ] && cmax=$c
done
say "warm-up at $cmax connections"
for p in "${PHASES[@]}"; do
	warm_phase "$p" "$cmax"
done
# Phases rotate (direct, floor, portkey, on-1, ..., off-N, direct, ...) so that drift of
# the machine over the run is shared rather than charged to one target.
for c in $concurrency; do
	for ((r = 1; r <= rounds; r++)); do
		for p in "${PHASES[@]}"; do
			say "measuring $p, $c connection(s), round $r of $rounds, $duration s"
			measure "$p" "$c" "$r"
		done
	done
done

mkdir -p "$top/bench/results"
result=$top/bench/results/peers-$(date -u +%Y%m%d-%H%M%S).txt
report | tee "$result"
say "written to ${result#"$top"/}"
