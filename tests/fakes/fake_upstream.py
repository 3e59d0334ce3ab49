#!/usr/bin/env python3
"""fake_upstream.py: a local stand-in for the OpenAI, Anthropic and Gemini APIs.

DESIGN
Tests of the provider layer need upstreams that speak the exact wire formats,
fail on demand and never touch the network. This server answers all three
formats on 127.0.0.1 only, from the Python standard library, and records the
last model request so a test can assert on the URL, headers and JSON body the
host really sent.

    python3 tests/fakes/fake_upstream.py --port N

Routes:
    POST /openai/v1/chat/completions                       (stream: OpenAI SSE + [DONE])
    POST /anthropic/v1/messages                             (stream: Messages events)
    POST /gemini/v1beta/models/<model>:generateContent
    POST /gemini/v1beta/models/<model>:streamGenerateContent?alt=sse
    GET  /_last     {"path", "headers" (lowercased names), "body"} of the last POST
    GET  /openai/v1/models, /anthropic/v1/models, /gemini/v1beta/models: a key check
    GET  /_health   200

The answer is "fake <provider> reply to: <last user text>"; usage counts words.
Triggers in the last user text: FAIL500 -> 500, FAIL429 -> 429 (each in the
provider's error shape), SLOW -> sleep 5 s first, CUT -> stream two chunks and
close the connection without finishing; NOSTREAM (OpenAI route) -> a plain
JSON answer even when streaming was asked for. A missing or empty credential header
gets a 401 in the provider's error shape. Prints "ready" once listening.

Instances (routing tests, docs/ROUTING.md): a path under "/i/<tag>/" is the same route
for an instance named <tag> (provider.<name>.base_url = .../i/<name>/openai/v1), so several
provider instances can share this server and fail separately:
    POST /_mode   {"tag", "mode"}: "ok" (default), "429", "500" or "slow" (5 s, then ok) for
                  every later call under /i/<tag>/
    GET  /_hits   {"<tag>": {"calls": n, "keys": {"<credential>": n}}} since the last reset
    POST /_reset  modes back to "ok", counts to zero

Tool calling: TOOLCALL in the last user text, with tools offered and no tool
result after that text yet, makes the answer a call of the first offered tool
with arguments {"n": 42, "q": "fake"} in the provider's wire format (id
"call_fake_1"; streamed arguments arrive in two fragments). Once tool results
follow, the answer is "fake <provider> tool results: <result texts>".

Embeddings (OpenAI /embeddings, Gemini :batchEmbedContents): each input text
gets the vector [characters, words, 0.5] (then zeros up to "dimensions" /
"outputDimensionality" when asked); OpenAI reports usage (prompt_tokens =
words), Gemini reports none. FAIL500 in an input fails the call.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_LOCK = threading.Lock()
LAST = {"path": None, "headers": {}, "body": None}
MODES = {}  # tag -> "ok" | "429" | "500" | "slow"
HITS = {}   # tag -> {"calls": n, "keys": {credential: n}}


def words(text):
    return len(str(text).split())


TOOL_ARGS = {"n": 42, "q": "fake"}


def tool_args_pieces():
    """The tool call arguments as JSON text, cut in two fragments for streams."""
    text = json.dumps(TOOL_ARGS, separators=(",", ":"))
    return [text[:7], text[7:]]


def text_content(content):
    """Text of a content that may be a string or a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content
                       if isinstance(b, dict) and b.get("type") == "text")
    return ""


def error_body(provider, status, message):
    """An error body in the provider's own shape."""
    if provider == "openai":
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    if provider == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    state = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}.get(status, "INTERNAL")
    return {"error": {"code": status, "message": message, "status": state}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-upstream/1"

    def log_message(self, fmt, *args):
        pass

    # --- plumbing

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, data, event=None, sep="\n"):
        out = ""
        if event:
            out += "event: " + event + sep
        out += "data: " + (data if isinstance(data, str) else json.dumps(data)) + sep + sep
        self.wfile.write(out.encode())
        self.wfile.flush()

    def do_GET(self):
        if self.path == "/_health":
            self.send_json(200, {"status": "ok"})
        elif self.path == "/_last":
            with LAST_LOCK:
                self.send_json(200, LAST)
        elif self.path == "/_hits":
            with LAST_LOCK:
                self.send_json(200, HITS)
        elif self.path in ("/openai/v1/models", "/anthropic/v1/models", "/gemini/v1beta/models"):
            self.models()
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def models(self):
        """GET models (agenthostctl provider-key set --verify): 200 for a key, 401 for none or
        one containing "invalid", each with the adapter's own auth header."""
        auth = self.headers.get("Authorization", "")
        key = {"/openai/v1/models": auth[7:].strip() if auth.startswith("Bearer ") else "",
               "/anthropic/v1/models": self.headers.get("x-api-key", ""),
               "/gemini/v1beta/models": self.headers.get("x-goog-api-key", "")}[self.path]
        if not key or "invalid" in key:
            self.send_json(401, {"error": {"message": "invalid key"}})
            return
        self.send_json(200, {"object": "list", "data": [{"id": "fake-model"}]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw.decode() or "null")
        except ValueError:
            body = None
        if self.control(body):
            return
        with LAST_LOCK:
            LAST["path"] = self.path
            LAST["headers"] = {k.lower(): v for k, v in self.headers.items()}
            LAST["body"] = body
        path = self.path
        self.tag = None
        if path.startswith("/i/"):
            self.tag, _, rest = path[3:].partition("/")
            path = "/" + rest
            self.count_hit()
        try:
            if path == "/openai/v1/chat/completions":
                self.openai(body)
            elif path == "/openai/v1/embeddings":
                self.openai_embeddings(body)
            elif path.startswith("/gemini/v1beta/models/") and path.endswith(":batchEmbedContents"):
                self.gemini_embeddings(body)
            elif path == "/anthropic/v1/messages":
                self.anthropic(body)
            elif path.startswith("/gemini/v1beta/models/"):
                self.gemini(path, body)
            else:
                self.send_json(404, {"error": {"message": "no such route: " + path}})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self, body):
        """POST /_mode and /_reset (see the module's doc). True when answered."""
        if self.path == "/_mode" and isinstance(body, dict) and \
                body.get("mode") in ("ok", "429", "500", "slow"):
            with LAST_LOCK:
                MODES[str(body.get("tag"))] = body["mode"]
            self.send_json(200, {"ok": True})
            return True
        if self.path == "/_reset":
            with LAST_LOCK:
                MODES.clear()
                HITS.clear()
            self.send_json(200, {"ok": True})
            return True
        if self.path in ("/_mode", "/_reset"):
            self.send_json(400, {"error": {"message": "bad control request"}})
            return True
        return False

    def count_hit(self):
        """Count a call under /i/<tag>/ with the credential it carried."""
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.startswith("Bearer ") else \
            self.headers.get("x-api-key", self.headers.get("x-goog-api-key", ""))
        with LAST_LOCK:
            h = HITS.setdefault(self.tag, {"calls": 0, "keys": {}})
            h["calls"] += 1
            h["keys"][key] = h["keys"].get(key, 0) + 1

    def common(self, provider, credential, last_text):
        """Auth check and triggers. Returns True when the request was answered already."""
        if not credential:
            self.send_json(401, error_body(provider, 401, "missing credential"))
            return True
        with LAST_LOCK:
            mode = MODES.get(getattr(self, "tag", None), "ok")
        if mode == "slow":
            time.sleep(5)
        if mode == "500":
            self.send_json(500, error_body(provider, 500, "simulated failure (mode)"))
            return True
        if mode == "429":
            self.send_json(429, error_body(provider, 429, "simulated rate limit (mode)"))
            return True
        if "SLOW" in last_text:
            time.sleep(5)
        if "FAIL500" in last_text:
            self.send_json(500, error_body(provider, 500, "simulated failure"))
            return True
        if "FAIL429" in last_text:
            self.send_json(429, error_body(provider, 429, "simulated rate limit"))
            return True
        return False

    @staticmethod
    def pieces(answer):
        parts = answer.split(" ")
        return [p if i == 0 else " " + p for i, p in enumerate(parts)]

    # --- embeddings

    @staticmethod
    def vector(text, dims):
        v = [float(len(text)), float(words(text)), 0.5]
        return v + [0.0] * (dims - 3) if dims and dims > 3 else v

    def openai_embeddings(self, body):
        body = body if isinstance(body, dict) else {}
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs or []
        if self.common("openai", self.headers.get("Authorization", "")[7:],
                       " ".join(map(str, inputs))):
            return
        data = [{"object": "embedding", "index": i,
                 "embedding": self.vector(t, body.get("dimensions"))}
                for i, t in enumerate(inputs)]
        n = sum(words(t) for t in inputs)
        self.send_json(200, {"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": n, "total_tokens": n}})

    def gemini_embeddings(self, body):
        body = body if isinstance(body, dict) else {}
        reqs = body.get("requests") or []
        texts = ["".join(p.get("text", "") for p in r.get("content", {}).get("parts", []))
                 for r in reqs]
        if self.common("gemini", self.headers.get("x-goog-api-key", ""), " ".join(texts)):
            return
        self.send_json(200, {"embeddings": [
            {"values": self.vector(t, r.get("outputDimensionality"))}
            for t, r in zip(texts, reqs)]})

    # --- OpenAI chat completions

    def openai(self, body):
        body = body if isinstance(body, dict) else {}
        msgs = body.get("messages") or []
        last_i = next((i for i in range(len(msgs) - 1, -1, -1)
                       if msgs[i].get("role") == "user"), -1)
        last = text_content(msgs[last_i].get("content")) if last_i >= 0 else ""
        results = [text_content(m.get("content")) for m in msgs[last_i + 1:]
                   if m.get("role") == "tool"]
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or []]
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if self.common("openai", key, last):
            return
        answer = "fake openai reply to: " + last
        if results:
            answer = "fake openai tool results: " + " ".join(results)
        elif "TOOLCALL" in last and tools:
            self.openai_tool_call(body, tools[0])
            return
        usage = {"prompt_tokens": sum(words(text_content(m.get("content"))) for m in msgs),
                 "completion_tokens": words(answer)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        model = body.get("model", "")
        # NOSTREAM: behave like a compatible server that ignores "stream".
        if not body.get("stream") or "NOSTREAM" in last:
            self.send_json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                             "finish_reason": "stop"}],
                "usage": usage})
            return
        self.start_sse()

        def chunk(delta, finish=None):
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    "usage": None}

        self.sse(chunk({"role": "assistant", "content": ""}))
        for i, piece in enumerate(self.pieces(answer)):
            if "CUT" in last and i == 2:
                return
            self.sse(chunk({"content": piece}))
        self.sse(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            self.sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                      "choices": [], "usage": usage})
        self.sse("[DONE]")

    def openai_tool_call(self, body, name):
        model = body.get("model", "")
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if not body.get("stream"):
            self.send_json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {
                    "role": "assistant", "content": None,
                    "tool_calls": [{"id": "call_fake_1", "type": "function", "function": {
                        "name": name,
                        "arguments": json.dumps(TOOL_ARGS, separators=(",", ":"))}}]},
                    "finish_reason": "tool_calls"}],
                "usage": usage})
            return
        self.start_sse()

        def chunk(delta, finish=None):
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        first, rest = tool_args_pieces()
        self.sse(chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": "call_fake_1", "type": "function",
             "function": {"name": name, "arguments": first}}]}))
        self.sse(chunk({"tool_calls": [{"index": 0, "function": {"arguments": rest}}]}))
        self.sse(chunk({}, "tool_calls"))
        if (body.get("stream_options") or {}).get("include_usage"):
            self.sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                      "choices": [], "usage": usage})
        self.sse("[DONE]")

    # --- Anthropic messages

    def anthropic(self, body):
        body = body if isinstance(body, dict) else {}
        msgs = body.get("messages") or []

        def results_of(m):
            c = m.get("content")
            if not isinstance(c, list):
                return []
            return [b.get("content", "") for b in c
                    if isinstance(b, dict) and b.get("type") == "tool_result"]
        last_i = next((i for i in range(len(msgs) - 1, -1, -1)
                       if msgs[i].get("role") == "user" and not results_of(msgs[i])), -1)
        last = text_content(msgs[last_i].get("content")) if last_i >= 0 else ""
        results = [r for m in msgs[last_i + 1:] for r in results_of(m)]
        tools = [t.get("name") for t in body.get("tools") or []]
        if self.common("anthropic", self.headers.get("x-api-key", "").strip(), last):
            return
        answer = "fake anthropic reply to: " + last
        if results:
            answer = "fake anthropic tool results: " + " ".join(map(str, results))
        elif "TOOLCALL" in last and tools:
            self.anthropic_tool_call(body, tools[0])
            return
        inp = sum(words(text_content(m.get("content"))) for m in msgs)
        inp += words(body.get("system", ""))
        out = words(answer)
        model = body.get("model", "")
        if not body.get("stream"):
            self.send_json(200, {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": answer}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": inp, "output_tokens": out}})
            return
        self.start_sse()
        self.sse({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": 1}}}, "message_start")
        self.sse({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}}, "content_block_start")
        self.sse({"type": "ping"}, "ping")
        for i, piece in enumerate(self.pieces(answer)):
            if "CUT" in last and i == 2:
                return
            self.sse({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                     "stop_sequence": None},
                  "usage": {"output_tokens": out}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")

    def anthropic_tool_call(self, body, name):
        model = body.get("model", "")
        if not body.get("stream"):
            self.send_json(200, {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "Calling."},
                            {"type": "tool_use", "id": "call_fake_1", "name": name,
                             "input": TOOL_ARGS}],
                "stop_reason": "tool_use", "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5}})
            return
        self.start_sse()
        self.sse({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}, "message_start")
        self.sse({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}}, "content_block_start")
        self.sse({"type": "content_block_delta", "index": 0,
                  "delta": {"type": "text_delta", "text": "Calling."}}, "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "content_block_start", "index": 1,
                  "content_block": {"type": "tool_use", "id": "call_fake_1", "name": name,
                                    "input": {}}}, "content_block_start")
        for piece in tool_args_pieces():
            self.sse({"type": "content_block_delta", "index": 1,
                      "delta": {"type": "input_json_delta", "partial_json": piece}},
                     "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 1}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                     "stop_sequence": None},
                  "usage": {"output_tokens": 5}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")

    # --- Gemini generateContent

    def gemini(self, path, body):
        body = body if isinstance(body, dict) else {}
        tail = path[len("/gemini/v1beta/models/"):]
        stream = tail.endswith(":streamGenerateContent?alt=sse")
        if not stream and not tail.endswith(":generateContent"):
            self.send_json(404, error_body("gemini", 404, "unknown method"))
            return
        contents = body.get("contents") or []

        def text_of(c):
            return "".join(p.get("text", "") for p in (c.get("parts") or []))

        def results_of(c):
            return [json.dumps(p["functionResponse"].get("response"), sort_keys=True)
                    for p in (c.get("parts") or []) if "functionResponse" in p]
        last_i = next((i for i in range(len(contents) - 1, -1, -1)
                       if contents[i].get("role") == "user" and not results_of(contents[i])),
                      -1)
        last = text_of(contents[last_i]) if last_i >= 0 else ""
        results = [r for c in contents[last_i + 1:] for r in results_of(c)]
        tools = [d.get("name") for t in body.get("tools") or []
                 for d in t.get("functionDeclarations") or []]
        if self.common("gemini", self.headers.get("x-goog-api-key", "").strip(), last):
            return
        answer = "fake gemini reply to: " + last
        if results:
            answer = "fake gemini tool results: " + " ".join(results)
        elif "TOOLCALL" in last and tools:
            r = {"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": tools[0], "args": TOOL_ARGS}}]},
                "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                                  "totalTokenCount": 15}}
            if not stream:
                self.send_json(200, r)
            else:
                self.start_sse()
                self.sse(r, sep="\r\n")
            return
        prompt = sum(words(text_of(c)) for c in contents)
        prompt += words(text_of(body.get("systemInstruction") or {}))
        out = words(answer)
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": out,
                 "totalTokenCount": prompt + out}

        def response(text, finish=None, with_usage=False):
            cand = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
            if finish:
                cand["finishReason"] = finish
            r = {"candidates": [cand], "modelVersion": tail.split(":")[0]}
            if with_usage:
                r["usageMetadata"] = usage
            return r

        if not stream:
            self.send_json(200, response(answer, "STOP", True))
            return
        self.start_sse()
        pieces = self.pieces(answer)
        for i, piece in enumerate(pieces):
            if "CUT" in last and i == 2:
                return
            final = i == len(pieces) - 1
            self.sse(response(piece, "STOP" if final else None, final), sep="\r\n")


def main():
    ap = argparse.ArgumentParser(description="fake LLM upstreams for tests")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("ready", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    sys.exit(main())
