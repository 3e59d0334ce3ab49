// bench/mock-upstream.mjs: the OpenAI-compatible upstream of bench/peers.sh and bench/soak.sh.
//
//   node bench/mock-upstream.mjs PORT        (listens on 127.0.0.1:PORT only)
//
// POST /v1/chat/completions (or any POST path ending in /chat/completions) answers a
// fixed chat completion, the same bytes every time, with `usage` so that a gateway can
// bill it: 284 bytes of JSON. A request body containing "stream": true gets the same
// answer as Server-Sent Events (three chunks, a usage chunk, [DONE]). Nothing is parsed
// beyond that test, so the mock costs the same per request whatever sends it.
//
// GET /stats answers {"requests":N,"streams":M}: the POSTs answered so far. The benchmarks
// read it around each phase to prove that the requests of a gateway really reached the
// upstream. Any other request is a 404. Plain node, no dependencies.
import http from "node:http";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
	console.error("usage: node bench/mock-upstream.mjs PORT");
	process.exit(2);
}

const MODEL = "gpt-4o-mini";
const CREATED = 1700000000;
const answer = Buffer.from(JSON.stringify({
	id: "chatcmpl-bench1",
	object: "chat.completion",
	created: CREATED,
	model: MODEL,
	choices: [{
		index: 0,
		message: { role: "assistant", content: "A fixed answer from the mock." },
		finish_reason: "stop",
	}],
	usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 },
}));

function chunk(delta, finish, usage) {
	const c = {
		id: "chatcmpl-bench1",
		object: "chat.completion.chunk",
		created: CREATED,
		model: MODEL,
		choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }],
	};
	if (usage)
		c.usage = usage;
	return "data: " + JSON.stringify(c) + "\n\n";
}
const streamed = Buffer.from(
	chunk({ role: "assistant", content: "" }, null) +
	chunk({ content: "A fixed answer from " }, null) +
	chunk({ content: "the mock." }, null) +
	chunk({}, "stop") +
	chunk(null, null, { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 }) +
	"data: [DONE]\n\n");

const wantsStream = /"stream"\s*:\s*true/;
let requests = 0;
let streams = 0;

const server = http.createServer((req, res) => {
	if (req.method === "GET" && req.url === "/stats") {
		const b = JSON.stringify({ requests, streams });
		res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b) });
		res.end(b);
		return;
	}
	if (req.method !== "POST" || !req.url.split("?")[0].endsWith("/chat/completions")) {
		req.resume();
		res.writeHead(404, { "Content-Type": "application/json", "Content-Length": 2 });
		res.end("{}");
		return;
	}
	const parts = [];
	req.on("data", (d) => parts.push(d));
	req.on("end", () => {
		requests++;
		if (wantsStream.test(Buffer.concat(parts).toString("latin1"))) {
			streams++;
			res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
			res.end(streamed);
			return;
		}
		res.writeHead(200, { "Content-Type": "application/json", "Content-Length": answer.length });
		res.end(answer);
	});
});
// Gateways keep their upstream connections between phases: do not close them under them.
server.keepAliveTimeout = 300000;
server.headersTimeout = 301000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
server.listen(port, "127.0.0.1", () => {
	console.error(`mock upstream on 127.0.0.1:${port}, answer ${answer.length} bytes`);
});
for (const sig of ["SIGTERM", "SIGINT"])
	process.on(sig, () => process.exit(0));
