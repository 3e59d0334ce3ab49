"""Issue 17 part C: the response cache per tenant (docs/ROUTING.md, "Response cache").

A chat completion whose canonical request the tenant asked before is answered from the
tenant's cache: X-Agenthost-Cache says hit, the body is the cached answer with a fresh id
and the original usage, the execution row is marked cache_hit with cost 0 and no tokens.
The tenant is part of the key: another tenant asking the very same thing never gets the
first tenant's answer (both isolation modes). TTL, the size bound (oldest evicted),
Cache-Control no-cache / no-store, the request opt-in header, the SSE replay of a hit, and
verify-isolation's checks of the cache table.
"""
import json
import re
import time

from harness import test, run, api, ctl, sse_full, assert_error, wait_until
from apihelp import new_tenant, chat_body, db_exec
from dashhelp import Dash, new_admin, text_of

MARK = "CACHED-ANSWER-OF-"


def cache_on(t, **limits):
    """Turn the tenant's response cache on (before its first call: no cached limits yet)."""
    ctl("limits", "set", "--tenant", t["slug"], "response_cache", "on")
    for k, v in limits.items():
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))


def chat(t, body, headers=None):
    st, h, b = api("POST", "/v1/chat/completions", body, key=t["key"], headers=headers)
    assert st == 200, (st, b)
    return h.get("x-agenthost-cache"), b


def rows(t):
    """The tenant's cached answers: [(hex key, body, size)] oldest first."""
    return db_exec("SELECT HEX(key_hash), body, size_bytes FROM response_cache WHERE"
                   " tenant_id = %d ORDER BY created_at" % t["id"], tenant=t)


def execution(t, exec_id):
    """(cache_hit, cost_micros, prompt_tokens, completion_tokens) of a recorded call."""
    got = []

    def look():
        got[:] = db_exec("SELECT cache_hit, cost_micros, prompt_tokens, completion_tokens"
                         " FROM executions WHERE tenant_id = %d AND id = '%s'"
                         % (t["id"], exec_id), tenant=t)
        return bool(got)
    assert wait_until(look, timeout=10), "execution %s was not recorded" % exec_id
    return tuple(int(x) for x in got[0])


def mark_cached(t, text):
    """Change the tenant's cached answers' text to text: a later hit can only come from there."""
    n = db_exec("UPDATE response_cache SET body = JSON_SET(body, '$.text', '%s')"
                " WHERE tenant_id = %d; SELECT ROW_COUNT()" % (text, t["id"]), tenant=t)
    assert n and int(n[-1][0]) >= 1, n


@test
def test_hit_costs_nothing_and_is_marked():
    t = new_tenant("rc")
    cache_on(t)
    body = chat_body("what is cached", temperature=0.5, max_tokens=50)
    state, first = chat(t, body)
    assert state == "miss", state
    assert len(rows(t)) == 1
    # the same request, keys in another order: the canonical form is the same
    again = {k: body[k] for k in reversed(list(body))}
    state, second = chat(t, again)
    assert state == "hit", state
    assert second["id"] != first["id"] and second["id"].startswith("chatcmpl-")
    assert second["choices"][0]["message"] == first["choices"][0]["message"]
    assert second["usage"] == first["usage"], (first["usage"], second["usage"])
    hit, cost, pt, ct = execution(t, second["id"])
    assert (hit, cost, pt, ct) == (1, 0, 0, 0), (hit, cost, pt, ct)
    hit, cost, pt, ct = execution(t, first["id"])
    assert hit == 0 and cost > 0 and pt > 0, (hit, cost, pt)
    # any parameter that changes the answer is part of the key
    for other in (chat_body("what is cached", temperature=0.7, max_tokens=50),
                  chat_body("what is cached", temperature=0.5, max_tokens=51),
                  chat_body("what is cached", model="mock-fast", temperature=0.5,
                            max_tokens=50)):
        state, _ = chat(t, other)
        assert state == "miss", (other, state)
    # fields that do not change it are not (metadata, user)
    state, _ = chat(t, dict(body, metadata={"x": "y"}, user="someone"))
    assert state == "hit", state
    # a hit is an execution of the usage API (cache_hits), and spends nothing
    def usage_hits():
        st, _, u = api("GET", "/v1/usage", key=t["key"])
        assert st == 200, u
        return u["total"].get("cache_hits") == 2
    assert wait_until(usage_hits, timeout=10), api("GET", "/v1/usage", key=t["key"])[2]


@test
def test_hit_is_the_cached_answer():
    t = new_tenant("rc")
    cache_on(t)
    body = chat_body("prove the source")
    assert chat(t, body)[0] == "miss"
    mark_cached(t, MARK + "x")
    state, b = chat(t, body)
    assert state == "hit" and b["choices"][0]["message"]["content"] == MARK + "x", b


def never_crosses(iso_a, iso_b):
    a = new_tenant("rca", isolation=iso_a)
    b = new_tenant("rcb", isolation=iso_b)
    cache_on(a)
    cache_on(b)
    body = chat_body("the same question, word for word")
    assert chat(a, body)[0] == "miss"
    mark_cached(a, MARK + a["slug"])
    assert chat(a, body)[1]["choices"][0]["message"]["content"] == MARK + a["slug"]
    state, got = chat(b, body)
    assert state == "miss", state
    assert MARK not in json.dumps(got), got
    state, got = chat(b, body)
    assert state == "hit" and MARK not in json.dumps(got), (state, got)
    # each tenant's row is its own, and the keys differ (the tenant is inside the hash)
    ka, kb = rows(a), rows(b)
    assert len(ka) == 1 and len(kb) == 1 and ka[0][0] != kb[0][0], (ka, kb)
    for t in (a, b):
        rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
        assert rc == 0 and out["findings"] == 0, (out, err)


@test
def test_never_crosses_tenants():
    never_crosses(None, None)  # the pass's mode (shared, dedicated or mixed)


@test
def test_never_crosses_dedicated_tenants():
    never_crosses("dedicated", "dedicated")
    never_crosses("dedicated", "shared")


@test
def test_ttl_expiry():
    t = new_tenant("rc")
    cache_on(t, response_cache_ttl_s=1)
    body = chat_body("short lived")
    assert chat(t, body)[0] == "miss"
    assert chat(t, body)[0] == "hit"
    time.sleep(1.3)
    assert chat(t, body)[0] == "miss"
    assert chat(t, body)[0] == "hit"
    assert len(rows(t)) == 1  # the expired row was replaced, not kept


@test
def test_size_bound_evicts_oldest():
    t = new_tenant("rc")
    cache_on(t)
    for i in (1, 2, 3):
        assert chat(t, chat_body("question number %d" % i))[0] == "miss"
    sizes = [int(r[2]) for r in rows(t)]
    assert len(sizes) == 3, sizes
    # room for the two newest answers, not for all three
    bound = sizes[1] + sizes[2]
    ctl("limits", "set", "--tenant", t["slug"], "response_cache_max_bytes", str(bound))
    time.sleep(1.2)  # the limits cache's bound (LIMITS_CACHE_MS)
    # the next answer stored (3 again, fresh: no-cache) makes the tenant keep to the bound
    assert chat(t, chat_body("question number 3"), {"Cache-Control": "no-cache"})[0] == "bypass"
    left = rows(t)
    assert len(left) == 2 and sum(int(r[2]) for r in left) <= bound, (left, bound)
    assert chat(t, chat_body("question number 3"))[0] == "hit"
    assert chat(t, chat_body("question number 2"))[0] == "hit"
    assert chat(t, chat_body("question number 1"))[0] == "miss"  # the oldest went first
    # an answer larger than the whole bound is not stored
    ctl("limits", "set", "--tenant", t["slug"], "response_cache_max_bytes", "10")
    time.sleep(1.2)
    assert chat(t, chat_body("question number 4"))[0] == "miss"
    assert chat(t, chat_body("question number 4"))[0] == "miss"


@test
def test_no_cache_and_no_store_bypass():
    t = new_tenant("rc")
    cache_on(t)
    body = chat_body("fresh please")
    assert chat(t, body)[0] == "miss"
    mark_cached(t, MARK + "stale")
    # no-cache: not read; the fresh answer replaces the cached one
    state, b = chat(t, body, headers={"Cache-Control": "no-cache"})
    assert state == "bypass" and MARK not in json.dumps(b), (state, b)
    hit, cost, _, _ = execution(t, b["id"])
    assert hit == 0 and cost > 0
    state, b = chat(t, body)
    assert state == "hit" and MARK not in json.dumps(b), (state, b)
    # no-store (and X-Agenthost-Cache: off): neither read nor written
    mark_cached(t, MARK + "kept")
    for h in ({"Cache-Control": "max-age=0, no-store"}, {"X-Agenthost-Cache": "off"}):
        state, b = chat(t, body, headers=h)
        assert state == "bypass" and MARK not in json.dumps(b), (h, state, b)
    state, b = chat(t, body)
    assert state == "hit" and b["choices"][0]["message"]["content"] == MARK + "kept", b


@test
def test_request_opt_in():
    t = new_tenant("rc")  # response_cache at its default: request
    body = chat_body("opt in by header")
    st, h, _ = api("POST", "/v1/chat/completions", body, key=t["key"])
    assert st == 200 and "x-agenthost-cache" not in h, h
    assert rows(t) == []
    on = {"X-Agenthost-Cache": "on"}
    assert chat(t, body, headers=on)[0] == "miss"
    assert chat(t, body, headers=on)[0] == "hit"
    # without the header this call does not use the cache
    st, h, _ = api("POST", "/v1/chat/completions", body, key=t["key"])
    assert "x-agenthost-cache" not in h, h
    assert_error(api("POST", "/v1/chat/completions", body, key=t["key"],
                     headers={"X-Agenthost-Cache": "maybe"}), 400, "invalid_request")
    # off: the header is ignored, nothing is looked up or stored
    off = new_tenant("rc")
    ctl("limits", "set", "--tenant", off["slug"], "response_cache", "off")
    for _ in range(2):
        st, h, _ = api("POST", "/v1/chat/completions", body, key=off["key"], headers=on)
        assert st == 200 and "x-agenthost-cache" not in h, h
    assert rows(off) == []
    # a plan turns it on for its tenants; the tenant's own value wins
    rc, _, err = ctl("limits", "set", "--plan", "free", "response_cache", "maybe", check=False)
    assert rc != 0 and "response_cache" in err, err


@test
def test_stream_replays_a_hit():
    t = new_tenant("rc")
    cache_on(t)
    body = chat_body("stream me a story about caches", stream=True)
    st, h, ev = sse_full("/v1/chat/completions", body, key=t["key"])
    assert st == 200 and h.get("x-agenthost-cache") == "miss", (st, h)
    first = "".join(json.loads(d)["choices"][0]["delta"].get("content") or ""
                    for _, d in ev if d != "[DONE]" and json.loads(d)["choices"])
    # the streamed answer was stored: a plain call of the same request hits
    state, b = chat(t, dict(body, stream=False))
    assert state == "hit" and b["choices"][0]["message"]["content"] == first, (state, b)
    # and a streamed call replays it as events, with usage when asked
    st, h, ev = sse_full("/v1/chat/completions",
                         dict(body, stream_options={"include_usage": True}), key=t["key"])
    assert st == 200 and h.get("x-agenthost-cache") == "hit", (st, h)
    assert ev[-1][1] == "[DONE]"
    chunks = [json.loads(d) for _, d in ev if d != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"])
    assert text == first, (text, first)
    assert chunks[-1]["usage"]["total_tokens"] > 0, chunks[-1]
    assert [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    hit, cost, _, _ = execution(t, chunks[0]["id"])
    assert hit == 1 and cost == 0


@test
def test_dashboard_shows_hits():
    t = new_tenant("rcd")
    cache_on(t)
    body = chat_body("dashboard question")
    assert chat(t, body)[0] == "miss"
    state, b = chat(t, body)
    assert state == "hit"
    execution(t, b["id"])
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    st, _, page = d.get("/admin/executions?tenant_id=%s" % t["id"])
    assert st == 200 and text_of(page).count("cache hit") == 1, text_of(page)[-2000:]
    st, _, page = d.get("/admin/tenants/%s/executions/%s" % (t["id"], b["id"]))
    assert st == 200 and "cache hit" in text_of(page), text_of(page)[-2000:]
    month = db_exec("SELECT DATE_FORMAT(UTC_DATE(), '%Y-%m')")[0][0]
    def showback():
        st, _, page = d.get("/admin/showback?tenant_id=%s&month=%s" % (t["id"], month))
        assert st == 200 and "Cache hits" in page
        return re.search(r"mock-1\s+2\s+1\b", text_of(page))
    assert wait_until(showback, timeout=10), text_of(d.get(
        "/admin/showback?tenant_id=%s&month=%s" % (t["id"], month))[2])[-2000:]


@test
def test_move_starts_with_an_empty_cache():
    t = new_tenant("rcm", isolation="shared")
    cache_on(t)
    body = chat_body("before the move")
    assert chat(t, body)[0] == "miss"
    assert chat(t, body)[0] == "hit"
    for to in ("dedicated", "shared"):
        rc, report, err = ctl("tenant", "move", t["slug"], "--to", to, "--drain-seconds", "1",
                              check=False)
        assert rc == 0, (rc, report, err)
        # nothing of the tenant's cache is left on the side it left
        assert db_exec("SELECT COUNT(*) FROM response_cache WHERE tenant_id = %d"
                       % t["id"]) == [["0"]]
        assert rows(t) == []  # and none was copied to the new side
        rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
        assert rc == 0 and out["findings"] == 0, (out, err)
        assert wait_until(lambda: api("POST", "/v1/chat/completions", body, key=t["key"])[0]
                          == 200, timeout=10)
        assert chat(t, body)[0] == "hit"  # stored afresh on the new side (the call just made)
        assert len(rows(t)) == 1


@test
def test_hit_counts_toward_rates_not_budgets():
    t = new_tenant("rcr")
    cache_on(t, rpm=3, budget_usd_daily=1, budget_tokens_daily=100000)
    body = chat_body("rate me")

    def spent():
        st, _, b = api("GET", "/v1/budget", key=t["key"])
        assert st == 200, b
        day = b["budgets"]["day"]
        return day["usd"]["spent"], day["tokens"]["spent"]

    def requests(n):
        return lambda: api("GET", "/v1/usage", key=t["key"])[2]["total"]["requests"] == n
    assert chat(t, body)[0] == "miss"
    assert wait_until(requests(1), timeout=10)
    assert wait_until(lambda: spent()[1] > 0, timeout=10), spent()
    before = spent()
    assert chat(t, body)[0] == "hit"
    assert chat(t, body)[0] == "hit"
    assert wait_until(requests(3), timeout=10)
    time.sleep(0.5)
    assert spent() == before, (spent(), before)
    # the hits were requests of the minute: the fourth call is over rpm
    st, h, b = api("POST", "/v1/chat/completions", body, key=t["key"])
    assert st == 429, (st, b)


@test
def test_verify_isolation_checks_the_cache():
    t = new_tenant("rcv", isolation="dedicated")
    other = new_tenant("rcv", isolation="dedicated")
    cache_on(t)
    assert chat(t, chat_body("verify me"))[0] == "miss"
    rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
    assert rc == 0 and out["findings"] == 0, (out, err)
    # a row of another tenant inside t's own database
    db_exec("INSERT INTO response_cache SELECT %d, key_hash, model, body, size_bytes,"
            " created_at, expires_at FROM response_cache WHERE tenant_id = %d"
            % (other["id"], t["id"]), tenant=t)
    # and a row of t in the shared database
    db_exec("INSERT INTO response_cache (tenant_id, key_hash, model, body, size_bytes,"
            " created_at, expires_at) VALUES (%d, UNHEX(SHA2('x', 256)), 'mock-1', '{}', 2,"
            " UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)" % t["id"])
    try:
        rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
        assert rc != 0, out
        found = {c["check"]: c for c in out["checks"] if c["findings"]}
        assert "dedicated_rows_in_shared_response_cache" in found, found
        assert found["foreign_rows_in_dedicated_db"]["findings"] >= 1, found
        details = [d for c in out["checks"] for d in c.get("details", [])]
        assert any("response_cache" in d["detail"] for d in details), details
    finally:
        db_exec("DELETE FROM response_cache WHERE tenant_id = %d" % other["id"], tenant=t)
        db_exec("DELETE FROM response_cache WHERE tenant_id = %d" % t["id"])
    rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
    assert rc == 0 and out["findings"] == 0, (out, err)


run()
