// The official `openai` npm client against agenthost: non-streamed and
// streamed chat completions, tool calling round trips (the mock and each
// adapter against its fake upstream), models, and our errors surfacing as
// the client's APIError with status, code, param and our reason_code.
import { execFileSync } from "node:child_process";
import OpenAI from "openai";

const base = process.env.AGENTHOST_URL + "/v1";
const ctl = process.env.AGENTHOST_CTL;
let passed = 0, failed = 0;

function agenthostctl(...args) {
  return JSON.parse(execFileSync(ctl, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
}

function newTenant(prefix) {
  const slug = `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  const t = agenthostctl("tenant", "create", slug, "--name", slug, "--plan", "free");
  const k = agenthostctl("key", "create", "--tenant", slug, "--name", "node");
  return { slug, id: t.id, key: k.key };
}

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
    passed++;
  } catch (e) {
    console.log(`FAIL - ${name}: ${e && e.stack ? e.stack : e}`);
    failed++;
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const t = newTenant("node");
const client = new OpenAI({ apiKey: t.key, baseURL: base, maxRetries: 0 });

await check("non-streamed completion", async () => {
  const r = await client.chat.completions.create({
    model: "mock-1",
    messages: [{ role: "user", content: "hello from node" }],
  });
  assert(r.object === "chat.completion", JSON.stringify(r));
  assert(r.choices[0].message.content.includes("hello from node"), r.choices[0].message.content);
  assert(r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, "usage");
});

await check("streamed completion with usage", async () => {
  const stream = await client.chat.completions.create({
    model: "mock-1",
    messages: [{ role: "user", content: "stream to node" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) {
      text += chunk.choices[0].delta.content || "";
      finish = chunk.choices[0].finish_reason || finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert(text.includes("stream to node"), text);
  assert(finish === "stop" || finish === "length", String(finish));
  assert(usage && usage.completion_tokens > 0, JSON.stringify(usage));
});

await check("unknown model surfaces as NotFoundError", async () => {
  try {
    await client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] });
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError, String(e));
    assert(e.status === 404 && e.code === "model_not_found", `${e.status} ${e.code}`);
    assert(e.error && e.error.reason_code === "model_not_found", JSON.stringify(e.error));
  }
});

await check("bad key surfaces as AuthenticationError", async () => {
  const bad = new OpenAI({ apiKey: "ah_live_" + "B".repeat(43), baseURL: base, maxRetries: 0 });
  try {
    await bad.models.list();
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.AuthenticationError, String(e));
    assert(e.code === "invalid_api_key", String(e.code));
  }
});

await check("upstream error surfaces as APIError 502", async () => {
  try {
    await client.chat.completions.create({
      model: "mock-1", messages: [{ role: "user", content: "[mock:error=upstream_error]" }],
    });
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.APIError && e.status === 502, String(e));
    assert(e.code === "upstream_error", String(e.code));
  }
});

await check("error inside a stream raises in the iterator", async () => {
  const stream = await client.chat.completions.create({
    model: "mock-1", stream: true,
    messages: [{ role: "user", content: "[mock:error_after=3]" }],
  });
  let raised = null;
  try {
    for await (const _ of stream) { /* consume */ }
  } catch (e) {
    raised = e;
  }
  assert(raised && /upstream_error|simulated/.test(String(raised.message || raised)), String(raised));
});

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather of a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

// The user turn that makes each model call get_weather, and what the
// model answers once the tool result comes back.
const toolModels = [
  { model: "mock-1", ask: 'weather? [mock:tool=get_weather {"city":"Paris"}]',
    args: { city: "Paris" }, answer: /^Tool results: get_weather: sunny 21C$/ },
  { model: "gpt-4o-mini", ask: "TOOLCALL weather?", args: { n: 42, q: "fake" },
    answer: /^fake openai tool results: sunny 21C$/ },
  { model: "claude-3-5-haiku-latest", ask: "TOOLCALL weather?", args: { n: 42, q: "fake" },
    answer: /^fake anthropic tool results: sunny 21C$/ },
  { model: "gemini-2.0-flash", ask: "TOOLCALL weather?", args: { n: 42, q: "fake" },
    answer: /sunny 21C/ },
];

// Collect a streamed answer as the SDK's users do: content and tool call deltas by index.
async function collect(stream) {
  let text = "", finish = null, usage = null;
  const calls = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    if (!chunk.choices.length) continue;
    const d = chunk.choices[0].delta;
    text += d.content || "";
    for (const tc of d.tool_calls || []) {
      const c = calls[tc.index] || (calls[tc.index] = { id: "", name: "", arguments: "" });
      c.id += tc.id || "";
      c.name += (tc.function && tc.function.name) || "";
      c.arguments += (tc.function && tc.function.arguments) || "";
    }
    finish = chunk.choices[0].finish_reason || finish;
  }
  return { text, finish, usage, calls };
}

for (const tm of toolModels) {
  await check(`tool round trip, non-streamed: ${tm.model}`, async () => {
    const messages = [{ role: "user", content: tm.ask }];
    const r = await client.chat.completions.create({
      model: tm.model, messages, tools: [weather], tool_choice: "auto",
    });
    const m = r.choices[0].message;
    assert(r.choices[0].finish_reason === "tool_calls", JSON.stringify(r));
    assert(m.tool_calls && m.tool_calls.length === 1, JSON.stringify(m));
    const tc = m.tool_calls[0];
    assert(tc.type === "function" && tc.function.name === "get_weather", JSON.stringify(tc));
    assert(JSON.stringify(JSON.parse(tc.function.arguments)) === JSON.stringify(tm.args),
           tc.function.arguments);
    assert(r.usage.completion_tokens > 0, JSON.stringify(r.usage));
    messages.push(m, { role: "tool", tool_call_id: tc.id, content: "sunny 21C" });
    const r2 = await client.chat.completions.create({ model: tm.model, messages, tools: [weather] });
    assert(r2.choices[0].finish_reason === "stop", JSON.stringify(r2));
    assert(tm.answer.test(r2.choices[0].message.content), r2.choices[0].message.content);
  });

  await check(`tool round trip, streamed: ${tm.model}`, async () => {
    const messages = [{ role: "user", content: tm.ask }];
    const s = await collect(await client.chat.completions.create({
      model: tm.model, messages, tools: [weather], stream: true,
      stream_options: { include_usage: true },
    }));
    assert(s.finish === "tool_calls", JSON.stringify(s));
    assert(s.calls.length === 1 && s.calls[0].name === "get_weather" && s.calls[0].id,
           JSON.stringify(s.calls));
    assert(JSON.stringify(JSON.parse(s.calls[0].arguments)) === JSON.stringify(tm.args),
           s.calls[0].arguments);
    assert(s.usage && s.usage.completion_tokens > 0, JSON.stringify(s.usage));
    messages.push({ role: "assistant", content: s.text || null, tool_calls: s.calls.map((c) => (
      { id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) });
    messages.push({ role: "tool", tool_call_id: s.calls[0].id, content: "sunny 21C" });
    const s2 = await collect(await client.chat.completions.create({
      model: tm.model, messages, tools: [weather], stream: true,
    }));
    assert(s2.finish === "stop" && s2.calls.length === 0, JSON.stringify(s2));
    assert(tm.answer.test(s2.text), s2.text);
  });
}

await check("the mock's parallel tool calls come back in order", async () => {
  const r = await client.chat.completions.create({
    model: "mock-1", tools: [weather], parallel_tool_calls: true,
    messages: [{ role: "user",
      content: '[mock:tool=get_weather {"city":"Oslo"}] [mock:tool=get_weather {"city":"Rome"}]' }],
  });
  const calls = r.choices[0].message.tool_calls;
  assert(calls.length === 2 && calls[0].id !== calls[1].id, JSON.stringify(calls));
  assert(JSON.parse(calls[1].function.arguments).city === "Rome", JSON.stringify(calls));
  assert(r.choices[0].message.content === null, JSON.stringify(r.choices[0].message));
});

await check("a tool message answering no call is a 400 naming the field", async () => {
  try {
    await client.chat.completions.create({
      model: "mock-1", messages: [{ role: "user", content: "x" },
        { role: "tool", tool_call_id: "call_nope", content: "r" }],
    });
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError, String(e));
    assert(e.param === "messages[1].tool_call_id", String(e.param));
  }
});

await check("response_format the provider cannot honour is a 400 on param", async () => {
  try {
    await client.chat.completions.create({
      model: "claude-3-5-haiku-latest", messages: [{ role: "user", content: "x" }],
      response_format: { type: "json_schema", json_schema: { name: "w", schema: { type: "object" } } },
    });
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError && e.param === "response_format", `${e} ${e.param}`);
  }
});

await check("a bad field's error names it in param", async () => {
  try {
    await client.chat.completions.create({ model: "mock-1", temperature: 7,
      messages: [{ role: "user", content: "x" }] });
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError && e.param === "temperature", `${e} ${e.param}`);
  }
});

await check("models.list lists the callable catalogue", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert(ids.includes("mock-1") && ids.includes("gpt-4o-mini"), ids.join(","));
  // mistral has no instance configured in the test host: not callable, not listed
  assert(!ids.includes("mistral-small-latest"), ids.join(","));
});

await check("models.retrieve", async () => {
  const m = await client.models.retrieve("mock-1");
  assert(m.id === "mock-1" && m.object === "model" && m.owned_by === "mock", JSON.stringify(m));
  try {
    await client.models.retrieve("mistral-small-latest");
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError && e.code === "model_not_found", String(e));
  }
});

// Embeddings: the SDK asks for base64 by default and decodes it.
const embedModels = [
  { model: "mock-embed", dim: 64 },
  { model: "text-embedding-3-small", dim: 3, first: [17, 3, 0.5] },
  { model: "gemini-embedding-001", dim: 3, first: [17, 3, 0.5] },
];
for (const em of embedModels) {
  await check(`embeddings: ${em.model}`, async () => {
    const r = await client.embeddings.create({ model: em.model, input: ["embed these words", "b"] });
    assert(r.object === "list" && r.data.length === 2 && r.model === em.model, JSON.stringify(r));
    assert(r.data[1].index === 1 && r.data[0].embedding.length === em.dim,
           JSON.stringify(r.data[0]));
    if (em.first) assert(JSON.stringify(r.data[0].embedding) === JSON.stringify(em.first),
                         JSON.stringify(r.data[0].embedding));
    assert(r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens,
           JSON.stringify(r.usage));
    const f = await client.embeddings.create({ model: em.model, input: "embed these words",
                                               encoding_format: "float" });
    assert(f.data[0].embedding.every((x, i) => Math.abs(x - r.data[0].embedding[i]) < 1e-6),
           "float and base64 disagree");
  });
}

await check("embeddings: dimensions, and a chat model refused on param model", async () => {
  const r = await client.embeddings.create({ model: "mock-embed", input: "x", dimensions: 8 });
  assert(r.data[0].embedding.length === 8, JSON.stringify(r.data[0]));
  const norm = Math.sqrt(r.data[0].embedding.reduce((a, x) => a + x * x, 0));
  assert(Math.abs(norm - 1) < 1e-3, String(norm));
  try {
    await client.embeddings.create({ model: "mock-1", input: "x" });
    throw new Error("no error raised");
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError && e.param === "model", `${e} ${e.param}`);
  }
});

console.log(`RESULT passed=${passed} failed=${failed} skipped=0`);
process.exit(failed ? 1 : 0);
