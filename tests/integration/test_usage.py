"""Usage and budget APIs (GET /v1/usage, GET /v1/budget) and the operator metering API.

Every test makes its own tenants (random slugs), so the sums it checks are
exactly the calls it made. Expected numbers come from the responses of the
calls themselves (usage and cost_usd of runs; usage of chat completions
priced at mock-1's list price, 1 and 2 micro-USD per prompt and completion
token), never from the database. Reports are in UTC days: a test that
straddles midnight UTC may see its calls split over two days, so totals are
checked over a range that covers yesterday and today.
"""
import datetime
import json
import os
from decimal import Decimal

import harness
from harness import test, run, api, sse, ctl, skip, assert_error, wait_until

OPERATOR_TOKEN = os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")
CACHE_BOUND_S = 2.5  # LIMITS_CACHE_MS plus slack for a loaded machine
# mock-1's prices in micro-USD per token (sql/002_seed.sql: per 1M tokens)
MOCK1_IN, MOCK1_OUT = 1, 2
MOCK_FAST_IN, MOCK_FAST_OUT = Decimal("0.1"), Decimal("0.2")


def micros(usd):
    """'0.000123' -> 123."""
    return int(Decimal(usd) * 1000000)


def utc_day(delta=0):
    return (datetime.datetime.now(datetime.timezone.utc).date()
            + datetime.timedelta(days=delta)).isoformat()


def new_tenant(prefix):
    """A fresh tenant with a key and an agent 'assistant' on mock-1."""
    t = harness.new_tenant(prefix)
    ctl("agent", "create", "--tenant", t["slug"], "--name", "assistant", "--model", "mock-1",
        "--instructions", "You are terse.")
    return t


class Tally:
    """What a test's calls used, as the responses reported it."""

    def __init__(self):
        self.requests = self.prompt = self.completion = self.cost = 0

    def add(self, prompt, completion, cost):
        self.requests += 1
        self.prompt += prompt
        self.completion += completion
        self.cost += cost

    def check(self, total, what):
        assert total["requests"] == self.requests, (what, total, vars(self))
        assert total["prompt_tokens"] == self.prompt, (what, total, vars(self))
        assert total["completion_tokens"] == self.completion, (what, total, vars(self))
        assert total["total_tokens"] == self.prompt + self.completion, (what, total)
        assert micros(total["cost_usd"]) == self.cost, (what, total, vars(self))


def do_run(key, tally, text="say something"):
    st, _, b = api("POST", "/v1/agents/assistant/runs", {"input": text}, key=key)
    assert st == 200 and b["status"] == "succeeded", (st, b)
    u = b["usage"]
    tally.add(u["prompt_tokens"], u["completion_tokens"], micros(b["cost_usd"]))
    return b


def chat_cost(model, prompt, completion):
    if model == "mock-1":
        return prompt * MOCK1_IN + completion * MOCK1_OUT
    # rounded up, never under-billed (exec_cost)
    c = prompt * MOCK_FAST_IN + completion * MOCK_FAST_OUT
    return int(c) + (1 if c != int(c) else 0)


def do_chat(key, tally, model="mock-1", text="hello there"):
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    st, _, b = api("POST", "/v1/chat/completions", body, key=key)
    assert st == 200, (st, b)
    u = b["usage"]
    tally.add(u["prompt_tokens"], u["completion_tokens"],
              chat_cost(model, u["prompt_tokens"], u["completion_tokens"]))
    return b


def do_stream(key, tally, text="stream to me"):
    body = {"model": "mock-1", "messages": [{"role": "user", "content": text}], "stream": True,
            "stream_options": {"include_usage": True}}
    usage = None
    for _, data in sse("/v1/chat/completions", body, key=key):
        if data == "[DONE]":
            continue
        obj = json.loads(data)
        assert "error" not in obj, obj
        if obj.get("usage"):
            usage = obj["usage"]
    assert usage, "stream without a usage chunk"
    tally.add(usage["prompt_tokens"], usage["completion_tokens"],
              chat_cost("mock-1", usage["prompt_tokens"], usage["completion_tokens"]))


def usage(key, **params):
    q = "&".join("%s=%s" % kv for kv in params.items())
    st, _, b = api("GET", "/v1/usage" + ("?" + q if q else ""), key=key)
    assert st == 200, (st, b)
    assert b["object"] == "usage", b
    return b


def summed(rows):
    out = {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0,
           "total_tokens": 0, "cost": 0}
    for r in rows:
        for k in ("requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens"):
            out[k] += r[k]
        out["cost"] += micros(r["cost_usd"])
    return out


def check_rows_sum_to_total(b):
    s = summed(b["data"])
    t = b["total"]
    for k in ("requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens"):
        assert s[k] == t[k], (k, b)
    assert s["cost"] == micros(t["cost_usd"]), b


# Shared by several tests: two tenants with known usage (made once, read many times).
_world = {}


def world():
    if _world:
        return _world
    a, b = new_tenant("usa"), new_tenant("usb")
    k2 = ctl("key", "create", "--tenant", a["slug"], "--name", "second")
    ta, ta_k1, ta_k2, ta_runs, ta_chat, tb = (Tally() for _ in range(6))
    for i in range(2):
        r = Tally()
        do_run(a["key"], r, "run number %d" % i)
        for tl in (ta, ta_k1, ta_runs):
            tl.add(r.prompt, r.completion, r.cost)
    for model in ("mock-1", "mock-fast"):
        c = Tally()
        do_chat(k2["key"], c, model=model, text="chat with %s" % model)
        for tl in (ta, ta_k2, ta_chat):
            tl.add(c.prompt, c.completion, c.cost)
    s = Tally()
    do_stream(a["key"], s)
    for tl in (ta, ta_k1, ta_chat):
        tl.add(s.prompt, s.completion, s.cost)
    do_run(b["key"], tb, "the other tenant")
    do_chat(b["key"], tb)
    _world.update(a=a, b=b, k2=k2, ta=ta, ta_k1=ta_k1, ta_k2=ta_k2, ta_runs=ta_runs,
                  ta_chat=ta_chat, tb=tb)
    return _world


def wide(key, **params):
    """The report over yesterday..today (calls near midnight UTC land on either day)."""
    return usage(key, start=utc_day(-1), end=utc_day(0), **params)


# ---------------------------------------------------------------- /v1/usage

@test
def usage_total_equals_the_calls():
    w = world()
    b = wide(w["a"]["key"])
    assert b["group_by"] == "day" and b["tenant_id"] == w["a"]["id"], b
    w["ta"].check(b["total"], "tenant a total")
    check_rows_sum_to_total(b)
    assert all(r["errors"] == 0 for r in b["data"]), b
    b = wide(w["b"]["key"])
    w["tb"].check(b["total"], "tenant b total")


@test
def usage_defaults_this_month_to_today():
    w = world()
    b = usage(w["a"]["key"])
    today = datetime.datetime.now(datetime.timezone.utc).date()
    assert b["start"] == today.replace(day=1).isoformat(), b
    assert b["end"] == today.isoformat(), b
    assert b["group_by"] == "day", b
    for r in b["data"]:
        assert b["start"] <= r["day"] <= b["end"], r
    check_rows_sum_to_total(b)


@test
def usage_group_by_day():
    w = world()
    b = wide(w["a"]["key"], group_by="day")
    days = [r["day"] for r in b["data"]]
    assert days == sorted(days) and len(set(days)) == len(days), days
    assert set(days) <= {utc_day(-1), utc_day(0)}, days
    b = usage(w["a"]["key"], start=utc_day(0), end=utc_day(0))
    assert len(b["data"]) <= 1, b


@test
def usage_group_by_model():
    w = world()
    b = wide(w["a"]["key"], group_by="model")
    rows = {r["model"]: r for r in b["data"]}
    assert set(rows) == {"mock-1", "mock-fast"}, b
    assert rows["mock-fast"]["requests"] == 1, rows
    assert rows["mock-1"]["requests"] == w["ta"].requests - 1, rows
    check_rows_sum_to_total(b)
    w["ta"].check(b["total"], "by model")


@test
def usage_group_by_agent():
    w = world()
    b = wide(w["a"]["key"], group_by="agent")
    named = [r for r in b["data"] if r["agent"] is not None]
    none = [r for r in b["data"] if r["agent"] is None]
    assert len(named) == 1 and named[0]["agent"] == "assistant", b
    assert isinstance(named[0]["agent_id"], int) and named[0]["agent_id"] > 0, named
    runs = w["ta_runs"]
    assert named[0]["requests"] == runs.requests, (named, vars(runs))
    assert named[0]["prompt_tokens"] == runs.prompt, (named, vars(runs))
    assert micros(named[0]["cost_usd"]) == runs.cost, (named, vars(runs))
    assert len(none) == 1 and none[0]["agent_id"] is None, b
    assert none[0]["requests"] == w["ta_chat"].requests, (none, vars(w["ta_chat"]))
    check_rows_sum_to_total(b)


@test
def usage_group_by_key():
    w = world()
    b = wide(w["a"]["key"], group_by="key")
    rows = {r["key_id"]: r for r in b["data"]}
    assert set(rows) == {w["a"]["key_id"], w["k2"]["id"]}, b
    assert rows[w["a"]["key_id"]]["key"] == w["a"]["prefix"], rows
    assert rows[w["k2"]["id"]]["key"] == w["k2"]["prefix"], rows
    for kid, tl in ((w["a"]["key_id"], w["ta_k1"]), (w["k2"]["id"], w["ta_k2"])):
        r = rows[kid]
        assert r["requests"] == tl.requests and r["completion_tokens"] == tl.completion, \
            (r, vars(tl))
        assert micros(r["cost_usd"]) == tl.cost, (r, vars(tl))
    for r in b["data"]:
        assert w["a"]["key"] not in json.dumps(r), "a key secret in the report"


@test
def usage_never_shows_another_tenant():
    w = world()
    a, b = w["a"], w["b"]
    for g in ("day", "model", "agent", "key"):
        rb = wide(b["key"], group_by=g)
        w["tb"].check(rb["total"], "tenant b by " + g)
        if g == "key":
            assert {r["key_id"] for r in rb["data"]} == {b["key_id"]}, rb
        if g == "agent":
            ids = {r["agent_id"] for r in rb["data"] if r["agent_id"]}
            ra = wide(a["key"], group_by="agent")
            assert not ids & {r["agent_id"] for r in ra["data"] if r["agent_id"]}, (ra, rb)
    # The tenant comes from the key: an X-Tenant-ID naming another tenant is refused.
    st, _, body = api("GET", "/v1/usage", key=a["key"], headers={"X-Tenant-ID": b["slug"]})
    assert st == 403, (st, body)


@test
def usage_empty_range_is_zero():
    w = world()
    b = usage(w["a"]["key"], start="2001-01-01", end="2001-01-31", group_by="model")
    assert b["data"] == [], b
    t = b["total"]
    assert t["requests"] == 0 and t["total_tokens"] == 0 and t["cost_usd"] == "0.000000", t


@test
def usage_bad_parameters_are_400():
    w = world()
    key = w["a"]["key"]
    cases = [
        ("start=2026-13-01", "start"),
        ("start=2026-02-30", "start"),
        ("start=yesterday", "start"),
        ("start=2026-1-01", "start"),
        ("end=2026-01-01T00:00:00Z", "end"),
        ("end=", "end"),
        ("start=2026-03-02&end=2026-03-01", "end"),
        ("start=2024-01-01&end=2025-01-02", "366"),
        ("group_by=week", "group_by"),
        ("group_by=", "group_by"),
    ]
    for q, word in cases:
        err = assert_error(api("GET", "/v1/usage?" + q, key=key), 400, "invalid_request")
        assert word in err["message"], (q, err)
    # a full leap year is allowed
    st, _, b = api("GET", "/v1/usage?start=2024-01-01&end=2024-12-31", key=key)
    assert st == 200, (st, b)


@test
def usage_needs_a_key():
    assert_error(api("GET", "/v1/usage"), 401, "missing_api_key")
    assert_error(api("GET", "/v1/budget"), 401, "missing_api_key")


# ---------------------------------------------------------------- /v1/budget

def budget(key):
    st, _, b = api("GET", "/v1/budget", key=key)
    assert st == 200, (st, b)
    assert b["object"] == "budget", b
    return b


@test
def budget_shape_without_limits():
    t = new_tenant("bud0")
    b = budget(t["key"])
    assert b["tenant_id"] == t["id"], b
    for w in ("day", "month"):
        win = b["budgets"][w]
        for f in ("period", "period_start", "resets_at"):
            assert win[f], (w, win)
        assert win["period_start"] < win["resets_at"], win
        for kind in ("usd", "tokens"):
            e = win[kind]
            for f in ("limit", "spent", "reserved", "remaining", "enforcement", "source"):
                assert f in e, (w, kind, e)
            assert e["enforcement"] in ("hard", "soft"), e
    for scope in ("tenant", "key"):
        for rl in ("rpm", "tpm"):
            e = b["rate_limits"][scope][rl]
            for f in ("limit", "used", "remaining", "resets_at", "source"):
                assert f in e, (scope, rl, e)
    c = b["concurrency"]
    for f in ("in_flight", "limit", "source", "open_reservations", "key"):
        assert f in c, c
    assert c["in_flight"] == 0 and c["open_reservations"] == 0, c
    assert "global" not in json.dumps(b).lower().replace("\"source\": \"global\"", ""), b


@test
def budget_daily_usd_spent_and_remaining():
    t = new_tenant("bud")
    ctl("limits", "set", "--tenant", t["slug"], "budget_usd_daily", "1")

    def limit_shown():
        b = budget(t["key"])
        return b if b["budgets"]["day"]["usd"]["limit"] == "1.000000" else None

    b = wait_until(limit_shown, timeout=CACHE_BOUND_S)
    assert b, "the daily budget did not show within the cache bound: %s" % budget(t["key"])
    assert b["budgets"]["day"]["usd"]["source"] == "tenant", b
    if not b["enforced"]:
        skip("enforcement is off in this configuration: nothing is booked")
    assert b["budgets"]["day"]["usd"]["spent"] == "0.000000", b
    assert b["budgets"]["day"]["usd"]["remaining"] == "1.000000", b
    tl = Tally()
    do_run(t["key"], tl)
    do_run(t["key"], tl, "another one please")
    do_chat(t["key"], tl)
    do_stream(t["key"], tl)
    b = budget(t["key"])
    day = b["budgets"]["day"]
    assert micros(day["usd"]["spent"]) == tl.cost, (day, vars(tl))
    assert day["usd"]["reserved"] == "0.000000", day
    assert micros(day["usd"]["remaining"]) == 1000000 - tl.cost, (day, vars(tl))
    assert day["tokens"]["spent"] == tl.prompt + tl.completion, (day, vars(tl))
    if day["tokens"]["limit"] is None:
        assert day["tokens"]["remaining"] is None, day
    month = b["budgets"]["month"]
    assert micros(month["usd"]["spent"]) >= tl.cost, month
    if month["usd"]["limit"] is None:  # the plan may or may not set a monthly budget
        assert month["usd"]["remaining"] is None, month
    else:
        left = micros(month["usd"]["limit"]) - micros(month["usd"]["spent"])
        assert micros(month["usd"]["remaining"]) == max(left, 0), month
    assert b["concurrency"]["in_flight"] == 0 and b["concurrency"]["open_reservations"] == 0, b
    # What /v1/budget calls spent is what /v1/usage reports (one tenant, one day).
    u = wide(t["key"])
    assert micros(u["total"]["cost_usd"]) == tl.cost, (u, vars(tl))


@test
def budget_shows_rate_limit_use():
    t = new_tenant("budr")
    ctl("limits", "set", "--tenant", t["slug"], "rpm", "1000")

    def rpm_shown():
        b = budget(t["key"])
        return b if b["rate_limits"]["tenant"]["rpm"]["limit"] == 1000 else None

    assert wait_until(rpm_shown, timeout=CACHE_BOUND_S), budget(t["key"])
    tl = Tally()
    do_chat(t["key"], tl)
    do_chat(t["key"], tl, text="twice")
    rpm = budget(t["key"])["rate_limits"]["tenant"]["rpm"]
    if not budget(t["key"])["enforced"]:
        skip("enforcement is off in this configuration")
    # Both calls may straddle a minute boundary: at least the last one is in this minute.
    assert 1 <= rpm["used"] <= 2 and rpm["remaining"] == 1000 - rpm["used"], rpm
    assert rpm["source"] == "tenant", rpm


# ---------------------------------------------------------------- operator API

def op_usage(ref, token=None, query=""):
    return api("GET", "/admin/api/v1/tenants/%s/usage%s" % (ref, query),
               key=token if token is not None else OPERATOR_TOKEN)


@test
def operator_usage_equals_tenant_usage():
    if not OPERATOR_TOKEN:
        skip("AGENTHOST_OPERATOR_TOKEN is not set")
    w = world()
    q = "?start=%s&end=%s&group_by=model" % (utc_day(-1), utc_day(0))
    for ref in (w["a"]["slug"], str(w["a"]["id"])):
        st, _, b = op_usage(ref, query=q)
        assert st == 200, (st, b)
        own = wide(w["a"]["key"], group_by="model")
        assert b["data"] == own["data"] and b["total"] == own["total"], (b, own)
        assert b["tenant_id"] == w["a"]["id"], b
    st, _, b = op_usage(w["b"]["slug"], query="?start=%s&end=%s" % (utc_day(-1), utc_day(0)))
    assert st == 200, (st, b)
    w["tb"].check(b["total"], "operator view of tenant b")


@test
def operator_usage_unknown_tenant_and_bad_params():
    if not OPERATOR_TOKEN:
        skip("AGENTHOST_OPERATOR_TOKEN is not set")
    assert_error(op_usage("no-such-tenant-xyz"), 404, "not_found")
    assert_error(op_usage("999999999"), 404, "not_found")
    w = world()
    err = assert_error(op_usage(w["a"]["slug"], query="?group_by=nope"), 400, "invalid_request")
    assert "group_by" in err["message"], err


@test
def operator_route_refuses_tenant_keys():
    w = world()
    err = assert_error(op_usage(w["a"]["slug"], token=w["a"]["key"]), 403,
                       "tenant_key_not_allowed")
    assert err["type"] == "permission_error", err
    # even a tenant's key naming its own tenant
    assert_error(op_usage(w["a"]["slug"], token=w["k2"]["key"]), 403, "tenant_key_not_allowed")


@test
def operator_route_refuses_bad_tokens():
    w = world()
    path = "/admin/api/v1/tenants/%s/usage" % w["a"]["slug"]
    assert_error(api("GET", path), 401, "invalid_operator_token")
    assert_error(api("GET", path, key="wrong-token-" + "x" * 40), 401, "invalid_operator_token")
    assert_error(api("GET", path, key="ah_op_" + "A" * 43), 401, "invalid_operator_token")
    if OPERATOR_TOKEN:
        st, _, b = api("GET", path, key=OPERATOR_TOKEN[:-1])
        assert_error((st, _, b), 401, "invalid_operator_token")
        st, _, b = api("GET", path, key=OPERATOR_TOKEN + "x")
        assert_error((st, _, b), 401, "invalid_operator_token")
        assert_error(api("GET", path, headers={"Authorization": "Basic " + OPERATOR_TOKEN}),
                     401, "invalid_operator_token")
    # no error message ever echoes the token
    st, _, b = api("GET", path, key="wrong-token-" + "y" * 40)
    assert "y" * 40 not in json.dumps(b), b


@test
def operator_cli_token_works_until_revoked():
    made = ctl("operator-token", "create", "--name", "usage-test-" + harness.rand_suffix())
    w = world()
    st, _, b = op_usage(w["a"]["slug"], token=made["token"])
    assert st == 200 and b["object"] == "usage", (st, b)
    ctl("operator-token", "revoke", str(made["id"]))
    assert_error(op_usage(w["a"]["slug"], token=made["token"]), 401, "invalid_operator_token")


run()
