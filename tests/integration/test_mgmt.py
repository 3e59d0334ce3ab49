"""Issue 14 part E: the operator's management API (/admin/api/v1/...).

Tenants are listed (keyset pagination, filters) and updated; every change is audited
with the operator as the actor and reaches every process through the change log.
"""
import json
import os
import re
import time
from decimal import Decimal

from apihelp import chat_body, db_exec, new_tenant
from harness import (BASE_NGINX, api, assert_error, ctl, fake_last, rand_suffix, run, test,
                     wait_until)

OP = {"Authorization": "Bearer " + os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")}


def op(method, path, body=None):
    return api(method, "/admin/api/v1" + path, body, headers=OP)


def rpm_of(key):
    """The rpm entry of GET /v1/limits for key: (value, source)."""
    e = api("GET", "/v1/limits", key=key)[2]["limits"]["rpm"]
    return (e["value"], e["source"])


def audit_rows(tenant_id, action):
    return db_exec("SELECT actor_type, detail FROM audit_log WHERE tenant_id = %d"
                   " AND action = '%s' ORDER BY id" % (tenant_id, action))


@test
def tenants_list_filters_and_pages():
    tag = "mgl" + rand_suffix(5)
    ts = [new_tenant(tag) for _ in range(3)]
    op("POST", "/tenants/%s/suspend" % ts[1]["slug"], {"reason": "test"})
    op("POST", "/tenants/%s" % ts[2]["slug"], {"plan": "pro"})
    st, _, body = op("GET", "/tenants?q=" + tag.upper())
    assert st == 200, body
    assert body["object"] == "list" and body["has_more"] is False, body
    assert [x["slug"] for x in body["data"]] == [t["slug"] for t in ts], body
    assert body["next_cursor"] is None
    # filters
    st, _, body = op("GET", "/tenants?status=suspended&q=" + tag)
    assert st == 200 and [x["slug"] for x in body["data"]] == [ts[1]["slug"]], body
    assert body["data"][0]["status"] == "suspended"
    st, _, body = op("GET", "/tenants?plan=pro&q=" + tag)
    assert st == 200 and [x["slug"] for x in body["data"]] == [ts[2]["slug"]], body
    st, _, body = op("GET", "/tenants?plan=pro&status=suspended&q=" + tag)
    assert st == 200 and body["data"] == [], body
    # keyset pages of one
    seen, cursor = [], None
    for _ in range(5):
        st, _, body = op("GET", "/tenants?limit=1&q=%s%s"
                         % (tag, "&cursor=" + cursor if cursor else ""))
        assert st == 200 and len(body["data"]) <= 1, body
        seen += [x["slug"] for x in body["data"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            assert cursor is None
            break
    assert seen == [t["slug"] for t in ts], seen
    # a wildcard in q is literal
    st, _, body = op("GET", "/tenants?q=%25" + tag)
    assert st == 200 and body["data"] == [], body


@test
def tenants_list_refuses_bad_parameters():
    for qs, code in (("status=gone", "invalid_request"), ("plan=Bad%20Plan", "invalid_request"),
                     ("limit=0", "invalid_request"), ("limit=101", "invalid_request"),
                     ("cursor=abc", "invalid_cursor"), ("cursor=-3", "invalid_cursor"),
                     ("q=" + "x" * 101, "invalid_request")):
        assert_error(op("GET", "/tenants?" + qs), 400, code)
    # the operator token is needed
    t = new_tenant("mgauth")
    assert_error(api("GET", "/admin/api/v1/tenants", key=t["key"]), 403,
                 "tenant_key_not_allowed")
    assert_error(api("GET", "/admin/api/v1/tenants"), 401, "invalid_operator_token")


@test
def tenant_update_name_and_plan():
    t = new_tenant("mgu")
    st, _, body = op("GET", "/tenants/%d" % t["id"])
    assert st == 200 and body["slug"] == t["slug"] and body["plan"] == "free", body
    assert rpm_of(t["key"]) == ("60", "plan")
    st, _, body = op("POST", "/tenants/%s" % t["slug"], {"name": "Renamed Ltd", "plan": "pro"})
    assert st == 200, body
    assert body["name"] == "Renamed Ltd" and body["plan"] == "pro", body
    st, _, body = op("GET", "/tenants/%s" % t["slug"])
    assert body["name"] == "Renamed Ltd" and body["plan"] == "pro", body
    rows = audit_rows(t["id"], "tenant.update")
    assert len(rows) == 1 and rows[0][0] == "operator", rows
    assert '"plan":["free","pro"]' in rows[0][1], rows
    # the plan's limits apply at once (the change log drops every process's cached limits)
    ok = wait_until(lambda: rpm_of(t["key"]) == ("600", "plan"), timeout=3)
    assert ok, rpm_of(t["key"])
    # bad input
    assert_error(op("POST", "/tenants/%s" % t["slug"], {"plan": "nosuchplan"}), 400,
                 "invalid_request")
    assert_error(op("POST", "/tenants/%s" % t["slug"], {"name": ""}), 400, "invalid_request")
    assert_error(op("POST", "/tenants/%s" % t["slug"], {"name": "a\u0001b"}), 400,
                 "invalid_request")
    assert_error(op("POST", "/tenants/%s" % t["slug"], {"name": 5}), 400, "invalid_request")
    assert_error(op("POST", "/tenants/%s" % t["slug"], {}), 400, "invalid_request")
    assert_error(op("POST", "/tenants/no-such-tenant-" + rand_suffix(), {"name": "x"}), 404,
                 "not_found")
    st, _, body = op("GET", "/tenants/%s" % t["slug"])
    assert body["name"] == "Renamed Ltd" and body["plan"] == "pro", body


@test
def operator_manages_a_tenants_keys():
    t = new_tenant("mgk")
    other = new_tenant("mgk")
    st, _, k = op("POST", "/tenants/%s/keys" % t["slug"],
                  {"name": "ops made", "scopes": ["read", "manage"]})
    assert st == 201, k
    assert isinstance(k["key"], str) and len(k["key"]) > 20, k
    assert k["tenant_id"] == t["id"] and k["scopes"] == ["read", "manage"], k
    assert api("GET", "/v1/keys", key=k["key"])[0] == 200
    st, _, got = op("GET", "/tenants/%s/keys/%d" % (t["slug"], k["id"]))
    assert st == 200 and got["id"] == k["id"] and "key" not in got, got
    # another tenant's key is not found through this tenant
    assert_error(op("GET", "/tenants/%s/keys/%d" % (other["slug"], k["id"])), 404, "not_found")
    assert_error(op("POST", "/tenants/%s/keys/%d/revoke" % (other["slug"], k["id"])), 404,
                 "not_found")
    # rotate without grace: the successor works, the old key stops
    st, _, k2 = op("POST", "/tenants/%s/keys/%d/rotate" % (t["slug"], k["id"]),
                   {"grace_seconds": 0})
    assert st == 201 and k2["replaces"] == k["id"] and k2["scopes"] == ["read", "manage"], k2
    assert api("GET", "/v1/keys", key=k2["key"])[0] == 200
    assert wait_until(lambda: api("GET", "/v1/keys", key=k["key"])[0] == 401, timeout=5)
    assert_error(op("POST", "/tenants/%s/keys/%d/rotate" % (t["slug"], k["id"])), 409,
                 "conflict")
    # revoke
    st, _, rv = op("POST", "/tenants/%s/keys/%d/revoke" % (t["slug"], k2["id"]))
    assert st == 200 and rv["state"] == "revoked", rv
    assert wait_until(lambda: api("GET", "/v1/keys", key=k2["key"])[0] == 401, timeout=5)
    # bad input
    assert_error(op("POST", "/tenants/%s/keys" % t["slug"], {"scopes": ["root"]}), 400,
                 "invalid_request")
    assert_error(op("POST", "/tenants/%s/keys" % t["slug"], {"name": "a\u0007"}), 400,
                 "invalid_request")
    assert_error(op("POST", "/tenants/nosuch-%s/keys" % rand_suffix(), {}), 404, "not_found")
    assert_error(op("GET", "/tenants/%s/keys/abc" % t["slug"]), 404, "not_found")
    # every change is audited with the operator as the actor
    rows = db_exec("SELECT action, actor_type FROM audit_log WHERE tenant_id = %d"
                   " AND action LIKE 'key.%%' AND actor_type = 'operator' ORDER BY id" % t["id"])
    assert rows == [["key.create", "operator"], ["key.rotate", "operator"],
                    ["key.revoke", "operator"]], rows


@test
def operator_sets_lists_and_clears_provider_keys():
    t = new_tenant("mgp")
    secret = "sk-ops-set-" + rand_suffix(12) + "9876"
    path = "/tenants/%s/provider-keys" % t["slug"]
    st, _, body = op("POST", path + "/openai", {"key": secret})
    assert st == 200, body
    assert body["last4"] == "9876" and body["version"] == 1 and body["provider"] == "openai"
    assert secret not in str(body)
    # the tenant's calls use it at once
    st, _, b = api("POST", "/v1/chat/completions", chat_body("byok", model="gpt-4o-mini"),
                   key=t["key"])
    assert st == 200, b
    assert fake_last()["headers"]["authorization"] == "Bearer " + secret
    # write-only: the list shows the last 4 only
    st, _, body = op("GET", path)
    assert st == 200 and [(c["provider"], c["last4"], c["configured"]) for c in body["data"]] \
        == [("openai", "9876", True)], body
    assert secret[:-4] not in str(body)
    st, _, body = op("POST", path + "/openai", {"key": secret + "x"})
    assert st == 200 and body["version"] == 2 and body["last4"] == "876x", body
    # CLI sees the same
    assert ctl("provider-key", "list", "--tenant", t["slug"])[0]["last4"] == "876x"
    # bad input
    for bad in ({}, {"key": ""}, {"key": 5}, {"key": "a\nb"}, {"key": "x" * 1025}):
        assert_error(op("POST", path + "/openai", bad), 400, "invalid_request")
    assert_error(op("POST", path + "/nosuchprovider", {"key": "k"}), 400, "invalid_request")
    assert_error(op("POST", path + "/bad%20name/clear"), 400, "invalid_request")
    assert_error(op("POST", "/tenants/nosuch-%s/provider-keys/openai" % rand_suffix(),
                    {"key": "k"}), 404, "not_found")
    # clear: back to the platform key
    st, _, body = op("POST", path + "/openai/clear")
    assert st == 200 and body["cleared"] is True, body
    assert_error(op("POST", path + "/openai/clear"), 404, "not_found")
    assert op("GET", path)[2]["data"] == []
    api("POST", "/v1/chat/completions", chat_body("plat", model="gpt-4o-mini"), key=t["key"])
    assert fake_last()["headers"]["authorization"] == "Bearer sk-platform-openai"
    rows = db_exec("SELECT action, actor_type FROM audit_log WHERE tenant_id = %d"
                   " AND action LIKE 'provider_key.%%' ORDER BY id" % t["id"])
    assert rows == [["provider_key.set", "operator"], ["provider_key.set", "operator"],
                    ["provider_key.clear", "operator"]], rows
    # the secret is in no audit row
    assert db_exec("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%%%s%%'" % secret[:-4]) \
        == [["0"]]


@test
def operator_manages_plans_and_their_limits():
    name = "p" + rand_suffix(10)
    st, _, body = op("POST", "/plans", {"name": name, "description": "test plan",
                                        "limits": {"rpm": "7", "budget_usd_daily": "2.50", "tpm": 9000}})
    assert st == 201, body
    assert body["object"] == "plan" and body["name"] == name, body
    assert body["description"] == "test plan"
    assert body["limits"] == {"rpm": "7", "budget_usd_daily": "2.5", "tpm": "9000"}, body
    assert_error(op("POST", "/plans", {"name": name}), 409, "conflict")
    st, _, lst = op("GET", "/plans")
    assert st == 200 and name in [p["name"] for p in lst["data"]], lst
    free = [p for p in lst["data"] if p["name"] == "free"][0]
    assert free["limits"]["rpm"] == "60", free
    # a tenant on the plan gets its limits; a change reaches it at once
    t = new_tenant("mgpl", plan=name)
    assert rpm_of(t["key"]) == ("7", "plan")
    st, _, body = op("POST", "/plans/" + name, {"description": "changed",
                                               "limits": {"rpm": "8", "tpm": None}})
    assert st == 200, body
    assert body["description"] == "changed", body
    assert body["limits"] == {"rpm": "8", "budget_usd_daily": "2.5"}, body
    assert wait_until(lambda: rpm_of(t["key"]) == ("8", "plan"), timeout=3)
    st, _, body = op("GET", "/plans/" + name)
    assert st == 200 and body["limits"]["rpm"] == "8", body
    assert ctl("limits", "show", "--plan", name)["limits"]["rpm"]["value"] == "8"
    # bad input changes nothing
    for bad in ({}, {"description": 5}, {"description": "x" * 201},
                {"limits": {"rpm": "lots"}}, {"limits": {"nosuch": "1"}},
                {"limits": {"rpm": "9", "tpm": "-1"}}, {"limits": "rpm=1"},
                {"limits": {"rpm": [1]}}):
        assert_error(op("POST", "/plans/" + name, bad), 400, "invalid_request")
    assert op("GET", "/plans/" + name)[2]["limits"]["rpm"] == "8"
    for bad in ({"name": "Bad Name"}, {}, {"name": "p" + rand_suffix(), "limits": {"rpm": "x"}}):
        assert_error(op("POST", "/plans", bad), 400, "invalid_request")
    assert_error(op("GET", "/plans/nosuch" + rand_suffix()), 404, "not_found")
    assert_error(op("POST", "/plans/nosuch" + rand_suffix(), {"description": "x"}), 404,
                 "not_found")
    rows = db_exec("SELECT action, actor_type, tenant_id FROM audit_log"
                   " WHERE target = 'plan:%s' ORDER BY id" % name)
    assert rows == [["plan.create", "operator", None], ["plan.update", "operator", None]], rows


def exec_costs(t):
    return [int(r[0]) for r in db_exec("SELECT cost_micros FROM executions WHERE tenant_id = %d"
                                       " ORDER BY seq" % t["id"], tenant=t)]


@test
def operator_manages_models_and_dated_prices():
    name = "mgm-" + rand_suffix()
    st, _, m = op("POST", "/models", {"name": name, "provider": "mock",
                                      "upstream_model": "mock-1", "input_price_micros": 1000000,
                                      "output_price_micros": 2000000, "context_window": 32768,
                                      "max_output": 4096})
    assert st == 201, m
    assert m["object"] == "model" and m["kind"] == "chat" and m["enabled"] is True, m
    assert [(p["input_price_micros"], p["output_price_micros"]) for p in m["prices"]] \
        == [(1000000, 2000000)], m
    assert_error(op("POST", "/models", {"name": name, "provider": "mock",
                                        "input_price_micros": 1, "output_price_micros": 1,
                                        "context_window": 10, "max_output": 10}), 409, "conflict")
    st, _, lst = op("GET", "/models")
    assert st == 200 and name in [x["name"] for x in lst["data"]], lst
    t = new_tenant("mgm")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("price one", model=name),
                   key=t["key"])
    assert st == 200, b
    c1 = exec_costs(t)
    assert len(c1) == 1 and c1[0] > 0, c1
    # a new price from now: the next call costs more, the first keeps its cost
    st, _, m = op("POST", "/models/%s/prices" % name,
                  {"input_price_micros": 4000000, "output_price_micros": 8000000})
    assert st == 201 and len(m["prices"]) == 2, m
    assert m["input_price_micros"] == 4000000, m
    st, _, b = api("POST", "/v1/chat/completions", chat_body("price one", model=name),
                   key=t["key"])
    assert st == 200, b
    costs = exec_costs(t)
    assert costs[0] == c1[0] and costs[1] >= 3 * c1[0], costs
    # a price dated a few seconds ahead: the old one holds until then, the new one after
    soon = int(time.time()) + 3
    st, _, m = op("POST", "/models/%s/prices" % name,
                  {"input_price_micros": 2000000, "output_price_micros": 4000000,
                   "effective_at": soon})
    assert st == 201 and m["input_price_micros"] == 4000000, m
    assert api("POST", "/v1/chat/completions", chat_body("price one", model=name),
               key=t["key"])[0] == 200
    if time.time() < soon:  # admitted before the new price's time: the price then in effect
        assert exec_costs(t)[2] == costs[1], exec_costs(t)
    deadline = time.time() + 15
    while True:
        assert api("POST", "/v1/chat/completions", chat_body("price one", model=name),
                   key=t["key"])[0] == 200
        last = exec_costs(t)[-1]
        if time.time() > soon and last != costs[1]:
            break
        assert time.time() < deadline, exec_costs(t)
        time.sleep(0.5)
    assert costs[1] > last > c1[0], (c1, costs, last)
    costs = exec_costs(t)
    assert costs[:2] == [c1[0], costs[1]] and costs[0] == c1[0], costs
    # what the calls cost is what usage reports: stored costs, never repriced
    def usage_micros():
        b = api("GET", "/v1/usage", key=t["key"])[2]
        return int(Decimal(b["total"]["cost_usd"]) * 1000000)
    assert wait_until(lambda: usage_micros() == sum(costs), timeout=5), (usage_micros(), costs)
    st, _, b = op("GET", "/tenants/%s/usage" % t["slug"])
    assert st == 200 and int(Decimal(b["total"]["cost_usd"]) * 1000000) == sum(costs), b
    # a future price is in the history but not in effect yet
    later = int(time.time()) + 3600
    st, _, m = op("POST", "/models/%s/prices" % name,
                  {"input_price_micros": 1, "output_price_micros": 1, "effective_at": later})
    assert st == 201 and m["input_price_micros"] == 2000000, m
    assert m["prices"][-1]["effective_at"] == later, m
    assert_error(op("POST", "/models/%s/prices" % name,
                    {"input_price_micros": 2, "output_price_micros": 2, "effective_at": later}),
                 409, "conflict")
    # the past is never rewritten
    for when in (int(time.time()) - 60, "2020-01-01T00:00:00Z"):
        err = assert_error(op("POST", "/models/%s/prices" % name,
                              {"input_price_micros": 2, "output_price_micros": 2,
                               "effective_at": when}), 400, "invalid_request")
        assert "past" in err["message"], err
    assert len(op("GET", "/models/" + name)[2]["prices"]) == 4
    # update: disabled, the tenant no longer sees it; enabled again, it does
    st, _, m = op("POST", "/models/" + name, {"enabled": False, "max_output": 2048})
    assert st == 200 and m["enabled"] is False and m["max_output"] == 2048, m
    assert wait_until(lambda: api("GET", "/v1/models/" + name, key=t["key"])[0] == 404,
                      timeout=3)
    st, _, m = op("POST", "/models/" + name, {"enabled": True})
    assert st == 200 and m["enabled"] is True and m["max_output"] == 2048, m
    assert wait_until(lambda: api("GET", "/v1/models/" + name, key=t["key"])[0] == 200,
                      timeout=3)
    # bad input
    for bad in ({}, {"input_price_micros": 5}, {"kind": "image"}, {"provider": "Bad!"},
                {"context_window": 0}, {"enabled": "yes"}, {"max_output": 99999999}):
        assert_error(op("POST", "/models/" + name, bad), 400, "invalid_request")
    for bad in ({"input_price_micros": -1, "output_price_micros": 1},
                {"input_price_micros": 1}, {"input_price_micros": "1", "output_price_micros": 1},
                {"input_price_micros": 1, "output_price_micros": 1, "effective_at": "soon"}):
        assert_error(op("POST", "/models/%s/prices" % name, bad), 400, "invalid_request")
    base = {"provider": "mock", "input_price_micros": 1, "output_price_micros": 1,
            "context_window": 100, "max_output": 10}
    for bad in (dict(base), dict(base, name="a/b"), dict(base, name="x y"),
                dict(base, name="ok-" + rand_suffix(), provider=None),
                dict(base, name="ok-" + rand_suffix(), max_output=200)):
        assert_error(op("POST", "/models", {k: v for k, v in bad.items() if v is not None}),
                     400, "invalid_request")
    assert_error(op("GET", "/models/nosuch-" + rand_suffix()), 404, "not_found")
    assert_error(op("POST", "/models/nosuch-%s/prices" % rand_suffix(),
                    {"input_price_micros": 1, "output_price_micros": 1}), 404, "not_found")
    rows = db_exec("SELECT action FROM audit_log WHERE target = 'model:%s' ORDER BY id" % name)
    assert [r[0] for r in rows] == ["model.create", "model.price", "model.price",
                                    "model.price", "model.update", "model.update"], rows


@test
def operator_reads_the_audit_log():
    t = new_tenant("mga")
    ctl("tenant", "suspend", t["slug"])  # a CLI row
    op("POST", "/tenants/%s/resume" % t["slug"])
    for name in ("One", "Two", "Three"):
        assert op("POST", "/tenants/%s" % t["slug"], {"name": name})[0] == 200
    st, _, body = op("GET", "/audit?tenant=%s" % t["slug"])
    assert st == 200 and body["object"] == "list", body
    rows = body["data"]
    assert all(r["tenant_id"] == t["id"] for r in rows), rows
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True), ids
    actions = [r["action"] for r in rows]
    assert actions[:4] == ["tenant.update"] * 3 + ["tenant.resume"], actions
    assert rows[0]["detail"] == {"name": ["Two", "Three"]}, rows[0]
    assert rows[0]["actor_type"] == "operator" and rows[0]["outcome"] == "ok", rows[0]
    actor = rows[0]["actor_id"]
    # filters
    st, _, body = op("GET", "/audit?tenant=%d&action=tenant.update" % t["id"])
    assert [r["detail"]["name"][1] for r in body["data"]] == ["Three", "Two", "One"], body
    st, _, body = op("GET", "/audit?tenant=%s&actor_type=operator&actor=%s"
                     % (t["slug"], actor))
    assert {r["action"] for r in body["data"]} == {"tenant.update", "tenant.resume"}, body
    st, _, body = op("GET", "/audit?tenant=%s&actor_type=cli" % t["slug"])
    assert st == 200 and body["data"] and \
        all(r["actor_type"] == "cli" for r in body["data"]), body
    assert "tenant.suspend" in [r["action"] for r in body["data"]], body
    st, _, body = op("GET", "/audit?tenant=%s&outcome=denied" % t["slug"])
    assert st == 200 and body["data"] == [], body
    # every tenant, filtered by action
    st, _, body = op("GET", "/audit?action=tenant.update&limit=100")
    assert st == 200 and all(r["action"] == "tenant.update" for r in body["data"]), body
    # keyset pages
    seen, cursor = [], None
    for _ in range(5):
        st, _, body = op("GET", "/audit?tenant=%s&action=tenant.update&limit=2%s"
                         % (t["slug"], "&cursor=" + cursor if cursor else ""))
        assert st == 200 and len(body["data"]) <= 2, body
        seen += [r["detail"]["name"][1] for r in body["data"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            assert cursor is None
            break
    assert seen == ["Three", "Two", "One"], seen
    # bad input
    assert_error(op("GET", "/audit?tenant=nosuch-" + rand_suffix()), 404, "not_found")
    assert_error(op("GET", "/audit?cursor=x"), 400, "invalid_cursor")
    assert_error(op("GET", "/audit?limit=1000"), 400, "invalid_request")
    assert_error(op("GET", "/audit?action=" + "a" * 65), 400, "invalid_request")
    assert_error(op("GET", "/audit?actor=" + "a" * 101), 400, "invalid_request")
    assert_error(api("GET", "/admin/api/v1/audit", key=t["key"]), 403, "tenant_key_not_allowed")


ROUTER_C = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "host",
                        "router.c")


def route_table():
    """(METHOD, pattern) of every route of router.c's table, {} for a parameter; the dashboard's
    pages and static files (DASHBOARD_ROUTES, from dashboard/pages.h) are not in it."""
    with open(ROUTER_C) as f:
        src = f.read()
    table = src[src.index("static const struct route routes[]"):src.index("#undef INF")]
    routes = set(re.findall(r'\{"(GET|POST|PUT|PATCH|DELETE)", "([^"]+)"', table))
    assert len(routes) > 50 and "DASHBOARD_ROUTES" in table, len(routes)
    return routes


@test
def openapi_document_matches_the_route_table():
    st, h, doc = api("GET", "/openapi.json")  # no credentials needed
    assert st == 200 and "application/json" in h["content-type"], (st, h)
    assert doc["openapi"].startswith("3.1"), doc.get("openapi")
    assert set(doc["components"]["securitySchemes"]) == {"apiKey", "operatorToken"}
    documented = set()
    for path, item in doc["paths"].items():
        norm = re.sub(r"\{[^}/]+\}", "{}", path)
        params = re.findall(r"\{([^}/]+)\}", path)
        for method, op in item.items():
            documented.add((method.upper(), norm))
            assert op["operationId"] and op["responses"], (method, path)
            declared = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
            assert declared == params, (method, path, declared)
            if norm.startswith("/admin/api/v1/"):
                assert op["security"] == [{"operatorToken": []}], (method, path)
            elif norm.startswith("/v1/"):
                assert op["security"] == [{"apiKey": []}], (method, path)
    table = route_table()
    missing = sorted(table - documented)
    extra = sorted(documented - table)
    assert not missing, "routes missing from docs/openapi.json: %s" % missing
    assert not extra, "docs/openapi.json documents what the program does not route: %s" % extra
    # the file of the tree is what is served
    with open(os.path.join(os.path.dirname(ROUTER_C), "..", "..", "docs", "openapi.json")) as f:
        assert json.load(f) == doc
    # under the mount prefix too, like every route
    if BASE_NGINX:
        st, _, doc2 = api("GET", "/openapi.json", base=BASE_NGINX)
        assert st == 200 and doc2 == doc, st
    # a route the document names answers (not 404) and one it does not name is 404
    assert api("GET", "/admin/api/v1/plans", headers=OP)[0] == 200
    assert_error(api("GET", "/admin/api/v1/nothing-here", headers=OP), 404, "not_found")


if __name__ == "__main__":
    run()
