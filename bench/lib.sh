# bench/lib.sh: what the benchmarks share (sourced, not run): messages, argument checks,
# the processes a benchmark starts and their clean-up, free loopback ports, waiting, the
# environment (checks of the build, the temp directory, a private MariaDB, lighttpd
# spawning a FastCGI program, the mock upstream, tenants with keys), running wrk with
# bench/chat.lua and reading the result files it writes, and the header of a result file.
#
# The sourcing script sets BENCH_NAME (for messages) and `top` (the checkout), then fills
# `pids` with every process it starts and `T` with its temp directory (make_tmp); the
# EXIT trap stops them all and removes T unless the run failed or BENCH_KEEP=1. The
# functions that start servers read the sourcing script's `procs` (FastCGI processes per
# lighttpd) and `app_threads` (worker threads per process); run_wrk reads `wrk_threads`.
# shellcheck shell=bash
# Variables are set here for the sourcing script (MOCK_URL, CREATE_S, ...) and read from it
# (top, procs, app_threads, wrk_threads):
# shellcheck disable=SC2034,SC2154

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

# Requests per second of a result file.
rps() {
	awk -v n="$(val "$1" requests)" -v us="$(val "$1" duration_us)" \
		'BEGIN { printf "%.0f", n / (us / 1e6) }'
}

# ---------------------------------------------------------------- the environment

# Die unless every command named is installed.
need() {
	local f
	for f in "$@"; do
		command -v "$f" >/dev/null ||
			die "$f is not installed (bench/README.md lists the Debian packages)"
	done
}

# Die unless src/agenthost and src/agenthostctl are built, without sanitizers (they slow
# every request several times over: such numbers mislead; BENCH_ALLOW_SANITIZERS=1
# measures one anyway), and newer than every source file (a stale build would measure
# another commit than the one the header names).
check_agenthost_build() {
	local f newer
	for f in src/agenthost src/agenthostctl; do
		[ -x "$top/$f" ] || die "$f is not built (./configure && make, or ./contrib/dev up)"
		if ldd "$top/$f" 2>/dev/null | grep -q libasan && [ "${BENCH_ALLOW_SANITIZERS:-0}" != 1 ]; then
			die "$f is built with sanitizers; rebuild without --enable-sanitizers (or set BENCH_ALLOW_SANITIZERS=1)"
		fi
		newer=$(find "$top/src" -name '*.[ch]' -newer "$top/$f" -print -quit)
		[ -z "$newer" ] || die "$f is older than ${newer#"$top"/}: run make first"
	done
}

# The temp directory T (under BENCH_TMP, /tmp by default) with log/, run/, db/, www/.
make_tmp() {
	T=$(mktemp -d "${BENCH_TMP:-/tmp}/ah-bench.XXXXXX") || die "mktemp failed"
	mkdir -p "$T/log" "$T/run" "$T/db" "$T/www"
}

# SQL as root on the private MariaDB; tab-separated, no column names.
sql() {
	mariadb --no-defaults -uroot --socket="$T/db/mysqld.sock" -N -B -e "$1"
}

# A private MariaDB on 127.0.0.1:$1 (socket $T/db/mysqld.sock), more mariadbd options
# after the port, with an empty database `agenthost`.
start_mariadb() {
	local port=$1
	shift
	mariadb-install-db --no-defaults --datadir="$T/db/data" --user="$(id -un)" \
		--auth-root-authentication-method=normal --skip-test-db >"$T/log/mariadb-install.log" 2>&1 ||
		die "mariadb-install-db failed; see $T/log/mariadb-install.log"
	mariadbd --no-defaults --user="$(id -un)" --datadir="$T/db/data" \
		--socket="$T/db/mysqld.sock" --port="$port" --bind-address=127.0.0.1 \
		--pid-file="$T/db/mysqld.pid" --log-error="$T/log/mariadb-error.log" \
		--skip-name-resolve "$@" </dev/null >/dev/null 2>&1 &
	pids+=($!)
	MARIADB_PID=$!
	wait_for 300 mariadb-admin --no-defaults -uroot --socket="$T/db/mysqld.sock" ping ||
		die "MariaDB did not start; see $T/log/mariadb-error.log"
	sql 'CREATE DATABASE agenthost' || die "cannot create the database"
}

# lighttpd on 127.0.0.1:$2 from contrib/lighttpd.conf.in (the setup agenthost is deployed
# with), spawning `procs` processes of the FastCGI program $3 with the environment $4
# (lighttpd bin-environment entries: "NAME" => "value", ...); its config, socket and logs
# are named after $1. Without $3 and $4: agenthost with the configuration $T/$1.conf.
# LIGHTTPD_PID is the new server's pid.
start_lighttpd() {
	local name=$1 port=$2 bin=${3:-$top/src/agenthost} env=${4:-} tpl
	[ -n "$env" ] || env="\"AGENTHOST_CONF\" => \"$T/$name.conf\""
	tpl=$(<"$top/contrib/lighttpd.conf.in")
	[[ $tpl == *'"AGENTHOST_CONF" => "@CONF@"'* ]] ||
		die "contrib/lighttpd.conf.in no longer has the bin-environment this script fills in"
	tpl=${tpl//'"AGENTHOST_CONF" => "@CONF@"'/$env}
	tpl=${tpl//@PORT@/$port}
	tpl=${tpl//@STATE@/$T/www}
	tpl=${tpl//@LOGDIR@/$T/log/$name}
	tpl=${tpl//@PIDFILE@/$T/run/lighttpd-$name.pid}
	tpl=${tpl//@SOCKET@/$T/run/$name.sock}
	tpl=${tpl//@BIN@/$bin}
	tpl=${tpl//@PROCS@/$procs}
	tpl=${tpl//@ERRORS@/$top/contrib/errors}
	printf '%s\n' "$tpl" >"$T/lighttpd-$name.conf"
	mkdir -p "$T/log/$name"
	lighttpd -D -f "$T/lighttpd-$name.conf" >>"$T/log/$name/lighttpd-stderr.log" 2>&1 &
	pids+=($!)
	LIGHTTPD_PID=$!
}

# The FastCGI processes that lighttpd $1 (a pid) spawned, one per line.
fcgi_children() {
	pgrep -P "$1" 2>/dev/null || true
}

# CPU time (user + system, clock ticks) the processes $@ have used so far, summed.
proc_ticks() {
	local p
	for p in "$@"; do
		cat "/proc/$p/stat" 2>/dev/null || true
	done | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# Die if a process started here (MariaDB, a lighttpd, the mock) is gone: what was just
# measured measured nothing. $1 names what was measured.
check_alive() {
	local pid
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null ||
			die "$1: process $pid ($(ps -o args= -p "$pid" 2>/dev/null | cut -c 1-40)) exited; see $T/log (lighttpd-error.log says who stopped it)"
	done
}

# The mock upstream (bench/mock-upstream.mjs) on 127.0.0.1:$1; MOCK_URL is its base URL.
start_mock() {
	node "$top/bench/mock-upstream.mjs" "$1" >"$T/log/mock.log" 2>&1 &
	pids+=($!)
	MOCK_PID=$!
	MOCK_URL=http://127.0.0.1:$1
	wait_for 100 http_ok "$MOCK_URL/stats" || die "the mock upstream did not start; see $T/log/mock.log"
}

# How many chat completions the mock upstream has answered so far.
mock_count() {
	curl -fsS -m 5 "$MOCK_URL/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'
}

# An agenthost configuration $T/$1.conf on the private MariaDB: enforcement $2
# (true|false), then the "key = value" lines given after it. Request lines are not logged
# (log_level = warn) so that nothing measures the log.
agenthost_conf() {
	local name=$1 enforcement=$2
	shift 2
	{
		cat <<EOF
threads = ${agenthost_threads:-$app_threads}
log_level = warn
db_socket = $T/db/mysqld.sock
db_user = root
db_name = agenthost
master_key_file = $T/master.key
sql_dir = $top/sql
state_dir = $T/state
enforcement = $enforcement
EOF
		printf '%s\n' "$@"
	} >"$T/$name.conf"
	chmod 600 "$T/$name.conf"
}

# agenthost_conf with the `openai` provider pointed at the mock upstream (a platform key).
upstream_conf() {
	agenthost_conf "$1" "$2" "provider.openai.base_url = $MOCK_URL/v1" \
		"provider.openai.api_key = sk-bench"
}

# A plan `bench` whose limits are all set (so every rate, concurrency and budget counter
# of a tenant and a key is exercised) and none reachable. Needs a function `ctl` that
# runs agenthostctl with a configuration.
bench_plan() {
	local name value
	ctl plan create bench --description "benchmark: every limit set, none reachable" \
		>>"$T/log/ctl.log" 2>&1 || die "plan create failed; see $T/log/ctl.log"
	while read -r name value; do
		ctl limits set --plan bench "$name" "$value" >>"$T/log/ctl.log" 2>&1 ||
			die "limits set --plan bench $name failed; see $T/log/ctl.log"
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

# $2 tenants $1-1..$1-N on plan bench, each with one API key, created by `agenthostctl
# tenant create` (the product's own path: the key hash needs the master key), $3 at a
# time, with the configuration $T/$5.conf; their keys in order into the file $4 (mode
# 600), the wall time in seconds into CREATE_S. Meanwhile MariaDB does not flush its log
# at each commit (innodb_flush_log_at_trx_commit = 2, set back afterwards): the rows are
# the same, only the setup's durability is relaxed, and nothing is measured then.
make_tenants() {
	local prefix=$1 n=$2 jobs=$3 keys=$4 conf=$T/$5.conf dir=$T/tenants t0 t1 i failed flush
	mkdir -p "$dir"
	rm -f "$dir/failed"
	flush=$(sql 'SELECT @@innodb_flush_log_at_trx_commit') || die "MariaDB does not answer"
	sql 'SET GLOBAL innodb_flush_log_at_trx_commit = 2' || die "cannot relax the log flush"
	t0=$(date +%s.%N)
	# shellcheck disable=SC2016 # expanded by the inner shell
	seq 1 "$n" | xargs -P "$jobs" -I{} sh -c \
		'"$0" -c "$1" tenant create "$3-$4" --key k --plan bench \
			>"$2/$3-$4.json" 2>"$2/$3-$4.err" || echo "$3-$4" >>"$2/failed"' \
		"$top/src/agenthostctl" "$conf" "$dir" "$prefix" {} || true
	t1=$(date +%s.%N)
	sql "SET GLOBAL innodb_flush_log_at_trx_commit = $flush" || die "cannot set the log flush back"
	if [ -s "$dir/failed" ]; then
		failed=$(wc -l <"$dir/failed")
		i=$(head -n 1 "$dir/failed")
		die "$failed of $n tenant creations failed, e.g. $i: $(head -c 300 "$dir/$i.err")"
	fi
	CREATE_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	(umask 077 && python3 - "$dir" "$prefix" "$n" >"$keys") <<'PYEOF' || die "cannot read the new keys"
import json, sys
d, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(1, n + 1):
    with open(f"{d}/{prefix}-{i}.json") as f:
        print(json.load(f)["api_key"]["key"])
PYEOF
	[ "$(wc -l <"$keys")" -eq "$n" ] || die "expected $n keys in $keys"
}

# One chat completion POSTed to $1 with the API key $2, the body $3 and the extra headers
# $4 ("Name: value" lines, may be empty): dies unless the answer is a 200 and the mock
# upstream answered one more call meanwhile; prints the response headers.
probe_chat() {
	local url=$1 key=$2 body=$3 extra=${4:-} before after hdr args=()
	local line
	while IFS= read -r line; do
		[ -n "$line" ] && args+=(-H "$line")
	done <<<"$extra"
	before=$(mock_count)
	# the key goes through stdin, not the command line (ps would show it)
	hdr=$(printf 'Authorization: Bearer %s\n' "$key" |
		curl -sS -m 10 -D - -o "$T/log/probe.json" -X POST "$url/v1/chat/completions" \
			-H @- -H 'Content-Type: application/json' "${args[@]}" --data "$body") ||
		die "probe of $url failed"
	after=$(mock_count)
	grep -q '^HTTP/1.1 200' <<<"$hdr" ||
		die "probe of $url: $(head -n 1 <<<"$hdr") $(head -c 300 "$T/log/probe.json")"
	[ "$after" -gt "$before" ] ||
		die "probe of $url: a 200, but the mock upstream was not called"
	printf '%s\n' "$hdr"
}

# ---------------------------------------------------------------- running wrk

# wrk with bench/chat.lua against $1, $2 connections for $3 seconds; results into the
# file $4. The request comes from the environment (BENCH_KEY or BENCH_KEYS_FILE,
# BENCH_BODY, BENCH_HEADERS), e.g. `BENCH_KEYS_FILE=keys run_wrk ...`.
run_wrk() {
	local url=$1 conns=$2 secs=$3 out=$4 threads=$wrk_threads
	[ "$threads" -gt "$conns" ] && threads=$conns
	BENCH_OUT=$out wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 10s \
		-s "$top/bench/chat.lua" "$url" >"$out.wrk" 2>&1 ||
		die "wrk failed: $(tail -n 3 "$out.wrk")"
	[ -s "$out" ] || die "wrk wrote no results: $(tail -n 3 "$out.wrk")"
}

# Like run_wrk, but until the mock upstream has answered $3 more chat completions (at
# most $4 seconds): wrk runs in the background and is stopped with SIGINT (it then
# reports as usual) once the mock's count, polled every 0.2 s, reaches the target. When
# $6 names a function it is called after each poll with the completions counted since
# the start and the seconds elapsed. A run during which the count stands still for 30 s
# fails (nothing reaches the upstream any more: wrk would otherwise run out its time).
# (wrk cannot stop at a request count by itself: a thread that stops early still waits
# out the duration.)
run_wrk_until() {
	local url=$1 conns=$2 target=$3 secs=$4 out=$5 hook=${6:-} threads=$wrk_threads
	local base n c wpid t0 now last=-1 still=0
	[ "$threads" -gt "$conns" ] && threads=$conns
	base=$(mock_count)
	[ -n "$base" ] || die "the mock upstream does not answer"
	t0=$(date +%s.%N)
	BENCH_OUT=$out wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 10s \
		-s "$top/bench/chat.lua" "$url" >"$out.wrk" 2>&1 &
	wpid=$!
	pids+=("$wpid")
	while kill -0 "$wpid" 2>/dev/null; do
		sleep 0.2
		c=$(mock_count)
		[ -n "$c" ] || die "the mock upstream stopped answering"
		n=$((c - base))
		if [ "$n" -eq "$last" ]; then
			still=$((still + 1))
			[ "$still" -lt 150 ] ||
				die "no call reached the mock upstream for 30 s after $n; see $T/log"
		else
			still=0
			last=$n
		fi
		now=$(date +%s.%N)
		if [ -n "$hook" ]; then
			"$hook" "$n" "$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }')"
		fi
		if [ "$n" -ge "$target" ]; then
			kill -INT "$wpid" 2>/dev/null || true
			break
		fi
	done
	wait "$wpid" || die "wrk failed: $(tail -n 3 "$out.wrk")"
	unset 'pids[${#pids[@]}-1]'
	[ -s "$out" ] || die "wrk wrote no results: $(tail -n 3 "$out.wrk")"
}

# ---------------------------------------------------------------- the header of a result

# The commit of the checkout measured and whether tracked files differ from it:
# "<sha> (clean)" or "<sha> (dirty: ...)".
commit_measured() {
	local h
	if ! h=$(git -C "$top" rev-parse HEAD 2>/dev/null); then
		echo "unknown (not a git checkout)"
	elif [ -n "$(git -C "$top" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		echo "$h (dirty: uncommitted changes to tracked files)"
	else
		echo "$h (clean)"
	fi
}

# The three load averages (1, 5, 15 min) of /proc/loadavg.
loadavg() {
	cut -d ' ' -f 1-3 /proc/loadavg
}

# A warning line when the 1-minute load average before the run ($1, "a b c" as loadavg
# prints) exceeded the cores: other work was using the CPUs the run was going to share.
# (The load after a run counts the benchmark's own processes too.)
load_note() {
	awk -v a="${1%% *}" -v n="$(nproc)" 'BEGIN {
		if (a + 0 > n)
			printf "WARNING: the machine was busy before the run (1-minute load average %s on %d cores):\nother work shared the CPUs; expect noise, in the tails above all, and compare ratios\nwithin this run\n", a, n
	}'
}

# CPU time, in clock ticks (USER_HZ, as /proc counts): the machine's busy time so far
# (user, nice, system, irq, softirq of /proc/stat), and the time used so far by this
# script with every child it waited for (wrk, curl, agenthostctl, ...) and every process
# it started that still runs (servers and the FastCGI processes lighttpd spawned).
cpu_busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}
cpu_own() {
	local p all=$$
	for p in "${pids[@]}"; do
		all="$all $p $(pgrep -P "$p" 2>/dev/null | tr '\n' ' ')"
	done
	# shellcheck disable=SC2086 # one pid per word
	for p in $all; do
		cat "/proc/$p/stat" 2>/dev/null || true
	done | awk '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}

# Mark the start of the run for cpu_note.
cpu_mark() {
	CPU_T0=$(date +%s.%N)
	CPU_BUSY0=$(cpu_busy)
	CPU_OWN0=$(cpu_own)
}

# What the CPUs did since cpu_mark: busy time of the machine, the part this benchmark's
# processes account for, and the rest (other work on the machine, which the numbers
# shared the cores with). Call it while the servers still run.
cpu_note() {
	awk -v t0="$CPU_T0" -v t1="$(date +%s.%N)" -v b0="$CPU_BUSY0" -v b1="$(cpu_busy)" \
		-v o0="$CPU_OWN0" -v o1="$(cpu_own)" -v n="$(nproc)" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		wall = t1 - t0; busy = (b1 - b0) / hz; own = (o1 - o0) / hz; other = busy - own
		if (other < 0) other = 0
		printf "CPU over the run (%.0f s x %d cores): busy %.0f%%; this benchmark %.0f s, other work %.0f s (%.0f%% of the machine)\n", wall, n, busy * 100 / (wall * n), own, other, other * 100 / (wall * n)
	}'
}

# "2 cores, <CPU model>, 23 GiB memory"
machine() {
	printf '%s cores, %s, %s GiB memory' "$(nproc)" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
		"$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)"
}
