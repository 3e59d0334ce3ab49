"""The dashboard's analytics pages: usage (+CSV), invoice (+CSV), health, executions."""
import re
import time

from apihelp import chat_body, db_exec
from dashhelp import Dash, new_admin, text_of
from harness import api, ctl, new_tenant, run, test

XSS = "<script>alert(1)</script>"


def tenant_with_calls(n=2, prefix="da"):
    t = new_tenant(prefix)
    for _ in range(n):
        st, _, _ = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
        assert st == 200, st
    return t


def signed_in(role, tenant=None):
    name, pw = new_admin(role, tenant=tenant)
    d = Dash()
    d.login(name, pw)
    return d


def money_of(body, elem_id):
    m = re.search(r'id="%s">([^<]+)<' % elem_id, body)
    assert m, elem_id
    return m.group(1)


@test
def usage_page_for_every_role():
    t = tenant_with_calls(3)
    for role, tenant in (("operator", None), ("support", None), ("tenant_admin", t["slug"])):
        d = signed_in(role, tenant)
        q = "" if role == "tenant_admin" else "?tenant_id=%s" % t["id"]
        st, h, body = d.get("/admin/usage" + q)
        assert st == 200, (role, st, body[:300])
        assert "Spend per day" in body and "<svg" in body and "<title>" in body
        today = time.strftime("%Y-%m-%d", time.gmtime())
        assert "<title>%s: Requests 3, Errors 0</title>" % today in body, body[-3000:]
        assert 'preserveAspectRatio="xMidYMid meet"' in body
        assert "By model" in body and "mock-1" in body
        txt = text_of(body)
        assert re.search(r"Requests\s+3\b", txt), txt[:2000]
    st, _, body = d.get("/admin/usage?days=7")
    assert st == 200 and 'aria-current="true">7<' in body


@test
def overview_tenant_and_health_pages_chart_the_last_hours():
    t = tenant_with_calls(3)
    hour = time.strftime("%Y-%m-%d %H:00 UTC", time.gmtime())
    today = time.strftime("%Y-%m-%d", time.gmtime())
    d = signed_in("tenant_admin", t["slug"])
    for path in ("/admin", "/admin/tenants/%s" % t["id"], "/admin/health"):
        st, _, body = d.get(path)
        assert st == 200, (path, st)
        assert "Requests and errors per hour" in body and "Latency per hour" in body, path
        assert "<title>%s: Requests 3, Errors 0</title>" % hour in body, (path, body[-3000:])
        assert re.search(r"<title>%s: p99 \S+ \d+ m?s, p50 " % re.escape(hour), body), path
    for path in ("/admin", "/admin/tenants/%s" % t["id"]):
        st, _, body = d.get(path)
        assert re.search(r"<title>%s: Spend (&lt;)?\$[0-9.,]+</title>" % today, body), path
    st, _, body = signed_in("operator").get("/admin/tenants/%s" % t["id"])
    assert "<title>%s: Requests 3, Errors 0</title>" % hour in body


@test
def usage_rejects_bad_dates_readably():
    d = signed_in("operator")
    for q in ("from=2026-02-30&to=2026-03-01", "from=2026-05-01&to=2026-04-01",
              "from=yesterday&to=2026-01-01", "from=2020-01-01&to=2026-01-01"):
        st, _, body = d.get("/admin/usage?" + q)
        assert st == 400, (q, st)
        assert 'role="alert"' in body, q
    st, _, body = d.get("/admin/usage?from=2026-02-30&to=2026-03-01")
    assert 'value="2026-02-30"' in body  # typed value shown back


@test
def usage_csv_matches_and_is_an_attachment():
    t = tenant_with_calls(2)
    d = signed_in("operator")
    st, h, body = d.get("/admin/usage.csv?tenant_id=%s" % t["id"])
    assert st == 200, st
    assert h["content-type"].startswith("text/csv")
    assert "attachment" in h["content-disposition"]
    lines = body.strip().split("\r\n")
    assert lines[0].startswith("tenant_id,day,model,agent,key_id,key,requests")
    assert sum(int(l.split(",")[6]) for l in lines[1:]) == 2
    st, _, _ = d.get("/admin/usage.csv?from=bad&to=2026-01-01")
    assert st == 400


@test
def usage_csv_defuses_formulas_in_names():
    t = new_tenant("dacsv")
    k = ctl("key", "create", "--tenant", t["slug"], "--name", '=HYPERLINK("x",1)')
    st, _, _ = api("POST", "/v1/chat/completions", chat_body(), key=k["key"])
    assert st == 200
    st, _, body = signed_in("operator").get("/admin/usage.csv?tenant_id=%s" % t["id"])
    assert st == 200
    assert '"\'=HYPERLINK(""x"",1)"' in body, body


@test
def tenant_admin_cannot_see_another_tenant():
    t = tenant_with_calls(1)
    other = tenant_with_calls(1)
    name, pw = new_admin("tenant_admin", tenant=t["slug"])
    d = Dash()
    d.login(name, pw)
    for path in ("/admin/usage?tenant_id=%s" % other["id"],
                 "/admin/usage.csv?tenant_id=%s" % other["id"],
                 "/admin/executions?tenant_id=%s" % other["id"],
                 "/admin/health?tenant_id=%s" % other["id"],
                 "/admin/tenants/%s/invoice" % other["id"],
                 "/admin/tenants/%s/invoice.csv" % other["id"]):
        st, _, _ = d.get(path)
        assert st == 404, (path, st)
    rows = db_exec("SELECT COUNT(*) FROM audit_log WHERE action = 'admin.cross_tenant'"
                   " AND actor_id LIKE '%%%s%%'" % name)
    assert int(rows[0][0]) >= 6, rows
    # its own executions never list the other tenant's
    st, _, body = d.get("/admin/executions")
    assert st == 200 and other["slug"] not in body


@test
def invoice_totals_equal_usage_totals():
    t = tenant_with_calls(3)
    d = signed_in("operator")
    month = db_exec("SELECT DATE_FORMAT(UTC_DATE(), '%Y-%m')")[0][0]
    first = month + "-01"
    last = db_exec("SELECT LAST_DAY(UTC_DATE())")[0][0]
    st, _, inv = d.get("/admin/tenants/%s/invoice?month=%s" % (t["id"], month))
    assert st == 200, st
    assert "data-print" in inv and "Subtotal" in inv
    st, _, use = d.get("/admin/usage?tenant_id=%s&from=%s&to=%s" % (t["id"], first, last))
    assert st == 200
    assert money_of(inv, "invoice-total") == money_of(use, "total-cost")
    st, h, csv = d.get("/admin/tenants/%s/invoice.csv?month=%s" % (t["id"], month))
    assert st == 200 and "attachment" in h["content-disposition"]
    assert csv.strip().split("\r\n")[-1].startswith("total,,3,")
    for bad in ("2026-13", "2026-11-01-and-more"):
        st, _, body = d.get("/admin/tenants/%s/invoice?month=%s" % (t["id"], bad))
        assert st == 400 and 'role="alert"' in body, bad
    st, _, _ = d.get("/admin/tenants/999999999/invoice")
    assert st == 404


@test
def health_shows_state_and_reason():
    t = tenant_with_calls(1)
    db_exec("INSERT INTO usage_5min (tenant_id, bucket, requests, failed, succeeded)"
            " VALUES (%s, UNIX_TIMESTAMP() DIV 300, 10, 4, 6)"
            " ON DUPLICATE KEY UPDATE requests = requests + 10, failed = failed + 4" % t["id"])
    db_exec("INSERT INTO breakers (tenant_id, provider, state, window_start, updated_at)"
            " VALUES (%s, 'openai', 'open', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))" % t["id"])
    d = signed_in("tenant_admin", t["slug"])
    st, _, body = d.get("/admin/health")
    assert st == 200, st
    txt = text_of(body)
    assert re.search(r"critical\s+[^\n]*breaker open for openai", txt), txt[-1500:]
    assert "of calls failed in the last 15 min" in txt
    for role in ("operator", "support"):
        st, _, body = signed_in(role).get("/admin/health")
        assert st == 200 and "Health" in body


@test
def executions_list_filters_pages_and_escapes():
    t = new_tenant("dax")
    ctl("tenant", "create", "z-" + t["slug"], "--name", XSS)
    for _ in range(3):
        api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    d = signed_in("operator")
    st, _, body = d.get("/admin/executions?tenant_id=%s" % t["id"])
    assert st == 200 and body.count('class="badge') == 3, body[-2000:]
    st, _, body = d.get("/admin/executions")
    assert st == 200 and XSS not in body
    st, _, body = d.get("/admin/executions?tenant_id=%s&model=nope" % t["id"])
    assert st == 200 and "No executions match" in body
    st, _, body = d.get("/admin/executions?from=2026-99-01")
    assert st == 400
    # keyset: before = the newest seq shows the older two
    seqs = [int(r[0]) for r in db_exec("SELECT seq FROM executions WHERE tenant_id = %s"
                                        " ORDER BY seq DESC" % t["id"], tenant=t)]
    st, _, body = d.get("/admin/executions?tenant_id=%s&before=%d" % (t["id"], seqs[0]))
    assert body.count('class="badge') == 2


@test
def execution_detail_hides_content_from_support():
    t = tenant_with_calls(1)
    eid, = db_exec("SELECT id FROM executions WHERE tenant_id = %s LIMIT 1" % t["id"],
                   tenant=t)[0]
    db_exec("UPDATE executions SET input = 'SECRET-PROMPT %s', metadata = '{\"user\":\"%s\"}'"
            " WHERE tenant_id = %s" % (XSS, XSS, t["id"]), tenant=t)
    path = "/admin/tenants/%s/executions/%s" % (t["id"], eid)
    for role, tenant, sees in (("operator", None, True), ("support", None, False),
                               ("tenant_admin", t["slug"], True)):
        st, _, body = signed_in(role, tenant).get(path)
        assert st == 200, (role, st)
        assert ("SECRET-PROMPT" in body) == sees, role
        assert XSS not in body
        assert "mock-1" in body
    other = new_tenant("daother")
    st, _, _ = signed_in("tenant_admin", other["slug"]).get(path)
    assert st == 404
    st, _, _ = signed_in("operator").get("/admin/tenants/%s/executions/nope" % t["id"])
    assert st == 404


@test
def showback_by_user_and_department_from_run_metadata():
    t = new_tenant("dash-sb")
    st, _, _ = api("POST", "/v1/agents", {"name": "assistant", "model": "mock-1"}, key=t["key"])
    assert st in (200, 201, 409), st
    for user, dept in (("alice", "ops"), ("bob", "ops"), (XSS, "research"), (None, None)):
        meta = {}
        if user:
            meta = {"user": user, "department": dept}
        st, _, run = api("POST", "/v1/agents/assistant/runs",
                         {"input": "plan my week", "metadata": meta}, key=t["key"])
        assert st == 200, (st, run)
    rows = db_exec("SELECT user, department, requests FROM usage_attr_daily WHERE tenant_id = %s"
                   " ORDER BY user" % t["id"])
    assert [r[0] for r in rows] == ["", XSS, "alice", "bob"], rows
    month = db_exec("SELECT DATE_FORMAT(UTC_DATE(), '%Y-%m')")[0][0]
    for role, tenant in (("operator", None), ("support", None), ("tenant_admin", t["slug"])):
        d = signed_in(role, tenant)
        q = "?month=%s" % month + ("" if tenant else "&tenant_id=%s" % t["id"])
        st, _, body = d.get("/admin/showback" + q)
        assert st == 200, (role, st)
        assert XSS not in body and "&lt;script&gt;" in body
        txt = text_of(body)
        assert "alice" in txt and "research" in txt and "(no user in metadata)" in txt
        assert re.search(r"ops\s+2\b", txt), txt[-3000:]
    # the showback total is the invoice total
    d = signed_in("operator")
    st, _, sb = d.get("/admin/showback?tenant_id=%s&month=%s" % (t["id"], month))
    st, _, inv = d.get("/admin/tenants/%s/invoice?month=%s" % (t["id"], month))
    assert money_of(sb, "showback-total") == money_of(inv, "invoice-total")
    st, _, body = d.get("/admin/showback?month=11-2026")
    assert st == 400 and 'role="alert"' in body
    other = new_tenant("dash-sbo")
    st, _, _ = signed_in("tenant_admin", other["slug"]).get(
        "/admin/showback?tenant_id=%s" % t["id"])
    assert st == 404


@test
def health_shows_budget_use():
    t = tenant_with_calls(1)
    for win, fmt in (("day", "%Y-%m-%d"), ("month", "%Y-%m")):
        db_exec("INSERT INTO budget_counters (scope, scope_id, win, period, spent_micros,"
                " lim_micros, updated_at) VALUES ('tenant', %s, '%s',"
                " DATE_FORMAT(UTC_DATE(), '%s'), %d, 1000000, UTC_TIMESTAMP(6))"
                " ON DUPLICATE KEY UPDATE spent_micros = VALUES(spent_micros),"
                " lim_micros = VALUES(lim_micros)"
                % (t["id"], win, fmt, 900000 if win == "day" else 1200000))
    st, _, body = signed_in("operator").get("/admin/health?tenant_id=%s" % t["id"])
    assert st == 200
    txt = text_of(body)
    assert "90% of the daily budget used" in txt, txt[-1500:]
    assert re.search(r"critical\s+[^\n]*120% of the monthly budget used", txt), txt[-1500:]


@test
def invoice_and_executions_for_every_role():
    t = tenant_with_calls(2)
    month = db_exec("SELECT DATE_FORMAT(UTC_DATE(), '%Y-%m')")[0][0]
    for role, tenant in (("operator", None), ("support", None), ("tenant_admin", t["slug"])):
        d = signed_in(role, tenant)
        st, _, body = d.get("/admin/tenants/%s/invoice?month=%s" % (t["id"], month))
        assert st == 200 and "Subtotal" in body, (role, st)
        st, h, _ = d.get("/admin/tenants/%s/invoice.csv?month=%s" % (t["id"], month))
        assert st == 200 and h["content-type"].startswith("text/csv"), role
        q = "" if tenant else "?tenant_id=%s" % t["id"]
        st, _, body = d.get("/admin/executions" + q)
        assert st == 200 and body.count('class="badge') == 2, (role, st)


@test
def all_tenant_usage_is_cached_a_minute_a_tenant_view_is_live():
    t = new_tenant("cache")
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    st, _, first = d.get("/admin/usage?preset=7")
    assert st == 200 and "recomputed at most once a minute" in first
    total = re.search(r'id="total-cost">([^<]*)<', first).group(1)
    st, _, own0 = d.get("/admin/usage?preset=7&tenant_id=%d" % t["id"])
    before = re.search(r'id="total-cost">([^<]*)<', own0).group(1)
    db_exec("INSERT INTO usage_daily (tenant_id, day, key_id, agent_id, model, requests,"
            " cost_micros) VALUES (%d, UTC_DATE(), %d, 0, 'mock-1', 1, 7000000)"
            % (t["id"], t["key_id"]))
    st, _, again = d.get("/admin/usage?preset=7")
    assert re.search(r'id="total-cost">([^<]*)<', again).group(1) == total  # cached
    st, _, own = d.get("/admin/usage?preset=7&tenant_id=%d" % t["id"])
    after = re.search(r'id="total-cost">([^<]*)<', own).group(1)
    assert before != after and "7.00" in after, (before, after)  # live
    assert "recomputed" not in own


@test
def chat_metadata_reaches_showback():
    t = new_tenant("chatmeta")
    st, _, body = api("POST", "/v1/chat/completions",
                      chat_body(metadata={"user": "carol", "department": "finance"}), key=t["key"])
    assert st == 200, body
    st, _, body = api("POST", "/v1/chat/completions", chat_body(metadata="no"), key=t["key"])
    assert st == 400, body
    rows = db_exec("SELECT user, department, requests FROM usage_attr_daily WHERE tenant_id = %d"
                   % t["id"])
    assert rows == [["carol", "finance", "1"]], rows
    name, pw = new_admin("tenant_admin", t["slug"])
    d = Dash()
    d.login(name, pw)
    st, _, page = d.get("/admin/showback?tenant_id=%d" % t["id"])
    assert st == 200 and "carol" in page and "finance" in page


run()
