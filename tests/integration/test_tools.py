"""Agents that use tools (issue 6): the loop, the policy, the runner, secrets, steps.

Every run goes through the mock model, scripted with "[mock:tool=NAME {args}]"
to ask for tools; after the tool results it answers "Tool results: NAME: ...",
quoting what each tool returned (or its error), so the run's output shows
what the model was fed. Tools are registered with agenthostctl (the registry
is global; registering again updates). The test tools live in tests/tools/,
the example tools in contrib/tools/. Only loopback is ever a network target.
"""
import http.server
import json
import os
import shutil
import tempfile
import threading
import time

from harness import test, run, api, sse_full, ctl, rand_suffix
import harness
from apihelp import db_exec

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(TOP, "tests", "tools")
CONTRIB = os.path.join(TOP, "contrib", "tools")
OBJ = {"type": "object"}
CALC_SCHEMA = {"type": "object", "properties": {
    "expression": {"type": "string", "minLength": 1, "maxLength": 1000}},
    "required": ["expression"], "additionalProperties": False}
_registered = set()


def register(name, path, schema=OBJ, timeout_ms=5000, max_output=65536, secrets=(),
             mutating=False):
    if name in _registered:
        return
    args = ["tool", "register", name, "--exec", path, "--schema", json.dumps(schema),
            "--description", "test tool " + name, "--timeout-ms", timeout_ms,
            "--max-output-bytes", max_output]
    for s in secrets:
        args += ["--secret", s]
    if mutating:
        args.append("--mutating")
    ctl(*args)
    _registered.add(name)


def tools_setup():
    register("calculator", os.path.join(CONTRIB, "calculator"), CALC_SCHEMA)
    register("http_fetch", os.path.join(CONTRIB, "http_fetch"),
             {"type": "object", "properties": {"url": {"type": "string"}},
              "required": ["url"]}, secrets=["HTTP_FETCH_ALLOW_HOSTS"])
    register("sleeper", os.path.join(TOOLS, "sleeper"), timeout_ms=500)
    register("bigout", os.path.join(TOOLS, "bigout"), max_output=1 << 20)
    register("envdump", os.path.join(TOOLS, "envdump"), secrets=["API_TOKEN"])
    register("writer", os.path.join(TOOLS, "writer"),
             {"type": "object", "properties": {"dir": {"type": "string"}},
              "required": ["dir"]}, mutating=True)


def tenant(allowed=None, **limits):
    """A tenant (plan free: no tool allowed by default) with allowed_tools set if given."""
    tools_setup()
    t = harness.new_tenant("tools")
    if allowed is not None:
        ctl("limits", "set", "--tenant", t["slug"], "allowed_tools", allowed)
    for k, v in limits.items():
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))
    return t


def agent(t, name, tools, *extra):
    args = ["agent", "create", "--tenant", t["slug"], "--name", name, "--model", "mock-1"]
    for tool in tools:
        args += ["--tool", tool]
    return ctl(*(args + list(extra)))


def ask(tool, args):
    return "[mock:tool=%s %s]" % (tool, json.dumps(args))


def run_agent(t, name, text, headers=None):
    return api("POST", "/v1/agents/%s/runs" % name, {"input": text}, key=t["key"],
               headers=headers)


def steps_of(t, run_id):
    st, _, body = api("GET", "/v1/runs/" + run_id, key=t["key"])
    assert st == 200, (st, body)
    return body, body["steps"]


def kinds(steps):
    return [(s["kind"], s["name"], s["outcome"]) for s in steps]


# ---------------------------------------------------------------- the loop end to end

@test
def calculator_run_end_to_end():
    t = tenant("calculator")
    a = agent(t, "calc", ["calculator"])
    assert a["tools"] == ["calculator"] and a["max_steps"] == 8, a
    st, _, body = run_agent(t, "calc", ask("calculator", {"expression": "2+3*4^2"}) + " go")
    assert st == 200, (st, body)
    assert body["status"] == "succeeded", body
    assert '"result": 50' in body["output"], body["output"]
    assert kinds(body["steps"]) == [("model", "mock-1", "succeeded"),
                                    ("tool", "calculator", "succeeded"),
                                    ("model", "mock-1", "succeeded")], body["steps"]
    assert body["steps"][1]["tool_call_id"], body["steps"][1]
    run, steps = steps_of(t, body["id"])
    assert steps == body["steps"], (steps, body["steps"])
    # Every model call is its own billed execution; the run sums them.
    rows = db_exec("SELECT kind, prompt_tokens, completion_tokens FROM executions"
                   " WHERE tenant_id=%d ORDER BY seq" % t["id"], tenant=t)
    assert [r[0] for r in rows] == ["step", "step", "run"], rows
    assert int(rows[2][1]) == int(rows[0][1]) + int(rows[1][1]), rows
    assert int(rows[2][2]) == int(rows[0][2]) + int(rows[1][2]), rows
    assert run["usage"]["prompt_tokens"] == int(rows[2][1]), run
    used = sum(s["usage"]["prompt_tokens"] + s["usage"]["completion_tokens"]
               for s in steps if s["kind"] == "model")
    assert run["usage"]["total_tokens"] == used, (run["usage"], used)
    # The usage rollup counts the model calls once each (not the run row again).
    req = db_exec("SELECT SUM(requests), SUM(prompt_tokens) FROM usage_daily WHERE tenant_id=%d"
                  % t["id"])[0]
    assert int(req[0]) == 2 and int(req[1]) == int(rows[2][1]), req
    # The runs list shows the run, not its steps.
    st, _, lst = api("GET", "/v1/runs", key=t["key"])
    assert [r["id"] for r in lst["data"]] == [body["id"]], lst
    # The run's page in the dashboard shows its steps.
    from dashhelp import Dash, new_admin
    name, pw = new_admin("tenant_admin", t["slug"])
    d = Dash()
    d.login(name, pw)
    st, _, page = d.get("/admin/tenants/%d/executions/%s" % (t["id"], body["id"]))
    assert st == 200, page[:300]
    assert "<h2>Steps</h2>" in page and "<code>calculator</code>" in page, page[-2000:]


@test
def agent_api_create_with_tools():
    t = tenant("calculator")
    st, _, a = api("POST", "/v1/agents", {"name": "apicalc", "model": "mock-1",
                                          "tools": ["calculator"], "max_steps": 3},
                   key=t["key"])
    assert st == 201, (st, a)
    assert a["tools"] == ["calculator"] and a["max_steps"] == 3, a
    st, _, a = api("GET", "/v1/agents/apicalc", key=t["key"])
    assert st == 200 and a["tools"] == ["calculator"] and a["max_steps"] == 3, a
    st, _, e = api("POST", "/v1/agents", {"name": "x", "model": "mock-1", "tools": ["nope"]},
                   key=t["key"])
    assert st == 404 and e["error"]["reason_code"] == "tool_not_found", (st, e)
    st, _, body = run_agent(t, "apicalc", ask("calculator", {"expression": "7%4"}))
    assert st == 200 and '"result": 3' in body["output"], (st, body)


@test
def streaming_run_with_tools_is_refused():
    t = tenant("calculator")
    agent(t, "calc", ["calculator"])
    st, _, body = sse_full("/v1/agents/calc/runs", {"input": "hi", "stream": True},
                           key=t["key"])
    assert st == 400 and body["error"]["reason_code"] == "tool_streaming_unsupported", (st, body)


# ---------------------------------------------------------------- runner limits

@test
def tool_sleeping_past_its_limit_is_cut():
    t = tenant("sleeper")
    agent(t, "slow", ["sleeper"])
    t0 = time.monotonic()
    st, _, body = run_agent(t, "slow", ask("sleeper", {}))
    took = time.monotonic() - t0
    assert st == 200 and body["status"] == "succeeded", (st, body)
    assert took < 10, took
    tool = body["steps"][1]
    assert tool["outcome"] == "failed" and tool["error"]["reason_code"] == "tool_timeout", tool
    assert 400 <= tool["duration_ms"] < 5000, tool
    assert "sleeper (error)" in body["output"] and "tool_timeout" in body["output"], body


@test
def tool_printing_100_mb_is_cut():
    t = tenant("bigout")
    agent(t, "big", ["bigout"])
    st, _, body = run_agent(t, "big", ask("bigout", {}))
    assert st == 200 and body["status"] == "succeeded", (st, body)
    tool = body["steps"][1]
    assert tool["error"]["reason_code"] == "tool_output_too_large", tool
    assert len(body["output"]) < 4096, len(body["output"])


# ---------------------------------------------------------------- environment and secrets

def env_of(body):
    out = body["output"]
    start = out.index("{")
    return json.loads(out[start:])["env"]


@test
def tool_sees_only_its_own_tenants_secret():
    a, b = tenant("envdump"), tenant("envdump")
    for t, secret in ((a, "secret-of-a-" + rand_suffix()), (b, "secret-of-b-" + rand_suffix())):
        t["secret"] = secret
        ctl("tool-secret", "set", "--tenant", t["slug"], "--tool", "envdump", "--name",
            "API_TOKEN", stdin=secret + "\n")
        agent(t, "env", ["envdump"])
    for t, other in ((a, b), (b, a)):
        st, _, body = run_agent(t, "env", ask("envdump", {}))
        assert st == 200 and body["status"] == "succeeded", (st, body)
        env = env_of(body)
        assert env == {"AGENTHOST_TENANT_ID": str(t["id"]), "AGENTHOST_RUN_ID": body["id"],
                       "AGENTHOST_TOOL": "envdump", "API_TOKEN": t["secret"]}, env
        assert other["secret"] not in json.dumps(body), "another tenant's secret leaked"
    listed = ctl("tool-secret", "list", "--tenant", a["slug"])
    assert [(s["tool"], s["name"], s["version"]) for s in listed] == \
        [("envdump", "API_TOKEN", 1)], listed
    assert a["secret"] not in json.dumps(listed)
    # Stored sealed: the value is nowhere in the table.
    rows = db_exec("SELECT HEX(ciphertext) FROM tool_secrets WHERE tenant_id=%d" % a["id"])
    assert rows and a["secret"].encode().hex().upper() not in rows[0][0], rows
    # A secret the tool does not declare is refused.
    rc, _, err = ctl("tool-secret", "set", "--tenant", a["slug"], "--tool", "envdump",
                     "--name", "OTHER", stdin="x\n", check=False)
    assert rc != 0 and "declares no secret" in err, (rc, err)


# ---------------------------------------------------------------- policy

@test
def tool_not_allowed_for_the_tenant_is_refused():
    t = tenant()  # plan free: allowed_tools is empty, no tool at all
    agent(t, "calc", ["calculator"])
    st, _, body = run_agent(t, "calc", ask("calculator", {"expression": "1+1"}))
    assert st == 200 and body["status"] == "succeeded", (st, body)
    tool = body["steps"][1]
    assert (tool["outcome"], tool["error"]["reason_code"]) == ("refused", "tool_not_allowed"), \
        tool
    assert "calculator (error)" in body["output"] and "tool_not_allowed" in body["output"], body


@test
def tool_allowed_for_the_tenant_but_not_listed_by_the_agent_is_refused():
    t = tenant("*")
    agent(t, "env", ["envdump"])
    st, _, body = run_agent(t, "env", ask("calculator", {"expression": "1+1"}))
    assert st == 200, (st, body)
    tool = body["steps"][1]
    assert tool["name"] == "calculator" and tool["error"]["reason_code"] == "tool_not_allowed", \
        tool


@test
def invalid_arguments_are_refused_before_the_tool_runs():
    t = tenant("calculator")
    agent(t, "calc", ["calculator"])
    st, _, body = run_agent(t, "calc", ask("calculator", {"expr": "1+1"}))
    assert st == 200, (st, body)
    tool = body["steps"][1]
    assert tool["error"]["reason_code"] == "tool_arguments_invalid", tool
    assert "$.expression" in tool["error"]["message"], tool
    assert tool["duration_ms"] == 0, tool


@test
def max_steps_reached_fails_the_run():
    t = tenant("calculator")
    agent(t, "calc", ["calculator"], "--max-steps", "2")
    st, _, body = run_agent(t, "calc", ask("calculator", {"expression": "1"}) +
                            " [mock:tool_rounds=5]")
    assert st == 422, (st, body)
    assert body["error"]["reason_code"] == "max_steps_reached", body
    run = body["run"]
    assert run["status"] == "failed", run
    assert kinds(run["steps"]) == [("model", "mock-1", "succeeded"),
                                   ("tool", "calculator", "succeeded"),
                                   ("model", "mock-1", "succeeded")], run["steps"]
    got, steps = steps_of(t, run["id"])
    assert got["error"]["reason_code"] == "max_steps_reached" and len(steps) == 3, got


# ---------------------------------------------------------------- budgets and idempotency

def first_call_only_budget(text, max_tokens, tool):
    """A daily token budget that admits the first model call of a run only.

    The first call reserves its prompt bound (16 + len(input) + 8, plus the
    offered tool's name, description and schema bytes + 16) plus max_tokens;
    the second one reserves more (the tool's call and answer are in its
    prompt) on top of what the first used.
    """
    rows = db_exec("SELECT LENGTH(name) + LENGTH(description) + LENGTH(schema_json)"
                   " FROM tools WHERE name = '%s'" % tool)
    return 16 + len(text.encode()) + 8 + int(rows[0][0]) + 16 + max_tokens


@test
def budget_applies_to_every_model_call_of_the_loop():
    text = ask("calculator", {"expression": "6*7"})
    t = tenant("calculator", budget_tokens_daily=first_call_only_budget(text, 20, "calculator"))
    agent(t, "calc", ["calculator"], "--max-tokens", "20")
    st, _, body = run_agent(t, "calc", text)
    assert st == 429, (st, body)
    assert body["error"]["reason_code"].endswith("budget_exceeded"), body
    run = body["run"]
    assert run["status"] == "refused", run
    assert kinds(run["steps"]) == [("model", "mock-1", "succeeded"),
                                   ("tool", "calculator", "succeeded"),
                                   ("model", "mock-1", "refused")], run["steps"]
    assert run["steps"][2]["error"]["reason_code"] == body["error"]["reason_code"], run
    _, steps = steps_of(t, run["id"])
    assert len(steps) == 3, steps


@test
def mutating_tool_retried_under_the_same_idempotency_key_writes_once():
    d = tempfile.mkdtemp()
    try:
        text = ask("writer", {"dir": d})
        t = tenant("writer", budget_tokens_daily=first_call_only_budget(text, 20, "writer"))
        agent(t, "w", ["writer"], "--max-tokens", "20")
        hdr = {"Idempotency-Key": "idem-" + rand_suffix(12)}
        # First attempt: the tool writes, then the next model call is refused (429:
        # not remembered, so the retry runs the request again).
        st, _, body = run_agent(t, "w", text, headers=hdr)
        assert st == 429, (st, body)
        assert kinds(body["run"]["steps"])[1] == ("tool", "writer", "succeeded"), body
        ctl("limits", "unset", "--tenant", t["slug"], "budget_tokens_daily")
        time.sleep(1.2)  # limits are cached per worker for up to 1 s
        st, h, body2 = run_agent(t, "w", text, headers=hdr)
        assert st == 200 and body2["status"] == "succeeded", (st, body2)
        assert body2["id"] != body["run"]["id"]
        calls = open(os.path.join(d, "calls")).read().split()
        writes = open(os.path.join(d, "writes")).read().splitlines()
        assert len(calls) == 2 and calls[0] == calls[1] and len(calls[0]) == 32, calls
        assert len(writes) == 1, writes
        assert '"written": false' in body2["output"], body2["output"]
        # Once stored, the same key replays without running anything.
        st, h, body3 = run_agent(t, "w", text, headers=hdr)
        assert st == 200 and h.get("idempotent-replayed") == "true", (st, h)
        assert len(open(os.path.join(d, "calls")).read().split()) == 2
        # Another key is another run: another idempotency key for the tool.
        st, _, body4 = run_agent(t, "w", text, headers={"Idempotency-Key": "other-" +
                                                         rand_suffix(8)})
        assert st == 200, (st, body4)
        calls = open(os.path.join(d, "calls")).read().split()
        assert len(calls) == 3 and calls[2] != calls[0], calls
        assert len(open(os.path.join(d, "writes")).read().splitlines()) == 2
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- contrib tools, registry

class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = b"hello from loopback"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@test
def http_fetch_gets_only_allowlisted_hosts():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Page)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        port = srv.server_address[1]
        t = tenant("http_fetch")
        ctl("tool-secret", "set", "--tenant", t["slug"], "--tool", "http_fetch", "--name",
            "HTTP_FETCH_ALLOW_HOSTS", stdin="127.0.0.1:%d\n" % port)
        agent(t, "fetch", ["http_fetch"])
        st, _, body = run_agent(t, "fetch", ask("http_fetch",
                                                {"url": "http://127.0.0.1:%d/x" % port}))
        assert st == 200 and "hello from loopback" in body["output"], (st, body)
        st, _, body = run_agent(t, "fetch", ask("http_fetch", {"url": "http://[::1]:%d/" % port}))
        assert st == 200 and "not in the allowlist" in body["output"], (st, body)
    finally:
        srv.shutdown()
        srv.server_close()


@test
def disabled_tool_is_refused_and_registry_is_listed():
    register("calc2", os.path.join(CONTRIB, "calculator"), CALC_SCHEMA)
    t = tenant("*")
    agent(t, "c2", ["calc2"])
    ctl("tool", "disable", "calc2")
    try:
        st, _, body = run_agent(t, "c2", ask("calc2", {"expression": "1"}))
        assert st == 200 and body["steps"][1]["error"]["reason_code"] == "tool_not_allowed", body
    finally:
        ctl("tool", "enable", "calc2")
    names = {x["name"]: x for x in ctl("tool", "list")}
    assert names["calc2"]["enabled"] and names["writer"]["mutating"], names
    rc, _, err = ctl("tool", "register", "bad", "--exec", "/etc/passwd", "--schema", "{}",
                     "--description", "x", "--timeout-ms", "10", "--max-output-bytes", "10",
                     check=False)
    assert rc != 0 and "executable" in err, (rc, err)


@test
def operator_api_registers_and_lists_tools():
    tok = os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")
    if not tok:
        harness.skip("no operator token in the environment")
    body = {"name": "opcalc", "description": "calculator via the operator API",
            "schema": CALC_SCHEMA, "exec_path": os.path.join(CONTRIB, "calculator"),
            "timeout_ms": 2000, "max_output_bytes": 4096}
    st, _, t = api("POST", "/admin/api/v1/tools", body, key=tok)
    assert st in (200, 201) and t["name"] == "opcalc" and t["enabled"], (st, t)
    st, _, lst = api("GET", "/admin/api/v1/tools", key=tok)
    assert st == 200 and "opcalc" in [x["name"] for x in lst["data"]], lst
    tenant_t = tenant()
    st, _, e = api("GET", "/admin/api/v1/tools", key=tenant_t["key"])
    assert st in (401, 403), (st, e)
    st, _, e = api("POST", "/admin/api/v1/tools", dict(body, exec_path="relative"), key=tok)
    assert st == 400 and e["error"]["reason_code"] == "invalid_tool", (st, e)


@test
def a_parked_run_keeps_its_own_tenants_limits():
    """One worker thread runs many requests as coroutines: tenant A's agent run parks
    on a slow upstream call (the fake answers SLOW after 5 s, with a call of the first
    offered tool for TOOLCALL) while tenant B, whose daily budget is one micro-dollar,
    calls on the same thread (and is refused). A's second model call is admitted under
    A's limits (a per-thread limits buffer once carried B's into A's run: its second
    call was refused tenant_budget_exceeded)."""
    import fcgi_client as fc
    a = tenant("calculator")
    b = harness.new_tenant("toolsb")
    ctl("limits", "set", "--tenant", b["slug"], "budget_usd_daily", "0.000001")
    ctl("agent", "create", "--tenant", a["slug"], "--name", "slowcalc", "--model",
        "gpt-4o-mini", "--tool", "calculator")
    binary = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
    inst, sock = fc.start_instance(binary, harness.CONF, [("threads", "1"),
                                                          ("upstream_timeout_ms", "20000")])
    res = {}
    try:
        th = threading.Thread(target=lambda: res.update(a=fc.request(
            sock, "POST", "/v1/agents/slowcalc/runs", {"input": "SLOW TOOLCALL"},
            key=a["key"], timeout=60)))
        th.start()
        time.sleep(1.5)  # A's first model call is parked at the fake upstream now
        st, _, body = fc.request(sock, "POST", "/v1/chat/completions",
                                 {"model": "mock-1", "messages": [
                                     {"role": "user", "content": "hi"}]}, key=b["key"])
        assert st == 429 and body["error"]["reason_code"] == "tenant_budget_exceeded", (st, body)
        th.join(60)
    finally:
        fc.stop(inst)
    st, _, body = res["a"]
    assert st == 200, (st, body)
    assert body["status"] == "succeeded", body
    model_steps = [x for x in body["steps"] if x["kind"] == "model"]
    assert len(model_steps) >= 2 and all(x["outcome"] == "succeeded" for x in model_steps), \
        body["steps"]


run()
