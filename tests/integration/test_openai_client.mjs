// The official `openai` npm client against agenthost: non-streamed and
// streamed chat completions, and our errors surfacing as the client's
// APIError with status, code and our reason_code.
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

await check("models.list lists the catalogue", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert(ids.includes("mock-1") && ids.includes("gpt-4o-mini"), ids.join(","));
});

console.log(`RESULT passed=${passed} failed=${failed} skipped=0`);
process.exit(failed ? 1 : 0);
