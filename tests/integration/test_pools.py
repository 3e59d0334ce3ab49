"""Pools pinned to tenants, and JSON from the web server when no agenthost answers.

Pinned pools (docs/ISOLATION.md, "Process pools"): tests/run routes the host name
AGENTHOST_POOL_HOST, under lighttpd and under nginx, to a second pool of agenthost
processes whose configuration has serve_tenants = pin-<pass>; every other process
has exclude_tenants = the same. These tests prove the pinned tenant is served
through its pool, another tenant's key there is refused (403 tenant_not_served)
before anything runs, the shared pools refuse the pinned tenant, and served calls
are recorded either way.

JSON when a worker dies (docs/API.md, "When agenthost itself cannot answer"):
the host name AGENTHOST_DOWN_HOST is routed, under each web server, to a socket
nothing listens on; under nginx and Apache the tests start an agenthost there and
kill -9 it in the middle of a call. Under lighttpd the pinned pool's own process,
which lighttpd spawned, is killed mid-call, and lighttpd starts a new one.
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

import harness
from harness import test, run, api, assert_error, ctl, skip, wait_until
from apihelp import chat_body, db_exec, tenant_id

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
POOL_HOST = os.environ.get("AGENTHOST_POOL_HOST", "")
DOWN_HOST = os.environ.get("AGENTHOST_DOWN_HOST", "")
CONF_PINNED = os.environ.get("AGENTHOST_CONF_PINNED", "")
CONF_GW = os.environ.get("AGENTHOST_CONF_NGINX", "")
DOWN_SOCKET_GW = os.environ.get("AGENTHOST_DOWN_SOCKET_GW", "")
PINNED_SLUG = "pin-" + (harness.ISOLATION_PASS or "shared")
ERROR_FIELDS = {"message", "type", "code", "param", "reason_code", "request_id"}


def need_pools():
    if not (POOL_HOST and DOWN_HOST and CONF_PINNED):
        skip("no pinned pools (run through tests/run)")


_pinned = {}


def pinned_tenant():
    """The tenant pin-<pass> the pinned pools serve (created once per pass), with a key."""
    if not _pinned:
        rows = db_exec("SELECT id FROM tenants WHERE slug = '%s'" % PINNED_SLUG)
        if rows:
            tid = int(rows[0][0])
        else:
            tid = ctl("tenant", "create", PINNED_SLUG, "--name", "Pinned")["id"]
        k = ctl("key", "create", "--tenant", PINNED_SLUG, "--name", "pool test")
        _pinned.update({"slug": PINNED_SLUG, "id": tid, "key": k["key"]})
    return _pinned


def servers():
    """(name, base URL) of the web servers with a pinned pool."""
    return [("lighttpd", harness.BASE), ("nginx", harness.BASE_NGINX)]


def executions(tenant):
    return int(db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d"
                       % tenant_id(tenant), tenant)[0][0])


def recorded(tenant, request_id):
    """Wait until the call with this request id has its execution row (written off the
    request by the ledger)."""
    def found():
        return db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d AND "
                       "request_id = '%s'" % (tenant_id(tenant), request_id),
                       tenant)[0][0] == "1"
    return wait_until(found, timeout=5)


def chat(base, key, host=None, text="pooled", timeout=30):
    return api("POST", "/v1/chat/completions", chat_body(text), key=key, base=base,
               headers={"Host": host} if host else None, timeout=timeout)


def assert_backend_unavailable(res, status, request_id):
    """An error the web server made: the API's error shape, reason backend_unavailable.
    request_id: None (lighttpd has none to give) or a pattern it must match."""
    st, h, body = res
    assert st == status, (st, h, body)
    assert h.get("content-type", "").startswith("application/json"), (h, body)
    assert isinstance(body, dict) and set(body.get("error", {})) == ERROR_FIELDS, body
    err = body["error"]
    assert err["reason_code"] == err["code"] == "backend_unavailable", err
    assert err["type"] == "api_error" and err["param"] is None and err["message"], err
    if request_id is None:
        assert err["request_id"] is None, err
    else:
        assert re.fullmatch(request_id, err["request_id"] or ""), err
        assert h.get("x-request-id") == err["request_id"], (h, err)
    return err


# ---------------------------------------------------------------- pinned pools


@test
def pinned_tenant_is_served_through_its_pool():
    need_pools()
    t = pinned_tenant()
    for name, base in servers():
        st, h, body = chat(base, t["key"], host=POOL_HOST, text="pinned via " + name)
        assert st == 200, (name, st, body)
        assert "pinned via " + name in body["choices"][0]["message"]["content"], body
        assert recorded(t, h["x-request-id"]), (name, "no execution row", h["x-request-id"])


@test
def the_shared_pools_refuse_the_pinned_tenant():
    need_pools()
    t = pinned_tenant()
    bases = servers() + ([("apache", harness.BASE_APACHE)] if harness.BASE_APACHE else [])
    before = executions(t)
    for name, base in bases:
        err = assert_error(chat(base, t["key"]), 403, "tenant_not_served")
        assert t["slug"] in err["message"], (name, err)
        assert_error(api("GET", "/v1/models", key=t["key"], base=base), 403,
                     "tenant_not_served")
    time.sleep(0.3)
    assert executions(t) == before, "a refused call was recorded"


@test
def another_tenants_key_is_refused_by_the_pinned_pool_before_anything_runs():
    need_pools()
    other = harness.new_tenant("unpinned")
    for name, base in servers():
        # Refused before limits and admission: no 429 however often, no row, nothing
        # reserved (a call that reached admission would be recorded, even refused).
        for _ in range(3):
            err = assert_error(chat(base, other["key"], host=POOL_HOST), 403,
                               "tenant_not_served")
            assert other["slug"] in err["message"], (name, err)
        assert_error(api("GET", "/v1/usage", key=other["key"], base=base,
                         headers={"Host": POOL_HOST}), 403, "tenant_not_served")
    # ... while the shared pools serve it, and record its calls.
    for name, base in servers():
        st, h, body = chat(base, other["key"], text="shared via " + name)
        assert st == 200, (name, st, body)
        assert recorded(other, h["x-request-id"]), (name, "no execution row")
    # Exactly the two served calls: a call refused at admission would be recorded too.
    assert executions(other) == 2, executions(other)


@test
def a_pinned_pool_still_answers_what_needs_no_tenant():
    need_pools()
    for name, base in servers():
        st, _, body = api("GET", "/healthz", base=base, headers={"Host": POOL_HOST})
        assert st == 200 and body == {"status": "ok"}, (name, st, body)
        # Bad keys get the usual answers: the pool refuses only identified tenants.
        assert_error(api("GET", "/v1/models", base=base, headers={"Host": POOL_HOST}),
                     401, "missing_api_key")


# ---------------------------------------------------------------- JSON when no agenthost answers


@test
def lighttpd_error_documents_have_the_api_error_shape():
    d = os.path.join(TOP, "contrib", "errors")
    for status in (500, 502, 503, 504):
        with open(os.path.join(d, "api-%d.html" % status)) as f:
            body = json.load(f)
        assert set(body["error"]) == ERROR_FIELDS, (status, body)
        assert body["error"]["reason_code"] == body["error"]["code"] == "backend_unavailable"
        assert body["error"]["request_id"] is None and body["error"]["param"] is None


@test
def a_route_to_a_dead_socket_answers_json():
    need_pools()
    key = harness.new_tenant("dead")["key"]
    cases = [("lighttpd", harness.BASE, 503, None), ("nginx", harness.BASE_NGINX, 503,
                                                     "[0-9a-f]{32}")]
    if harness.BASE_APACHE:
        cases.append(("apache", harness.BASE_APACHE, 503, "[A-Za-z0-9@_-]{19,}"))
    elif harness.APACHE_ERROR:
        raise AssertionError(harness.APACHE_ERROR)
    for name, base, status, rid in cases:
        for method, path, body in (("POST", "/v1/chat/completions", chat_body("x")),
                                   ("GET", "/v1/models", None)):
            res = api(method, path, body, key=key, base=base, headers={"Host": DOWN_HOST})
            assert_backend_unavailable(res, status, rid)
        # The dashboard keeps the web server's own page.
        st, h, _ = api("GET", "/admin/login", base=base, headers={"Host": DOWN_HOST})
        assert st >= 500 and "json" not in h.get("content-type", ""), (name, st, h)
    # agenthost's own 5xx errors pass through every web server unchanged (the test
    # configuration has no credential for mistral).
    for name, base, _, _ in cases:
        res = api("POST", "/v1/chat/completions",
                  chat_body("x", model="mistral-small-latest"), key=key, base=base)
        err = assert_error(res, 503, "provider_not_configured")
        assert re.fullmatch("[0-9a-f]{32}", err["request_id"]), (name, res)
        assert res[1].get("x-request-id") == err["request_id"], (name, res[1])


def start_down_server():
    """agenthost (mount /gw) on the socket nginx and Apache route DOWN_HOST to."""
    base = open(CONF_GW).read().splitlines()
    drop = {"listen", "threads", "exclude_tenants"}
    lines = [l for l in base if l.split("=")[0].strip() not in drop]
    fd, conf = tempfile.mkstemp(prefix="ah-down-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines + ["listen = " + DOWN_SOCKET_GW, "threads = 4"]) + "\n")
    log = open(os.path.join(harness.LOG_DIR or tempfile.gettempdir(), "agenthost-down.log"),
               "ab")
    # The socket a killed one left behind would pass for the new one below.
    if os.path.exists(DOWN_SOCKET_GW):
        os.unlink(DOWN_SOCKET_GW)
    p = subprocess.Popen([BIN, "-c", conf], stderr=log)
    ok = wait_until(lambda: p.poll() is not None or os.path.exists(DOWN_SOCKET_GW), 5)
    assert ok and p.poll() is None, "the agenthost for %s did not start" % DOWN_HOST
    # Apache's workers run as another user.
    os.chmod(DOWN_SOCKET_GW, 0o666)
    return p, conf


class Call(threading.Thread):
    """One call in a thread, its answer kept."""

    def __init__(self, base, key, host, text):
        super().__init__(daemon=True)
        self.args_ = (base, key, host, text)
        self.res = None

    def run(self):
        base, key, host, text = self.args_
        self.res = chat(base, key, host=host, text=text, timeout=60)


@test
def nginx_and_apache_answer_json_when_agenthost_is_killed_mid_call():
    need_pools()
    if not DOWN_SOCKET_GW or not CONF_GW:
        skip("no socket for %s" % DOWN_HOST)
    key = harness.new_tenant("killed")["key"]
    cases = [("nginx", harness.BASE_NGINX, "[0-9a-f]{32}")]
    if harness.BASE_APACHE:
        cases.append(("apache", harness.BASE_APACHE, "[A-Za-z0-9@_-]{19,}"))
    elif harness.APACHE_ERROR:
        raise AssertionError(harness.APACHE_ERROR)
    p, conf = start_down_server()
    try:
        for name, base, _ in cases:
            st, _, body = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(
                chat(base, key, host=DOWN_HOST, text="alive")), timeout=10) or (0, 0, 0)
            assert st == 200, (name, "not served by the agenthost on the socket", body)
        calls = [Call(base, key, DOWN_HOST, "[mock:latency=20000] %s dies" % name)
                 for name, base, _ in cases]
        for c in calls:
            c.start()
        time.sleep(1.0)
        assert all(c.res is None for c in calls), [c.res for c in calls]
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=5)
        for c, (name, base, rid) in zip(calls, cases):
            c.join(timeout=30)
            assert c.res is not None, (name, "no answer")
            assert_backend_unavailable(c.res, 503, rid)
            # Nothing listens now: the next call gets the same.
            assert_backend_unavailable(chat(base, key, host=DOWN_HOST), 503, rid)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
        os.unlink(conf)


def pinned_lighttpd_pids():
    """The agenthost processes lighttpd runs for the pinned pool (by their AGENTHOST_CONF)."""
    want = ("AGENTHOST_CONF=" + CONF_PINNED).encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if want in env and state != "Z":
            out.append(int(d))
    return out


@test
def lighttpd_answers_json_when_its_worker_is_killed_mid_call():
    need_pools()
    t = pinned_tenant()
    pids = pinned_lighttpd_pids()
    assert len(pids) == 1, ("expected the pinned pool's one process", pids)
    call = Call(harness.BASE, t["key"], POOL_HOST, "[mock:latency=20000] lighttpd dies")
    call.start()
    time.sleep(1.0)
    assert call.res is None, call.res
    os.kill(pids[0], signal.SIGKILL)
    call.join(timeout=30)
    assert call.res is not None, "no answer"
    # lighttpd's status for a backend that died mid-request is 500; it has no request id.
    assert_backend_unavailable(call.res, 500, None)
    # lighttpd starts a new process for the pool, which serves the tenant again.
    res = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(
        chat(harness.BASE, t["key"], host=POOL_HOST, text="after the kill")), timeout=15)
    assert res, "the pinned pool did not come back"
    assert recorded(t, res[1]["x-request-id"])
    assert pinned_lighttpd_pids() and pinned_lighttpd_pids() != pids


run()
