"""Issue 16, the rest of the levels: a project's own provider key, the tenant's
self-service projects API.

  (1) a project's own provider key: the credential order is request (when allowed)
      > the key's project's own > the tenant's own > the platform's; the fake upstream
      receives the project's key for a key in the project and the tenant's for a key
      outside it; executions record cred_source "project"; set and cleared through the
      CLI, the operator API, the tenant API and the project's dashboard page; the key
      is never in a log line, a row or a page;
  (2) a manage key creates, lists, renames and deletes its tenant's projects, moves
      keys in and out and sets a project's limits within its plan; another tenant's
      projects are not found; the routes need the manage scope;
  (3) a budget for each end user of a tenant (end_user_budget_*): 8 processes, two end
      users (one named by the OpenAI "user" field, one by X-Actor-Id) with ~500 calls
      each and 200 calls naming none, at once: each end user stops at its own limit,
      never above it, refused with end_user_budget_exceeded only, the last of its
      budget admitted exactly; calls naming no end user are served throughout;
      /v1/budget shows the named end user's level;
  (5) `tenant export` carries projects, their keys, their provider keys (never the
      secret), tags and the level limits; verify-isolation checks them (orphans, a key
      in another tenant's project, a project key that does not open).
"""
import json
import os
import secrets
import tarfile
import tempfile
import threading

import harness
from harness import test, run, api, ctl, assert_error, wait_until, fake_last
import fcgi_client as fc
from apihelp import new_tenant, chat_body, db_exec, everything_kept, err_code
from dashhelp import Dash, new_admin

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
WORDS = 200
# as test_levels.py: calls are not promoted, so the reservations are the one-by-one ones
LOAD_CONF = [("threads", "16"), ("mock_latency_ms", "15"), ("promote_after_ms", "600000")]

OP = None


def op_token():
    global OP
    if OP is None:
        OP = os.environ.get("AGENTHOST_OPERATOR_TOKEN") or ctl(
            "operator-token", "create", "--name", "lvr-" + secrets.token_hex(4))["token"]
    return OP


def manage_key(t):
    return ctl("key", "create", "--tenant", t["slug"], "--name", "admin",
               "--scopes", "inference,read,manage")


def second_key(t):
    k = ctl("key", "create", "--tenant", t["slug"], "--name", "other")
    return {"key": k["key"], "key_id": k["id"]}


def auth_of_last():
    return fake_last()["headers"]["authorization"]


def call(key, headers=None):
    return api("POST", "/v1/chat/completions", chat_body("hi", model="gpt-4o-mini"), key=key,
               headers=headers)


PROJ_KEY = "sk-project-own-" + harness.rand_suffix(20)
PROJ_KEY2 = "sk-project-api-" + harness.rand_suffix(20)
PROJ_KEY3 = "sk-project-dash-" + harness.rand_suffix(20)
TEN_KEY = "sk-tenant-own-" + harness.rand_suffix(12)


@test
def project_provider_key_order_sources_and_secrecy():
    t = new_tenant("pjk")
    other = second_key(t)
    ctl("project", "create", "--tenant", t["slug"], "team")
    ctl("project", "add-key", "--tenant", t["slug"], "--key", str(t["key_id"]), "team")
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
        stdin=TEN_KEY + "\n")
    out = ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
              "--project", "team", stdin=PROJ_KEY + "\n")
    assert out["project"] == "team" and out["last4"] == PROJ_KEY[-4:], out
    assert PROJ_KEY not in json.dumps(out)
    listed = ctl("provider-key", "list", "--tenant", t["slug"], "--project", "team")
    assert [(x["provider"], x["last4"]) for x in listed] == [("openai", PROJ_KEY[-4:])], listed
    assert [x["last4"] for x in ctl("provider-key", "list", "--tenant", t["slug"])] == \
        [TEN_KEY[-4:]]
    # the key in the project: the project's; the key outside it: the tenant's
    assert wait_until(lambda: call(t["key"])[0] == 200 and
                      auth_of_last() == "Bearer " + PROJ_KEY, timeout=3), auth_of_last()
    st, _, b = call(other["key"])
    assert st == 200 and auth_of_last() == "Bearer " + TEN_KEY, (st, b, auth_of_last())
    # the request's own key still comes first when the tenant allows it
    req_key = "sk-request-" + harness.rand_suffix(16)
    ctl("limits", "set", "--tenant", t["slug"], "request_provider_key", "on")
    assert wait_until(lambda: call(t["key"], {"X-Provider-Api-Key": req_key})[0] == 200 and
                      auth_of_last() == "Bearer " + req_key, timeout=3)
    # the key moved out of the project: the tenant's again
    ctl("project", "remove-key", "--tenant", t["slug"], "--key", str(t["key_id"]))
    assert wait_until(lambda: call(t["key"])[0] == 200 and
                      auth_of_last() == "Bearer " + TEN_KEY, timeout=3), auth_of_last()
    ctl("project", "add-key", "--tenant", t["slug"], "--key", str(t["key_id"]), "team")
    assert wait_until(lambda: call(t["key"])[0] == 200 and
                      auth_of_last() == "Bearer " + PROJ_KEY, timeout=3), auth_of_last()
    # cleared: the tenant's
    ctl("provider-key", "clear", "--tenant", t["slug"], "--provider", "openai",
        "--project", "team")
    st, _, _ = call(t["key"])
    assert st == 200 and auth_of_last() == "Bearer " + TEN_KEY, auth_of_last()
    rc, _, err = ctl("provider-key", "clear", "--tenant", t["slug"], "--provider", "openai",
                     "--project", "team", check=False)
    assert rc != 0 and "has no openai credential" in err, err
    rc, _, err = ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
                     "--project", "nope", stdin="sk-x\n", check=False)
    assert rc != 0 and "no project 'nope'" in err, err
    # the operator API: set, list, clear (write-only: last 4)
    base = "/admin/api/v1/tenants/%s/projects/team/provider-keys" % t["slug"]
    st, _, b = api("POST", base + "/openai", {"key": PROJ_KEY2}, key=op_token())
    assert st == 200 and b["project"] == "team" and b["last4"] == PROJ_KEY2[-4:], b
    assert PROJ_KEY2 not in json.dumps(b)
    assert b["version"] == 1, b  # cleared above: a new key of the project
    st, _, b = api("GET", base, key=op_token())
    assert st == 200 and [x["last4"] for x in b["data"]] == [PROJ_KEY2[-4:]], b
    assert wait_until(lambda: call(t["key"])[0] == 200 and
                      auth_of_last() == "Bearer " + PROJ_KEY2, timeout=3), auth_of_last()
    assert_error(api("POST", base + "/nope", {"key": "x"}, key=op_token()), 400,
                 "invalid_request")
    assert_error(api("POST", base + "/openai", {"key": ""}, key=op_token()), 400,
                 "invalid_request")
    assert_error(api("POST", "/admin/api/v1/tenants/%s/projects/none/provider-keys/openai"
                     % t["slug"], {"key": "x"}, key=op_token()), 404, "not_found")
    st, _, b = api("POST", base + "/openai/clear", {}, key=op_token())
    assert st == 200 and b["cleared"] is True and b["project"] == "team", b
    assert_error(api("POST", base + "/openai/clear", {}, key=op_token()), 404, "not_found")
    # the tenant API (manage scope)
    m = manage_key(t)
    tb = "/v1/projects/team/provider-keys"
    assert_error(api("POST", tb + "/openai", {"key": "x"}, key=t["key"]), 403, "scope_denied")
    st, _, b = api("POST", tb + "/openai", {"key": PROJ_KEY2}, key=m["key"])
    assert st == 200 and b["last4"] == PROJ_KEY2[-4:], b
    st, _, b = api("GET", tb, key=m["key"])
    assert st == 200 and [x["provider"] for x in b["data"]] == ["openai"], b
    st, _, b = api("POST", tb + "/openai/clear", {}, key=m["key"])
    assert st == 200 and b["cleared"] is True, b
    # another tenant cannot reach this project
    u = new_tenant("pjk")
    mu = manage_key(u)
    assert_error(api("GET", tb, key=mu["key"]), 404, "not_found")
    # the dashboard's project page: set, shown as last 4, cleared
    pid = int(db_exec("SELECT id FROM projects WHERE tenant_id=%d AND name='team'"
                      % t["id"])[0][0])
    name, pw = new_admin("tenant_admin", t["slug"], prefix="lvr")
    d = Dash()
    d.login(name, pw)
    path = "/admin/tenants/%d/projects/%d" % (t["id"], pid)
    st, _, page = d.get(path)
    assert st == 200 and "no provider key of its own" in page, page[:300]
    st, _, page = d.post(path + "/provider-keys", {"provider": "openai", "key": "has space"})
    assert st == 400 and "no spaces" in page and "has space" not in page, (st, page[:300])
    st, _, page = d.post(path + "/provider-keys", {"provider": "nope", "key": "x"})
    assert st == 400 and "configured providers" in page, st
    st, h, _ = d.post(path + "/provider-keys", {"provider": "openai", "key": PROJ_KEY3})
    assert st == 303 and "done=keyset" in h["location"], (st, h)
    st, _, page = d.get(path + "?done=keyset")
    assert st == 200 and PROJ_KEY3[-4:] in page and PROJ_KEY3 not in page, page
    assert wait_until(lambda: call(t["key"])[0] == 200 and
                      auth_of_last() == "Bearer " + PROJ_KEY3, timeout=3), auth_of_last()
    st, h, _ = d.post(path + "/provider-keys/openai/clear", {})
    assert st == 303 and "done=keycleared" in h["location"], (st, h)
    st, _, page = d.post(path + "/provider-keys/openai/clear", {})
    assert st == 400 and "no key for that provider" in page, st
    # recorded sources: project, tenant (the other key), ... and "project" is a source
    srcs = [r[0] for r in db_exec("SELECT DISTINCT cred_source FROM executions WHERE"
                                  " tenant_id = %d" % t["id"], tenant=t)]
    assert "project" in srcs and "tenant" in srcs and "request" in srcs, srcs
    own = db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id=%d AND key_id=%d AND"
                  " cred_source='project'" % (t["id"], t["key_id"]), tenant=t)
    assert int(own[0][0]) >= 3, own
    assert db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id=%d AND key_id=%d AND"
                   " cred_source='project'" % (t["id"], other["key_id"]), tenant=t) == [["0"]]
    # sealed at rest: a row with nonce and ciphertext, never the key; deleting the
    # project deletes its keys
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
        "--project", "team", stdin=PROJ_KEY + "\n")
    rows = db_exec("SELECT last4, LENGTH(ciphertext) FROM project_provider_credentials"
                   " WHERE tenant_id=%d" % t["id"])
    assert rows == [[PROJ_KEY[-4:], str(len(PROJ_KEY) + 16)]], rows
    acts = db_exec("SELECT action, actor_type, target FROM audit_log WHERE tenant_id=%d AND"
                   " action LIKE 'provider_key.%%' AND target LIKE 'project:%%' ORDER BY id"
                   % t["id"])
    assert {a[1] for a in acts} >= {"operator", "api_key"}, acts
    assert all(a[2] == "project:%d:provider_key:openai" % pid for a in acts), acts
    # never in a log line, a row or a page
    pages = []
    for p in (path, "/admin/audit", "/admin/tenants/%d/provider-keys" % t["id"]):
        st, _, page = d.get(p)
        pages.append((p, page))
    kept = everything_kept() + pages
    for secret in (PROJ_KEY, PROJ_KEY2, PROJ_KEY3, TEN_KEY):
        for where, text in kept:
            assert secret not in text, "a provider key is in %s" % where
    st, _, b = api("POST", "/admin/api/v1/tenants/%s/projects/team/delete" % t["slug"], {},
                   key=op_token())
    assert st == 200, b
    assert db_exec("SELECT COUNT(*) FROM project_provider_credentials WHERE tenant_id=%d"
                   % t["id"]) == [["0"]]
    st, _, _ = call(t["key"])
    assert st == 200 and auth_of_last() == "Bearer " + TEN_KEY, auth_of_last()


@test
def tenant_manages_its_projects_through_the_api():
    t = new_tenant("pjs")
    other = second_key(t)
    m = manage_key(t)
    k = m["key"]
    # the manage scope is needed
    assert_error(api("GET", "/v1/projects", key=t["key"]), 403, "scope_denied")
    st, _, b = api("GET", "/v1/projects", key=k)
    assert st == 200 and b["data"] == [], b
    st, _, b = api("POST", "/v1/projects", {"name": "alpha"}, key=k)
    assert st == 201 and b["name"] == "alpha" and b["keys"] == 0, b
    pid = b["id"]
    for bad in ({"name": "bad name"}, {}, {"name": 5}, {"name": "x" * 65}):
        assert_error(api("POST", "/v1/projects", bad, key=k), 400, "invalid_request")
    assert_error(api("POST", "/v1/projects", {"name": "alpha"}, key=k), 409, "conflict")
    api("POST", "/v1/projects", {"name": "beta"}, key=k)
    # move a key in, out, between
    st, _, b = api("POST", "/v1/keys/%d/project" % t["key_id"], {"project": "alpha"}, key=k)
    assert st == 200 and b == {"key_id": t["key_id"], "project_id": pid, "project": "alpha"}, b
    st, _, b = api("GET", "/v1/projects/alpha", key=k)
    assert st == 200 and b["keys"] == 1, b
    st, _, b = api("POST", "/v1/keys/%d/project" % other["key_id"], {"project": "beta"}, key=k)
    assert st == 200, b
    st, _, b = api("POST", "/v1/keys/%d/project" % other["key_id"], {"project": None}, key=k)
    assert st == 200 and b["project"] is None, b
    assert_error(api("POST", "/v1/keys/%d/project" % t["key_id"], {"project": "nope"}, key=k),
                 404, "not_found")
    assert_error(api("POST", "/v1/keys/%d/project" % t["key_id"], {"project": 3}, key=k), 400,
                 "invalid_request")
    assert_error(api("POST", "/v1/keys/999999999/project", {"project": "alpha"}, key=k), 404,
                 "not_found")
    # rename: the id, its keys and limits stay
    st, _, b = api("POST", "/v1/projects/alpha/rename", {"name": "gamma"}, key=k)
    assert st == 200 and b["name"] == "gamma" and b["id"] == pid, b
    assert_error(api("POST", "/v1/projects/gamma/rename", {"name": "beta"}, key=k), 409,
                 "conflict")
    assert_error(api("POST", "/v1/projects/alpha/rename", {"name": "delta"}, key=k), 404,
                 "not_found")
    assert_error(api("POST", "/v1/projects/gamma/rename", {"name": "no way"}, key=k), 400,
                 "invalid_request")
    out = ctl("limits", "show", "--tenant", t["slug"], "--key", str(t["key_id"]))
    assert out["project_id"] == pid, out
    # limits within the plan: the tenant's budget of 10 USD/day bounds the project's
    ctl("limits", "set", "--tenant", t["slug"], "budget_usd_daily", "10")
    ctl("limits", "set", "--tenant", t["slug"], "allowed_models", "mock-fast,gpt-4o-mini")
    lim = "/v1/projects/gamma/limits"
    for bad in ({"budget_usd_daily": "20"}, {"budget_usd_daily": "0"},
                {"allowed_models": "mock-slow"}, {"allowed_models": ""},
                {"key_rpm": 5}, {"nope": 1}, {}, {"budget_usd_daily": [1]},
                {"budget_usd_daily": "lots"}):
        e = assert_error(api("POST", lim, bad, key=k), 400, "invalid_request")
        assert e["message"], e
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope='project' AND scope_id=%d"
                   % pid) == [["0"]]
    st, _, b = api("POST", lim, {"budget_usd_daily": "2.5", "allowed_models": "mock-fast",
                                 "rpm": 30, "budget_enforcement": "soft"}, key=k)
    assert st == 200 and b["project_id"] == pid, b
    assert b["project_level"]["budget_usd_daily"] == {"value": "2.5", "source": "project"}, b
    assert b["project_level"]["allowed_models"]["value"] == "mock-fast", b
    st, _, b = api("GET", lim, key=k)
    assert st == 200 and b["project_level"]["rpm"]["value"] == "30", b
    st, _, b = api("POST", lim, {"rpm": None}, key=k)
    assert st == 200 and b["project_level"]["rpm"]["source"] != "project", b
    # the level is enforced on the project's key (models), not the other key
    assert wait_until(lambda: api("POST", "/v1/chat/completions",
                                  chat_body("x", model="gpt-4o-mini"),
                                  key=t["key"])[0] == 403, timeout=3)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x", model="gpt-4o-mini"),
                   key=other["key"])
    assert st == 200, b
    # the operator API reads the same project, renamed
    st, _, b = api("GET", "/admin/api/v1/tenants/%s/projects/gamma" % t["slug"],
                   key=op_token())
    assert st == 200 and b["id"] == pid, b
    st, _, b = api("POST", "/admin/api/v1/tenants/%s/projects/gamma/rename" % t["slug"],
                   {"name": "alpha"}, key=op_token())
    assert st == 200 and b["name"] == "alpha", b
    # another tenant sees none of it
    u = new_tenant("pjs")
    mu = manage_key(u)
    assert_error(api("GET", "/v1/projects/alpha", key=mu["key"]), 404, "not_found")
    assert_error(api("POST", "/v1/projects/alpha/delete", {}, key=mu["key"]), 404, "not_found")
    assert_error(api("POST", "/v1/keys/%d/project" % t["key_id"], {"project": None},
                     key=mu["key"]), 404, "not_found")
    # delete: limits go, keys stay in none
    st, _, b = api("POST", "/v1/projects/alpha/delete", {}, key=k)
    assert st == 200 and b["deleted"] is True, b
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope='project' AND scope_id=%d"
                   % pid) == [["0"]]
    assert_error(api("GET", "/v1/projects/alpha", key=k), 404, "not_found")
    rows = db_exec("SELECT action, actor_type FROM audit_log WHERE tenant_id=%d AND action"
                   " LIKE 'project.%%' ORDER BY id" % t["id"])
    acts = [r[0] for r in rows if r[1] == "api_key"]
    assert acts == ["project.create", "project.create", "project.add_key", "project.add_key",
                    "project.remove_key", "project.rename", "project.limits",
                    "project.limits", "project.delete"], rows
    assert ["project.rename", "operator"] in rows, rows


@test
def cli_renames_a_project():
    t = new_tenant("pjr")
    ctl("project", "create", "--tenant", t["slug"], "one")
    ctl("project", "create", "--tenant", t["slug"], "two")
    out = ctl("project", "rename", "--tenant", t["slug"], "one", "three")
    assert out["name"] == "three", out
    rc, _, err = ctl("project", "rename", "--tenant", t["slug"], "three", "two", check=False)
    assert rc != 0 and "already has a project 'two'" in err, err
    rc, _, err = ctl("project", "rename", "--tenant", t["slug"], "three", "bad name",
                     check=False)
    assert rc != 0 and "project name" in err, err
    names = sorted(p["name"] for p in ctl("project", "list", "--tenant", t["slug"]))
    assert names == ["three", "two"], names


# ---------------------------------------------------------------- (3) each end user's budget

def eu_body(i, user=None):
    b = chat_body("[mock:words=%d] n%04d" % (WORDS, i), max_tokens=WORDS)
    if user:
        b["user"] = user
    return b


def eu_cost(t, user, status=None):
    rows = db_exec("SELECT COALESCE(SUM(cost_micros),0), COUNT(*) FROM executions WHERE "
                   "tenant_id=%d AND end_user='%s'%s"
                   % (t["id"], user, " AND status='%s'" % status if status else ""), tenant=t)
    return int(rows[0][0]), int(rows[0][1])


def eu_counters():
    """Every end-user counter row (day), whoever it is: {scope_id: (spent, reserved, leased)}."""
    return {r[0]: tuple(int(x) for x in r[1:]) for r in db_exec(
        "SELECT scope_id, spent_micros, reserved_micros, leased_micros FROM budget_counters"
        " WHERE scope='end_user' AND win='day'")}


@test
def end_user_budget_exact_across_8_processes_each_user_alone():
    t = new_tenant("lveu")
    for k, v in (("rpm", 0), ("tpm", 0), ("concurrency", 0), ("budget_usd_daily", 0),
                 ("budget_usd_monthly", 0)):
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))
    other = second_key(t)
    st, _, b = api("POST", "/v1/chat/completions", eu_body(9999), key=t["key"])
    assert st == 200, (st, b)
    prompt_bound = len("[mock:words=%d] n9999" % WORDS) + 8 + 16
    reserve = prompt_bound * 1 + WORDS * 2
    actual = b["usage"]["prompt_tokens"] * 1 + b["usage"]["completion_tokens"] * 2
    limit = 80 * actual
    before = set(eu_counters())
    ctl("limits", "set", "--tenant", t["slug"], "end_user_budget_usd_daily",
        "%.6f" % (limit / 1e6))
    u1, u2 = "alice-" + secrets.token_hex(3), "bob-" + secrets.token_hex(3)
    users = [u1, u2, u1, u2, u1, None]   # ~500 calls each, 200 naming no end user
    results, lock, go = [], threading.Lock(), threading.Event()
    insts, socks = [], []

    def one(i):
        go.wait()
        u = users[i % len(users)]
        hdr = None
        b = eu_body(i, u if u == u1 else None)
        if u == u2:
            hdr = {"X-Actor-Id": u2}   # the other way to name the end user
        try:
            st, _, r = fc.request(socks[i % len(socks)], "POST", "/v1/chat/completions", b,
                                  key=(t["key"], other["key"])[i % 2], headers=hdr,
                                  timeout=120)
        except Exception as e:
            st, r = 0, {"error": {"reason_code": "client: %s" % e}}
        with lock:
            results.append((u, st, None if st == 200 else r["error"]["reason_code"]))

    try:
        for _ in range(2):
            h, s = fc.start_instance(BIN, harness.CONF, LOAD_CONF, procs=4)
            insts.append(h)
            socks.append(s)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(1200)]
        for th in ts:
            th.start()
        go.set()
        for th in ts:
            th.join()
    finally:
        for h in insts:
            fc.stop(h)
    nobody = [r for r in results if r[0] is None]
    assert len(nobody) == 200 and all(st == 200 for _, st, _ in nobody), \
        {rc for _, st, rc in nobody if st != 200}
    for u in (u1, u2):
        mine = [r for r in results if r[0] == u]
        served = sum(1 for _, st, _ in mine if st == 200)
        assert {rc for _, st, rc in mine if st != 200} == {"end_user_budget_exceeded"}, \
            {rc for _, st, rc in mine if st != 200}
        assert 1 <= served < len(mine), (u, served, len(mine))
        total, count = eu_cost(t, u, "succeeded")
        assert count == served, (u, count, served)
        assert total <= limit, "%s's settled spend %d is over its limit %d" % (u, total, limit)
    # one counter row per end user, settled to what its executions cost

    def mine():
        return {k: v for k, v in eu_counters().items() if k not in before}

    assert wait_until(lambda: len(mine()) == 2 and
                      sorted(v[0] for v in mine().values()) ==
                      sorted([eu_cost(t, u1)[0], eu_cost(t, u2)[0]]) and
                      all(v[1:] == (0, 0) for v in mine().values()), timeout=15), \
        (mine(), eu_cost(t, u1), eu_cost(t, u2))
    # the bulk went on leases, the tail one by one (reservations name the end user's row)
    resv = int(db_exec("SELECT COUNT(*) FROM reservations WHERE tenant_id=%d AND counters"
                       " LIKE '%%end_user:%%'" % t["id"])[0][0])
    served_all = sum(1 for u, st, _ in results if u is not None and st == 200)
    assert resv >= 1, "no end user's call was admitted one by one"
    assert resv < served_all, "no end user's call went on a lease (%d of %d)" % (resv, served_all)
    # the last of u1's budget: one at a time until refused; nothing that fits is left
    more = 0
    while True:
        st, _, b = api("POST", "/v1/chat/completions", eu_body(5000 + more, u1), key=t["key"])
        if st != 200:
            assert err_code(b) == "end_user_budget_exceeded", b
            assert "end user" in b["error"]["message"], b
            break
        more += 1
        assert more < 60, "the end user's budget never ran out"
    total, _ = eu_cost(t, u1, "succeeded")
    assert total <= limit and limit - total < reserve, (total, limit, reserve)
    # /v1/budget shows the named end user's level; without a name, none
    st, _, bud = api("GET", "/v1/budget", key=t["key"], headers={"X-Actor-Id": u1})
    assert st == 200, bud
    eu = bud["budgets"]["day"]["end_user"]
    assert eu["end_user"] == u1 and eu["usd"]["source"] == "tenant", eu
    assert abs(float(eu["usd"]["limit"]) * 1e6 - limit) < 1, eu
    assert abs(float(eu["usd"]["spent"]) * 1e6 - eu_cost(t, u1)[0]) < 1, (eu, eu_cost(t, u1))
    st, _, bud = api("GET", "/v1/budget", key=t["key"])
    assert bud["budgets"]["day"]["end_user"] is None, bud["budgets"]["day"]
    # another end user, and no end user, are still served; so is u1 under a bigger budget
    for hdr in ({"X-Actor-Id": "carol"}, None):
        st, _, b = api("POST", "/v1/chat/completions", eu_body(7000), key=t["key"],
                       headers=hdr)
        assert st == 200, (hdr, st, b)
    ctl("limits", "unset", "--tenant", t["slug"], "end_user_budget_usd_daily")
    assert wait_until(lambda: api("POST", "/v1/chat/completions", eu_body(7001, u1),
                                  key=t["key"])[0] == 200, timeout=3)


@test
def end_user_budgets_set_shown_and_refused_readably():
    t = new_tenant("lveu")
    rc, _, err = ctl("limits", "set", "--tenant", t["slug"], "end_user_budget_usd_daily",
                     "lots", check=False)
    assert rc != 0 and "end_user_budget_usd_daily" in err, err
    rc, _, err = ctl("limits", "set", "--tenant", t["slug"], "--key", str(t["key_id"]),
                     "end_user_budget_usd_daily", "1", check=False)
    assert rc != 0, err
    ctl("limits", "set", "--tenant", t["slug"], "end_user_budget_tokens_daily", "300")
    st, _, lim = api("GET", "/v1/limits", key=t["key"])
    assert lim["limits"]["end_user_budget_tokens_daily"] == {"value": "300",
                                                             "source": "tenant"}, lim
    # a token budget per end user, soft: admitted with a warning, audited once
    ctl("limits", "set", "--tenant", t["slug"], "budget_enforcement", "soft")
    warned = []
    for i in range(3):
        st, h, b = api("POST", "/v1/chat/completions",
                       chat_body("[mock:words=100] soft %d" % i, max_tokens=100),
                       key=t["key"], headers={"X-Actor-Id": "dave"})
        assert st == 200, b
        warned.append(h.get("x-budget-warning", ""))
    assert "end user's daily budget exceeded" in warned[-1], warned
    rows = db_exec("SELECT target, reason_code, end_user FROM audit_log WHERE tenant_id=%d AND"
                   " action='budget.soft_exceeded'" % t["id"])
    assert len(rows) == 1 and rows[0][0].startswith("budget:end_user:") and \
        rows[0][1] == "end_user_budget_exceeded" and rows[0][2] == "dave", rows
    # hard: a worst case above the budget on its own is refused at once
    ctl("limits", "set", "--tenant", t["slug"], "budget_enforcement", "hard")
    assert wait_until(lambda: api("POST", "/v1/chat/completions",
                                  chat_body("x", max_tokens=500), key=t["key"],
                                  headers={"X-Actor-Id": "erin"})[0] == 429, timeout=3)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=500),
                   key=t["key"], headers={"X-Actor-Id": "erin"})
    assert err_code(b) == "end_user_budget_exceeded" and "retry-after" in h, (b, h)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=500),
                   key=t["key"])
    assert st == 200, b  # no end user named: no end-user budget
    # the operator API sets it too; the dashboard's budgets page shows and sets it
    st, _, b = api("POST", "/admin/api/v1/tenants/%s/limits" % t["slug"],
                   {"name": "end_user_budget_usd_monthly", "value": "2"}, key=op_token())
    assert st == 200 and b["limits"]["end_user_budget_usd_monthly"]["value"] == "2", b
    name, pw = new_admin("tenant_admin", t["slug"], prefix="lvr")
    d = Dash()
    d.login(name, pw)
    path = "/admin/tenants/%d/budgets" % t["id"]
    st, _, page = d.get(path)
    assert st == 200 and 'name="end_user_budget_usd_daily"' in page, page[:300]
    st, _, page = d.post(path, {"end_user_budget_usd_daily": "nope"})
    assert st == 400 and "end_user_budget_usd_daily" in page, st
    st, h, _ = d.post(path, {"end_user_budget_usd_daily": "1.5"})
    assert st == 303, st
    out = ctl("limits", "show", "--tenant", t["slug"])
    assert out["limits"]["end_user_budget_usd_daily"]["value"] == "1.5", out


# ---------------------------------------------------------------- (5) export, verify-isolation

def export_members(slug):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.tar")
        manifest = ctl("tenant", "export", slug, "--out", path)
        with tarfile.open(path) as tf:
            members = {m.name.split("/", 1)[1]: tf.extractfile(m).read().decode()
                       for m in tf.getmembers()}
    return manifest, members


def jsonl(text):
    return [json.loads(line) for line in text.splitlines()]


def verify(*args):
    rc, out, err = ctl("verify-isolation", *args, check=False)
    return rc, {c["check"]: c["findings"] for c in out["checks"]} if out else {}, err


@test
def export_and_verify_isolation_cover_projects_and_tags():
    t = new_tenant("lvx")
    secret = "sk-export-never-" + harness.rand_suffix(12)
    ctl("project", "create", "--tenant", t["slug"], "apps")
    ctl("project", "add-key", "--tenant", t["slug"], "--key", str(t["key_id"]), "apps")
    ctl("limits", "set", "--tenant", t["slug"], "--project", "apps", "budget_usd_daily", "3")
    ctl("limits", "set", "--tenant", t["slug"], "--tag", "team=blue", "budget_usd_monthly", "4")
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
        "--project", "apps", stdin=secret + "\n")
    manifest, m = export_members(t["slug"])
    names = {f["name"]: f["rows"] for f in manifest["files"]}
    for n in ("projects.jsonl", "project_keys.jsonl", "tags.jsonl",
              "project_provider_keys.jsonl"):
        assert names.get(n) == 1, (n, names)
    pid = jsonl(m["projects.jsonl"])[0]["id"]
    assert jsonl(m["projects.jsonl"])[0]["name"] == "apps"
    assert jsonl(m["project_keys.jsonl"]) == [{"key_id": t["key_id"], "project_id": pid}]
    tag = jsonl(m["tags.jsonl"])[0]
    assert (tag["key"], tag["value"]) == ("team", "blue"), tag
    pk = jsonl(m["project_provider_keys.jsonl"])[0]
    assert pk["project_id"] == pid and pk["last4"] == secret[-4:], pk
    lims = {(x["scope"], x["name"]): x["value"] for x in jsonl(m["limits.jsonl"])}
    assert lims[("project", "budget_usd_daily")] == "3", lims
    assert lims[("tag", "budget_usd_monthly")] == "4", lims
    assert all(secret not in text for text in m.values())
    # clean: no finding in the new checks
    rc, found, err = verify("--tenant", t["slug"])
    assert rc == 0, (found, err)
    for c in ("orphan_projects", "orphan_project_keys", "orphan_project_provider_keys",
              "orphan_tags", "project_keys_across_tenants",
              "project_provider_keys_across_tenants", "project_provider_keys_not_sealed",
              "provider_keys_unopenable"):
        assert found.get(c) == 0, (c, found)
    # tampering: a key of another tenant put in this project, a project key copied to
    # another project (does not open there), a project key whose project is gone
    u = new_tenant("lvx")
    db_exec("INSERT INTO project_keys (key_id, tenant_id, project_id) VALUES (%d, %d, %d)"
            % (u["key_id"], t["id"], pid))
    ctl("project", "create", "--tenant", t["slug"], "copy")
    pid2 = int(db_exec("SELECT id FROM projects WHERE tenant_id=%d AND name='copy'"
                       % t["id"])[0][0])
    db_exec("INSERT INTO project_provider_credentials (project_id, provider, tenant_id,"
            " key_version, nonce, ciphertext, last4, created_at, updated_at) SELECT %d,"
            " provider, tenant_id, key_version, nonce, ciphertext, last4, created_at,"
            " updated_at FROM project_provider_credentials WHERE project_id = %d" % (pid2, pid))
    db_exec("INSERT INTO project_provider_credentials (project_id, provider, tenant_id,"
            " key_version, nonce, ciphertext, last4, created_at, updated_at) SELECT 987654,"
            " provider, tenant_id, key_version, nonce, ciphertext, last4, created_at,"
            " updated_at FROM project_provider_credentials WHERE project_id = %d" % pid)
    try:
        rc, found, err = verify("--tenant", t["slug"])
        assert rc == 1, (rc, err)
        assert found["project_keys_across_tenants"] == 1, found
        assert found["project_provider_keys_across_tenants"] == 1, found
        assert found["provider_keys_unopenable"] == 1, found  # the copy (987654 is no project)
    finally:
        db_exec("DELETE FROM project_keys WHERE key_id = %d" % u["key_id"])
        db_exec("DELETE FROM project_provider_credentials WHERE project_id IN (%d, 987654)"
                % pid2)
    rc, found, err = verify("--tenant", t["slug"])
    assert rc == 0, (found, err)


if __name__ == "__main__":
    run()
