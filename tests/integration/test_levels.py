"""Budget levels inside a tenant (issue 16 A): the key's own level.

A key may carry budgets (USD and tokens, day and month, hard or soft) and a
model allowlist of its own, stored under the tenant limits' names at the key
scope. A call must fit the tenant's limits AND its key's; the key's counters
are rows of budget_counters (scope key, windows day/month) admitted by the same
leases and reservations as the tenant's, so the hard-limit proof carries over
(docs/ENFORCEMENT.md section 3.9).

  (1) 8 processes, a key budget worth ~80 calls, 1,000 calls on that key and 200
      on another key of the tenant at once: the first key never goes over, its
      refusals are key_budget_exceeded only, the last of its budget is admitted
      exactly; the other key is served throughout;
  (2) a key's allowed_models narrows the tenant's (key_model_not_allowed), never
      widens it (model_not_allowed);
  (3) the CLI, /v1/limits, /v1/budget and the operator API show and set the level,
      each value with its source; bad input is refused with a clear message;
  (4) a soft key budget admits with X-Budget-Warning and audits the crossing once.
"""
import os
import secrets
import threading
import time

import harness
import fcgi_client as fc
from harness import test, run, api, ctl, wait_until
from apihelp import new_tenant, db_exec, chat_body, err_code

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
WORDS = 200


# Calls still running after promote_after_ms become reservations of their own (3.3); on a
# loaded machine that can be most of them, so they are not promoted here: the reservations
# counted below are then the calls admitted one by one.
LOAD_CONF = [("threads", "16"), ("mock_latency_ms", "15"), ("promote_after_ms", "600000")]


def body(i, words=WORDS):
    return chat_body("[mock:words=%d] n%04d" % (words, i), max_tokens=words)


OP = None


def op_token():
    global OP
    if OP is None:
        OP = os.environ.get("AGENTHOST_OPERATOR_TOKEN") or ctl(
            "operator-token", "create", "--name", "lv-" + secrets.token_hex(4))["token"]
    return OP


def second_key(t):
    k = ctl("key", "create", "--tenant", t["slug"], "--name", "other")
    return {"key": k["key"], "key_id": k["id"]}


def key_cost(t, key_id, status="succeeded"):
    rows = db_exec("SELECT COALESCE(SUM(cost_micros),0), COUNT(*) FROM executions WHERE "
                   "tenant_id=%d AND key_id=%d AND status='%s'" % (t["id"], key_id, status),
                   tenant=t)
    return int(rows[0][0]), int(rows[0][1])


def key_all_cost(t, key_id):
    return int(db_exec("SELECT COALESCE(SUM(cost_micros),0) FROM executions WHERE "
                       "tenant_id=%d AND key_id=%d" % (t["id"], key_id), tenant=t)[0][0])


def key_day_counter(key_id):
    rows = db_exec("SELECT spent_micros, reserved_micros, leased_micros FROM budget_counters "
                   "WHERE scope='key' AND scope_id=%d AND win='day'" % key_id)
    return tuple(int(x) for x in rows[0]) if rows else (0, 0, 0)


def key_leases(key_id):
    return db_exec("SELECT owner_id FROM leases WHERE scope='key' AND scope_id=%d AND "
                   "(granted_micros > 0 OR granted_tokens > 0)" % key_id)


def key_settled(t, key_id):
    def ok():
        s, r, l = key_day_counter(key_id)
        return s == key_all_cost(t, key_id) and r == 0 and l == 0 and not key_leases(key_id)
    return wait_until(ok, timeout=15, interval=0.25)


def reservations_of_key(key_id):
    return int(db_exec("SELECT COUNT(*) FROM reservations WHERE key_id=%d" % key_id)[0][0])


# ---------------------------------------------------------------- (1) exact under load


def n_tenant_limits(t):
    """How many limits the tenant's own view has (agenthostctl limits show --tenant)."""
    return len(ctl("limits", "show", "--tenant", t["slug"])["limits"])

@test
def key_budget_exact_across_8_processes_other_key_served():
    t = new_tenant("lvkey")
    # the tenant's own limits out of the way: only the key level can refuse
    for k, v in (("rpm", 0), ("tpm", 0), ("concurrency", 0), ("budget_usd_daily", 0),
                 ("budget_usd_monthly", 0)):
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))
    other = second_key(t)
    st, _, b = api("POST", "/v1/chat/completions", body(9999), key=t["key"])
    assert st == 200, (st, b)
    prompt_bound = len("[mock:words=%d] n9999" % WORDS) + 8 + 16
    reserve = prompt_bound * 1 + WORDS * 2
    actual = b["usage"]["prompt_tokens"] * 1 + b["usage"]["completion_tokens"] * 2
    limit = 80 * actual + actual   # the tail is the last 32 worst cases: 45 above it
    out = ctl("limits", "set", "--tenant", t["slug"], "--key", t["key_id"], "budget_usd_daily",
              "%.6f" % (limit / 1e6))
    assert out["scope"] == "key" and out["scope_id"] == t["key_id"], out
    insts = []
    socks = []
    try:
        for _ in range(2):
            h, s = fc.start_instance(BIN, harness.CONF,
                                     LOAD_CONF, procs=4)
            insts.append(h)
            socks.append(s)
        keys = [t["key"]] * 5 + [other["key"]]   # 1,000 on the key, 200 on the other
        results = storm_keys(socks, keys, 1200)
    finally:
        for h in insts:
            fc.stop(h)
    mine = [r for r in results if r[0] == t["key"]]
    theirs = [r for r in results if r[0] == other["key"]]
    served = sum(1 for _, st, _ in mine if st == 200)
    refused = {rc for _, st, rc in mine if st != 200}
    assert refused == {"key_budget_exceeded"}, refused
    assert all(st == 200 for _, st, _ in theirs), \
        {rc for _, st, rc in theirs if st != 200}
    assert len(theirs) == 200 and served >= 1, (len(theirs), served)
    # the key's counter was leased for the bulk and admitted one by one at the tail
    assert reservations_of_key(t["key_id"]) >= 1, "no call was admitted one by one"
    assert reservations_of_key(t["key_id"]) < served, "no call went on a lease"
    assert key_settled(t, t["key_id"]), (key_day_counter(t["key_id"]), key_leases(t["key_id"]))
    total, count = key_cost(t, t["key_id"])
    assert total <= limit, "the key's settled spend %d is over its limit %d" % (total, limit)
    assert count == served + 1, (count, served)
    # the last of the key's budget: one at a time until refused; nothing that fits is left
    more = 0
    while True:
        st, _, b = api("POST", "/v1/chat/completions", body(5000 + more), key=t["key"])
        if st != 200:
            assert err_code(b) == "key_budget_exceeded", b
            assert "API key" in b["error"]["message"], b
            break
        more += 1
        assert more < 60, "the key's budget never ran out"
    assert wait_until(lambda: key_day_counter(t["key_id"])[0] == key_all_cost(t, t["key_id"]),
                      timeout=5)
    total, _ = key_cost(t, t["key_id"])
    assert total <= limit, (total, limit)
    assert limit - total < reserve, "refused while %d of %d was left (a call needs %d)" \
        % (limit - total, limit, reserve)
    # the other key of the tenant is still served, and so is the first once its budget grows
    st, _, b = api("POST", "/v1/chat/completions", body(7000), key=other["key"])
    assert st == 200, (st, b)
    ctl("limits", "unset", "--tenant", t["slug"], "--key", t["key_id"], "budget_usd_daily")
    st, _, b = api("POST", "/v1/chat/completions", body(7001), key=t["key"])
    assert st == 200, (st, b)


def storm_keys(socks, keys, n):
    """n requests at once, request i with keys[i % len(keys)]: [(key, status, reason)]."""
    results, lock, go = [], threading.Lock(), threading.Event()

    def one(i):
        go.wait()
        k = keys[i % len(keys)]
        try:
            st, _, r = fc.request(socks[i % len(socks)], "POST", "/v1/chat/completions",
                                  body(i), key=k, timeout=120)
        except Exception as e:
            st, r = 0, {"error": {"reason_code": "client: %s" % e}}
        with lock:
            results.append((k, st, None if st == 200 else r["error"]["reason_code"]))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in ts:
        th.start()
    go.set()
    for th in ts:
        th.join()
    return results


@test
def key_token_budget_stops_that_key_only():
    t = new_tenant("lvtok")
    ctl("limits", "set", "--tenant", t["slug"], "budget_usd_daily", "0")
    other = second_key(t)
    ctl("limits", "set", "--tenant", t["slug"], "--key", t["key_id"], "budget_tokens_monthly",
        "600")
    served = 0
    for i in range(20):
        st, _, b = api("POST", "/v1/chat/completions", body(i, words=50), key=t["key"])
        if st != 200:
            assert err_code(b) == "key_budget_exceeded" and "token budget" in \
                b["error"]["message"], b
            break
        served += 1
    assert 1 <= served < 20, served
    st, _, b = api("POST", "/v1/chat/completions", body(99, words=50), key=other["key"])
    assert st == 200, (st, b)
    rows = db_exec("SELECT spent_tokens + reserved_tokens + leased_tokens FROM budget_counters"
                   " WHERE scope='key' AND scope_id=%d AND win='month'" % t["key_id"])
    assert rows and int(rows[0][0]) <= 600, rows


# ---------------------------------------------------------------- (2) models

@test
def key_model_list_narrows_the_tenants():
    t = new_tenant("lvmod")
    other = second_key(t)
    ctl("limits", "set", "--tenant", t["slug"], "--key", t["key_id"], "allowed_models",
        "mock-fast")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi"), key=t["key"])
    assert st == 403 and err_code(b) == "key_model_not_allowed", (st, b)
    assert "mock-fast" in b["error"]["message"], b
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi", model="mock-fast"),
                   key=t["key"])
    assert st == 200, (st, b)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi"), key=other["key"])
    assert st == 200, (st, b)
    # the tenant's list still binds the key: a key cannot widen it
    ctl("limits", "set", "--tenant", t["slug"], "allowed_models", "mock-1")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi", model="mock-fast"),
                   key=t["key"])
    assert st == 403 and err_code(b) == "model_not_allowed", (st, b)


# ---------------------------------------------------------------- (3) shown and set

@test
def level_shown_with_sources_in_cli_api_and_budget():
    t = new_tenant("lvshow")
    s, k = t["slug"], t["key_id"]
    ctl("limits", "set", "--tenant", s, "--key", k, "budget_usd_daily", "1.25")
    ctl("limits", "set", "--tenant", s, "--key", k, "budget_enforcement", "soft")
    # key_* limits still replace the tenant's value; tenant-only limits stay refused
    err = ctl("limits", "set", "--tenant", s, "--key", k, "rpm", "5", check=False)
    assert err[0] == 2 and "cannot be set at the key scope" in err[2], err
    err = ctl("limits", "set", "--tenant", s, "--key", k, "budget_usd_daily", "x", check=False)
    assert err[0] == 2 and "budget_usd_daily" in err[2], err
    out = ctl("limits", "show", "--tenant", s, "--key", k)
    assert out["key_level"]["budget_usd_daily"] == {"value": "1.25", "source": "key"}, out
    assert out["key_level"]["budget_enforcement"] == {"value": "soft", "source": "key"}, out
    assert out["key_level"]["allowed_models"] == {"value": "", "source": "default"}, out
    # the tenant's own value is not replaced by the key's
    assert out["limits"]["budget_usd_daily"]["source"] == "plan", out["limits"]
    st, _, b = api("GET", "/v1/limits", key=t["key"])
    # the key's level is beside the tenant's limits, not among them
    assert st == 200 and len(b["limits"]) == n_tenant_limits(t), b
    assert b["key_level"]["budget_usd_daily"] == {"value": "1.25", "source": "key"}, b
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi"), key=t["key"])
    assert st == 200, (st, b)
    st, _, b = api("GET", "/v1/budget", key=t["key"])
    assert st == 200, b
    day = b["budgets"]["day"]
    assert day["usd"]["source"] == "plan" and day["usd"]["limit"] == "5.000000", day
    kd = day["key"]
    assert kd["key_id"] == k and kd["usd"]["source"] == "key", kd
    assert kd["usd"]["limit"] == "1.250000" and kd["usd"]["enforcement"] == "soft", kd
    assert kd["usd"]["spent"] != "0.000000" or kd["usd"]["leased"] != "0.000000", kd
    assert b["budgets"]["month"]["key"]["usd"]["limit"] is None, b["budgets"]["month"]


@test
def operator_api_sets_and_unsets_a_keys_level():
    t = new_tenant("lvop")
    u = new_tenant("lvop")
    tok = op_token()
    path = "/admin/api/v1/tenants/%s/limits" % t["slug"]
    st, _, b = api("POST", path, {"name": "budget_usd_monthly", "value": "3",
                                  "key_id": t["key_id"]}, key=tok)
    assert st == 200 and b["key_id"] == t["key_id"], (st, b)
    assert b["key_level"]["budget_usd_monthly"] == {"value": "3", "source": "key"}, b
    assert b["limits"]["budget_usd_monthly"]["source"] != "key", b["limits"]
    st, _, b = api("GET", path + "?key_id=%d" % t["key_id"], key=tok)
    assert b["key_level"]["budget_usd_monthly"]["value"] == "3", b
    # tenant scope, and the key_* limits at a key, go through the same call
    st, _, b = api("POST", path, {"name": "key_rpm", "value": "7", "key_id": t["key_id"]},
                   key=tok)
    assert st == 200 and b["limits"]["key_rpm"] == {"value": "7", "source": "key"}, b
    st, _, b = api("POST", path, {"name": "rpm", "value": "70"}, key=tok)
    assert st == 200 and b["limits"]["rpm"] == {"value": "70", "source": "tenant"}, b
    # bad input: each with a clear 400/404
    for req, status, code, words in (
            ({"name": "rpm", "value": "5", "key_id": t["key_id"]}, 400, "invalid_request",
             "cannot be set at the key scope"),
            ({"name": "budget_usd_daily", "value": "-1", "key_id": t["key_id"]}, 400,
             "invalid_request", "budget_usd_daily"),
            ({"name": "no_such_limit", "value": "1"}, 400, "invalid_request", "name"),
            ({"name": "rpm", "value": 5}, 400, "invalid_request", "value"),
            ({"name": "rpm", "value": "5", "key_id": "x"}, 400, "invalid_request", "key_id"),
            ({"name": "budget_usd_daily", "value": "1", "key_id": u["key_id"]}, 404,
             "not_found", "key")):
        st, _, b = api("POST", path, req, key=tok)
        assert st == status and err_code(b) == code and words in b["error"]["message"], \
            (req, st, b)
    st, _, b = api("POST", path, {"name": "rpm", "value": "5"}, key=t["key"])
    assert st == 403 and err_code(b) == "tenant_key_not_allowed", (st, b)
    # unset: null
    st, _, b = api("POST", path, {"name": "budget_usd_monthly", "value": None,
                                  "key_id": t["key_id"]}, key=tok)
    assert st == 200 and b["key_level"]["budget_usd_monthly"] == \
        {"value": "", "source": "default"}, b
    rows = db_exec("SELECT action, target FROM audit_log WHERE tenant_id=%d AND action LIKE "
                   "'limit.%%' ORDER BY id" % t["id"])
    assert ["limit.set", "limit:key:%d:budget_usd_monthly" % t["key_id"]] in rows, rows
    assert ["limit.unset", "limit:key:%d:budget_usd_monthly" % t["key_id"]] in rows, rows


# ---------------------------------------------------------------- (4) soft

@test
def soft_key_budget_warns_and_audits_once():
    t = new_tenant("lvsoft")
    s, k = t["slug"], t["key_id"]
    ctl("limits", "set", "--tenant", s, "--key", k, "budget_usd_daily", "0.000500")
    ctl("limits", "set", "--tenant", s, "--key", k, "budget_enforcement", "soft")
    warned = 0
    for i in range(6):
        st, h, b = api("POST", "/v1/chat/completions", body(i, words=100), key=t["key"])
        assert st == 200, (st, b)
        if "x-budget-warning" in h:
            assert "API key" in h["x-budget-warning"], h
            warned += 1
    assert warned >= 3, warned
    rows = db_exec("SELECT reason_code, target FROM audit_log WHERE tenant_id=%d AND "
                   "action='budget.soft_exceeded'" % t["id"])
    assert rows == [["key_budget_exceeded", "budget:key:%d:daily" % k]], rows


# ---------------------------------------------------------------- (6) projects

def project_counter(pid, win="day"):
    rows = db_exec("SELECT spent_micros, reserved_micros, leased_micros FROM budget_counters "
                   "WHERE scope='project' AND scope_id=%d AND win='%s'" % (pid, win))
    return tuple(int(x) for x in rows[0]) if rows else (0, 0, 0)


def keys_cost(t, key_ids, status=None):
    rows = db_exec("SELECT COALESCE(SUM(cost_micros),0), COUNT(*) FROM executions WHERE "
                   "tenant_id=%d AND key_id IN (%s)%s" % (
                       t["id"], ",".join(str(k) for k in key_ids),
                       " AND status='%s'" % status if status else ""), tenant=t)
    return int(rows[0][0]), int(rows[0][1])


@test
def project_budget_exact_across_8_processes_stops_its_keys_only():
    t = new_tenant("lvproj")
    for k, v in (("rpm", 0), ("tpm", 0), ("concurrency", 0), ("budget_usd_daily", 0),
                 ("budget_usd_monthly", 0)):
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))
    b_key, outside = second_key(t), second_key(t)
    p = ctl("project", "create", "--tenant", t["slug"], "research")
    assert p["name"] == "research" and p["keys"] == 0, p
    for kid in (t["key_id"], b_key["key_id"]):
        out = ctl("project", "add-key", "--tenant", t["slug"], "--key", kid, "research")
        assert out["project_id"] == p["id"], out
    assert [x["keys"] for x in ctl("project", "list", "--tenant", t["slug"])] == [2]
    st, _, b = api("POST", "/v1/chat/completions", body(9999), key=t["key"])
    assert st == 200, (st, b)
    prompt_bound = len("[mock:words=%d] n9999" % WORDS) + 8 + 16
    reserve = prompt_bound * 1 + WORDS * 2
    actual = b["usage"]["prompt_tokens"] * 1 + b["usage"]["completion_tokens"] * 2
    limit = 80 * actual + actual   # the tail is the last 32 worst cases: 45 above it
    out = ctl("limits", "set", "--tenant", t["slug"], "--project", "research",
              "budget_usd_daily", "%.6f" % (limit / 1e6))
    assert out["scope"] == "project" and out["scope_id"] == p["id"], out
    insts, socks = [], []
    try:
        for _ in range(2):
            h, s = fc.start_instance(BIN, harness.CONF,
                                     LOAD_CONF, procs=4)
            insts.append(h)
            socks.append(s)
        keys = [t["key"], b_key["key"]] * 3 + [outside["key"]]
        results = storm_keys(socks, keys, 1050)
    finally:
        for h in insts:
            fc.stop(h)
    inside = [r for r in results if r[0] != outside["key"]]
    theirs = [r for r in results if r[0] == outside["key"]]
    served = sum(1 for _, st, _ in inside if st == 200)
    refused = {rc for _, st, rc in inside if st != 200}
    assert refused == {"project_budget_exceeded"}, refused
    assert len(theirs) == 150 and all(st == 200 for _, st, _ in theirs), \
        {rc for _, st, rc in theirs if st != 200}
    both = (t["key_id"], b_key["key_id"])
    assert wait_until(lambda: project_counter(p["id"])[1:] == (0, 0) and
                      project_counter(p["id"])[0] == keys_cost(t, both)[0], timeout=15), \
        (project_counter(p["id"]), keys_cost(t, both))
    total, count = keys_cost(t, both, "succeeded")
    assert total <= limit, "the project's settled spend %d is over its limit %d" % (total, limit)
    assert count == served + 1, (count, served)
    more = 0
    while True:
        st, _, b = api("POST", "/v1/chat/completions", body(5000 + more),
                       key=(t["key"], b_key["key"])[more % 2])
        if st != 200:
            assert err_code(b) == "project_budget_exceeded", b
            assert "project" in b["error"]["message"], b
            break
        more += 1
        assert more < 60, "the project's budget never ran out"
    assert wait_until(lambda: project_counter(p["id"])[0] == keys_cost(t, both)[0], timeout=5)
    total, _ = keys_cost(t, both, "succeeded")
    assert total <= limit and limit - total < reserve, (total, limit, reserve)
    # the key outside the project is still served; a key taken out of it is served again
    st, _, b = api("POST", "/v1/chat/completions", body(7000), key=outside["key"])
    assert st == 200, (st, b)
    ctl("project", "remove-key", "--tenant", t["slug"], "--key", b_key["key_id"])
    assert wait_until(lambda: api("POST", "/v1/chat/completions", body(7001),
                                  key=b_key["key"])[0] == 200, timeout=3)
    st, _, b = api("POST", "/v1/chat/completions", body(7002), key=t["key"])
    assert st == 429 and err_code(b) == "project_budget_exceeded", (st, b)


@test
def project_models_and_levels_shown_and_bad_input_refused():
    t = new_tenant("lvpm")
    s = t["slug"]
    p = ctl("project", "create", "--tenant", s, "team-a")
    ctl("project", "add-key", "--tenant", s, "--key", t["key_id"], "team-a")
    ctl("limits", "set", "--tenant", s, "--project", "team-a", "allowed_models", "mock-fast")
    ctl("limits", "set", "--tenant", s, "--project", "team-a", "budget_usd_monthly", "2")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi"), key=t["key"])
    assert st == 403 and err_code(b) == "project_model_not_allowed", (st, b)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi", model="mock-fast"),
                   key=t["key"])
    assert st == 200, (st, b)
    st, _, b = api("GET", "/v1/limits", key=t["key"])
    assert b["project_id"] == p["id"] and len(b["limits"]) == n_tenant_limits(t), b
    assert b["project_level"]["allowed_models"] == {"value": "mock-fast", "source": "project"}
    st, _, b = api("GET", "/v1/budget", key=t["key"])
    pm = b["budgets"]["month"]["project"]
    assert pm["project_id"] == p["id"] and pm["usd"]["limit"] == "2.000000", pm
    assert pm["usd"]["source"] == "project", pm
    out = ctl("limits", "show", "--tenant", s, "--project", "team-a")
    assert out["project_level"]["budget_usd_monthly"] == {"value": "2", "source": "project"}
    out = ctl("limits", "show", "--tenant", s, "--key", t["key_id"])
    assert out["project_id"] == p["id"], out
    # bad input
    for args, status, words in (
            (("project", "create", "--tenant", s, "team-a"), 1, "already has"),
            (("project", "create", "--tenant", s, "bad name!"), 2, "project name"),
            (("project", "add-key", "--tenant", s, "--key", t["key_id"], "nope"), 1,
             "no project"),
            (("limits", "set", "--tenant", s, "--project", "team-a", "max_tokens", "5"), 2,
             "cannot be set at the project scope"),
            (("limits", "set", "--tenant", s, "--project", "team-a", "--key", t["key_id"],
              "budget_usd_daily", "5"), 2, "not both"),
            (("limits", "set", "--project", "team-a", "budget_usd_daily", "5"), 2,
             "exactly one")):
        rc, _, err = ctl(*args, check=False)
        assert rc == status and words in err, (args, rc, err)
    # deleting the project frees its key and drops its limits
    ctl("project", "delete", "--tenant", s, "team-a")
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope='project' AND scope_id=%d"
                   % p["id"]) == [["0"]]
    assert wait_until(lambda: api("POST", "/v1/chat/completions", chat_body("hi"),
                                  key=t["key"])[0] == 200, timeout=3)


@test
def project_rates_and_concurrency_stop_its_keys_only():
    if time.time() % 60 > 45:  # one minute window for the whole test
        time.sleep(61 - time.time() % 60)
    t = new_tenant("lvpr")
    s = t["slug"]
    ctl("limits", "set", "--tenant", s, "rpm", "0")
    b_key, outside = second_key(t), second_key(t)
    ctl("project", "create", "--tenant", s, "api")
    for kid in (t["key_id"], b_key["key_id"]):
        ctl("project", "add-key", "--tenant", s, "--key", kid, "api")
    ctl("limits", "set", "--tenant", s, "--project", "api", "rpm", "3")
    # a key's rates stay key_rpm: rpm at a key is still refused
    rc, _, err = ctl("limits", "set", "--tenant", s, "--key", t["key_id"], "rpm", "3",
                     check=False)
    assert rc == 2 and "cannot be set at the key scope" in err, err
    for i, k in enumerate((t["key"], b_key["key"], t["key"])):
        st, _, b = api("POST", "/v1/chat/completions", body(i, words=4), key=k)
        assert st == 200, (i, st, b)
    st, h, b = api("POST", "/v1/chat/completions", body(9, words=4), key=b_key["key"])
    assert st == 429 and err_code(b) == "project_rpm_exceeded", (st, b)
    assert "project" in b["error"]["message"] and "retry-after" in h, (b, h)
    st, _, b = api("POST", "/v1/chat/completions", body(10, words=4), key=outside["key"])
    assert st == 200, (st, b)
    st, _, b = api("GET", "/v1/budget", key=t["key"])
    pr = b["rate_limits"]["project"]["rpm"]
    assert pr["limit"] == 3 and pr["source"] == "project" and pr["used"] >= 3, pr
    st, _, b = api("GET", "/v1/limits", key=t["key"])
    assert b["project_level"]["rpm"] == {"value": "3", "source": "project"}, b
    assert "rpm" not in b["key_level"], b["key_level"]
    # concurrency: the project's slot is held by a slow call of one key; the other waits
    ctl("limits", "unset", "--tenant", s, "--project", "api", "rpm")
    ctl("limits", "set", "--tenant", s, "--project", "api", "concurrency", "1")
    slow = threading.Thread(target=api, args=("POST", "/v1/chat/completions",
                                              body(20, words=4) | {"messages": [
                                                  {"role": "user", "content":
                                                   "[mock:latency=2500] slow"}]}),
                            kwargs={"key": t["key"]})
    slow.start()
    time.sleep(0.8)
    st, _, b = api("POST", "/v1/chat/completions", body(21, words=4), key=b_key["key"])
    assert st == 429 and err_code(b) == "project_concurrency_exceeded", (st, b)
    st, _, b = api("POST", "/v1/chat/completions", body(22, words=4), key=outside["key"])
    assert st == 200, (st, b)
    slow.join()
    assert wait_until(lambda: api("POST", "/v1/chat/completions", body(23, words=4),
                                  key=b_key["key"])[0] == 200, timeout=5)


@test
def operator_api_manages_projects_their_keys_and_limits():
    t = new_tenant("lvopp")
    u = new_tenant("lvopp")
    tok = op_token()
    base = "/admin/api/v1/tenants/%s" % t["slug"]
    st, _, p = api("POST", base + "/projects", {"name": "ml-team"}, key=tok)
    assert st == 201 and p["name"] == "ml-team" and p["keys"] == 0, (st, p)
    st, _, b = api("POST", base + "/projects", {"name": "ml-team"}, key=tok)
    assert st == 409 and err_code(b) == "conflict", (st, b)
    st, _, b = api("POST", base + "/projects", {"name": "no spaces"}, key=tok)
    assert st == 400 and err_code(b) == "invalid_request" and "name" in \
        b["error"]["message"], (st, b)
    st, _, b = api("POST", base + "/keys/%d/project" % t["key_id"], {"project": "ml-team"},
                   key=tok)
    assert st == 200 and b["project_id"] == p["id"], (st, b)
    st, _, b = api("POST", base + "/keys/%d/project" % u["key_id"], {"project": "ml-team"},
                   key=tok)
    assert st == 404 and err_code(b) == "not_found", (st, b)
    st, _, b = api("POST", base + "/keys/%d/project" % t["key_id"], {"project": "other"},
                   key=tok)
    assert st == 404 and "project" in b["error"]["message"], (st, b)
    st, _, b = api("POST", base + "/keys/%d/project" % t["key_id"], {"project": 3}, key=tok)
    assert st == 400, (st, b)
    st, _, b = api("POST", base + "/limits", {"name": "budget_tokens_daily", "value": "900",
                                              "project": "ml-team"}, key=tok)
    assert st == 200 and b["project_id"] == p["id"], (st, b)
    assert b["project_level"]["budget_tokens_daily"] == {"value": "900", "source": "project"}
    st, _, b = api("POST", base + "/limits", {"name": "max_tokens", "value": "9",
                                              "project": "ml-team"}, key=tok)
    assert st == 400 and "project scope" in b["error"]["message"], (st, b)
    st, _, b = api("POST", base + "/limits", {"name": "tpm", "value": "900",
                                              "project": "ml-team"}, key=tok)
    assert st == 200 and b["project_level"]["tpm"] == {"value": "900", "source": "project"}, b
    st, _, b = api("POST", base + "/limits", {"name": "rpm", "value": "9", "key_id":
                                              t["key_id"], "project": "ml-team"}, key=tok)
    assert st == 400 and "project" in b["error"]["message"], (st, b)
    st, _, lst = api("GET", base + "/projects", key=tok)
    assert st == 200 and [(x["name"], x["keys"]) for x in lst["data"]] == [("ml-team", 1)], lst
    st, _, b = api("GET", "/v1/limits", key=t["key"])
    assert b["project_level"]["budget_tokens_daily"]["value"] == "900", b
    st, _, b = api("POST", base + "/keys/%d/project" % t["key_id"], {"project": None}, key=tok)
    assert st == 200 and b["project_id"] is None, (st, b)
    st, _, b = api("POST", base + "/projects/ml-team/delete", key=tok)
    assert st == 200 and b["deleted"] is True, (st, b)
    st, _, b = api("POST", base + "/projects/ml-team/delete", key=tok)
    assert st == 404, (st, b)
    acts = [r[0] for r in db_exec("SELECT action FROM audit_log WHERE tenant_id=%d AND action "
                                  "LIKE 'project.%%' ORDER BY id" % t["id"])]
    assert acts == ["project.create", "project.add_key", "project.remove_key",
                    "project.delete"], acts


# ---------------------------------------------------------------- (7) tags

def tag_cost(t, value, status=None):
    rows = db_exec("SELECT COALESCE(SUM(cost_micros),0), COUNT(*) FROM executions WHERE "
                   "tenant_id=%d AND JSON_VALUE(metadata, '$.department') = '%s'%s"
                   % (t["id"], value, " AND status='%s'" % status if status else ""), tenant=t)
    return int(rows[0][0]), int(rows[0][1])


def tag_counter(tag_id):
    rows = db_exec("SELECT spent_micros, reserved_micros, leased_micros FROM budget_counters "
                   "WHERE scope='tag' AND scope_id=%d AND win='month'" % tag_id)
    return tuple(int(x) for x in rows[0]) if rows else (0, 0, 0)


def tagged(i, dept):
    b = body(i)
    if dept:
        b["metadata"] = {"department": dept, "run": "r%d" % i}
    return b


@test
def tag_budget_exact_across_8_processes_stops_only_that_tag():
    t = new_tenant("lvtag")
    for k, v in (("rpm", 0), ("tpm", 0), ("concurrency", 0), ("budget_usd_daily", 0),
                 ("budget_usd_monthly", 0)):
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))
    other = second_key(t)
    st, _, b = api("POST", "/v1/chat/completions", tagged(9999, "research"), key=t["key"])
    assert st == 200, (st, b)
    prompt_bound = len("[mock:words=%d] n9999" % WORDS) + 8 + 16
    reserve = prompt_bound * 1 + WORDS * 2
    actual = b["usage"]["prompt_tokens"] * 1 + b["usage"]["completion_tokens"] * 2
    limit = 80 * actual
    out = ctl("limits", "set", "--tenant", t["slug"], "--tag", "department=research",
              "budget_usd_monthly", "%.6f" % (limit / 1e6))
    assert out["scope"] == "tag", out
    tag_id = out["scope_id"]
    # the first call was made before the tag had a budget: not on its counter
    insts, socks = [], []
    results, lock, go = [], threading.Lock(), threading.Event()
    depts = ["research", "research", "research", "research", "sales", None]

    def one(i):
        go.wait()
        dept = depts[i % len(depts)]
        try:
            st, _, r = fc.request(socks[i % len(socks)], "POST", "/v1/chat/completions",
                                  tagged(i, dept), key=(t["key"], other["key"])[i % 2],
                                  timeout=120)
        except Exception as e:
            st, r = 0, {"error": {"reason_code": "client: %s" % e}}
        with lock:
            results.append((dept, st, None if st == 200 else r["error"]["reason_code"]))

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
    research = [r for r in results if r[0] == "research"]
    rest = [r for r in results if r[0] != "research"]
    served = sum(1 for _, st, _ in research if st == 200)
    assert {rc for _, st, rc in research if st != 200} == {"tag_budget_exceeded"}, \
        {rc for _, st, rc in research if st != 200}
    assert len(rest) == 400 and all(st == 200 for _, st, _ in rest), \
        {rc for _, st, rc in rest if st != 200}
    first = actual  # the measuring call, before the budget: in the rows, not the counter
    assert wait_until(lambda: tag_counter(tag_id)[1:] == (0, 0) and
                      tag_counter(tag_id)[0] == tag_cost(t, "research")[0] - first,
                      timeout=15), (tag_counter(tag_id), tag_cost(t, "research"))
    total = tag_cost(t, "research", "succeeded")[0] - first
    assert total <= limit, "the tag's settled spend %d is over its limit %d" % (total, limit)
    assert tag_cost(t, "research", "succeeded")[1] == served + 1
    more = 0
    while True:
        st, _, b = api("POST", "/v1/chat/completions", tagged(5000 + more, "research"),
                       key=t["key"])
        if st != 200:
            assert err_code(b) == "tag_budget_exceeded", b
            assert "department=research" in b["error"]["message"], b
            break
        more += 1
        assert more < 60, "the tag's budget never ran out"
    assert wait_until(lambda: tag_counter(tag_id)[0] == tag_cost(t, "research")[0] - first,
                      timeout=5)
    total = tag_cost(t, "research", "succeeded")[0] - first
    assert total <= limit and limit - total < reserve, (total, limit, reserve)
    # calls without the tag, or with another value, still pass
    for dept in ("sales", None):
        st, _, b = api("POST", "/v1/chat/completions", tagged(7000, dept), key=t["key"])
        assert st == 200, (dept, st, b)


@test
def tag_budgets_shown_set_and_refused_readably():
    t = new_tenant("lvtg")
    s = t["slug"]
    ctl("limits", "set", "--tenant", s, "--tag", "team=ml", "budget_tokens_daily", "200")
    ctl("limits", "set", "--tenant", s, "--tag", "team=ml", "budget_enforcement", "soft")
    out = ctl("limits", "show", "--tenant", s, "--tag", "team=ml")
    assert out["tag"] == "team=ml" and out["tag_level"]["budget_tokens_daily"] == \
        {"value": "200", "source": "tag"}, out
    st, _, b = api("GET", "/v1/limits", key=t["key"])
    assert [(g["tag"], g["budget_tokens_daily"], g["budget_enforcement"]) for g in b["tags"]] \
        == [("team=ml", "200", "soft")], b["tags"]
    # soft: admitted past it with a warning, audited once
    warned = 0
    for i in range(4):
        st, h, b = api("POST", "/v1/chat/completions",
                       dict(body(i, words=100), metadata={"team": "ml"}), key=t["key"])
        assert st == 200, (st, b)
        warned += "tag's" in h.get("x-budget-warning", "")
    assert warned >= 2, warned
    rows = db_exec("SELECT reason_code FROM audit_log WHERE tenant_id=%d AND "
                   "action='budget.soft_exceeded'" % t["id"])
    assert rows == [["tag_budget_exceeded"]], rows
    st, _, b = api("GET", "/v1/budget", key=t["key"])
    tg = b["budgets"]["day"]["tags"]
    assert [(g["tag"], g["tokens"]["limit"], g["tokens"]["source"], g["usd"]["source"],
             g["tokens"]["enforcement"]) for g in tg] == \
        [("team=ml", 200, "tag", "default", "soft")], tg
    assert tg[0]["tokens"]["spent"] > 200, tg
    for args, status, words in (
            (("limits", "set", "--tenant", s, "--tag", "team", "budget_usd_daily", "1"), 2,
             "KEY=VALUE"),
            (("limits", "set", "--tenant", s, "--tag", "te am=ml", "budget_usd_daily", "1"), 2,
             "tag"),
            (("limits", "set", "--tenant", s, "--tag", "team=ml", "allowed_models", "x"), 2,
             "tag scope"),
            (("limits", "show", "--tenant", s, "--tag", "team=nope"), 1, "no budget on tag")):
        rc, _, err = ctl(*args, check=False)
        assert rc == status and words in err, (args, rc, err)
    # a call may carry at most 3 tags with budgets
    for k in ("a", "b", "c", "d"):
        ctl("limits", "set", "--tenant", s, "--tag", "%s=1" % k, "budget_usd_monthly", "9")
    st, _, b = api("POST", "/v1/chat/completions",
                   dict(body(1, words=4), metadata={"a": "1", "b": "1", "c": "1"}), key=t["key"])
    assert st == 200, (st, b)
    st, _, b = api("POST", "/v1/chat/completions",
                   dict(body(2, words=4), metadata={"a": "1", "b": "1", "c": "1", "d": "1"}),
                   key=t["key"])
    assert st == 400 and err_code(b) == "invalid_request" and "3 tags" in \
        b["error"]["message"], (st, b)
    tok = op_token()
    st, _, b = api("POST", "/admin/api/v1/tenants/%s/limits" % s,
                   {"name": "budget_usd_monthly", "value": "7", "tag": "team=ops"}, key=tok)
    assert st == 200 and ("team=ops", "7") in [(g["tag"], g["budget_usd_monthly"])
                                                for g in b["tags"]], (st, b)
    st, _, b = api("POST", "/admin/api/v1/tenants/%s/limits" % s,
                   {"name": "budget_usd_monthly", "value": "7", "tag": "nokv"}, key=tok)
    assert st == 400 and err_code(b) == "invalid_request", (st, b)


# ---------------------------------------------------------------- (5) the dashboard

def signed_in(role="operator", tenant=None):
    from dashhelp import Dash, new_admin
    name, pw = new_admin(role, tenant, prefix="lv")
    d = Dash()
    d.login(name, pw)
    return d


@test
def tenant_admin_sets_a_keys_budget_models_and_rates_on_its_page():
    t = new_tenant("lvdash")
    other = second_key(t)
    ctl("limits", "set", "--tenant", t["slug"], "key_rpm", "100")
    d = signed_in("tenant_admin", t["slug"])
    base = "/admin/tenants/%d/keys" % t["id"]
    st, _, page = d.get(base)
    assert st == 200 and "%s/%d\"" % (base, t["key_id"]) in page, page[:500]
    st, _, page = d.get("%s/%d" % (base, t["key_id"]))
    assert st == 200 and 'name="budget_usd_daily"' in page and 'name="key_rpm"' in page, \
        page[:500]
    assert "no key limit" in page, page
    # bad input: nothing saved, the typed value comes back, the message says why
    st, _, page = d.post("%s/%d/limits" % (base, t["key_id"]),
                         {"budget_usd_daily": "lots", "allowed_models": "mock-fast"})
    assert st == 400 and "budget_usd_daily" in page and 'value="lots"' in page, (st, page)
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope='key' AND scope_id=%d"
                   % t["key_id"]) == [["0"]]
    # a tenant_admin may not give a key more rate than the tenant gives each key
    st, _, page = d.post("%s/%d/limits" % (base, t["key_id"]), {"key_rpm": "500"})
    assert st == 400 and "at most 100" in page, (st, page)
    st, h, _ = d.post("%s/%d/limits" % (base, t["key_id"]),
                      {"budget_usd_daily": "0.5", "budget_tokens_monthly": "100000",
                       "allowed_models": "mock-fast", "key_rpm": "50"})
    assert st == 303 and h["location"].endswith("/keys/%d?done=saved" % t["key_id"]), (st, h)
    out = ctl("limits", "show", "--tenant", t["slug"], "--key", t["key_id"])
    assert out["key_level"]["budget_usd_daily"] == {"value": "0.5", "source": "key"}, out
    assert out["key_level"]["allowed_models"] == {"value": "mock-fast", "source": "key"}, out
    kr = out["limits"]["key_rpm"]
    assert (kr["value"], kr["source"], kr["updated_by"].startswith("admin:")) == \
        ("50", "key", True), kr
    st, _, page = d.get("%s/%d?done=saved" % (base, t["key_id"]))
    assert "Key limits saved" in page and 'value="mock-fast"' in page, page
    rows = db_exec("SELECT action, target FROM audit_log WHERE tenant_id=%d AND action="
                   "'limit.set' ORDER BY id" % t["id"])
    assert ["limit.set", "limit:key:%d:allowed_models" % t["key_id"]] in rows, rows
    wait_until(lambda: api("POST", "/v1/chat/completions", chat_body("x"),
                           key=t["key"])[0] == 403, timeout=3)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x"), key=t["key"])
    assert st == 403 and err_code(b) == "key_model_not_allowed", b
    # emptied: the key's own value is removed
    st, _, _ = d.post("%s/%d/limits" % (base, t["key_id"]), {"allowed_models": ""})
    assert st == 303
    assert ctl("limits", "show", "--tenant", t["slug"], "--key", t["key_id"])[
        "key_level"]["allowed_models"]["source"] == "default"
    # another tenant's admin sees nothing of this key
    u = new_tenant("lvdash")
    d2 = signed_in("tenant_admin", u["slug"])
    st, _, _ = d2.get("%s/%d" % (base, t["key_id"]))
    assert st == 404, st
    st, _, _ = d2.get("/admin/tenants/%d/keys/%d" % (u["id"], other["key_id"]))
    assert st == 404, st


@test
def tenant_admin_manages_projects_on_the_dashboard():
    t = new_tenant("lvdp")
    other = second_key(t)
    d = signed_in("tenant_admin", t["slug"])
    base = "/admin/tenants/%d/projects" % t["id"]
    st, _, page = d.get(base)
    assert st == 200 and "no projects yet" in page, page[:400]
    st, _, page = d.post(base, {"name": "bad name!"})
    assert st == 400 and "Project name" in page and 'value="bad name!"' in page, (st, page)
    st, h, _ = d.post(base, {"name": "search"})
    assert st == 303, st
    path = h["location"][h["location"].index("/admin/"):]
    pid = int(path.rsplit("/", 1)[1])
    st, _, page = d.post(base, {"name": "search"})
    assert st == 400 and "already has a project" in page, (st, page)
    st, _, page = d.get(path)
    assert st == 200 and "No key is in this project yet" in page, page
    st, h, _ = d.post(path + "/keys", {"key_id": str(t["key_id"])})
    assert st == 303, st
    st, _, page = d.post(path + "/keys", {"key_id": "999999999"})
    assert st == 400 and "Choose one of the tenant" in page, (st, page)
    st, _, page = d.post(path + "/limits", {"budget_usd_daily": "x"})
    assert st == 400 and "budget_usd_daily" in page, (st, page)
    st, h, _ = d.post(path + "/limits", {"budget_usd_daily": "2", "allowed_models": "mock-fast"})
    assert st == 303 and "done=saved" in h["location"], (st, h)
    out = ctl("limits", "show", "--tenant", t["slug"], "--key", t["key_id"])
    assert out["project_id"] == pid, out
    assert out["project_level"]["allowed_models"] == {"value": "mock-fast", "source": "project"}
    st, _, page = d.get(path + "?done=saved")
    assert "Project saved" in page and "no project limit" in page and 'value="2"' in page, page
    assert wait_until(lambda: api("POST", "/v1/chat/completions", chat_body("x"),
                                  key=t["key"])[0] == 403, timeout=3)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x"), key=t["key"])
    assert err_code(b) == "project_model_not_allowed", b
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x"), key=other["key"])
    assert st == 200, (st, b)
    # the key's page names its project
    st, _, page = d.get("/admin/tenants/%d/keys/%d" % (t["id"], t["key_id"]))
    assert "search</a>" in page, page
    # remove, then delete (with the box ticked)
    st, _, _ = d.post(path + "/keys", {"key_id": str(t["key_id"]), "remove": "1"})
    assert st == 303
    st, _, page = d.post(path + "/keys", {"key_id": str(t["key_id"]), "remove": "1"})
    assert st == 400 and "not in this project" in page, (st, page)
    st, _, page = d.post(path + "/delete", {})
    assert st == 400 and "tick the box" in page, st
    st, h, _ = d.post(path + "/delete", {"confirm": "yes"})
    assert st == 303 and "done=deleted" in h["location"], (st, h)
    assert db_exec("SELECT COUNT(*) FROM projects WHERE id=%d" % pid) == [["0"]]
    acts = [r[0] for r in db_exec("SELECT action FROM audit_log WHERE tenant_id=%d AND action"
                                  " LIKE 'project.%%' ORDER BY id" % t["id"])]
    assert acts == ["project.create", "project.add_key", "project.remove_key",
                    "project.delete"], acts
    # another tenant's admin cannot see it
    u = new_tenant("lvdp")
    d2 = signed_in("tenant_admin", u["slug"])
    st, _, _ = d2.get(base)
    assert st == 404, st


@test
def tenant_admin_sets_tag_budgets_on_the_dashboard():
    t = new_tenant("lvdt")
    d = signed_in("tenant_admin", t["slug"])
    path = "/admin/tenants/%d/tags" % t["id"]
    st, _, page = d.get(path)
    assert st == 200 and "No tag has a budget yet" in page, page[:400]
    st, _, page = d.post(path, {"tag": "department", "budget_usd_daily": "1"})
    assert st == 400 and "KEY=VALUE" in page and 'value="department"' in page, (st, page)
    st, _, page = d.post(path, {"tag": "department=research", "budget_usd_daily": "lots"})
    assert st == 400 and "budget_usd_daily" in page and 'value="lots"' in page, (st, page)
    st, _, page = d.post(path, {"tag": "department=nothing"})
    assert st == 400 and "at least one budget" in page, (st, page)
    st, h, _ = d.post(path, {"tag": "department=research", "budget_usd_daily": "0.000300",
                             "budget_enforcement": "hard"})
    assert st == 303 and "done=saved" in h["location"], (st, h)
    st, _, page = d.get(path + "?done=saved")
    assert "department=research" in page and "Tag budgets saved" in page, page
    out = ctl("limits", "show", "--tenant", t["slug"], "--tag", "department=research")
    assert out["tag_level"]["budget_usd_daily"] == {"value": "0.0003", "source": "tag"}, out
    # enforced: the second call with the tag no longer fits, one without it does
    refused = None
    for i in range(4):
        st, _, b = api("POST", "/v1/chat/completions",
                       dict(body(i, words=100), metadata={"department": "research"}),
                       key=t["key"])
        if st != 200:
            refused = err_code(b)
            break
    assert refused == "tag_budget_exceeded", refused
    st, _, b = api("POST", "/v1/chat/completions", body(9, words=100), key=t["key"])
    assert st == 200, (st, b)
    # an empty field removes that budget
    st, _, _ = d.post(path, {"tag": "department=research", "budget_usd_daily": "",
                             "budget_enforcement": ""})
    assert st == 303
    out = ctl("limits", "show", "--tenant", t["slug"], "--tag", "department=research")
    assert out["tag_level"]["budget_usd_daily"]["source"] == "default", out
    d2 = signed_in("support")
    st, _, page = d2.get(path)
    assert st == 200 and 'name="tag"' not in page, st
    st, _, _ = d2.post(path, {"tag": "a=b", "budget_usd_daily": "1"})
    assert st == 403, st


@test
def support_reads_a_keys_page_but_cannot_change_it():
    t = new_tenant("lvdash")
    d = signed_in("support")
    path = "/admin/tenants/%d/keys/%d" % (t["id"], t["key_id"])
    st, _, page = d.get(path)
    assert st == 200 and "budget_usd_daily" in page and 'name="budget_usd_daily"' not in page
    st, _, _ = d.post(path + "/limits", {"budget_usd_daily": "1"})
    assert st == 403, st


if __name__ == "__main__":
    run()
