"""Issue 17 part D: guardrails as plugins.

A tenant's chain (the limit "guardrails") of registered checks runs before and
after each model call through the tool runner: a denial is 403 guardrail_denied
(before: nothing billed; after: billed), a redaction is what the provider (before)
or the client (after) sees, and a check that crashes, times out, exits non-zero or
prints no valid verdict fails the call closed with 502 guardrail_failed. What each
check decided is on the execution row and in GET /v1/runs/{id}. The registry is
global (registering again updates); guardrail_dir is the checkout (tests/run).
"""
import json
import os
import subprocess
import tarfile
import tempfile

from apihelp import chat_body, db_exec, err_code, new_tenant
from dashhelp import Dash, new_admin, text_of
from harness import api, assert_error, ctl, fake_last, rand_suffix, run, sse_full, test

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRIB = os.path.join(TOP, "contrib", "guardrails")
TESTS = os.path.join(TOP, "tests", "guardrails")
OP = {"Authorization": "Bearer " + os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")}
FAKE_MODEL = "gpt-4o-mini"  # the openai provider, pointed at tests/fakes/fake_upstream.py
_registered = set()


def register(name, path, stage, timeout_ms=5000, env=()):
    if name in _registered:
        return
    args = ["guardrails", "register", name, "--exec", path, "--stage", stage,
            "--timeout-ms", timeout_ms, "--description", "test guardrail " + name]
    for e in env:
        args += ["--env", e]
    ctl(*args)
    _registered.add(name)


def setup():
    register("pii", os.path.join(CONTRIB, "pii-redact"), "both")
    register("pii-out", os.path.join(CONTRIB, "pii-redact"), "after")
    register("length20", os.path.join(CONTRIB, "prompt-length"), "before",
             env=["PROMPT_MAX_CHARS=20"])
    register("denyall", os.path.join(TESTS, "denyall"), "before")
    register("answer-deny", os.path.join(TESTS, "answer-deny"), "after")
    register("crash", os.path.join(TESTS, "crash"), "before")
    register("sleeper", os.path.join(TESTS, "sleeper"), "before", timeout_ms=300)
    register("garbage", os.path.join(TESTS, "garbage"), "before")
    register("badverdict", os.path.join(TESTS, "badverdict"), "after")
    register("fails", os.path.join(TESTS, "fails"), "before")


def tenant(chain, prefix="gr"):
    setup()
    t = new_tenant(prefix)
    ctl("guardrails", "chain", "--tenant", t["slug"], chain)
    return t


def exec_row(t, exec_id):
    rows = db_exec("SELECT status, reason_code, cost_micros, guardrails FROM executions"
                   " WHERE tenant_id=%d AND id='%s'" % (t["id"], exec_id), tenant=t)
    assert len(rows) == 1, rows
    status, reason, cost, grails = rows[0]
    # mariadb --batch writes a backslash as two (the JSON text has no raw tab or newline)
    grails = grails.replace("\\\\", "\\") if grails else None
    return status, reason, int(cost), json.loads(grails) if grails else None


def last_exec(t):
    rows = db_exec("SELECT id FROM executions WHERE tenant_id=%d ORDER BY seq DESC LIMIT 1"
                   % t["id"], tenant=t)
    return exec_row(t, rows[0][0])


def chat(t, text, model=FAKE_MODEL, **kw):
    return api("POST", "/v1/chat/completions", chat_body(text, model=model, **kw), key=t["key"])


def run_check(name, call, env=None):
    """Run a contrib guardrail as the host would (clean environment); its verdict."""
    p = subprocess.run([os.path.join(CONTRIB, name)], input=json.dumps(call), env=env or {},
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (name, p.returncode, p.stderr)
    return json.loads(p.stdout)


@test
def contrib_checks_mask_what_they_should_and_nothing_else():
    masked = [("bob.smith+x@mail.example.co.uk", "[EMAIL]"), ("+49 170 1234567", "[PHONE]"),
              ("(415) 555-0100 ext", "[PHONE] ext"), ("sk-proj-AbCdEf0123456789xyz", "[API_KEY]"),
              ("AKIAIOSFODNN7EXAMPLE", "[AWS_KEY]")]
    kept = ["2026-12-07", "order 12345", "version 1.2.3", "sk-short", "AKIA123", "a@b"]
    for text, want in masked:
        v = run_check("pii-redact", {"stage": "before",
                                     "messages": [{"role": "user", "content": "x " + text}]})
        assert v == {"action": "redact", "messages": [{"role": "user", "content": "x " + want}]}, \
            (text, v)
        v = run_check("pii-redact", {"stage": "after", "messages": [], "content": text})
        assert v == {"action": "redact", "content": want}, (text, v)
    for text in kept:
        v = run_check("pii-redact", {"stage": "before",
                                     "messages": [{"role": "user", "content": text}]})
        assert v == {"action": "allow"}, (text, v)
    v = run_check("pii-redact", {"stage": "before", "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "a@example.com"}]},
        env={"PII_REDACT_MODE": "deny"})
    assert v == {"action": "deny", "reason": "the prompt contains email"}, v
    call = {"stage": "before", "messages": [{"role": "system", "content": "12345"},
                                            {"role": "user", "content": "67890"}]}
    assert run_check("prompt-length", call, {"PROMPT_MAX_CHARS": "10"}) == {"action": "allow"}
    v = run_check("prompt-length", call, {"PROMPT_MAX_CHARS": "9"})
    assert v == {"action": "deny",
                 "reason": "the prompt is 10 characters, over the limit of 9"}, v
    assert run_check("prompt-length", call) == {"action": "allow"}  # default 8000


@test
def before_denial_is_403_unbilled_and_recorded():
    t = tenant("length20,denyall")
    st, _, b = chat(t, "this prompt is far longer than twenty characters")
    assert st == 403 and err_code(b) == "guardrail_denied", (st, b)
    assert "length20" in b["error"]["message"], b
    assert "over the limit of 20" in b["error"]["message"], b
    status, reason, cost, grails = last_exec(t)
    assert (status, reason, cost) == ("refused", "guardrail_denied", 0), (status, reason, cost)
    # the chain stopped at the denial: denyall never ran
    assert [(g["name"], g["stage"], g["action"]) for g in grails] == \
        [("length20", "before", "deny")], grails
    assert "over the limit" in grails[0]["reason"] and grails[0]["ms"] >= 0, grails
    # a short prompt passes length20 and meets denyall
    st, _, b = chat(t, "short")
    assert st == 403 and "no calls today" in b["error"]["message"], b
    assert [g["action"] for g in last_exec(t)[3]] == ["allow", "deny"]
    # nothing was held: the tenant's usage for today has no cost
    used = db_exec("SELECT COALESCE(SUM(cost_micros), 0) FROM executions WHERE tenant_id=%d"
                   % t["id"], tenant=t)
    assert used == [["0"]], used


@test
def before_redaction_never_reaches_the_provider():
    t = tenant("pii")
    secret = "write to alice@example.org, key sk-live0123456789abcdefXYZ, call +1 415 555 0100"
    st, _, b = chat(t, secret)
    assert st == 200, (st, b)
    sent = json.dumps(fake_last()["body"])
    for s in ("alice@example.org", "sk-live0123456789abcdefXYZ", "415 555 0100"):
        assert s not in sent, sent
    assert "[EMAIL]" in sent and "[API_KEY]" in sent and "[PHONE]" in sent, sent
    # the fake echoes what it got: the answer holds the masks, not the originals
    content = b["choices"][0]["message"]["content"]
    assert "[EMAIL]" in content and "alice@" not in content, content
    status, reason, cost, grails = last_exec(t)
    assert status == "succeeded" and cost > 0, (status, cost)
    assert [(g["name"], g["stage"], g["action"]) for g in grails] == \
        [("pii", "before", "redact"), ("pii", "after", "allow")], grails


@test
def after_redaction_never_reaches_the_client():
    t = tenant("pii-out")
    st, _, b = chat(t, "my mail is bob@example.net")
    assert st == 200, (st, b)
    # the provider saw it (after-checks only), the client does not
    assert "bob@example.net" in json.dumps(fake_last()["body"])
    content = b["choices"][0]["message"]["content"]
    assert content == "fake openai reply to: my mail is [EMAIL]", content
    grails = last_exec(t)[3]
    assert [(g["name"], g["stage"], g["action"]) for g in grails] == \
        [("pii-out", "after", "redact")], grails
    # streamed: the answer is held back for the after-check and released redacted
    st, _, events = sse_full("/v1/chat/completions",
                             chat_body("stream to bob@example.net", model=FAKE_MODEL,
                                       stream=True), key=t["key"])
    assert st == 200, (st, events)
    text = "".join(
        (json.loads(d)["choices"][0]["delta"].get("content") or "")
        for _, d in events if d != "[DONE]" and json.loads(d).get("choices"))
    assert text == "fake openai reply to: stream to [EMAIL]", (text, events)
    assert "bob@example.net" not in json.dumps(events)


@test
def after_denial_is_403_and_billed():
    t = tenant("answer-deny")
    st, _, b = chat(t, "tell me something forbidden")
    assert st == 403 and err_code(b) == "guardrail_denied", (st, b)
    assert "answer" in b["error"]["message"], b
    status, reason, cost, grails = last_exec(t)
    assert status == "failed" and reason == "guardrail_denied" and cost > 0, (status, cost)
    assert grails == [{"name": "answer-deny", "stage": "after", "action": "deny",
                       "reason": "the answer mentions something forbidden",
                       "ms": grails[0]["ms"]}], grails
    st, _, b = chat(t, "tell me something nice")
    assert st == 200, (st, b)
    # streamed: nothing was sent before the check, so the denial is a plain JSON 403
    st, _, b = sse_full("/v1/chat/completions",
                        chat_body("stream something forbidden", model=FAKE_MODEL, stream=True),
                        key=t["key"])
    assert st == 403 and err_code(b) == "guardrail_denied", (st, b)


@test
def failing_checks_fail_closed():
    cases = [("crash", "crashed"), ("sleeper", "timed out after 300 ms"),
             ("garbage", "not JSON"), ("fails", "exited with status 3"),
             ("badverdict", "no valid verdict")]
    for name, why in cases:
        t = tenant(name, prefix="grf")
        st, _, b = chat(t, "hello")
        assert st == 502 and err_code(b) == "guardrail_failed", (name, st, b)
        assert name in b["error"]["message"] and why in b["error"]["message"], (name, b)
        status, reason, cost, grails = last_exec(t)
        assert status == "failed" and reason == "guardrail_failed", (name, status, reason)
        assert grails[-1]["name"] == name and grails[-1]["action"] == "error", grails
        if name != "badverdict":  # a before-check failed: the provider was never paid
            assert cost == 0, (name, cost)


# Verdicts the protocol refuses (docs/PLUGINS.md): (stage, printed verdict, part of the why).
BAD_VERDICTS = [
    ("before", '[{"action": "allow"}]', "not a JSON object"),
    ("before", '{"action": "maybe"}', "must be allow, deny or redact"),
    ("before", '{"Action": "allow"}', "must be allow, deny or redact"),
    ("before", '{"action": "allow", "action": "deny", "reason": "x"}', "not a JSON object"),
    ("before", '{"action": "deny"}', "carries"),
    ("before", '{"action": "deny", "reason": ""}', "1-500 bytes"),
    ("before", '{"action": "deny", "reason": 7}', "1-500 bytes"),
    ("before", '{"action": "redact", "content": "x"}', "carries"),
    ("before", '{"action": "redact", "messages": []}', "array of the 1 messages"),
    ("before", '{"action": "redact", "messages": [{"role": "system", "content": "x"}]}',
     "role"),
    ("before", '{"action": "redact", "messages": [{"role": "user", "content": null}]}',
     "role"),
    ("after", '{"action": "redact", "messages": []}', "carries"),
    ("after", '{"action": "redact", "content": 3}', "must be a string"),
    ("after", '', "not JSON"),
]


@test
def verdicts_are_validated_strictly():
    setup()
    verdict = os.path.join(TESTS, "verdict")
    for i, (stage, out, why) in enumerate(BAD_VERDICTS):
        name = "v%d-%s" % (i, rand_suffix(4))
        register(name, verdict, stage, env=["VERDICT=" + out] if out else [])
        t = tenant(name, prefix="grv")
        st, _, b = chat(t, "hello", model="mock-1")
        assert st == 502 and err_code(b) == "guardrail_failed", (out, st, b)
        assert why in b["error"]["message"], (out, b["error"]["message"])
    # and the good ones pass, the same way
    for out in ('{"action": "allow"}', '{"action":"redact","messages":[{"role":"user",'
                '"content":"bye"}]}'):
        name = "vok-" + rand_suffix(5)
        register(name, verdict, "before", env=["VERDICT=" + out])
        t = tenant(name, prefix="grv")
        st, _, b = chat(t, "hello", model=FAKE_MODEL)
        assert st == 200, (out, st, b)
    assert b["choices"][0]["message"]["content"] == "fake openai reply to: bye", b


@test
def chain_naming_an_unregistered_check_fails_closed():
    setup()
    t = new_tenant("grx")
    # set behind the registry's back (limits set does not check names)
    ctl("limits", "set", "--tenant", t["slug"], "guardrails", "no-such-check")
    st, _, b = chat(t, "hello", model="mock-1")
    assert st == 502 and err_code(b) == "guardrail_failed", (st, b)
    assert "not registered" in b["error"]["message"], b
    # the CLI and the API refuse such a chain
    rc, _, err = ctl("guardrails", "chain", "--tenant", t["slug"], "no-such-check",
                     check=False)
    assert rc != 0 and "not a registered guardrail" in err, err


@test
def disabled_check_is_skipped_and_recorded():
    setup()
    name = "skip" + rand_suffix(5)
    register(name, os.path.join(TESTS, "denyall"), "before")
    t = tenant(name)
    assert chat(t, "hi", model="mock-1")[0] == 403
    ctl("guardrails", "disable", name)
    st, _, b = chat(t, "hi", model="mock-1")
    assert st == 200, (st, b)
    assert last_exec(t)[3] == [{"name": name, "stage": "before", "action": "skipped",
                                "reason": "disabled", "ms": 0}]
    listed = {g["name"]: g for g in ctl("guardrails", "list")}
    assert listed[name]["enabled"] is False and listed["length20"]["env"] == \
        {"PROMPT_MAX_CHARS": "20"}, listed[name]


@test
def runs_show_the_decisions():
    t = tenant("pii")
    ctl("agent", "create", "--tenant", t["slug"], "--name", "helper", "--model", "mock-1")
    st, _, run_ = api("POST", "/v1/agents/helper/runs", {"input": "mail eve@example.com"},
                      key=t["key"])
    assert st == 200, (st, run_)
    st, _, got = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200, got
    assert [g["action"] for g in got["guardrails"]] == ["redact", "allow"], got
    # the stored input is the redacted one
    assert got["input"] == "mail [EMAIL]", got["input"]
    assert "eve@example.com" not in json.dumps(got)
    # a streamed run: the answer is held for the after-check and released redacted
    st, _, events = sse_full("/v1/agents/helper/runs",
                             {"input": "again eve@example.com", "stream": True}, key=t["key"])
    assert st == 200, (st, events)
    names = [e for e, _ in events]
    assert names[-2] == "run.completed", names
    final = json.loads(events[-2][1])
    text = "".join(json.loads(d)["delta"] for e, d in events if e == "run.output.delta")
    assert final["output"] == text and "eve@example.com" not in json.dumps(events), events
    assert [g["action"] for g in final["guardrails"]] == ["redact", "allow"], final
    # a session keeps the redacted turn
    st, _, sess = api("POST", "/v1/sessions", {"agent": "helper"}, key=t["key"])
    assert st in (200, 201), sess
    st, _, _ = api("POST", "/v1/agents/helper/runs",
                   {"input": "mail eve@example.com", "session_id": sess["id"]}, key=t["key"])
    assert st == 200
    st, _, got = api("GET", "/v1/sessions/" + sess["id"], key=t["key"])
    assert st == 200 and "eve@example.com" not in json.dumps(got), got
    assert "[EMAIL]" in json.dumps(got), got
    # the decisions leave with the tenant's export
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.tar")
        ctl("tenant", "export", t["slug"], "--out", path)
        with tarfile.open(path) as tf:
            member = [m for m in tf.getmembers() if m.name.endswith("/executions.jsonl")][0]
            rows = [json.loads(x) for x in tf.extractfile(member).read().splitlines()]
    row = [x for x in rows if x["id"] == run_["id"]][0]
    assert [g["action"] for g in row["guardrails"]] == ["redact", "allow"], row


@test
def registration_is_checked():
    setup()
    bad = [
        (["--exec", "/bin/true", "--stage", "before", "--timeout-ms", "100"],
         "not under guardrail_dir"),
        (["--exec", os.path.join(TESTS, "denyall"), "--stage", "sometimes",
          "--timeout-ms", "100"], "stage"),
        (["--exec", os.path.join(TESTS, "nope"), "--stage", "before", "--timeout-ms", "100"],
         "not an executable file"),
        (["--exec", os.path.join(TESTS, "denyall"), "--stage", "before", "--timeout-ms", "100",
          "--env", "AGENTHOST_X=1"], "env"),
    ]
    for args, why in bad:
        rc, _, err = ctl("guardrails", "register", "g" + rand_suffix(4), *args, check=False)
        assert rc != 0 and why in err, (args, err)
    # the operator API applies the same check
    st, _, b = api("POST", "/admin/api/v1/guardrails",
                   {"name": "opbad", "exec_path": "/bin/true", "stage": "before",
                    "timeout_ms": 100}, headers=OP)
    assert st == 400 and err_code(b) == "invalid_guardrail", (st, b)
    assert "guardrail_dir" in b["error"]["message"], b


@test
def operator_and_tenant_apis_manage_chains():
    setup()
    name = "op" + rand_suffix(5)
    st, _, g = api("POST", "/admin/api/v1/guardrails",
                   {"name": name, "exec_path": os.path.join(CONTRIB, "prompt-length"),
                    "stage": "before", "timeout_ms": 2000, "env": {"PROMPT_MAX_CHARS": "5"},
                    "description": "five characters"}, headers=OP)
    assert st == 201 and g["name"] == name and g["env"] == {"PROMPT_MAX_CHARS": "5"}, (st, g)
    st, _, lst = api("GET", "/admin/api/v1/guardrails", headers=OP)
    assert st == 200 and name in [x["name"] for x in lst["data"]], lst
    t = new_tenant("gra")
    st, _, c = api("POST", "/admin/api/v1/tenants/%s/guardrails" % t["slug"],
                   {"chain": [name]}, headers=OP)
    assert st == 200 and c["chain"] == [name] and c["source"] == "tenant", (st, c)
    assert chat(t, "far too long", model="mock-1")[0] == 403
    # the tenant reads its chain (read scope) and, with a manage key, replaces it
    st, _, c = api("GET", "/v1/guardrails", key=t["key"])
    assert st == 200 and c["chain"] == [name], (st, c)
    assert_error(api("POST", "/v1/guardrails", {"chain": []}, key=t["key"]), 403,
                 "scope_denied")
    mk = ctl("key", "create", "--tenant", t["slug"], "--name", "mgr", "--scopes",
             "inference,read,manage")["key"]
    assert_error(api("POST", "/v1/guardrails", {"chain": ["nope-" + name]}, key=mk), 400,
                 "invalid_guardrail")
    assert_error(api("POST", "/v1/guardrails", {"chain": name}, key=mk), 400,
                 "invalid_guardrail")
    st, _, c = api("POST", "/v1/guardrails", {"chain": []}, key=mk)
    assert st == 200 and c["chain"] == [] and c["source"] == "tenant", (st, c)
    assert chat(t, "far too long", model="mock-1")[0] == 200
    st, _, c = api("POST", "/v1/guardrails", {"chain": None}, key=mk)
    assert st == 200 and c["source"] != "tenant", (st, c)
    rows = db_exec("SELECT actor_type FROM audit_log WHERE tenant_id=%d"
                   " AND action='guardrails.chain' ORDER BY id" % t["id"])
    assert rows == [["operator"], ["api_key"], ["api_key"]], rows


@test
def plan_chain_applies_to_its_tenants():
    setup()
    plan = "gp" + rand_suffix(5)
    ctl("plan", "create", plan)
    ctl("guardrails", "chain", "--plan", plan, "denyall")
    t = new_tenant("grp", plan=plan)
    st, _, b = chat(t, "hi", model="mock-1")
    assert st == 403 and err_code(b) == "guardrail_denied", (st, b)
    lim = api("GET", "/v1/limits", key=t["key"])[2]["limits"]["guardrails"]
    assert lim == {"value": "denyall", "source": "plan"} or \
        (lim["value"] == "denyall" and lim["source"] == "plan"), lim


@test
def a_tenant_cannot_drop_its_plans_checks():
    # the plan requires length20; the tenant's own chain (its manage key) must keep it, in
    # any order and with checks of its own; an operator may set any chain
    setup()
    plan = "gk" + rand_suffix(5)
    ctl("plan", "create", plan)
    ctl("guardrails", "chain", "--plan", plan, "length20")
    t = new_tenant("grk", plan=plan)
    mk = ctl("key", "create", "--tenant", t["slug"], "--name", "mgr", "--scopes",
             "inference,read,manage")["key"]
    for chain in ([], ["pii"]):
        st, _, b = api("POST", "/v1/guardrails", {"chain": chain}, key=mk)
        assert st == 400 and err_code(b) == "invalid_guardrail" and "length20" in \
            b["error"]["message"] and b["error"]["param"] == "chain", (chain, st, b)
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope='tenant' AND scope_id=%d"
                   " AND name='guardrails'" % t["id"]) == [["0"]]
    st, _, c = api("POST", "/v1/guardrails", {"chain": ["pii", "length20"]}, key=mk)
    assert st == 200 and c["chain"] == ["pii", "length20"], (st, c)
    assert chat(t, "this prompt is far longer than twenty characters",
                model="mock-1")[0] == 403
    st, _, c = api("POST", "/admin/api/v1/tenants/%s/guardrails" % t["slug"],
                   {"chain": []}, headers=OP)
    assert st == 200 and c["chain"] == [], (st, c)
    assert chat(t, "this prompt is far longer than twenty characters",
                model="mock-1")[0] == 200


@test
def dashboard_shows_and_sets_the_chain_and_the_decisions():
    t = tenant("length20,pii")
    st, _, _ = chat(t, "this prompt is far longer than twenty characters", model="mock-1")
    assert st == 403
    exec_id = db_exec("SELECT id FROM executions WHERE tenant_id=%d ORDER BY seq DESC LIMIT 1"
                      % t["id"], tenant=t)[0][0]
    for role, tid in (("operator", None), ("tenant_admin", t["id"]), ("support", None)):
        name, pw = new_admin(role, tenant=tid)
        d = Dash()
        d.login(name, pw)
        st, _, page = d.get("/admin/tenants/%d/guardrails" % t["id"])
        assert st == 200, (role, st)
        text = text_of(page)
        assert "length20" in text and "pii" in text and "PROMPT_MAX_CHARS=20" in text, text
        assert ("This tenant's chain" in text) == (role != "support"), (role, text)
        st, _, page = d.get("/admin/tenants/%d/executions/%s" % (t["id"], exec_id))
        assert st == 200, (role, st)
        text = text_of(page)
        assert "Guardrails" in text and "over the limit of 20" in text and "deny" in text, text
    # the tenant's admin sets the chain: a bad name is refused, a good one applies
    name, pw = new_admin("tenant_admin", tenant=t["id"])
    d = Dash()
    d.login(name, pw)
    d.get("/admin/tenants/%d/guardrails" % t["id"])
    st, _, page = d.post("/admin/tenants/%d/guardrails" % t["id"], {"chain": "nope-x"})
    assert st == 400 and "not a registered guardrail" in text_of(page), (st, text_of(page))
    st, _, _ = d.post("/admin/tenants/%d/guardrails" % t["id"], {"chain": "none"})
    assert st == 303, st
    assert chat(t, "this prompt is far longer than twenty characters", model="mock-1")[0] == 200
    # support may read, never write
    name, pw = new_admin("support")
    d = Dash()
    d.login(name, pw)
    d.get("/admin/tenants/%d/guardrails" % t["id"])
    st, _, _ = d.post("/admin/tenants/%d/guardrails" % t["id"], {"chain": "pii"})
    assert st == 403, st
    # another tenant's admin does not see it
    name, pw = new_admin("tenant_admin", tenant=new_tenant("gro")["id"])
    d = Dash()
    d.login(name, pw)
    assert d.get("/admin/tenants/%d/guardrails" % t["id"])[0] == 404


if __name__ == "__main__":
    run()
