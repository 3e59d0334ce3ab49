"""GET /metrics: who may read it, that its counts move by what was done, the
bound on tenant labels, the text format, and that every process of a host
answers the host's figures (state_dir/metrics).

The counting tests go through lighttpd, whose two processes share the test
state_dir: whichever process answers a scrape, the figures are the host's.
The others start their own instances (fcgi_client.start_instance) with a
state_dir of their own, so no other test's traffic is in their figures.
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import fcgi_client
import harness
from apihelp import LedgerLock
from harness import test, run, api, assert_error

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
TOKEN = os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")
OP = {"Authorization": "Bearer " + TOKEN}
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "count me"}]}

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
LABELS = r"\{(?:%s=%s(?:,%s=%s)*)?\}" % (NAME, LABEL_VALUE, NAME, LABEL_VALUE)
SAMPLE = re.compile(r"^(%s)(%s)? (-?[0-9.e+]+|NaN|\+Inf|-Inf)$" % (NAME, LABELS))


def parse(text):
    """Parse the text format strictly enough to catch what Prometheus refuses:
    returns {(name, ((label, value), ...)): float} and {family: type}."""
    assert text.endswith("\n"), "the text must end with a newline"
    types, helps, series = {}, set(), {}
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            fam = line.split(" ")[2]
            assert fam not in helps, "HELP twice for " + fam
            helps.add(fam)
            continue
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(" ")
            assert typ in ("counter", "gauge", "histogram"), line
            assert fam not in types, "TYPE twice for " + fam
            types[fam] = typ
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels = m.group(1), m.group(2) or "{}"
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert fam in types, "sample before its TYPE: %r" % line
        pairs = tuple(re.findall(r'(%s)=(%s)' % (NAME, LABEL_VALUE), labels))
        pairs = tuple((k, v[1:-1].replace('\\"', '"').replace("\\n", "\n")
                       .replace("\\\\", "\\")) for k, v in pairs)
        key = (name, tuple(sorted(pairs)))
        assert key not in series, "series twice: %r" % line
        series[key] = float(m.group(3))
    return series, types


def value(series, name, **labels):
    """The value of one series (0 when absent)."""
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def total(series, name, **labels):
    """The sum over the series of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and want <= set(ls))


def scrape(base=None):
    st, h, body = api("GET", "/metrics", headers=OP, base=base, raw=True)
    assert st == 200, (st, body[:300])
    assert h["content-type"].startswith("text/plain; version=0.0.4"), h
    return parse(body)[0]


def scrape_fcgi(sock, **kw):
    st, h, body = fcgi_client.request(sock, "GET", "/metrics", **kw)
    assert st == 200, (st, body)
    return parse(body)[0]


@test
def metrics_needs_the_operator_token():
    if not TOKEN:
        harness.skip("no operator token in this run")
    assert_error(api("GET", "/metrics"), 401, "invalid_operator_token")
    t = harness.new_tenant("mx")
    assert_error(api("GET", "/metrics", key=t["key"]), 403, "tenant_key_not_allowed")
    assert_error(api("GET", "/metrics", headers={"Authorization": "Bearer ah_op_wrong_" + "x" * 40}),
                 401, "invalid_operator_token")
    series = scrape()
    assert value(series, "agenthost_processes") >= 1, series


@test
def format_parses_and_histograms_are_cumulative():
    st, _, body = api("GET", "/metrics", headers=OP, raw=True)
    assert st == 200
    series, types = parse(body)
    for fam in ("agenthost_requests_total", "agenthost_tokens_total", "agenthost_cost_usd_total",
                "agenthost_model_calls_total", "agenthost_requests_in_flight",
                "agenthost_calls_in_flight", "agenthost_admissions_total",
                "agenthost_db_connections", "agenthost_breakers", "agenthost_breakers_up"):
        assert fam in types, fam
    for fam in ("agenthost_request_duration_seconds", "agenthost_upstream_duration_seconds"):
        assert types[fam] == "histogram"
        buckets = sorted(((float("inf") if dict(ls)["le"] == "+Inf" else float(dict(ls)["le"])), v)
                         for (n, ls), v in series.items() if n == fam + "_bucket")
        assert len(buckets) >= 10 and buckets[-1][0] == float("inf"), buckets
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), "buckets must be cumulative: %r" % buckets
        assert counts[-1] == value(series, fam + "_count")
    # The scrape itself is in flight while it is answered.
    assert value(series, "agenthost_requests_in_flight") >= 1
    assert value(series, "agenthost_breakers_up") == 1


@test
def counts_move_by_what_was_done():
    # An instance of its own (its own state_dir, so its own metrics table): after the
    # suite's earlier tests the new tenant might not be among the host's top
    # metrics_tenants and would count under tenant="other".
    t = harness.new_tenant("mx")
    tid = str(t["id"])
    h, sock, _ = instance([("metrics_allow", "127.0.0.1/32")])
    try:
        before = scrape_fcgi(sock)
        for _ in range(3):
            st, _, body = fcgi_client.request(sock, "POST", "/v1/chat/completions", CHAT,
                                              key=t["key"])
            assert st == 200, (st, body)
        assert_error(fcgi_client.request(sock, "POST", "/v1/chat/completions",
                                         dict(CHAT, model="no-such-model"), key=t["key"]),
                     404, "model_not_found")
        assert_error(fcgi_client.request(sock, "POST", "/v1/chat/completions", b"model=x",
                                         key=t["key"], params={"CONTENT_TYPE": "text/plain"}),
                     415, "unsupported_media_type")
        after = scrape_fcgi(sock)
    finally:
        fcgi_client.stop(h)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    ok = dict(tenant=tid, model="mock-1", status="200", reason="")
    assert moved("agenthost_requests_total", **ok) == 3, (before, after)
    assert moved("agenthost_requests_total", tenant=tid, model="", status="404",
                 reason="model_not_found") == 1
    # 415 is answered before the key is read: no tenant yet.
    assert moved("agenthost_requests_total", tenant="none", model="", status="415",
                 reason="unsupported_media_type") >= 1
    assert moved("agenthost_model_calls_total", tenant=tid, model="mock-1") == 3
    prompt = moved("agenthost_tokens_total", tenant=tid, model="mock-1", type="prompt")
    completion = moved("agenthost_tokens_total", tenant=tid, model="mock-1", type="completion")
    assert prompt > 0 and completion > 0, (prompt, completion)
    assert moved("agenthost_cost_usd_total", tenant=tid, model="mock-1") >= 0
    assert moved("agenthost_upstream_duration_seconds_count") >= 3
    assert moved("agenthost_request_duration_seconds_count") >= 5
    assert total(after, "agenthost_admissions_total") - total(before, "agenthost_admissions_total") >= 3


@test
def tokens_match_the_usage_the_api_reported():
    t = harness.new_tenant("mx")
    tid = str(t["id"])
    h, sock, _ = instance([("metrics_allow", "127.0.0.1/32")])  # see counts_move_by_what_was_done
    try:
        before = scrape_fcgi(sock)
        st, _, body = fcgi_client.request(sock, "POST", "/v1/chat/completions", CHAT,
                                          key=t["key"])
        assert st == 200, body
        after = scrape_fcgi(sock)
    finally:
        fcgi_client.stop(h)
    for kind in ("prompt", "completion"):
        got = value(after, "agenthost_tokens_total", tenant=tid, model="mock-1", type=kind) - \
            value(before, "agenthost_tokens_total", tenant=tid, model="mock-1", type=kind)
        assert got == body["usage"][kind + "_tokens"], (kind, got, body["usage"])


def instance(extra, procs=1):
    """An instance with a state_dir of its own: (handle, socket, state_dir)."""
    state = tempfile.mkdtemp(prefix="ah-mx-state-")
    h, sock = fcgi_client.start_instance(BIN, harness.CONF, [("state_dir", state)] + list(extra),
                                         procs=procs)
    return h, sock, state


@test
def metrics_allow_lets_listed_addresses_in_without_a_token():
    h, sock, _ = instance([("metrics_allow", "127.0.0.1/32, 10.20.0.0/16")])
    try:
        scrape_fcgi(sock)  # REMOTE_ADDR 127.0.0.1, no token
        scrape_fcgi(sock, params={"REMOTE_ADDR": "10.20.3.4"})
        st, _, body = fcgi_client.request(sock, "GET", "/metrics",
                                          params={"REMOTE_ADDR": "192.0.2.7"})
        assert st == 401 and body["error"]["reason_code"] == "invalid_operator_token", (st, body)
        # Behind a trusted proxy, the address is the forwarded client's.
        st, _, body = fcgi_client.request(sock, "GET", "/metrics",
                                          headers={"X-Forwarded-For": "192.0.2.8"})
        assert st == 401, (st, body)
        # Not listed, but with the operator token.
        st, _, _ = fcgi_client.request(sock, "GET", "/metrics", headers=OP,
                                       params={"REMOTE_ADDR": "192.0.2.7"})
        assert st == (200 if TOKEN else 401)
    finally:
        fcgi_client.stop(h)


@test
def bad_metrics_allow_stops_start_up():
    conf = fcgi_client.conf_with(harness.CONF, [("metrics_allow", "10.0.0.0/33")])
    p = subprocess.run([BIN, "-c", conf], capture_output=True, timeout=20)
    os.unlink(conf)
    assert p.returncode != 0 and b"metrics_allow" in p.stderr, p.stderr


@test
def tenant_labels_are_bounded_to_the_top_n_and_other():
    h, sock, _ = instance([("metrics_tenants", "2"), ("metrics_allow", "127.0.0.1/32")])
    try:
        ts = [harness.new_tenant("mxc") for _ in range(3)]
        for t, n in zip(ts, (4, 3, 2)):
            for _ in range(n):
                st, _, body = fcgi_client.request(sock, "GET", "/v1/models", key=t["key"])
                assert st == 200, body
        series = scrape_fcgi(sock)
    finally:
        fcgi_client.stop(h)
    tenants = {dict(ls)["tenant"] for (n, ls), v in series.items()
               if n == "agenthost_requests_total"}
    assert str(ts[0]["id"]) in tenants and str(ts[1]["id"]) in tenants, tenants
    assert str(ts[2]["id"]) not in tenants, tenants
    assert tenants <= {str(ts[0]["id"]), str(ts[1]["id"]), "other", "none"}, tenants
    assert total(series, "agenthost_requests_total", tenant="other") == 2, series
    assert total(series, "agenthost_requests_total", tenant=str(ts[0]["id"])) == 4


@test
def every_process_answers_the_hosts_figures_and_an_ended_one_is_kept():
    h, sock, state = instance([("metrics_allow", "127.0.0.1/32"), ("threads", "2")], procs=3)
    try:
        t = harness.new_tenant("mxp")
        tid = str(t["id"])
        n = 30
        for _ in range(n):
            st, _, body = fcgi_client.request(sock, "GET", "/v1/models", key=t["key"])
            assert st == 200, body
        for _ in range(12):
            series = scrape_fcgi(sock)
            assert value(series, "agenthost_processes") == 3, series
            assert total(series, "agenthost_requests_total", tenant=tid) == n
        # One process ends: what it counted stays in the host's figures.
        os.kill(h["pids"][0], signal.SIGKILL)
        time.sleep(0.3)
        for _ in range(6):
            series = scrape_fcgi(sock)
            assert total(series, "agenthost_requests_total", tenant=tid) == n, series
            assert value(series, "agenthost_processes") == 2
        files = os.listdir(os.path.join(state, "metrics"))
        assert "retired" in files and len([f for f in files if f.endswith(".m")]) == 2, files
    finally:
        fcgi_client.stop(h)


def ledger_tenant(prefix):
    """A shared tenant whose calls go on leases (a hard budget, no rate or concurrency
    rows): admitted without the database, recorded through the journal (ENFORCEMENT.md
    3.3, 3.5); the tables locked below are the shared ones."""
    t = harness.new_tenant(prefix, isolation="shared")
    for k, v in (("budget_usd_daily", "1000"), ("rpm", "0"), ("concurrency", "0")):
        harness.ctl("limits", "set", "--tenant", t["slug"], k, v)
    return t


def ledger_call(sock, t, i):
    """One chat call; its duration in seconds (it must succeed)."""
    t0 = time.monotonic()
    st, _, body = fcgi_client.request(
        sock, "POST", "/v1/chat/completions", key=t["key"], timeout=20,
        body={"model": "mock-1", "max_tokens": 4,
              "messages": [{"role": "user", "content": "[mock:words=4] ledger %d" % i}]})
    assert st == 200, (st, body)
    return time.monotonic() - t0


def ledger_idle(sock):
    return harness.wait_until(
        lambda: value(scrape_fcgi(sock), "agenthost_ledger_queued") == 0, timeout=10)


@test
def ledger_queued_counts_answered_calls_until_the_database_has_them():
    """agenthost_ledger_queued: calls answered and journaled but not yet written (the
    ledger's backlog, refused past 100,000), and agenthost_ledger_written_total. With the
    ledger's tables locked, answered calls wait in the gauge and the counter stands still;
    once unlocked, the gauge goes back to 0 and the counter moves by exactly those calls."""
    h, sock, _ = instance([("metrics_allow", "127.0.0.1/32")])
    lock = None
    try:
        t = ledger_tenant("mxl")
        for i in range(3):  # leases in place while the database is writable
            ledger_call(sock, t, i)
        assert ledger_idle(sock)
        written = value(scrape_fcgi(sock), "agenthost_ledger_written_total")
        assert written >= 3, written
        lock = LedgerLock()
        for i in range(5):
            ledger_call(sock, t, 100 + i)
        time.sleep(0.3)
        series = scrape_fcgi(sock)
        assert value(series, "agenthost_ledger_queued") == 5, series
        assert value(series, "agenthost_ledger_written_total") == written
        lock.release()
        assert ledger_idle(sock)
        assert value(scrape_fcgi(sock), "agenthost_ledger_written_total") == written + 5
    finally:
        if lock is not None:
            lock.release()
        fcgi_client.stop(h)


@test
def calls_slow_down_while_the_ledger_falls_behind():
    """Past ledger_queue_soft calls waiting to be recorded, a new call first waits in
    proportion to the excess (100 ms at twice the bound): calls slow to what the database
    records instead of all being refused at 100,000. Here the bound is 4: with the
    ledger's tables locked, the calls admitted with 8 and 9 waiting each take at least
    100 ms, and all are answered; once the database has them, none waits."""
    h, sock, _ = instance([("metrics_allow", "127.0.0.1/32"), ("ledger_queue_soft", "4")])
    lock = None
    try:
        t = ledger_tenant("mxs")
        for i in range(3):
            ledger_call(sock, t, i)
        assert ledger_idle(sock)
        lock = LedgerLock()
        took = [ledger_call(sock, t, 100 + i) for i in range(10)]
        # waiting at admission: 0..9 calls; 8 and 9 are 4 over the bound of 4
        assert min(took[8:]) >= 0.095, took
        assert value(scrape_fcgi(sock), "agenthost_ledger_queued") == 10
        lock.release()
        assert ledger_idle(sock)
        assert ledger_call(sock, t, 200) < min(took[8:]), took
    finally:
        if lock is not None:
            lock.release()
        fcgi_client.stop(h)


@test
def grafana_dashboard_uses_only_series_that_exist():
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    text = open(os.path.join(top, "contrib", "grafana-agenthost.json")).read()
    json.loads(text)
    st, _, body = api("GET", "/metrics", headers=OP, raw=True)
    assert st == 200
    _, types = parse(body)
    used = set(re.findall(r"agenthost_[a-z_]+", text))
    assert used, "no series in the dashboard"
    for name in used:
        fam = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or (fam in types and types[fam] == "histogram"), name


run()
