"""The front door: JSON endpoints refuse non-JSON bodies (415), warnings that
repeat while the database is down are counted instead of written, /admin/
with a slash, the favicon, the invoice page in the dashboard navigation.

The log test starts its own agenthost (fcgi_client.start_instance) pointed
at a database socket that does not exist, as test_host.py does for its
processes.
"""
import os
import re
import time

import dashhelp
import fcgi_client
import harness
from harness import test, run, api, assert_error

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WELL_FORMED_KEY = "ah_live_" + "A" * 42 + "E"  # the shape of a key; no such key exists
CHAT = {"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}


@test
def json_endpoint_refuses_a_form_body_with_415():
    t = harness.new_tenant("ct")
    err = assert_error(api("POST", "/v1/chat/completions", "model=mock-1", key=t["key"],
                           headers={"Content-Type": "application/x-www-form-urlencoded"}),
                       415, "unsupported_media_type")
    assert "application/json" in err["message"], err
    assert_error(api("POST", "/v1/agents", '{"name": "a"}', key=t["key"],
                     headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    # No Content-Type at all (an empty header value is what http.client can send).
    assert_error(api("POST", "/v1/chat/completions", '{"model": "mock-1"}', key=t["key"],
                     headers={"Content-Type": ""}), 415, "unsupported_media_type")
    # The operator API too.
    assert_error(api("POST", "/admin/api/v1/tools", "x=1",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "unsupported_media_type")


@test
def json_with_parameters_and_any_case_is_accepted():
    t = harness.new_tenant("ct")
    st, _, body = api("POST", "/v1/chat/completions", CHAT, key=t["key"],
                      headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert st == 200, (st, body)
    # A request without a body needs no Content-Type.
    st, _, body = api("GET", "/v1/models", key=t["key"], headers={"Content-Type": ""})
    assert st == 200, (st, body)


@test
def repeated_warnings_are_counted_while_the_database_is_down():
    h, sock = fcgi_client.start_instance(BIN, harness.CONF, [
        ("db_socket", "/nonexistent/agenthost-test.sock"), ("db_nodes", ""),
        ("threads", "2"), ("log_repeat_s", "2")])
    try:
        n = 200
        for _ in range(n):
            # A key of the right shape: looked up in the database that is not there (a
            # thread that never connected once crashed here: a NULL store).
            st, _, body = fcgi_client.request(sock, "POST", "/v1/chat/completions", CHAT,
                                              key=WELL_FORMED_KEY)
            assert st == 503 and body["error"]["reason_code"] == "database_unavailable", \
                (st, body)
        time.sleep(2.6)  # the window ends; the watcher writes the summary
    finally:
        fcgi_client.stop(h)
    log = open(os.path.join(h["dir"], "stderr.log")).read()
    lines = [l for l in log.splitlines() if " request id=" not in l]
    connect = [l for l in lines if "cannot connect to MariaDB" in l]
    assert 1 <= len(connect) <= 4, "\n".join(lines[:20])
    counted = [int(m.group(1)) for l in connect
               for m in [re.search(r"\[repeated (\d+) times in the last \d+ s\]", l)] if m]
    assert counted and sum(counted) + len(connect) - len(counted) >= n, connect
    # Every request still has its one request line.
    assert sum(1 for l in log.splitlines() if " request id=" in l) == n


@test
def every_warning_is_written_with_log_repeat_0():
    h, sock = fcgi_client.start_instance(BIN, harness.CONF, [
        ("db_socket", "/nonexistent/agenthost-test.sock"), ("db_nodes", ""),
        ("threads", "1"), ("log_repeat_s", "0")])
    try:
        for _ in range(5):
            fcgi_client.request(sock, "POST", "/v1/chat/completions", CHAT,
                                key=WELL_FORMED_KEY)
    finally:
        fcgi_client.stop(h)
    log = open(os.path.join(h["dir"], "stderr.log")).read()
    assert log.count("cannot connect to MariaDB") >= 5, log[-2000:]
    assert "repeated" not in log


@test
def admin_with_a_slash_is_the_overview():
    d = dashhelp.Dash()
    st, h, _ = d.get("/admin/")
    assert st == 303 and h["location"].endswith("/admin/login"), (st, h)
    name, pw = dashhelp.new_admin("operator")
    d.login(name, pw)
    st, _, body = d.get("/admin/")
    assert st == 200 and "<title>Overview" in body, (st, body[:300])


@test
def favicon_is_served_and_cached():
    st, h, body = api("GET", "/favicon.ico", raw=True)
    assert st == 200 and h["content-type"] == "image/x-icon", (st, h)
    assert "max-age=86400" in h["cache-control"], h
    assert len(body.encode("utf-8", "surrogateescape")) > 0
    st, h, body = api("GET", "/admin/static/favicon.svg", raw=True)
    assert st == 200 and h["content-type"] == "image/svg+xml" and "<svg" in body, (st, h)
    d = dashhelp.Dash()
    st, _, page = d.get("/admin/login")
    assert 'rel="icon"' in page and "/admin/static/favicon.svg" in page, page[:600]


@test
def invoice_is_in_the_navigation():
    t = harness.new_tenant("nav")
    name, pw = dashhelp.new_admin("tenant_admin", tenant=t["slug"])
    d = dashhelp.Dash()
    d.login(name, pw)
    st, _, page = d.get("/admin")
    nav = re.search(r'<nav class="nav">(.*?)</nav>', page, re.S).group(1)
    href = "/admin/tenants/%s/invoice" % t["id"]
    assert href in nav, nav
    st, _, page = d.get(href)
    assert st == 200, (st, page[:300])
    nav = re.search(r'<nav class="nav">(.*?)</nav>', page, re.S).group(1)
    assert re.search(r'invoice" aria-current="page">Invoice<', nav), nav
    # Staff reach a tenant's invoice from the tenant page's links.
    name, pw = dashhelp.new_admin("operator")
    d = dashhelp.Dash()
    d.login(name, pw)
    st, _, page = d.get("/admin/tenants/%s" % t["id"])
    assert st == 200 and href in page, (st, page[:300])


run()
