"""The OpenAI surface beyond plain chat (issue 17): tool calling as each adapter
sends it upstream, response_format, the callable model list, GET /v1/models/{id},
/v1/embeddings with admission, budgets and the ledger, and errors naming their
field in "param". The official SDK's view of the same is test_openai_client.mjs.
"""
import json

from harness import test, run, api, sse, ctl, fake_last, wait_until
from apihelp import new_tenant, db_exec, chat_body, err_code

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
CLOCK = {"type": "function", "function": {"name": "clock"}}


def chat(t, body):
    return api("POST", "/v1/chat/completions", body, key=t["key"])


def param(b):
    return b["error"]["param"]


# ---------------------------------------------------------------- tools upstream

@test
def tool_choice_reaches_each_upstream_in_its_own_shape():
    t = new_tenant("tc")
    cases = [
        ("gpt-4o-mini", lambda b: (b["tool_choice"], b["parallel_tool_calls"]),
         ({"type": "function", "function": {"name": "clock"}}, False)),
        ("claude-3-5-haiku-latest", lambda b: b["tool_choice"],
         {"type": "tool", "name": "clock", "disable_parallel_tool_use": True}),
        ("gemini-2.0-flash", lambda b: b["toolConfig"],
         {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["clock"]}}),
    ]
    for model, pick, want in cases:
        st, _, b = chat(t, chat_body("what time", model=model, tools=[WEATHER, CLOCK],
                                     tool_choice={"type": "function",
                                                  "function": {"name": "clock"}},
                                     parallel_tool_calls=False))
        assert st == 200, (model, st, b)
        got = pick(fake_last()["body"])
        assert got == want, (model, got)
    # "required" and "none"
    chat(t, chat_body("x", model="claude-3-5-haiku-latest", tools=[WEATHER],
                      tool_choice="required"))
    assert fake_last()["body"]["tool_choice"] == {"type": "any"}
    chat(t, chat_body("x", model="gemini-2.0-flash", tools=[WEATHER], tool_choice="none"))
    assert fake_last()["body"]["toolConfig"]["functionCallingConfig"] == {"mode": "NONE"}
    # a tool without parameters gets an empty object schema upstream
    chat(t, chat_body("x", model="gpt-4o-mini", tools=[CLOCK]))
    fn = fake_last()["body"]["tools"][0]["function"]
    assert fn["name"] == "clock" and fn["parameters"] == {"type": "object", "properties": {}}, fn


@test
def tool_history_is_translated_for_anthropic_and_gemini():
    t = new_tenant("th")
    msgs = [{"role": "user", "content": "TOOLCALL weather"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "rain"}]
    st, _, b = chat(t, {"model": "claude-3-5-haiku-latest", "messages": msgs,
                        "tools": [WEATHER]})
    assert st == 200 and b["choices"][0]["message"]["content"] == \
        "fake anthropic tool results: rain", b
    up = fake_last()["body"]["messages"]
    assert up[1]["content"][0] == {"type": "tool_use", "id": "call_a", "name": "get_weather",
                                   "input": {"city": "Oslo"}}, up
    assert up[2]["content"][0]["tool_use_id"] == "call_a", up
    st, _, b = chat(t, {"model": "gemini-2.0-flash", "messages": msgs, "tools": [WEATHER]})
    assert st == 200, b
    up = fake_last()["body"]["contents"]
    assert up[1]["parts"][0]["functionCall"] == {"name": "get_weather",
                                                 "args": {"city": "Oslo"}}, up
    assert up[2]["parts"][0]["functionResponse"]["name"] == "get_weather", up


@test
def tool_call_arguments_count_as_output_tokens():
    t = new_tenant("tt")
    args = json.dumps({"city": "x" * 400})
    st, _, b = chat(t, chat_body("[mock:tool=get_weather %s]" % args, tools=[WEATHER]))
    assert st == 200 and b["choices"][0]["finish_reason"] == "tool_calls", b
    assert b["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == args, b
    assert b["usage"]["completion_tokens"] >= 100, b["usage"]
    rows = wait_until(lambda: db_exec(
        "SELECT completion_tokens, finish_reason FROM executions WHERE id='%s'" % b["id"],
        tenant=t))
    assert rows == [[str(b["usage"]["completion_tokens"]), "tool_calls"]], rows


@test
def offered_tools_count_in_the_admitted_worst_case():
    t = new_tenant("tw")
    ctl("limits", "set", "--tenant", t["slug"], "budget_tokens_daily", "3000")
    big = {"type": "function", "function": {"name": "big", "description": "d" * 4000}}
    st, _, b = wait_until(lambda: (lambda r: r if r[0] == 429 else None)(
        chat(t, chat_body("hi", max_tokens=10, tools=[big]))))
    assert err_code(b) == "tenant_budget_exceeded", b
    # the same call without the tools fits
    st, _, b = chat(t, chat_body("hi", max_tokens=10))
    assert st == 200, b
    # and a long tool-call history counts as well
    hist = [{"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "f", "arguments": json.dumps({"a": "y" * 4000})}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    st, _, b = chat(t, {"model": "mock-1", "messages": hist, "max_tokens": 10})
    assert st == 429 and err_code(b) == "tenant_budget_exceeded", b


@test
def streamed_tool_calls_arrive_as_deltas():
    t = new_tenant("ts")
    events = sse("/v1/chat/completions",
                 chat_body("[mock:tool=get_weather {\"city\":\"Rome\"}] [mock:tool=clock]",
                           tools=[WEATHER, CLOCK], stream=True), key=t["key"])
    chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
    deltas = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert [(d["index"], d["function"]["name"]) for d in deltas] == \
        [(0, "get_weather"), (1, "clock")], deltas
    assert deltas[0]["id"] and deltas[0]["type"] == "function", deltas
    assert json.loads(deltas[0]["function"]["arguments"]) == {"city": "Rome"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls", chunks[-1]


@test
def upstream_tool_call_fragments_are_streamed_as_they_come():
    t = new_tenant("tf")
    # the fake streams the arguments {"n":42,"q":"fake"} in two fragments (OpenAI, Anthropic)
    # and whole (Gemini, which has no fragments)
    for model, pieces in (("gpt-4o-mini", 2), ("claude-3-5-haiku-latest", 2),
                          ("gemini-2.0-flash", 1)):
        events = sse("/v1/chat/completions",
                     chat_body("TOOLCALL now", model=model, tools=[WEATHER], stream=True),
                     key=t["key"])
        chunks = [json.loads(d) for _, d in events if d != "[DONE]"]
        deltas = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
        assert deltas[0]["id"] == "call_fake_1" or model == "gemini-2.0-flash", (model, deltas)
        assert deltas[0]["function"]["name"] == "get_weather", (model, deltas)
        assert all(d["index"] == 0 for d in deltas) and all("id" not in d for d in deltas[1:])
        args = [d["function"]["arguments"] for d in deltas if d["function"].get("arguments")]
        assert len(args) == pieces, (model, deltas)
        assert json.loads("".join(args)) == {"n": 42, "q": "fake"}, (model, args)
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls", (model, chunks[-1])


@test
def bad_tool_fields_are_400_naming_the_field():
    t = new_tenant("tb")
    cases = [
        ({"tools": {"x": 1}}, "tools"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0]"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]},
         "tools[0].function.name"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
         "tools[0].function.parameters"),
        ({"tool_choice": "sometimes", "tools": [WEATHER]}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": [WEATHER]},
         "tool_choice"),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
         "response_format.json_schema.name"),
        ({"temperature": "hot"}, "temperature"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}]},
         "messages[1].tool_call_id"),
        ({"messages": [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c2", "content": "r"}]},
         "messages[1].tool_call_id"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"type": "function",
                                                             "function": {"name": "f"}}]}]},
         "messages[0].tool_calls[0].id"),
    ]
    for extra, want in cases:
        body = chat_body("x")
        body.update(extra)
        st, _, b = chat(t, body)
        assert st == 400 and err_code(b) == "invalid_request" and param(b) == want, (extra, st, b)
    st, _, b = chat(t, chat_body("x", model="no-such-model"))
    assert st == 404 and param(b) == "model", b
    # a refusal unrelated to a field keeps param null
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x"))
    assert st == 401 and b["error"]["param"] is None, b


# ---------------------------------------------------------------- response_format

@test
def response_format_passes_through_or_is_refused_before_admission():
    t = new_tenant("rf")
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "thing", "schema": schema,
                                                 "strict": True}}
    st, _, b = chat(t, chat_body("x", model="gpt-4o-mini", response_format=rf))
    assert st == 200, b
    assert fake_last()["body"]["response_format"] == rf, fake_last()["body"]
    st, _, b = chat(t, chat_body("x", model="gemini-2.0-flash",
                                 response_format={"type": "json_object"}))
    assert st == 200, b
    gen = fake_last()["body"]["generationConfig"]
    assert gen["responseMimeType"] == "application/json" and "responseJsonSchema" not in gen
    chat(t, chat_body("x", model="gemini-2.0-flash", response_format=rf))
    assert fake_last()["body"]["generationConfig"]["responseJsonSchema"] == schema
    before = db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id=%d" % t["id"], tenant=t)
    for model in ("claude-3-5-haiku-latest", "mock-1"):
        st, _, b = chat(t, chat_body("x", model=model, response_format=rf))
        assert st == 400 and param(b) == "response_format" and model in b["error"]["message"], b
    # {"type": "text"} is the default everywhere
    st, _, b = chat(t, chat_body("x", model="mock-1", response_format={"type": "text"}))
    assert st == 200, b
    after = db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id=%d" % t["id"], tenant=t)
    assert int(after[0][0]) <= int(before[0][0]) + 1, (before, after)


# ---------------------------------------------------------------- models

@test
def models_list_only_what_the_tenant_can_call():
    t = new_tenant("ml")
    st, _, b = api("GET", "/v1/models", key=t["key"])
    ids = [m["id"] for m in b["data"]]
    assert st == 200 and "mock-1" in ids and "gpt-4o-mini" in ids and "mock-embed" in ids, ids
    # mistral has no platform key and a remote URL in the test host: listed only with BYOK
    assert "mistral-small-latest" not in ids, ids
    st, _, e = api("GET", "/v1/models/mistral-small-latest", key=t["key"])
    assert st == 404 and err_code(e) == "model_not_found" and param(e) == "model", e
    st, _, e = chat(t, chat_body("x", model="mistral-small-latest"))
    assert st == 503 and err_code(e) == "provider_not_configured" and param(e) == "model", e
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "mistral",
        stdin="sk-mistral-own-5678\n")
    ids = wait_until(lambda: [m["id"] for m in api("GET", "/v1/models", key=t["key"])[2]["data"]
                              if m["id"] == "mistral-small-latest"])
    assert ids == ["mistral-small-latest"], ids
    st, _, m = api("GET", "/v1/models/mistral-small-latest", key=t["key"])
    assert st == 200 and m["id"] == "mistral-small-latest" and m["object"] == "model", m
    assert m["owned_by"] == "mistral", m
    # the allowlist narrows both
    ctl("limits", "set", "--tenant", t["slug"], "allowed_models", "mock-1,mock-embed")
    ids = wait_until(lambda: (lambda d: d if len(d) == 2 else None)(
        sorted(m["id"] for m in api("GET", "/v1/models", key=t["key"])[2]["data"])))
    assert ids == ["mock-1", "mock-embed"], ids
    st, _, e = api("GET", "/v1/models/gpt-4o-mini", key=t["key"])
    assert st == 404 and err_code(e) == "model_not_found", e
    st, _, e = api("GET", "/v1/models/nope", key=t["key"])
    assert st == 404 and err_code(e) == "model_not_found", e
    st, _, e = api("GET", "/v1/models/mock-1")
    assert st == 401, e


# ---------------------------------------------------------------- embeddings

@test
def embeddings_are_admitted_priced_and_recorded():
    t = new_tenant("emb")
    st, h, b = api("POST", "/v1/embeddings",
                   {"model": "mock-embed", "input": ["one two three", "four"]}, key=t["key"])
    assert st == 200, b
    assert [d["index"] for d in b["data"]] == [0, 1] and len(b["data"][0]["embedding"]) == 64
    assert b["usage"] == {"prompt_tokens": 4, "total_tokens": 4}, b["usage"]
    # deterministic: the same text, the same vector
    st, _, again = api("POST", "/v1/embeddings", {"model": "mock-embed", "input": "four"},
                       key=t["key"])
    assert again["data"][0]["embedding"] == b["data"][1]["embedding"]
    rows = wait_until(lambda: db_exec(
        "SELECT kind, model, status, prompt_tokens, completion_tokens, cost_micros"
        " FROM executions WHERE tenant_id=%d AND kind='embed' ORDER BY seq" % t["id"],
        tenant=t) or None)
    # mock-embed: 100000 micro-USD per 1M input tokens -> 4 tokens cost 1 micro-USD (rounded up)
    assert rows[0] == ["embed", "mock-embed", "succeeded", "4", "0", "1"], rows
    # the OpenAI adapter: usage from upstream, the vectors in order
    st, _, b = api("POST", "/v1/embeddings",
                   {"model": "text-embedding-3-small", "input": ["ab", "abc d"],
                    "dimensions": 5}, key=t["key"])
    assert st == 200, b
    assert [d["embedding"] for d in b["data"]] == [[2, 1, 0.5, 0, 0], [5, 2, 0.5, 0, 0]], b
    up = fake_last()
    assert up["path"] == "/openai/v1/embeddings" and up["body"]["dimensions"] == 5, up
    assert up["headers"]["authorization"] == "Bearer sk-platform-openai"
    # the Gemini adapter: no usage upstream, estimated
    st, _, b = api("POST", "/v1/embeddings",
                   {"model": "gemini-embedding-001", "input": "hello there"}, key=t["key"])
    assert st == 200 and b["data"][0]["embedding"] == [11, 2, 0.5], b
    assert b["usage"]["prompt_tokens"] > 0, b
    assert fake_last()["path"].endswith("/gemini-embedding-001:batchEmbedContents")


@test
def embeddings_refusals():
    t = new_tenant("embr")
    cases = [
        ({"model": "mock-embed"}, 400, "input"),
        ({"model": "mock-embed", "input": []}, 400, "input"),
        ({"model": "mock-embed", "input": [[1, 2, 3]]}, 400, "input"),
        ({"model": "mock-embed", "input": ["a", ""]}, 400, "input"),
        ({"model": "mock-embed", "input": "a", "encoding_format": "hex"}, 400,
         "encoding_format"),
        ({"model": "mock-embed", "input": "a", "dimensions": 0}, 400, "dimensions"),
        ({"model": "mock-1", "input": "a"}, 400, "model"),
        ({"model": "nope", "input": "a"}, 404, "model"),
        ({"input": "a"}, 400, "model"),
    ]
    for body, status, want in cases:
        st, _, b = api("POST", "/v1/embeddings", body, key=t["key"])
        assert st == status and param(b) == want, (body, st, b)
    st, _, b = chat(t, chat_body("x", model="mock-embed"))
    assert st == 400 and param(b) == "model" and "/v1/embeddings" in b["error"]["message"], b
    # an agent needs a chat model, through the API and the CLI
    st, _, b = api("POST", "/v1/agents", {"name": "embedder", "model": "mock-embed"},
                   key=t["key"])
    assert st == 400 and param(b) == "model" and "embedding model" in b["error"]["message"], b
    rc, _, err = ctl("agent", "create", "--tenant", t["slug"], "--name", "embedder",
                     "--model", "mock-embed", check=False)
    assert rc != 0 and "embedding model" in err, (rc, err)
    st, _, b = api("POST", "/v1/embeddings",
                   {"model": "mock-embed", "input": "[mock:error=upstream_error]"},
                   key=t["key"])
    assert st == 502 and err_code(b) == "upstream_error", b
    st, _, b = api("POST", "/v1/embeddings",
                   {"model": "text-embedding-3-small", "input": "FAIL429"}, key=t["key"])
    assert st == 502 and err_code(b) == "upstream_rate_limited", b
    ctl("limits", "set", "--tenant", t["slug"], "allowed_models", "mock-1")
    st, _, b = wait_until(lambda: (lambda r: r if r[0] == 403 else None)(
        api("POST", "/v1/embeddings", {"model": "mock-embed", "input": "a"}, key=t["key"])))
    assert err_code(b) == "model_not_allowed" and param(b) == "model", b


@test
def embeddings_count_against_budgets():
    t = new_tenant("embb")
    # a token budget the worst case of a long input does not fit in
    ctl("limits", "set", "--tenant", t["slug"], "budget_tokens_daily", "50")
    st, _, b = wait_until(lambda: (lambda r: r if r[0] != 200 else None)(
        api("POST", "/v1/embeddings", {"model": "mock-embed", "input": "word " * 40},
            key=t["key"])))
    assert st == 429 and err_code(b) == "tenant_budget_exceeded", (st, b)
    rows = wait_until(lambda: db_exec(
        "SELECT status, reason_code FROM executions WHERE tenant_id=%d AND kind='embed'"
        % t["id"], tenant=t))
    assert rows and rows[-1] == ["refused", "tenant_budget_exceeded"], rows
    st, _, b = api("POST", "/v1/embeddings", {"model": "mock-embed", "input": "small"},
                   key=t["key"])
    assert st == 200, b


if __name__ == "__main__":
    run()
