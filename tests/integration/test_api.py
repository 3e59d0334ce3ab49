"""Tenant API: identification, refusals, isolation, execution and recording.

Each test makes its own tenants (random slugs), so tests never depend on
one another's data. Runs against lighttpd (AGENTHOST_URL) and, where it
matters for routing, nginx under a mount prefix (AGENTHOST_URL_NGINX).
"""
import json
import os
import subprocess

import harness
from harness import test, run, api, sse, ctl, fake_last, wait_until
from apihelp import new_tenant, db_exec, chat_body, err_code

URL = os.environ["AGENTHOST_URL"]
NGINX = os.environ.get("AGENTHOST_URL_NGINX")


# ---------------------------------------------------------------- identify

@test
def missing_key_is_401():
    st, h, b = api("POST", "/v1/chat/completions", chat_body())
    assert st == 401 and err_code(b) == "missing_api_key", (st, b)
    assert h.get("x-request-id"), h


@test
def unknown_key_is_401():
    st, _, b = api("POST", "/v1/chat/completions", chat_body(),
                   key="ah_live_" + "A" * 43)
    assert st == 401 and err_code(b) == "invalid_api_key", (st, b)
    st, _, b = api("GET", "/v1/models", key="not-a-key")
    assert st == 401 and err_code(b) == "invalid_api_key", (st, b)
    st, _, b = api("GET", "/v1/models", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert st == 401 and err_code(b) == "invalid_api_key", (st, b)


@test
def revoked_key_is_401():
    t = new_tenant("rev")
    st, _, _ = api("GET", "/v1/models", key=t["key"])
    assert st == 200
    ctl("key", "revoke", "--tenant", t["slug"], "--key", str(t["key_id"]))
    st, _, b = api("GET", "/v1/models", key=t["key"])
    assert st == 401 and err_code(b) == "key_revoked", (st, b)


@test
def expired_key_is_401():
    t = new_tenant("exp")
    k = ctl("key", "create", "--tenant", t["slug"], "--name", "short", "--expires-in", "60")
    st, _, b = api("GET", "/v1/models", key=k["key"])
    assert st == 200, (st, b)
    # let the clock pass the expiry: move it into the past in the database, behind
    # agenthost's back; every process hears of a change to a key's row within the
    # revocation bound (docs/ENFORCEMENT.md, "Caches"), then refuses the key
    db_exec("UPDATE api_keys SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
            "WHERE id=%d AND tenant_id=%d" % (k["id"], t["id"]))

    def refused():
        st, _, b = api("GET", "/v1/models", key=k["key"])
        return (st, b) if st != 200 else None

    got = wait_until(refused, timeout=2.0)
    assert got and got[0] == 401 and err_code(got[1]) == "key_expired", got


@test
def rotated_key_grace_then_refused():
    t = new_tenant("rot")
    nk = ctl("key", "rotate", "--tenant", t["slug"], "--key", str(t["key_id"]), "--grace", "3600")
    assert nk["key"] != t["key"]
    for k in (t["key"], nk["key"]):
        st, _, b = api("GET", "/v1/models", key=k)
        assert st == 200, (st, b)
    nk2 = ctl("key", "rotate", "--tenant", t["slug"], "--key", str(nk["id"]), "--grace", "0")
    st, _, b = api("GET", "/v1/models", key=nk["key"])
    assert st == 401 and err_code(b) == "key_expired", (st, b)
    st, _, b = api("GET", "/v1/models", key=nk2["key"])
    assert st == 200, (st, b)


@test
def tenant_header_must_match():
    t = new_tenant("hdr")
    other = new_tenant("hdr2")
    for good in (t["slug"], str(t["id"])):
        st, _, b = api("GET", "/v1/models", key=t["key"], headers={"X-Tenant-ID": good})
        assert st == 200, (good, st, b)
    for bad in (other["slug"], str(other["id"]), "nonsense"):
        st, _, b = api("GET", "/v1/models", key=t["key"], headers={"X-Tenant-ID": bad})
        assert st == 403 and err_code(b) == "tenant_mismatch", (bad, st, b)


@test
def tenant_id_in_body_is_ignored():
    t = new_tenant("body")
    other = new_tenant("body2")
    st, _, b = api("POST", "/v1/chat/completions",
                   chat_body(tenant_id=other["id"], tenant=other["slug"]), key=t["key"])
    assert st == 200, (st, b)
    st, _, run = api("POST", "/v1/agents/assistant/runs",
                     {"input": "x", "tenant_id": other["id"]}, key=t["key"])
    assert st == 200, (st, run)
    st, _, lst = api("GET", "/v1/runs", key=other["key"])
    assert st == 200 and lst["data"] == [], lst


@test
def suspended_tenant_is_403_and_resume_restores():
    t = new_tenant("susp")
    ctl("tenant", "suspend", t["slug"], "--reason", "unpaid invoice")
    st, _, b = api("GET", "/v1/models", key=t["key"])
    assert st == 403 and err_code(b) == "tenant_suspended", (st, b)
    ctl("tenant", "resume", t["slug"])
    st, _, b = api("GET", "/v1/models", key=t["key"])
    assert st == 200, (st, b)


# ---------------------------------------------------------------- request limits

@test
def body_over_limit_is_413():
    t = new_tenant("big")
    big = {"model": "mock-1", "messages": [{"role": "user", "content": "x" * (1100 * 1024)}]}
    st, _, b = api("POST", "/v1/chat/completions", big, key=t["key"])
    assert st == 413 and err_code(b) == "body_too_large", (st, b)


@test
def malformed_json_is_400():
    t = new_tenant("badjson")
    for raw in (b"{not json", b"[1,2,3]", b"", b'{"model": "mock-1", "model": "x"}'):
        st, _, b = api("POST", "/v1/chat/completions", raw, key=t["key"])
        assert st == 400 and err_code(b) == "invalid_json", (raw, st, b)


@test
def deep_json_is_400():
    t = new_tenant("deep")
    raw = b'{"model":"mock-1","messages":[],"x":' + b"[" * 200 + b"]" * 200 + b"}"
    st, _, b = api("POST", "/v1/chat/completions", raw, key=t["key"])
    assert st == 400 and err_code(b) == "json_too_deep", (st, b)


@test
def too_many_headers_is_400():
    t = new_tenant("hdrs")
    hs = {"X-Filler-%d" % i: "v" for i in range(80)}
    st, _, b = api("GET", "/v1/models", key=t["key"], headers=hs)
    assert st == 400 and err_code(b) == "too_many_headers", (st, b)


@test
def invalid_fields_are_400():
    t = new_tenant("fields")
    cases = [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "mock-1"}, "messages"),
        ({"model": "mock-1", "messages": []}, "messages"),
        ({"model": "mock-1", "messages": [{"role": "wizard", "content": "x"}]}, "role"),
        (chat_body(temperature=7), "temperature"),
        (chat_body(max_tokens=0), "max_tokens"),
        (chat_body(max_tokens="ten"), "max_tokens"),
        (chat_body(stream="yes"), "stream"),
        (chat_body(n=3), "'n'"),
    ]
    for body, word in cases:
        st, _, b = api("POST", "/v1/chat/completions", body, key=t["key"])
        assert st == 400 and err_code(b) == "invalid_request", (body, st, b)
        assert word in b["error"]["message"], (word, b)


@test
def unknown_model_is_404():
    t = new_tenant("model")
    st, _, b = api("POST", "/v1/chat/completions", chat_body(model="gpt-99"), key=t["key"])
    assert st == 404 and err_code(b) == "model_not_found", (st, b)


@test
def unknown_route_and_method():
    st, _, b = api("GET", "/v1/nothing-here")
    assert st == 404 and err_code(b) == "not_found", (st, b)
    st, h, b = api("DELETE", "/v1/chat/completions")
    assert st == 405 and err_code(b) == "method_not_allowed", (st, b)
    assert "POST" in h.get("allow", ""), h


# ---------------------------------------------------------------- execute

@test
def chat_completion_mock():
    t = new_tenant("chat")
    st, h, b = api("POST", "/v1/chat/completions", chat_body("what is 2+2?"), key=t["key"])
    assert st == 200, (st, b)
    assert b["object"] == "chat.completion" and b["id"].startswith("chatcmpl-"), b
    msg = b["choices"][0]["message"]
    assert msg["role"] == "assistant" and "what is 2+2?" in msg["content"], b
    u = b["usage"]
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0, u
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    # deterministic
    st, _, b2 = api("POST", "/v1/chat/completions", chat_body("what is 2+2?"), key=t["key"])
    assert b2["choices"][0]["message"]["content"] == msg["content"]
    assert b2["usage"] == u


@test
def chat_completion_stream_with_usage():
    t = new_tenant("stream")
    events = sse("/v1/chat/completions",
                 chat_body("stream me", stream=True, stream_options={"include_usage": True}),
                 key=t["key"])
    datas = [d for _, d in events]
    assert datas[-1] == "[DONE]", datas[-3:]
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks), chunks[0]
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert "stream me" in text, text
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finals and finals[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    # the same text as the non-streamed call
    st, _, b = api("POST", "/v1/chat/completions", chat_body("stream me"), key=t["key"])
    assert b["choices"][0]["message"]["content"] == text


@test
def stream_without_include_usage_has_no_usage_chunk():
    t = new_tenant("stream2")
    events = sse("/v1/chat/completions", chat_body("abc", stream=True), key=t["key"])
    chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
    assert all(c["choices"] for c in chunks), chunks[-1]


@test
def mock_error_maps_to_502_and_is_recorded():
    t = new_tenant("mockerr")
    st, _, b = api("POST", "/v1/chat/completions",
                   chat_body("[mock:error=upstream_error]"), key=t["key"])
    assert st == 502 and err_code(b) == "upstream_error", (st, b)
    st, _, b = api("POST", "/v1/chat/completions",
                   chat_body("[mock:error=upstream_timeout]"), key=t["key"])
    assert st == 504 and err_code(b) == "upstream_timeout", (st, b)
    rows = db_exec("SELECT status, reason_code, http_status FROM executions "
                   "WHERE tenant_id=%d ORDER BY seq" % t["id"], tenant=t)
    assert rows == [["failed", "upstream_error", "502"], ["failed", "upstream_timeout", "504"]], rows


@test
def stream_error_after_output_is_an_error_event():
    t = new_tenant("cut")
    events = sse("/v1/chat/completions",
                 chat_body("[mock:error_after=3]", stream=True), key=t["key"])
    datas = [d for _, d in events]
    assert datas[-1] == "[DONE]"
    last = json.loads(datas[-2])
    assert last["error"]["reason_code"] == "upstream_error", last


@test
def models_list():
    t = new_tenant("models")
    st, _, b = api("GET", "/v1/models", key=t["key"])
    assert st == 200 and b["object"] == "list", b
    ids = {m["id"] for m in b["data"]}
    assert {"mock-1", "gpt-4o-mini", "claude-3-5-haiku-latest", "gemini-2.0-flash"} <= ids, ids


# ---------------------------------------------------------------- agents, runs, sessions

@test
def agent_run_and_listing_is_tenant_scoped():
    a = new_tenant("runa")
    b = new_tenant("runb")
    st, _, run = api("POST", "/v1/agents/assistant/runs",
                     {"input": "plan my week", "metadata": {"user": "u1", "department": "ops"}},
                     key=a["key"])
    assert st == 200, (st, run)
    assert run["id"].startswith("run_") and run["status"] == "succeeded", run
    assert run["agent"] == "assistant" and run["output"], run
    assert run["metadata"] == {"department": "ops", "user": "u1"}, run
    assert float(run["cost_usd"]) > 0, run
    st, _, got = api("GET", "/v1/runs/" + run["id"], key=a["key"])
    assert st == 200 and got["output"] == run["output"], got
    st, _, lst = api("GET", "/v1/runs", key=a["key"])
    assert [r["id"] for r in lst["data"]] == [run["id"]], lst
    # the other tenant sees nothing, and the same 404 as for a missing id
    st, _, nb = api("GET", "/v1/runs/" + run["id"], key=b["key"])
    assert st == 404 and err_code(nb) == "not_found", (st, nb)
    st, _, nb2 = api("GET", "/v1/runs/run_doesnotexist000000000000", key=b["key"])
    assert st == 404 and nb2["error"]["message"] == nb["error"]["message"]
    st, _, lst = api("GET", "/v1/runs", key=b["key"])
    assert lst["data"] == [], lst


@test
def runs_pagination_and_filters():
    t = new_tenant("page")
    ids = []
    for i in range(7):
        st, _, r = api("POST", "/v1/agents/assistant/runs", {"input": "n%d" % i}, key=t["key"])
        assert st == 200, r
        ids.append(r["id"])
    st, _, r = api("POST", "/v1/agents/assistant/runs",
                   {"input": "[mock:error=upstream_error]"}, key=t["key"])
    assert st == 502 and r["error"]["run_id"].startswith("run_"), r
    failed_id = r["error"]["run_id"]
    seen, cursor = [], None
    while True:
        q = "/v1/runs?limit=3" + ("&cursor=" + cursor if cursor else "")
        st, _, page = api("GET", q, key=t["key"])
        assert st == 200, page
        seen += [x["id"] for x in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == [failed_id] + ids[::-1], (seen, ids)
    st, _, f = api("GET", "/v1/runs?status=failed", key=t["key"])
    assert [x["id"] for x in f["data"]] == [failed_id], f
    st, _, f = api("GET", "/v1/runs?agent=nobody", key=t["key"])
    assert f["data"] == [], f
    st, _, f = api("GET", "/v1/runs?since=2999-01-01", key=t["key"])
    assert f["data"] == [], f
    for bad in ("limit=0", "limit=101", "since=tomorrow", "status=weird", "cursor=xyz"):
        st, _, e = api("GET", "/v1/runs?" + bad, key=t["key"])
        assert st == 400, (bad, st, e)
    # a cursor from another tenant is not accepted
    o = new_tenant("page2")
    st, _, e = api("GET", "/v1/runs?cursor=" + ids[0], key=o["key"])
    assert st == 400 and err_code(e) == "invalid_cursor", (st, e)


@test
def sessions_continue_history_and_are_tenant_scoped():
    t = new_tenant("sess")
    o = new_tenant("sess2")
    st, _, s = api("POST", "/v1/sessions", {"agent": "assistant", "metadata": {"k": "v"}},
                   key=t["key"])
    assert st == 201 and s["id"].startswith("sess_"), (st, s)
    st, _, r1 = api("POST", "/v1/agents/assistant/runs",
                    {"input": "first question", "session_id": s["id"]}, key=t["key"])
    assert st == 200, r1
    st, _, r2 = api("POST", "/v1/agents/assistant/runs",
                    {"input": "second question", "session_id": s["id"]}, key=t["key"])
    assert st == 200, r2
    # the history reached the provider: more prompt tokens the second time
    assert r2["usage"]["prompt_tokens"] > r1["usage"]["prompt_tokens"], (r1, r2)
    st, _, got = api("GET", "/v1/sessions/" + s["id"], key=t["key"])
    assert st == 200 and got["message_count"] == 4, got
    assert [m["role"] for m in got["messages"]] == ["user", "assistant", "user", "assistant"]
    assert got["messages"][0]["content"] == "first question"
    assert got["messages"][3]["run_id"] == r2["id"]
    # other tenant: 404 for the session, and cannot run in it
    st, _, e = api("GET", "/v1/sessions/" + s["id"], key=o["key"])
    assert st == 404 and err_code(e) == "not_found", e
    st, _, e = api("POST", "/v1/agents/assistant/runs",
                   {"input": "sneak", "session_id": s["id"]}, key=o["key"])
    assert st == 404 and err_code(e) == "not_found", e
    st, _, got = api("GET", "/v1/sessions/" + s["id"], key=t["key"])
    assert got["message_count"] == 4


@test
def agents_are_tenant_scoped():
    t = new_tenant("agt")
    o = new_tenant("agt2")
    st, _, a = api("POST", "/v1/agents", {"name": "helper", "model": "mock-1",
                                          "instructions": "be brief", "temperature": 0.2},
                   key=t["key"])
    assert st == 201 and a["name"] == "helper" and a["provider"] == "mock", (st, a)
    st, _, e = api("POST", "/v1/agents", {"name": "helper", "model": "mock-1"}, key=t["key"])
    assert st == 409 and err_code(e) == "conflict", e
    st, _, e = api("POST", "/v1/agents", {"name": "bad name!", "model": "mock-1"}, key=t["key"])
    assert st == 400, e
    st, _, e = api("POST", "/v1/agents", {"name": "x", "model": "nope"}, key=t["key"])
    assert st == 404 and err_code(e) == "model_not_found", e
    st, _, g = api("GET", "/v1/agents/helper", key=t["key"])
    assert st == 200 and g["instructions"] == "be brief", g
    st, _, e = api("GET", "/v1/agents/helper", key=o["key"])
    assert st == 404 and err_code(e) == "not_found", e
    st, _, e = api("POST", "/v1/agents/helper/runs", {"input": "hi"}, key=o["key"])
    assert st == 404 and err_code(e) == "not_found", e
    st, _, lst = api("GET", "/v1/agents", key=o["key"])
    assert [x["name"] for x in lst["data"]] == ["assistant"], lst


@test
def streamed_agent_run():
    t = new_tenant("srun")
    events = sse("/v1/agents/assistant/runs", {"input": "tell me", "stream": True}, key=t["key"])
    names = [e for e, _ in events]
    assert names[0] == "run.created" and "run.output.delta" in names, names
    assert names[-2] == "run.completed" and events[-1][1] == "[DONE]", names
    final = json.loads(events[-2][1])
    text = "".join(json.loads(d)["delta"] for e, d in events if e == "run.output.delta")
    assert final["output"] == text and final["status"] == "succeeded", final
    st, _, got = api("GET", "/v1/runs/" + final["id"], key=t["key"])
    assert st == 200 and got["output"] == text and got["stream"] is True, got


# ---------------------------------------------------------------- recording

@test
def execution_rows_are_complete_and_secret_free():
    t = new_tenant("rec")
    st, h, b = api("POST", "/v1/chat/completions", chat_body("record me"), key=t["key"])
    assert st == 200
    rid = h["x-request-id"]
    rows = db_exec("SELECT id, key_id, model, provider, cred_source, status, prompt_tokens, "
                   "completion_tokens, cost_micros, request_id FROM executions "
                   "WHERE tenant_id=%d" % t["id"], tenant=t)
    assert len(rows) == 1, rows
    r = rows[0]
    assert r[0] == b["id"] and r[1] == str(t["key_id"]) and r[2] == "mock-1", r
    assert r[3] == "mock" and r[4] == "none" and r[5] == "succeeded", r
    assert int(r[6]) == b["usage"]["prompt_tokens"] and int(r[7]) == b["usage"]["completion_tokens"]
    assert int(r[8]) > 0 and r[9] == rid, r
    u = db_exec("SELECT requests, prompt_tokens, completion_tokens, cost_micros FROM usage_daily "
                "WHERE tenant_id=%d" % t["id"])
    assert u == [["1", r[6], r[7], r[8]]], u
    dump = db_exec("SELECT CONCAT_WS('|', id, request_id, IFNULL(metadata,''), IFNULL(error_message,'')) "
                   "FROM executions WHERE tenant_id=%d" % t["id"], tenant=t)
    assert t["key"] not in json.dumps(dump)


@test
def logs_never_contain_keys():
    t = new_tenant("logs")
    api("POST", "/v1/chat/completions", chat_body("log check"), key=t["key"])
    api("GET", "/v1/models", key=t["key"] + "x")
    logdir = os.environ.get("AGENTHOST_LOG_DIR")
    assert logdir and os.path.isdir(logdir), logdir
    found = False
    for root, _, files in os.walk(logdir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                data = fh.read()
            assert t["key"].encode() not in data, f
            assert t["key"][12:].encode() not in data, f
            found = found or b"request id=" in data
    assert found, "no request log lines found in " + logdir


# ---------------------------------------------------------------- providers & BYOK

def provider_tenant(prefix):
    t = new_tenant(prefix)
    return t


@test
def openai_adapter_platform_key_then_byok():
    t = provider_tenant("oai")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi openai", model="gpt-4o-mini"),
                   key=t["key"])
    assert st == 200, (st, b)
    assert b["choices"][0]["message"]["content"] == "fake openai reply to: hi openai", b
    last = fake_last()
    assert last["headers"]["authorization"] == "Bearer sk-platform-openai", last["headers"]
    assert last["body"]["model"] == "gpt-4o-mini"
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
        stdin="sk-tenant-own-1234\n")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi again", model="gpt-4o-mini"),
                   key=t["key"])
    assert st == 200, b
    assert fake_last()["headers"]["authorization"] == "Bearer sk-tenant-own-1234"
    rows = db_exec("SELECT cred_source FROM executions WHERE tenant_id=%d ORDER BY seq"
                   % t["id"], tenant=t)
    assert rows == [["platform"], ["tenant"]], rows
    stored = db_exec("SELECT HEX(ciphertext), last4 FROM provider_credentials WHERE tenant_id=%d"
                     % t["id"])
    assert stored[0][1] == "1234"
    assert "sk-tenant-own-1234".encode().hex().upper() not in stored[0][0]
    ctl("provider-key", "clear", "--tenant", t["slug"], "--provider", "openai")
    api("POST", "/v1/chat/completions", chat_body("third", model="gpt-4o-mini"), key=t["key"])
    assert fake_last()["headers"]["authorization"] == "Bearer sk-platform-openai"


@test
def byok_ciphertext_fails_under_another_tenant():
    a = provider_tenant("byoka")
    b = provider_tenant("byokb")
    ctl("provider-key", "set", "--tenant", a["slug"], "--provider", "openai",
        stdin="sk-tenant-a-secret-9999\n")
    # copy A's sealed credential row to B, as a bug or an attacker with SQL access might
    db_exec("INSERT INTO provider_credentials (tenant_id, provider, key_version, nonce, "
            "ciphertext, last4, created_at, updated_at) SELECT %d, provider, key_version, nonce, "
            "ciphertext, last4, created_at, updated_at FROM provider_credentials "
            "WHERE tenant_id=%d AND provider='openai'" % (b["id"], a["id"]))
    st, _, e = api("POST", "/v1/chat/completions", chat_body("steal", model="gpt-4o-mini"),
                   key=b["key"])
    assert st == 500 and err_code(e) == "credential_unusable", (st, e)
    assert "sk-tenant-a" not in json.dumps(e)
    # and A still works with its own
    st, _, ok = api("POST", "/v1/chat/completions", chat_body("mine", model="gpt-4o-mini"),
                    key=a["key"])
    assert st == 200 and fake_last()["headers"]["authorization"] == "Bearer sk-tenant-a-secret-9999"


@test
def openai_adapter_stream_and_errors():
    t = provider_tenant("oais")
    events = sse("/v1/chat/completions",
                 chat_body("stream openai", model="gpt-4o-mini", stream=True,
                           stream_options={"include_usage": True}), key=t["key"])
    chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "fake openai reply to: stream openai", text
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    st, _, e = api("POST", "/v1/chat/completions", chat_body("FAIL500", model="gpt-4o-mini"),
                   key=t["key"])
    assert st == 502 and err_code(e) == "upstream_error", (st, e)
    st, _, e = api("POST", "/v1/chat/completions", chat_body("FAIL429", model="gpt-4o-mini"),
                   key=t["key"])
    assert st == 502 and err_code(e) == "upstream_rate_limited", (st, e)


@test
def anthropic_adapter():
    t = provider_tenant("anth")
    body = {"model": "claude-3-5-haiku-latest",
            "messages": [{"role": "system", "content": "be kind"},
                         {"role": "user", "content": "hi claude"}]}
    st, _, b = api("POST", "/v1/chat/completions", body, key=t["key"])
    assert st == 200, (st, b)
    assert b["choices"][0]["message"]["content"] == "fake anthropic reply to: hi claude", b
    last = fake_last()
    assert last["headers"]["x-api-key"] == "sk-platform-anthropic", last["headers"]
    assert last["headers"]["anthropic-version"] == "2023-06-01"
    assert last["body"]["system"] == "be kind" and last["body"]["max_tokens"] > 0, last["body"]
    assert all(m["role"] != "system" for m in last["body"]["messages"])
    body["stream"] = True
    events = sse("/v1/chat/completions", body, key=t["key"])
    chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "fake anthropic reply to: hi claude", text


@test
def gemini_adapter():
    t = provider_tenant("gem")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi gemini", model="gemini-2.0-flash"),
                   key=t["key"])
    assert st == 200, (st, b)
    assert b["choices"][0]["message"]["content"] == "fake gemini reply to: hi gemini", b
    last = fake_last()
    assert last["headers"]["x-goog-api-key"] == "sk-platform-gemini", last["headers"]
    assert "key=" not in last["path"], last["path"]
    assert last["body"]["contents"][0]["parts"][0]["text"] == "hi gemini"
    events = sse("/v1/chat/completions",
                 chat_body("stream gemini", model="gemini-2.0-flash", stream=True), key=t["key"])
    chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "fake gemini reply to: stream gemini", text


@test
def deepseek_instance_uses_openai_adapter():
    t = provider_tenant("deep")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("hi ds", model="deepseek-chat"),
                   key=t["key"])
    assert st == 200, (st, b)
    assert fake_last()["headers"]["authorization"] == "Bearer sk-platform-deepseek"


@test
def upstream_timeout_is_504():
    t = provider_tenant("slow")
    st, _, e = api("POST", "/v1/chat/completions", chat_body("SLOW", model="gpt-4o-mini"),
                   key=t["key"])
    assert st == 504 and err_code(e) == "upstream_timeout", (st, e)


# ---------------------------------------------------------------- mount prefix (nginx)

@test
def nginx_mount_prefix_routes_from_request_uri():
    if not NGINX:
        raise AssertionError("AGENTHOST_URL_NGINX not set")
    t = new_tenant("ngx")
    st, _, b = api("POST", "/v1/chat/completions", chat_body("via nginx"), key=t["key"], base=NGINX)
    assert st == 200 and "via nginx" in b["choices"][0]["message"]["content"], (st, b)
    events = sse("/v1/chat/completions", chat_body("nginx stream", stream=True), key=t["key"],
                 base=NGINX)
    assert events[-1][1] == "[DONE]"
    st, _, r = api("POST", "/v1/agents/assistant/runs", {"input": "ngx run"}, key=t["key"],
                   base=NGINX)
    assert st == 200, r
    st, _, got = api("GET", "/v1/runs/" + r["id"], key=t["key"])  # same DB through lighttpd
    assert st == 200 and got["id"] == r["id"]


if __name__ == "__main__":
    run()
