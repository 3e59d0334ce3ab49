"""Routing per tenant with fallbacks (issue 17 part B, docs/ROUTING.md).

The fake upstream serves three provider instances of the test host under
/i/<name>/ (openrouter, vllm, ollama; tests/run), each switchable to answer
429, 500 or slowly (POST /_mode), and counts the calls and credentials each
received (GET /_hits). The properties:

  - a call falls over to the next target on 429, 5xx, a timeout and an open
    breaker; each attempt is an execution and a step of the call; the answer
    names the target that served (X-Agenthost-Target);
  - no fallback once a stream has sent anything;
  - weights spread calls over a tier's targets (here two keys of a key pool);
  - a budget is never exceeded across attempts (a pricier fallback is
    admitted at its own price), under concurrency.
"""
import json
import os
import threading

import harness
from harness import test, run, api, ctl, sse_full
from apihelp import new_tenant, db_exec, chat_body, err_code

OP = {"Authorization": "Bearer " + os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")}
FAKE = harness.FAKE_URL


def op(method, path, body=None):
    return api(method, "/admin/api/v1" + path, body, headers=OP)


def fake(method, path, body=None):
    if not FAKE:
        harness.skip("no fake upstream")
    st, _, b = api(method, path, body, base=FAKE)
    assert st == 200, (st, b)
    return b


def modes(**kw):
    """Reset the fake, then set each instance's mode (vllm="500", ...)."""
    fake("POST", "/_reset", {})
    for tag, mode in kw.items():
        fake("POST", "/_mode", {"tag": tag, "mode": mode})


def hits(tag):
    return fake("GET", "/_hits").get(tag, {"calls": 0, "keys": {}})


def set_route(t, name, targets):
    st, _, b = op("POST", "/tenants/%s/routes" % t["slug"], {"name": name, "targets": targets})
    assert st == 200, (st, b)
    return b


def target_of(h):
    """X-Agenthost-Target as a dict."""
    v = h.get("x-agenthost-target", "")
    return dict(p.strip().split("=", 1) for p in v.split(";") if "=" in p)


def limits(t, **kv):
    for k, v in kv.items():
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))


def executions(t, n):
    """The tenant's first n executions in order (the ledger writes them a batch later)."""
    def rows():
        r = db_exec("SELECT id, provider, status, reason_code, cost_micros FROM executions "
                    "WHERE tenant_id=%d ORDER BY seq" % t["id"], tenant=t)
        return r if len(r) >= n else None
    r = harness.wait_until(rows, timeout=10)
    assert r, "fewer than %d executions of tenant %d" % (n, t["id"])
    return r[:n]


def settled(t, at_least):
    """Wait until the tenant's executions (at least at_least) stop growing."""
    last = [-1]

    def same():
        n = int(db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id=%d" % t["id"],
                        tenant=t)[0][0])
        done = n >= at_least and n == last[0]
        last[0] = n
        return done
    assert harness.wait_until(same, timeout=15, interval=0.3), last


def attempts(t, call_id):
    """The executions of one routed call: its attempts that fell over, then itself."""
    def rows():
        r = db_exec("SELECT id, provider, status, reason_code, cost_micros FROM executions "
                    "WHERE tenant_id=%d AND (id='%s' OR id LIKE '%s-a%%') ORDER BY seq"
                    % (t["id"], call_id, call_id), tenant=t)
        return r if r and r[-1][0] == call_id else None
    return harness.wait_until(rows, timeout=10) or []


def datas(events):
    """The JSON data of each event of a stream ([DONE] left out)."""
    return [json.loads(d) for _, d in events if d and d != "[DONE]"]


def steps(t, call_id):
    return db_exec("SELECT step, name, exec_id, outcome, reason_code FROM run_steps "
                   "WHERE tenant_id=%d AND run_id='%s' ORDER BY step" % (t["id"], call_id),
                   tenant=t)


TWO = [{"provider": "vllm", "model": "gpt-4o-mini", "credential": "platform"},
       {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "platform"}]


def fallback_case(mode, reason, prep=None):
    modes(vllm=mode)
    t = new_tenant("rfb")
    set_route(t, "fast", TWO)
    if prep:
        prep(t)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("hello route", model="fast"),
                   key=t["key"], timeout=60)
    assert st == 200, (st, b)
    assert b["choices"][0]["message"]["content"] == "fake openai reply to: hello route", b
    tg = target_of(h)
    assert tg == {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "platform",
                  "attempt": "2"}, h
    assert b["model"] == "gpt-4o-mini", b
    assert hits("openrouter")["keys"] == {"sk-platform-openrouter": 1}, hits("openrouter")
    ex = attempts(t, b["id"])
    assert [r[0] for r in ex] == [b["id"] + "-a1", b["id"]], ex
    assert ex[0][1:4] == ["vllm", "refused" if reason == "circuit_open" else "failed", reason], ex
    assert ex[0][4] == "0" and ex[1][1:3] == ["openrouter", "succeeded"], ex
    s = steps(t, b["id"])
    assert [r[0] for r in s] == ["1", "2"], s
    assert s[0][2:] == [b["id"] + "-a1", ex[0][2], reason], s
    assert s[1][2:4] == [b["id"], "succeeded"] and s[1][1].startswith("openrouter/gpt-4o-mini"), s
    return t


@test
def fallback_on_429():
    fallback_case("429", "upstream_rate_limited")


@test
def fallback_on_5xx():
    fallback_case("500", "upstream_error")


@test
def fallback_on_timeout():
    fallback_case("slow", "upstream_timeout")


@test
def fallback_on_open_breaker():
    def open_breaker(t):
        limits(t, breaker_errors=2)
        # two direct failures of vllm open the tenant's breaker for it
        set_route(t, "only-vllm", TWO[:1])
        for _ in range(2):
            st, _, b = api("POST", "/v1/chat/completions", chat_body("x", model="only-vllm"),
                           key=t["key"])
            assert st == 502 and err_code(b) == "upstream_error", (st, b)
        st, _, b = api("POST", "/v1/chat/completions", chat_body("x", model="only-vllm"),
                       key=t["key"])
        assert st == 503 and err_code(b) == "circuit_open", (st, b)
        modes()  # vllm answers again, but the breaker keeps the route off it
    t = fallback_case("500", "circuit_open", open_breaker)
    assert hits("vllm")["calls"] == 0, hits("vllm")


@test
def last_target_failure_is_the_answer_and_no_fallback_when_refused_by_limits():
    modes(vllm="500", openrouter="429")
    t = new_tenant("rlast")
    set_route(t, "fast", TWO)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("x", model="fast"), key=t["key"])
    assert st == 502 and err_code(b) == "upstream_rate_limited", (st, b)
    assert target_of(h)["attempt"] == "2", h
    # a refusal of our own (the tenant's rpm; each attempt is a request) does not fall over
    modes(vllm="500")
    t = new_tenant("rlim")
    set_route(t, "fast", TWO)
    limits(t, rpm=1)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("y", model="fast"), key=t["key"])
    assert st == 429 and err_code(b) == "rpm_exceeded", (st, b)
    assert target_of(h)["attempt"] == "2" and hits("openrouter")["calls"] == 0, h


@test
def a_target_without_its_credential_falls_over():
    modes()
    t = new_tenant("rcred")
    set_route(t, "mine", [
        {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "tenant"},
        {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "pool:zz"}])
    st, h, b = api("POST", "/v1/chat/completions", chat_body("c", model="mine"), key=t["key"])
    assert st == 503 and err_code(b) == "provider_not_configured", (st, b)
    assert target_of(h)["credential"] == "pool:zz" and hits("openrouter")["calls"] == 0, h
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openrouter",
        stdin="sk-tenant-own-openrouter\n")
    st, h, b = api("POST", "/v1/chat/completions", chat_body("c", model="mine"), key=t["key"])
    assert st == 200 and target_of(h)["credential"] == "tenant", (st, h, b)
    assert hits("openrouter")["keys"] == {"sk-tenant-own-openrouter": 1}, hits("openrouter")
    # a pool key set with the CLI serves the second target once the first fails
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openrouter", "--pool", "zz",
        stdin="sk-pool-zz-1234\n")
    ctl("provider-key", "clear", "--tenant", t["slug"], "--provider", "openrouter")
    st, h, b = api("POST", "/v1/chat/completions", chat_body("c", model="mine"), key=t["key"])
    assert st == 200 and target_of(h)["credential"] == "pool:zz", (st, h, b)
    assert hits("openrouter")["keys"]["sk-pool-zz-1234"] == 1, hits("openrouter")
    keys = ctl("provider-key", "list", "--tenant", t["slug"])
    assert [(k["provider"], k["last4"]) for k in keys] == [("openrouter#zz", "1234")], keys


@test
def routes_and_pool_keys_are_exported_without_secrets():
    import http.client
    import io
    import tarfile
    import urllib.parse
    t = new_tenant("rexp")
    set_route(t, "fast", TWO)
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openrouter", "--pool", "a",
        stdin="sk-pool-secret-9876\n")
    u = urllib.parse.urlsplit(harness.BASE)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("GET", u.path.rstrip("/") + "/admin/api/v1/tenants/%s/export" % t["slug"],
                 headers=OP)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    assert resp.status == 200, data[:300]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        routes = [json.loads(x) for x in
                  tf.extractfile(t["slug"] + "-export/routes.jsonl").read().splitlines()]
        keys = [json.loads(x) for x in
                tf.extractfile(t["slug"] + "-export/provider_keys.jsonl").read().splitlines()]
    assert [(r["name"], r["targets"][1]["provider"]) for r in routes] == [("fast", "openrouter")]
    assert [(k["provider"], k["last4"]) for k in keys] == [("openrouter#a", "9876")], keys
    assert b"sk-pool-secret" not in data


@test
def no_fallback_once_a_stream_began():
    modes()
    t = new_tenant("rstr")
    set_route(t, "fast", TWO)
    # CUT: the first target streams two chunks, then drops the connection
    st, h, events = sse_full("/v1/chat/completions",
                             chat_body("CUT this", model="fast", stream=True), key=t["key"])
    assert st == 200, (st, events)
    assert any("error" in e for e in datas(events)), events
    assert hits("openrouter")["calls"] + hits("vllm")["calls"] == 1, fake("GET", "/_hits")
    # before anything is streamed a stream falls over like any call
    modes(vllm="429")
    st, h, events = sse_full("/v1/chat/completions",
                             chat_body("stream me", model="fast", stream=True), key=t["key"])
    assert st == 200 and target_of(h)["provider"] == "openrouter", (h, events)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in datas(events)
                   if e.get("choices"))
    assert text == "fake openai reply to: stream me", events


@test
def weights_spread_calls_over_a_key_pool():
    modes()
    t = new_tenant("rw")
    for name, key in (("a", "sk-pool-a"), ("b", "sk-pool-b")):
        st, _, b = api("POST", "/admin/api/v1/tenants/%s/provider-keys/openrouter?pool=%s"
                       % (t["slug"], name), {"key": key}, headers=OP)
        assert st == 200 and b["last4"] == key[-4:], (st, b)
    set_route(t, "pooled", [
        {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "pool:a", "tier": 1,
         "weight": 3},
        {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "pool:b", "tier": 1,
         "weight": 1}])
    limits(t, rpm=0, tpm=0)
    n, seen = 400, {}
    for i in range(n):
        st, h, b = api("POST", "/v1/chat/completions", chat_body("w%d" % i, model="pooled"),
                       key=t["key"])
        assert st == 200, (st, b)
        c = target_of(h)["credential"]
        seen[c] = seen.get(c, 0) + 1
    keys = hits("openrouter")["keys"]
    assert keys == {"sk-pool-a": seen["pool:a"], "sk-pool-b": seen["pool:b"]}, (keys, seen)
    # expected 300 of 400 (sd 8.7): outside [240, 360] is ~7 sd, p < 1e-11
    assert 240 <= seen["pool:a"] <= 360, seen
    executions(t, n)
    rows = db_exec("SELECT cred_source, COUNT(*) FROM executions WHERE tenant_id=%d "
                   "GROUP BY cred_source ORDER BY cred_source" % t["id"], tenant=t)
    assert rows == [["pool:a", str(seen["pool:a"])], ["pool:b", str(seen["pool:b"])]], rows


@test
def budget_is_never_exceeded_across_attempts():
    # every call fails over once: vllm (gpt-4o-mini) 500s, then openrouter's pricier gpt-4o
    modes(vllm="500")
    t = new_tenant("rbud")
    limits(t, rpm=0, tpm=0, concurrency=0, breaker_errors=1000000)
    set_route(t, "fast", [
        {"provider": "vllm", "model": "gpt-4o-mini", "credential": "platform"},
        {"provider": "openrouter", "model": "gpt-4o", "credential": "platform"}])
    body = chat_body("budget probe call", model="fast", max_tokens=40)
    st, h, b = api("POST", "/v1/chat/completions", body, key=t["key"])
    assert st == 200 and target_of(h)["attempt"] == "2", (st, h, b)
    u = b["usage"]
    actual = -(-(u["prompt_tokens"] * 2500000 + u["completion_tokens"] * 10000000) // 1000000)
    limit = 30 * actual
    ctl("limits", "set", "--tenant", t["slug"], "budget_usd_daily", "%.6f" % (limit / 1e6))
    results, lock = [], threading.Lock()

    def worker(k):
        for _ in range(6):
            st, h, b = api("POST", "/v1/chat/completions", body, key=t["key"], timeout=60)
            with lock:
                results.append((st, b["error"]["reason_code"] if st != 200 else None,
                                h.get("x-agenthost-target", "")))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    served = [r for r in results if r[0] == 200]
    refused = set(r[1] for r in results if r[0] != 200)
    assert refused <= {"tenant_budget_exceeded"}, refused
    assert served and all("attempt=2" in r[2] for r in served), results[:5]
    settled(t, len(results) + 1)    # every call and the probe recorded
    total = int(db_exec("SELECT COALESCE(SUM(cost_micros),0) FROM executions WHERE "
                        "tenant_id=%d" % t["id"], tenant=t)[0][0])
    assert total <= limit, "spent %d over the budget %d" % (total, limit)
    row = db_exec("SELECT spent_micros, reserved_micros FROM budget_counters WHERE "
                  "scope='tenant' AND scope_id=%d AND win='day'" % t["id"])
    assert int(row[0][0]) <= limit and int(row[0][1]) == 0, (row, limit)
    assert len(served) >= 10, len(served)   # the budget was used, not refused from the start


@test
def pricier_fallback_that_does_not_fit_is_refused_not_exceeded():
    modes(vllm="500")
    t = new_tenant("rpri")
    # worst cases of the body below: gpt-4o-mini ~66 micro-USD, gpt-4o ~1,100
    limits(t, budget_usd_daily="0.000500")
    set_route(t, "fast", [
        {"provider": "vllm", "model": "gpt-4o-mini", "credential": "platform"},
        {"provider": "openrouter", "model": "gpt-4o", "credential": "platform"}])
    st, h, b = api("POST", "/v1/chat/completions",
                   chat_body("budget probe call", model="fast", max_tokens=100), key=t["key"])
    assert st == 429 and err_code(b) == "tenant_budget_exceeded", (st, b)
    assert target_of(h)["attempt"] == "2" and target_of(h)["model"] == "gpt-4o", h
    assert hits("vllm")["calls"] == 1 and hits("openrouter")["calls"] == 0, fake("GET", "/_hits")
    ex = executions(t, 2)
    assert ex[0][0] == ex[1][0] + "-a1", ex
    assert [r[2:4] for r in ex] == [["failed", "upstream_error"],
                                    ["refused", "tenant_budget_exceeded"]], ex
    assert sum(int(r[4]) for r in ex) == 0, ex
    row = db_exec("SELECT spent_micros, reserved_micros FROM budget_counters WHERE "
                  "scope='tenant' AND scope_id=%d AND win='day'" % t["id"])
    assert not row or (int(row[0][0]) == 0 and int(row[0][1]) == 0), row


# ---------------------------------------------------------------- agent runs on a route

def new_agent(t, name, model, **extra):
    body = {"name": name, "model": model}
    body.update(extra)
    st, _, b = api("POST", "/v1/agents", body, key=t["key"])
    assert st == 201, (st, b)
    return b


def run_of(t, agent, text, stream=False):
    body = {"input": text}
    if stream:
        body["stream"] = True
        return sse_full("/v1/agents/%s/runs" % agent, body, key=t["key"])
    return api("POST", "/v1/agents/%s/runs" % agent, body, key=t["key"], timeout=60)


def run_fallback_case(mode, reason, stream):
    modes(vllm=mode)
    t = new_tenant("rrun")
    set_route(t, "fast", TWO)
    a = new_agent(t, "routed", "fast", instructions="Be brief.")
    assert a["model"] == "fast" and a["provider"] is None, a
    if stream:
        st, h, events = run_of(t, "routed", "hello run", stream=True)
        assert st == 200, (st, events)
        names = [e for e, _ in events]
        assert names[0] == "run.created" and "run.completed" in names, events
        text = "".join(json.loads(d)["delta"] for e, d in events if e == "run.output.delta")
        assert text == "fake openai reply to: hello run", events
        run = json.loads([d for e, d in events if e == "run.completed"][0])
    else:
        st, h, run = run_of(t, "routed", "hello run")
        assert st == 200, (st, run)
        assert run["output"] == "fake openai reply to: hello run", run
    # the header names the target that served, sent before a stream's first event
    assert target_of(h) == {"provider": "openrouter", "model": "gpt-4o-mini",
                            "credential": "platform", "attempt": "2"}, h
    assert h.get("x-agenthost-target", "").count("provider=") == 1, h
    assert (run["model"], run["provider"], run["credential_source"]) == \
        ("gpt-4o-mini", "openrouter", "platform"), run
    assert hits("vllm")["calls"] == 1 and hits("openrouter")["calls"] == 1, fake("GET", "/_hits")
    # the failed attempt is a step of the run, with its reason, and an execution of kind step
    st, _, got = api("GET", "/v1/runs/" + run["id"], key=t["key"])
    assert st == 200 and got["status"] == "succeeded", (st, got)
    sts = [(x["kind"], x["name"], x["outcome"], (x["error"] or {}).get("reason_code"))
           for x in got["steps"]]
    assert sts == [("model", "vllm/gpt-4o-mini platform", "failed", reason),
                   ("model", "openrouter/gpt-4o-mini platform", "succeeded", None)], sts
    if not stream:
        assert run["steps"] == got["steps"], (run["steps"], got["steps"])
    def two():
        r = db_exec("SELECT id, kind, provider, status, reason_code, cost_micros FROM executions "
                    "WHERE tenant_id=%d ORDER BY seq" % t["id"], tenant=t)
        return r if len(r) >= 2 else None
    rows = harness.wait_until(two, timeout=10)
    assert [r[:5] for r in rows] == [
        [run["id"] + "-a1", "step", "vllm", "failed", reason],
        [run["id"], "run", "openrouter", "succeeded", ""]], rows
    assert rows[0][5] == "0", rows
    # the runs list shows the run, not its failed attempt
    st, _, lst = api("GET", "/v1/runs", key=t["key"])
    assert [r["id"] for r in lst["data"]] == [run["id"]], lst
    return t


@test
def agent_run_on_an_alias_falls_back_on_429():
    run_fallback_case("429", "upstream_rate_limited", stream=False)


@test
def agent_run_on_an_alias_falls_back_on_5xx():
    run_fallback_case("500", "upstream_error", stream=False)


@test
def streamed_agent_run_falls_back_on_429():
    run_fallback_case("429", "upstream_rate_limited", stream=True)


@test
def streamed_agent_run_falls_back_on_5xx():
    run_fallback_case("500", "upstream_error", stream=True)


@test
def streamed_run_does_not_fall_back_once_it_began():
    modes()
    t = new_tenant("rrcut")
    set_route(t, "fast", TWO)
    new_agent(t, "routed", "fast")
    st, h, events = run_of(t, "routed", "CUT this run", stream=True)
    assert st == 200, (st, events)
    names = [e for e, _ in events]
    assert "run.output.delta" in names and "run.failed" in names, events
    assert target_of(h)["attempt"] == "1", h
    assert hits("openrouter")["calls"] + hits("vllm")["calls"] == 1, fake("GET", "/_hits")


@test
def run_with_tools_falls_back_at_each_model_step():
    modes(vllm="429")
    ctl("tool", "register", "envdump", "--exec",
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "tools", "envdump"),
        "--schema", json.dumps({"type": "object"}), "--description", "test tool envdump",
        "--timeout-ms", 5000, "--max-output-bytes", 65536, "--secret", "API_TOKEN")
    t = new_tenant("rtool")
    limits(t, allowed_tools="envdump")
    set_route(t, "fast", TWO)
    a = new_agent(t, "toolish", "fast", tools=["envdump"])
    assert a["tools"] == ["envdump"] and a["model"] == "fast", a
    st, h, run = run_of(t, "toolish", "TOOLCALL please")
    assert st == 200 and run["status"] == "succeeded", (st, run)
    assert run["output"].startswith("fake openai tool results:"), run
    assert target_of(h) == {"provider": "openrouter", "model": "gpt-4o-mini",
                            "credential": "platform", "attempt": "2"}, h
    assert h.get("x-agenthost-target", "").count("provider=") == 1, h
    assert (run["model"], run["provider"]) == ("gpt-4o-mini", "openrouter"), run
    sts = [(x["step"], x["kind"], x["name"], x["outcome"], (x["error"] or {}).get("reason_code"))
           for x in run["steps"]]
    assert sts == [
        (1, "model", "vllm/gpt-4o-mini platform", "failed", "upstream_rate_limited"),
        (2, "model", "openrouter/gpt-4o-mini platform", "succeeded", None),
        (3, "tool", "envdump", "succeeded", None),
        (4, "model", "vllm/gpt-4o-mini platform", "failed", "upstream_rate_limited"),
        (5, "model", "openrouter/gpt-4o-mini platform", "succeeded", None)], sts
    def joined():
        r = db_exec("SELECT r.exec_id, e.kind, e.provider, e.status, e.reason_code FROM run_steps r"
                    " JOIN executions e ON e.id = r.exec_id WHERE r.tenant_id=%d AND r.run_id='%s'"
                    " ORDER BY r.step" % (t["id"], run["id"]), tenant=t)
        return r if len(r) >= 4 else None
    rows = harness.wait_until(joined, timeout=10) or []
    assert [r[1:] for r in rows] == [["step", "vllm", "failed", "upstream_rate_limited"],
                                     ["step", "openrouter", "succeeded", ""]] * 2, rows
    assert rows[0][0] == rows[1][0] + "-a1" and rows[2][0] == rows[3][0] + "-a1", rows
    assert hits("vllm")["calls"] == 2 and hits("openrouter")["calls"] == 2, fake("GET", "/_hits")
    # a route whose every target fails ends the run with the last attempt's reason
    modes(vllm="500", openrouter="500")
    st, h, b = run_of(t, "toolish", "TOOLCALL again")
    assert st == 502 and err_code(b) == "upstream_error", (st, b)
    assert b["run"]["status"] == "failed" and target_of(h)["attempt"] == "2", (b, h)
    assert [x["outcome"] for x in b["run"]["steps"]] == ["failed", "failed"], b["run"]["steps"]


@test
def agents_accept_a_routed_name_as_their_model():
    modes()
    plan = "rap" + harness.rand_suffix(6)
    assert op("POST", "/plans", {"name": plan})[0] in (200, 201)
    t = new_tenant("ragt", plan=plan)
    # a name that is neither a model nor a route is refused as before
    st, _, b = api("POST", "/v1/agents", {"name": "x", "model": "team/fast"}, key=t["key"])
    assert st == 404 and err_code(b) == "model_not_found", (st, b)
    rc, _, err = ctl("agent", "create", "--tenant", t["slug"], "--name", "x", "--model",
                     "team/fast", check=False)
    assert rc != 0 and "does not exist" in err, (rc, err)
    # a plan's alias: the API and the CLI take it, and a run uses the route
    assert op("POST", "/plans/%s/routes" % plan, {"name": "team/fast", "targets": [
        {"provider": "vllm", "model": "gpt-4o-mini", "credential": "platform"}]})[0] == 200
    a = new_agent(t, "viaapi", "team/fast")
    assert a["model"] == "team/fast" and a["provider"] is None, a
    a = ctl("agent", "create", "--tenant", t["slug"], "--name", "viacli", "--model", "team/fast")
    assert a["model"] == "team/fast" and a["provider"] is None, a
    st, _, got = api("GET", "/v1/agents/viacli", key=t["key"])
    assert st == 200 and got["model"] == "team/fast", (st, got)
    st, h, run = run_of(t, "viacli", "via the plan")
    assert st == 200 and target_of(h)["provider"] == "vllm", (st, h, run)
    assert run["model"] == "gpt-4o-mini" and run["steps"] == [], run
    # an agent on a catalogue model without a route behaves as before: no header, no steps
    st, h, run = run_of(t, "assistant", "plain")
    assert st == 200 and "x-agenthost-target" not in h and "steps" not in run, (h, run)
    assert run["model"] == "mock-1", run
    # the route gone, the alias is no model: the run is refused as before
    ctl("route", "delete", "--plan", plan, "--name", "team/fast")
    gone = harness.wait_until(lambda: run_of(t, "viaapi", "gone")[0] == 404, timeout=10)
    st, h, b = run_of(t, "viaapi", "gone")
    assert gone and st == 404 and err_code(b) == "model_not_found", (st, b)


@test
def routed_run_refused_before_any_call_is_recorded():
    modes()
    t = new_tenant("rrref")
    set_route(t, "fast", TWO[:1])
    new_agent(t, "routed", "fast")
    limits(t, allowed_models="mock-1")
    st, h, b = run_of(t, "routed", "not allowed")
    assert st == 403 and err_code(b) == "model_not_allowed", (st, b)
    assert target_of(h)["attempt"] == "1" and hits("vllm")["calls"] == 0, (h, hits("vllm"))
    run_id = b["error"]["run_id"]
    assert b["run"]["status"] == "refused" and b["run"]["steps"] == [], b
    st, _, got = api("GET", "/v1/runs/" + run_id, key=t["key"])
    assert st == 200 and got["status"] == "refused", (st, got)
    assert got["error"]["reason_code"] == "model_not_allowed", got
    # nothing was admitted or spent: no usage rolled up
    rows = db_exec("SELECT COALESCE(SUM(requests),0) FROM usage_daily WHERE tenant_id=%d"
                   % t["id"])
    assert rows[0][0] == "0", rows


@test
def run_budget_is_never_exceeded_across_attempts():
    # every run fails over once: vllm (gpt-4o-mini) 500s, then openrouter's pricier gpt-4o
    modes(vllm="500")
    t = new_tenant("rrbud")
    limits(t, rpm=0, tpm=0, concurrency=0, breaker_errors=1000000)
    set_route(t, "fast", [
        {"provider": "vllm", "model": "gpt-4o-mini", "credential": "platform"},
        {"provider": "openrouter", "model": "gpt-4o", "credential": "platform"}])
    new_agent(t, "spender", "fast", max_tokens=40)
    st, h, b = run_of(t, "spender", "budget probe run")
    assert st == 200 and target_of(h)["attempt"] == "2", (st, h, b)
    u = b["usage"]
    actual = -(-(u["prompt_tokens"] * 2500000 + u["completion_tokens"] * 10000000) // 1000000)
    limit = 20 * actual
    ctl("limits", "set", "--tenant", t["slug"], "budget_usd_daily", "%.6f" % (limit / 1e6))
    results, lock = [], threading.Lock()

    def worker(k):
        for _ in range(5):
            st, h, b = run_of(t, "spender", "budget probe run")
            with lock:
                results.append((st, b["error"]["reason_code"] if st != 200 else None,
                                h.get("x-agenthost-target", "")))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    served = [r for r in results if r[0] == 200]
    refused = set(r[1] for r in results if r[0] != 200)
    assert refused <= {"tenant_budget_exceeded"}, refused
    assert served and all("attempt=2" in r[2] for r in served), results[:5]
    settled(t, len(results) + 1)
    total = int(db_exec("SELECT COALESCE(SUM(cost_micros),0) FROM executions WHERE "
                        "tenant_id=%d" % t["id"], tenant=t)[0][0])
    assert total <= limit, "spent %d over the budget %d" % (total, limit)
    row = db_exec("SELECT spent_micros, reserved_micros FROM budget_counters WHERE "
                  "scope='tenant' AND scope_id=%d AND win='day'" % t["id"])
    assert int(row[0][0]) <= limit and int(row[0][1]) == 0, (row, limit)
    assert len(served) >= 8, len(served)   # the budget was used, not refused from the start


@test
def routes_of_plans_and_tenants_and_their_checks():
    modes()
    plan = "rp" + harness.rand_suffix(6)
    st, _, b = op("POST", "/plans", {"name": plan})
    assert st in (200, 201), (st, b)
    t = new_tenant("rpl", plan=plan)
    t["key"] = ctl("key", "create", "--tenant", t["slug"], "--name", "mg",
                   "--scopes", "inference,read,manage")["key"]
    st, _, b = op("POST", "/plans/%s/routes" % plan, {"name": "smart", "targets": [
        {"provider": "vllm", "model": "gpt-4o-mini"}]})
    assert st == 200 and b["owner"] == "plan", (st, b)
    assert b["targets"] == [{"model": "gpt-4o-mini", "provider": "vllm", "credential": "auto",
                             "tier": 1, "weight": 1}], b
    st, h, b = api("POST", "/v1/chat/completions", chat_body("p", model="smart"), key=t["key"])
    assert st == 200 and target_of(h)["provider"] == "vllm", (st, h, b)
    # the alias is listed; the tenant's own route of the name hides the plan's at once
    st, _, b = api("GET", "/v1/models", key=t["key"])
    assert [m for m in b["data"] if m["id"] == "smart"] and \
        [m for m in b["data"] if m["id"] == "smart"][0]["owned_by"] == "agenthost", b
    st, _, b = api("GET", "/v1/models/smart", key=t["key"])
    assert st == 200 and b["id"] == "smart" and b["route"] == "plan", (st, b)
    st, _, b = api("POST", "/v1/routes", {"name": "smart", "targets": [
        {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "platform"}]},
        key=t["key"])
    assert st == 200 and b["owner"] == "tenant", (st, b)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("p", model="smart"), key=t["key"])
    assert st == 200 and target_of(h)["provider"] == "openrouter", (st, h)
    st, _, b = api("GET", "/v1/routes", key=t["key"])
    assert [(r["name"], r["owner"]) for r in b["data"]] == [("smart", "tenant")], b
    assert api("POST", "/v1/routes/smart/delete", {}, key=t["key"])[0] == 200
    st, h, b = api("POST", "/v1/chat/completions", chat_body("p", model="smart"), key=t["key"])
    assert st == 200 and target_of(h)["provider"] == "vllm", (st, h)
    st, _, b = api("GET", "/v1/routes", key=t["key"])
    assert [(r["name"], r["owner"]) for r in b["data"]] == [("smart", "plan")], b
    # a model name without a route behaves as before (no header)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("p"), key=t["key"])
    assert st == 200 and "x-agenthost-target" not in h, h
    st, _, b = api("POST", "/v1/chat/completions", chat_body("p", model="nope"), key=t["key"])
    assert st == 404 and err_code(b) == "model_not_found", b
    # checks, each naming its field
    bad = [
        ([], "targets"),
        ([{"model": "gpt-4o-mini", "provider": "nowhere"}], "targets[0].provider"),
        ([{"model": "gpt-4o-mini", "credential": "pool:"}], "targets[0].credential"),
        ([{"model": "gpt-4o-mini", "weight": 0}], "targets[0].weight"),
        ([{"model": "gpt-4o-mini", "tier": 101}], "targets[0].tier"),
        ([{"model": "gpt-4o-mini", "colour": "red"}], "targets[0]"),
        ([{"model": "mock-embed"}], "targets"),
        ([{"model": "no-such-model"}], "targets"),
    ]
    for targets, param in bad:
        st, _, b = op("POST", "/tenants/%s/routes" % t["slug"], {"name": "x", "targets": targets})
        assert st == 400 and err_code(b) == "invalid_request", (targets, st, b)
        assert b["error"]["param"] == param, (targets, b)
    st, _, b = op("POST", "/tenants/%s/routes" % t["slug"], {"name": "bad name!", "targets": TWO})
    assert st == 400 and b["error"]["param"] == "name", b
    st, _, b = op("POST", "/tenants/%s/routes/none/delete" % t["slug"], {})
    assert st == 404, b
    st, _, b = op("POST", "/plans/no-such-plan/routes", {"name": "x", "targets": TWO})
    assert st == 404, b
    # the CLI sets, lists and deletes the same routes
    out = ctl("route", "set", "--plan", plan, "--name", "cheap", "--targets",
              json.dumps([{"model": "mock-1"}]))
    assert out["name"] == "cheap" and out["owner"] == "plan", out
    assert [r["name"] for r in ctl("route", "list", "--plan", plan)] == ["cheap", "smart"]
    st, h, b = api("POST", "/v1/chat/completions", chat_body("c", model="cheap"), key=t["key"])
    assert st == 200 and b["model"] == "mock-1" and target_of(h)["provider"] == "mock", (st, h)
    ctl("route", "delete", "--plan", plan, "--name", "cheap")
    rc, _, err = ctl("route", "set", "--tenant", t["slug"], "--name", "x", "--targets", "[]",
                     check=False)
    assert rc == 2 and "targets" in err, (rc, err)
    # every change is audited
    rows = db_exec("SELECT action FROM audit_log WHERE action LIKE 'route.%%' AND "
                   "target LIKE '%%smart%%' AND (tenant_id=%d OR tenant_id=0 OR tenant_id IS "
                   "NULL)" % t["id"])
    assert len(rows) >= 3, rows


@test
def dashboard_routes_page_sets_shows_and_deletes():
    from dashhelp import Dash, new_admin, text_of
    modes()
    t = new_tenant("rdash")
    d = Dash()
    d.login(*new_admin("tenant_admin", tenant=t["slug"], prefix="rta"))
    st, _, page = d.get("/admin/tenants/%d/routes" % t["id"])
    assert st == 200 and "No routes" in page, page[:500]
    # a bad form names the problem and keeps what was typed (escaped)
    st, _, page = d.post("/admin/tenants/%d/routes" % t["id"],
                         {"name": "fast", "targets": '[{"model": "<b>x"}]'})
    assert st == 400 and "targets[0].model" in text_of(page), text_of(page)[:800]
    assert "<b>x" not in page and "&lt;b&gt;x" in page, page
    st, _, page = d.post("/admin/tenants/%d/routes" % t["id"], {"name": "fast", "targets": "[]"},
                         csrf=False)
    assert st == 403, st
    st, h, _ = d.post("/admin/tenants/%d/routes" % t["id"],
                      {"name": "fast", "targets": json.dumps(TWO)})
    assert st == 303, st
    st, _, page = d.get("/admin/tenants/%d/routes?done=set" % t["id"])
    txt = text_of(page)
    assert st == 200 and "fast" in txt and "vllm" in txt and "openrouter" in txt, txt[:800]
    st, h, b = api("POST", "/v1/chat/completions", chat_body("d", model="fast"), key=t["key"])
    assert st == 200 and target_of(h)["provider"] == "vllm", (st, h)
    st, _, _ = d.post("/admin/tenants/%d/routes/delete" % t["id"], {"name": "fast"})
    assert st == 303, st
    st, _, b = api("POST", "/v1/chat/completions", chat_body("d", model="fast"), key=t["key"])
    assert st == 404 and err_code(b) == "model_not_found", (st, b)
    # another tenant's admin cannot see this tenant's page
    other = new_tenant("rdo")
    d2 = Dash()
    d2.login(*new_admin("tenant_admin", tenant=other["slug"], prefix="rtb"))
    assert d2.get("/admin/tenants/%d/routes" % t["id"])[0] == 404
    # a plan's routes: staff see them, operators set them, tenant admins do not reach them
    plan = "rdp" + harness.rand_suffix(6)
    assert op("POST", "/plans", {"name": plan})[0] in (200, 201)
    tp = new_tenant("rdpt", plan=plan)
    assert d.get("/admin/plans/%s/routes" % plan)[0] == 404
    ops = Dash()
    ops.login(*new_admin("operator", prefix="rto"))
    st, _, page = ops.get("/admin/plans/%s/routes" % plan)
    assert st == 200 and "No routes" in page, page[:300]
    st, _, _ = ops.post("/admin/plans/%s/routes" % plan,
                        {"name": "team/fast", "targets": json.dumps(TWO[1:])})
    assert st == 303, st
    st, h, b = api("POST", "/v1/chat/completions", chat_body("d", model="team/fast"),
                   key=tp["key"])
    assert st == 200 and target_of(h)["provider"] == "openrouter", (st, h)
    st, _, page = d.get("/admin/tenants/%d/routes" % t["id"])
    assert "team/fast" not in page      # another plan's route
    sup = Dash()
    sup.login(*new_admin("support", prefix="rts"))
    st, _, page = sup.get("/admin/plans/%s/routes" % plan)
    assert st == 200 and "team/fast" in page and "Save route" not in page, page[:300]
    assert sup.post("/admin/plans/%s/routes/delete" % plan, {"name": "team/fast"})[0] == 403
    st, _, _ = ops.post("/admin/plans/%s/routes/delete" % plan, {"name": "team/fast"})
    assert st == 303, st
    st, _, b = api("POST", "/v1/chat/completions", chat_body("d", model="team/fast"),
                   key=tp["key"])
    assert st == 404, (st, b)


if __name__ == "__main__":
    run()
