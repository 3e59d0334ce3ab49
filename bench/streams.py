#!/usr/bin/env python3
"""bench/streams.py: hold N streamed chat completions open at once (bench/inflight.sh).

    streams.py URL KEYFILE N RAMP_PER_S BODY_JSON OUT

Opens N HTTP/1.0 connections to URL (127.0.0.1 only), RAMP_PER_S new ones a
second, each POSTing BODY_JSON to /v1/chat/completions with one of the keys
of KEYFILE (round-robin; the keys are never printed), and reads each event
stream to its end. A stream counts as ok when the status is 200 and the body
ends with "data: [DONE]". While they run, the number of streams open (connected
and not yet ended) is sampled every 0.5 s. At the end, name=value lines go to
OUT: started, ok, failed (with the first few reasons), peak_open, and the
seconds from the first connection to the peak.

asyncio from the standard library: one process holds thousands of sockets.
"""
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def one(host, port, path, key, body, state):
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError as e:
        state["fail"].append("connect: %s" % e)
        return
    state["open"] += 1
    try:
        data = body.encode()
        # HTTP/1.0: the body ends when the server closes, without chunked framing.
        w.write(("POST %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                 % (path, host, key, len(data))).encode() + data)
        await w.drain()
        head = await r.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        rest = await r.read()  # until the server closes
        if status == 200 and b"data: [DONE]" in rest:
            state["ok"] += 1
        else:
            state["fail"].append("status %d: %s" % (status, rest[-160:].decode("utf-8", "replace")))
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
        state["fail"].append("read: %r" % e)
    finally:
        state["open"] -= 1
        w.close()


async def main():
    url, keyfile, n, ramp, body, out = sys.argv[1:7]
    n, ramp = int(n), float(ramp)
    u = urlsplit(url)
    if u.hostname not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("streams.py: loopback targets only")
    keys = [k.strip() for k in open(keyfile) if k.strip()]
    path = (u.path.rstrip("/") or "") + "/v1/chat/completions"
    state = {"open": 0, "ok": 0, "fail": [], "peak": 0, "peak_at": 0.0}
    t0 = time.monotonic()
    tasks = []

    async def sampler():
        while True:
            if state["open"] > state["peak"]:
                state["peak"], state["peak_at"] = state["open"], time.monotonic() - t0
            await asyncio.sleep(0.5)

    smp = asyncio.ensure_future(sampler())
    for i in range(n):
        tasks.append(asyncio.ensure_future(one(u.hostname, u.port or 80, path,
                                               keys[i % len(keys)], body, state)))
        if ramp > 0 and i % 50 == 49:
            await asyncio.sleep(50.0 / ramp)
    await asyncio.gather(*tasks)
    smp.cancel()
    with open(out, "w") as f:
        f.write("started=%d\nok=%d\nfailed=%d\npeak_open=%d\npeak_at_s=%.1f\nseconds=%.1f\n"
                % (n, state["ok"], len(state["fail"]), state["peak"], state["peak_at"],
                   time.monotonic() - t0))
        for reason in state["fail"][:5]:
            f.write("fail_example=%s\n" % json.dumps(reason))


if __name__ == "__main__":
    asyncio.run(main())
