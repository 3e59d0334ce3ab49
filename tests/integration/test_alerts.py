"""Issue 16 part B: alerts to a tenant's webhooks.

A receiver on 127.0.0.1 (started here) answers the first request it gets with 500 and
every later one with 200. Every agenthost process of the test environment (lighttpd's
children and the spawn-fcgi instance behind nginx and Apache) runs its alert thread
against the same database, so "each event once" is checked with several processes
looking for the same events at once.
"""
import hashlib
import hmac
import http.server
import json
import threading
import time

import os

from harness import test, run, api, ctl, assert_error, wait_until
from apihelp import new_tenant, chat_body, db_exec
from dashhelp import Dash, new_admin, text_of

OPERATOR_TOKEN = os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")


class Receiver:
    """A webhook receiver: records every request; the first one is answered 500."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rec.lock:
                    first = not rec.got
                    rec.got.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body, "status": 500 if first else 200})
                self.send_response(500 if first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def delivered(self):
        """Bodies (parsed) of the requests answered 200."""
        with self.lock:
            return [json.loads(g["body"]) for g in self.got if g["status"] == 200]

    def close(self):
        self.srv.shutdown()


def manage_key(t):
    return ctl("key", "create", "--tenant", t["slug"], "--name", "ops",
               "--scopes", "inference,read,manage")


def verify(secret, headers, body):
    """Check X-Agenthost-Signature as a receiver would (docs/ENFORCEMENT.md "Alerts")."""
    parts = dict(p.split("=", 1) for p in headers["x-agenthost-signature"].split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(mac.hexdigest(), parts["v1"]), "bad signature"
    assert abs(int(parts["t"]) - time.time()) < 600, parts


@test
def test_budget_thresholds_once_signed_and_retried():
    t = new_tenant("alr")
    m = manage_key(t)
    rcv = Receiver()
    try:
        st, _, hook = api("POST", "/v1/webhooks", {"url": rcv.url}, key=m["key"])
        assert st == 201 and hook["secret"].startswith("whsec_"), hook
        ctl("limits", "set", "--tenant", t["slug"], "budget_tokens_daily", "300")
        ctl("limits", "set", "--tenant", t["slug"], "alert_thresholds", "50,80,100")
        refused = 0
        for i in range(60):
            st, _, b = api("POST", "/v1/chat/completions",
                           chat_body("spend some tokens now please %d" % i, max_tokens=16),
                           key=t["key"])
            if st != 200:
                assert b["error"]["reason_code"] == "tenant_budget_exceeded", b
                refused += 1
                if refused >= 2:
                    break
        assert refused, "the budget never refused a call"
        # refusals begin when the next call's worst case no longer fits, so the budget may
        # stop short of 100 %: 50, 80 and the refusals are certain
        want = {("budget.threshold", 50), ("budget.threshold", 80), ("budget.refusing", 100)}

        def seen():
            return {(d["event"], d.get("threshold_pct", 100)) for d in rcv.delivered()
                    if d.get("budget") == "budget_tokens_daily"}

        assert wait_until(lambda: want <= seen(), timeout=20), (seen(), rcv.got)
        time.sleep(2)  # other processes' rounds: nothing more may come
        got = rcv.delivered()
        keys = [(d["event"], d.get("threshold_pct"), d["period"]) for d in got]
        assert len(keys) == len(set(keys)), "an event was delivered twice: %s" % keys
        with rcv.lock:
            reqs = list(rcv.got)
        # the first request failed and the same delivery came again
        assert reqs[0]["status"] == 500
        first_id = reqs[0]["headers"]["x-agenthost-delivery"]
        assert any(r["headers"]["x-agenthost-delivery"] == first_id and r["status"] == 200
                   for r in reqs[1:]), "the failed delivery was not retried"
        for r in reqs:
            verify(hook["secret"], r["headers"], r["body"])
            body = json.loads(r["body"])
            assert r["headers"]["x-agenthost-event"] == body["event"]
            assert body["tenant_id"] == t["id"]
        # a tampered body does not verify
        try:
            verify(hook["secret"], reqs[0]["headers"], reqs[0]["body"] + b" ")
            raise AssertionError("a tampered body verified")
        except AssertionError as e:
            assert "bad signature" in str(e)
        # the delivery log: API, operator API, database
        st, _, log = api("GET", "/v1/webhooks/deliveries", key=m["key"])
        assert st == 200, log
        rows = [d for d in log["data"] if d["event"] in ("budget.threshold", "budget.refusing")]
        assert len(rows) == len(keys) and all(d["status"] == "delivered" for d in rows), log
        assert any(d["attempts"] == 2 for d in rows), log
        n = db_exec("SELECT COUNT(*) FROM alert_events WHERE tenant_id = %d AND kind LIKE"
                    " 'budget.%%'" % t["id"])
        assert n == [[str(len(keys))]], (n, keys)
        st, _, op = api("GET", "/admin/api/v1/tenants/%s/webhooks" % t["slug"],
                        key=OPERATOR_TOKEN)
        assert st == 200 and op["webhooks"][0]["id"] == hook["id"], op
        assert [d["id"] for d in op["deliveries"]] == [d["id"] for d in log["data"]], op
        # the dashboard's delivery log: an operator, and the tenant's own admin
        for role, tenant in (("operator", None), ("tenant_admin", t["id"])):
            name, pw = new_admin(role, tenant=tenant)
            d = Dash()
            d.login(name, pw)
            st, _, page = d.get("/admin/tenants/%d/webhooks" % t["id"])
            assert st == 200, (role, st)
            text = text_of(page)
            assert rcv.url in text and "budget.threshold" in text and "delivered" in text, text
            assert hook["secret"] not in page
        name, pw = new_admin("tenant_admin", tenant=new_tenant("alo")["id"])
        d = Dash()
        d.login(name, pw)
        st, _, page = d.get("/admin/tenants/%d/webhooks" % t["id"])
        assert st == 404, "another tenant's admin saw the delivery log"
        assert rcv.url not in page
    finally:
        rcv.close()


@test
def test_thresholds_per_budget_key_project_tag_end_user():
    """Each level's budget alerts with its own percents (default: the tenant's), once each."""
    t = new_tenant("alv")
    m = manage_key(t)
    rcv = Receiver()
    try:
        st, _, hook = api("POST", "/v1/webhooks", {"url": rcv.url}, key=m["key"])
        assert st == 201, hook
        s = t["slug"]
        ctl("limits", "set", "--tenant", s, "alert_thresholds", "5,10")
        ctl("project", "create", "--tenant", s, "alp")
        ctl("project", "add-key", "--tenant", s, "--key", str(t["key_id"]), "alp")
        # the key: its own budget and its own percents, set through the tenant API
        ctl("limits", "set", "--tenant", s, "--key", str(t["key_id"]), "budget_tokens_daily",
            "300")
        st, _, b = api("POST", "/v1/keys/%d/limits" % t["key_id"], {"alert_thresholds": "50"},
                       key=m["key"])
        assert st == 200 and b["key_level"]["alert_thresholds"] == \
            {"value": "50", "source": "key"}, b
        # the project: a budget, the tenant's percents (5, 10)
        st, _, b = api("POST", "/v1/projects/alp/limits", {"budget_tokens_daily": "2000"},
                       key=m["key"])
        assert st == 200, b
        # a tag: a budget and its own percents (operator API)
        st, _, b = api("POST", "/admin/api/v1/tenants/%s/limits" % s,
                       {"name": "budget_tokens_daily", "value": "1000", "tag": "team=red"},
                       key=OPERATOR_TOKEN)
        assert st == 200, b
        st, _, b = api("POST", "/admin/api/v1/tenants/%s/limits" % s,
                       {"name": "alert_thresholds", "value": "20", "tag": "team=red"},
                       key=OPERATOR_TOKEN)
        assert st == 200 and [g["alert_thresholds"] for g in b["tags"]] == ["20"], b
        # each end user: a budget and the end users' percents (CLI)
        ctl("limits", "set", "--tenant", s, "end_user_budget_tokens_daily", "600")
        ctl("limits", "set", "--tenant", s, "end_user_alert_thresholds", "25")
        refused = 0
        for i in range(60):
            st, _, b = api("POST", "/v1/chat/completions",
                           chat_body("spend tokens per level %d" % i, max_tokens=16,
                                     metadata={"team": "red"}),
                           key=t["key"], headers={"X-Actor-Id": "zed"})
            if st != 200:
                assert b["error"]["reason_code"] == "key_budget_exceeded", b
                refused += 1
                break
        assert refused, "the key's budget never refused a call"
        want = {("key", 50), ("project", 5), ("project", 10), ("tag", 20), ("end_user", 25)}

        def seen():
            return {(d.get("level"), d["threshold_pct"]) for d in rcv.delivered()
                    if d["event"] == "budget.threshold"}

        assert wait_until(lambda: want <= seen(), timeout=25), (seen(), rcv.got)
        time.sleep(2.5)  # every process's next round: nothing more may come
        got = [d for d in rcv.delivered() if d["event"] == "budget.threshold"]
        assert seen() == want, seen()  # no other percent of any list, no tenant budget
        keys = [(d["level"], d["threshold_pct"], d["period"]) for d in got]
        assert len(keys) == len(set(keys)), "an event was delivered twice: %s" % keys
        by = {d["level"]: d for d in got}
        assert by["key"]["key_id"] == t["key_id"] and by["key"]["prefix"], by["key"]
        assert by["project"]["project"] == "alp" and by["tag"]["tag"] == "team=red", by
        assert by["end_user"]["end_user"] == "zed" and \
            by["end_user"]["budget"] == "budget_tokens_daily", by["end_user"]
        subjects = [r[0] for r in db_exec("SELECT subject FROM alert_events WHERE tenant_id=%d"
                                          " AND kind='budget.threshold'" % t["id"])]
        assert sorted(x.split(":")[0] for x in subjects) == \
            ["end_user", "key", "project", "project", "tag"], subjects
        # bad percents are refused at every level
        assert_error(api("POST", "/v1/keys/%d/limits" % t["key_id"],
                         {"alert_thresholds": "0,150"}, key=m["key"]), 400, "invalid_request")
        assert_error(api("POST", "/v1/projects/alp/limits", {"alert_thresholds": "x"},
                         key=m["key"]), 400, "invalid_request")
        rc, _, err = ctl("limits", "set", "--tenant", s, "end_user_alert_thresholds", "101",
                         check=False)
        assert rc != 0 and "end_user_alert_thresholds" in err, err
    finally:
        rcv.close()


@test
def test_thresholds_per_budget_on_the_dashboard():
    t = new_tenant("ald")
    ctl("project", "create", "--tenant", t["slug"], "dp")
    pid = int(db_exec("SELECT id FROM projects WHERE tenant_id=%d" % t["id"])[0][0])
    name, pw = new_admin("tenant_admin", tenant=t["id"])
    d = Dash()
    d.login(name, pw)
    base = "/admin/tenants/%d" % t["id"]
    # the project's, the key's and a tag's own lists
    st, _, page = d.get("%s/projects/%d" % (base, pid))
    assert st == 200 and 'name="alert_thresholds"' in page, page[:300]
    st, _, page = d.post("%s/projects/%d/limits" % (base, pid), {"alert_thresholds": "0,200"})
    assert st == 400 and "alert_thresholds" in text_of(page), st
    st, _, _ = d.post("%s/projects/%d/limits" % (base, pid), {"alert_thresholds": "75"})
    assert st == 303, st
    st, _, _ = d.post("%s/keys/%d/limits" % (base, t["key_id"]), {"alert_thresholds": "33"})
    assert st == 303, st
    st, _, _ = d.post(base + "/tags", {"tag": "team=ops", "budget_usd_daily": "1",
                                       "alert_thresholds": "40,90"})
    assert st == 303, st
    st, _, page = d.get(base + "/tags")
    assert "40,90 %" in text_of(page), text_of(page)
    # the tenant's list and its end users' on the budgets page
    st, _, page = d.get(base + "/budgets")
    assert 'name="end_user_alert_thresholds"' in page, page[:300]
    st, _, _ = d.post(base + "/budgets", {"alert_thresholds": "60",
                                          "end_user_alert_thresholds": "70,95"})
    assert st == 303, st
    out = ctl("limits", "show", "--tenant", t["slug"], "--key", str(t["key_id"]))
    assert out["key_level"]["alert_thresholds"] == {"value": "33", "source": "key"}, out
    pl = ctl("limits", "show", "--tenant", t["slug"], "--project", "dp")["project_level"]
    assert pl["alert_thresholds"] == {"value": "75", "source": "project"}, pl
    assert out["limits"]["alert_thresholds"]["value"] == "60", out["limits"]
    assert out["limits"]["end_user_alert_thresholds"]["value"] == "70,95", out["limits"]
    rows = db_exec("SELECT scope, value FROM limits WHERE name = 'alert_thresholds' AND"
                   " scope = 'tag' AND scope_id IN (SELECT id FROM tags WHERE tenant_id = %d)"
                   % t["id"])
    assert rows == [["tag", "40,90"]], rows


@test
def test_alert_thread_statements_run():
    """Every statement of the alert thread (scan, claim, send, prune at start) ran without a
    database error in any agenthost process's log."""
    import harness
    if not harness.LOG_DIR or not os.path.isdir(harness.LOG_DIR):
        raise AssertionError("no server logs to read")
    bad = []
    for name in os.listdir(harness.LOG_DIR):
        if name.startswith("agenthost") and name.endswith(".log"):
            with open(os.path.join(harness.LOG_DIR, name), errors="replace") as f:
                # a conflict run again (two processes claiming one event) is logged at
                # debug level: not a database error
                bad += [line for line in f if ("store_alert" in line or "store_webhook" in line)
                        and " debug " not in line]
    assert not bad, bad[:5]


@test
def test_key_expiring_event():
    t = new_tenant("alk")
    m = manage_key(t)
    rcv = Receiver()
    try:
        st, _, hook = api("POST", "/v1/webhooks", {"url": rcv.url}, key=m["key"])
        assert st == 201, hook
        k = ctl("key", "create", "--tenant", t["slug"], "--name", "short", "--expires-in",
                "3600")

        def got():
            return [d for d in rcv.delivered() if d["event"] == "key.expiring"
                    and d["key"] == "key:%d" % k["id"]]

        assert wait_until(got, timeout=15), rcv.got
        time.sleep(1.5)
        assert len(got()) == 1, got()
        assert got()[0]["prefix"] == k["prefix"]
    finally:
        rcv.close()


@test
def test_breaker_opened_event():
    t = new_tenant("alb")
    m = manage_key(t)
    rcv = Receiver()
    try:
        st, _, hook = api("POST", "/v1/webhooks", {"url": rcv.url}, key=m["key"])
        assert st == 201, hook
        ctl("limits", "set", "--tenant", t["slug"], "breaker_errors", "2")
        for _ in range(3):
            api("POST", "/v1/chat/completions", chat_body("FAIL500", model="gpt-4o-mini"),
                key=t["key"])
        st, _, b = api("POST", "/v1/chat/completions", chat_body("x", model="gpt-4o-mini"),
                       key=t["key"])
        assert st == 503, (st, b)  # the breaker is open

        def got():
            return [d for d in rcv.delivered() if d["event"] == "breaker.opened"]

        assert wait_until(got, timeout=15), rcv.got
        time.sleep(1.5)
        assert len(got()) == 1 and got()[0]["provider"] == "openai", got()
    finally:
        rcv.close()


@test
def test_webhook_api_and_validation():
    t = new_tenant("alv")
    m = manage_key(t)
    assert_error(api("GET", "/v1/webhooks", key=t["key"]), 403, "scope_denied")
    for bad in ("ftp://example.com/x", "not a url", "http://user:pw@example.com/x",
                "https://example.com/x#frag", "http://", "https://example.com/" + "x" * 600,
                "javascript:alert(1)"):
        assert_error(api("POST", "/v1/webhooks", {"url": bad}, key=m["key"]), 400,
                     "invalid_request")
    assert_error(api("POST", "/v1/webhooks", {}, key=m["key"]), 400, "invalid_request")
    st, _, h = api("POST", "/v1/webhooks", {"url": "https://hooks.example.com/a"}, key=m["key"])
    assert st == 201 and h["url"] == "https://hooks.example.com/a", h
    st, _, lst = api("GET", "/v1/webhooks", key=m["key"])
    assert [w["id"] for w in lst["data"]] == [h["id"]] and "secret" not in lst["data"][0], lst
    st, _, rm = api("POST", "/v1/webhooks/%d/remove" % h["id"], key=m["key"])
    assert st == 200 and rm["removed"], rm
    assert_error(api("POST", "/v1/webhooks/%d/remove" % h["id"], key=m["key"]), 404, "not_found")
    st, _, lst = api("GET", "/v1/webhooks", key=m["key"])
    assert lst["data"] == [], lst
    # another tenant cannot remove it
    o = new_tenant("alv")
    om = manage_key(o)
    st, _, h2 = api("POST", "/v1/webhooks", {"url": "https://hooks.example.com/b"}, key=m["key"])
    assert_error(api("POST", "/v1/webhooks/%d/remove" % h2["id"], key=om["key"]), 404,
                 "not_found")
    # the CLI: add (secret once), list, deliveries, remove
    out = ctl("webhook", "add", "--tenant", o["slug"], "--url", "https://hooks.example.com/c")
    assert out["secret"].startswith("whsec_") and out["url"].endswith("/c"), out
    lst = ctl("webhook", "list", "--tenant", o["slug"])
    assert [w["id"] for w in lst] == [out["id"]] and "secret" not in lst[0], lst
    assert ctl("webhook", "deliveries", "--tenant", o["slug"]) == []
    rc, _, err = ctl("webhook", "add", "--tenant", o["slug"], "--url", "gopher://x", check=False)
    assert rc != 0 and "--url" in err, err
    ctl("webhook", "remove", "--tenant", o["slug"], "--webhook", out["id"])
    assert ctl("webhook", "list", "--tenant", o["slug"]) == []
    # thresholds are percents
    rc, _, err = ctl("limits", "set", "--tenant", o["slug"], "alert_thresholds", "50,150",
                     check=False)
    assert rc != 0 and "alert_thresholds" in err, err


if __name__ == "__main__":
    run()
