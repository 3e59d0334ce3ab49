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
      projects are not found; the routes need the manage scope.
"""
import json
import os
import secrets

import harness
from harness import test, run, api, ctl, assert_error, wait_until, fake_last
from apihelp import new_tenant, chat_body, db_exec, everything_kept
from dashhelp import Dash, new_admin

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


if __name__ == "__main__":
    run()
