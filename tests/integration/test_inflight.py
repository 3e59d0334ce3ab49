"""Calls in flight (issue 12): a call waiting on its provider holds no worker
thread, and no tenant can take a process's capacity from the others.

  (1) the stall is gone: while tenant A holds 20 slow calls and 20 slow streams
      on the test web servers' processes (2 x 8 threads), tenant B's model list,
      chat completion and stream are answered at once;
  (2) one process with 2 threads holds 120 calls of 2 s at once, streamed and
      not: all succeed, together, in about the time of one;
  (3) the cap: a tenant holds at most host_share_pct percent of a process's
      max_inflight; the rest of its calls get 429 tenant_share_exceeded with
      Retry-After, and are recorded as refused;
  (4) fairness when the process fills up: a tenant allowed the whole process
      stops at its fair part once the last tenth is reached, another tenant
      then gets the last places, and a full process answers 503 server_busy;
  (5) the mock's stream delay holds no thread either: a stream cut by the
      client mid-way is billed for what was produced;
  (6) upstream transfers park too: 24 calls to a slow HTTP upstream (the fake's
      5 s answer) on 2 threads, streamed and not, end together.
"""
import os
import threading
import time

import harness
import fcgi_client as fc
from harness import test, run, api, ctl, wait_until
from apihelp import new_tenant, chat_body, err_code, db_exec

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")


def limits(t, **kv):
    for k, v in kv.items():
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))


def at_once(n, fn):
    """Run fn(i) for i in range(n) on n threads released together; results in order."""
    out, go = [None] * n, threading.Event()

    def one(i):
        go.wait()
        try:
            out[i] = fn(i)
        except Exception as e:  # a failed call is a result too
            out[i] = e

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in ts:
        th.start()
    go.set()
    return ts, out


def join(ts):
    for th in ts:
        th.join()


def slow(ms, words=5, stream=False):
    b = chat_body("[mock:latency=%d] [mock:words=%d] slow" % (ms, words), max_tokens=words)
    if stream:
        b["stream"] = True
    return b


@test
def another_tenant_is_served_while_one_holds_many_slow_calls():
    a, b = new_tenant("infl-a", plan="enterprise"), new_tenant("infl-b", plan="free")
    calls, out = at_once(20, lambda i: api("POST", "/v1/chat/completions", slow(6000),
                                           key=a["key"], timeout=30))
    streams, sout = at_once(20, lambda i: harness.sse_full(
        "/v1/chat/completions", slow(6000, stream=True), key=a["key"], timeout=30))
    time.sleep(1.0)  # A's 40 calls are in flight now (more than the 16 threads)
    t0 = time.monotonic()
    st, _, models = api("GET", "/v1/models", key=b["key"], timeout=10)
    t_models = time.monotonic() - t0
    assert st == 200 and models["data"], (st, models)
    t0 = time.monotonic()
    st, _, r = api("POST", "/v1/chat/completions", chat_body("quick"), key=b["key"], timeout=10)
    t_chat = time.monotonic() - t0
    assert st == 200, r
    t0 = time.monotonic()
    res = harness.sse_full("/v1/chat/completions", dict(chat_body("quick"), stream=True),
                           key=b["key"], timeout=10)
    t_stream = time.monotonic() - t0
    assert res[0] == 200 and res[2][-1][1] == "[DONE]", res
    assert t_models < 1.0 and t_chat < 1.0 and t_stream < 1.0, (t_models, t_chat, t_stream)
    join(calls)
    join(streams)
    assert all(isinstance(x, tuple) and x[0] == 200 for x in out), out
    assert all(isinstance(x, tuple) and x[0] == 200 for x in sout), sout


@test
def two_threads_hold_120_calls_at_once():
    inst, sock = fc.start_instance(BIN, harness.CONF, [("threads", "2")])
    try:
        t = new_tenant("infl-t", plan="enterprise")
        limits(t, host_share_pct=100)
        t0 = time.monotonic()
        ts, out = at_once(120, lambda i: fc.request(
            sock, "POST", "/v1/chat/completions", slow(2000, stream=(i % 2 == 1)),
            key=t["key"], timeout=30))
        join(ts)
        took = time.monotonic() - t0
        bad = [x for x in out if not (isinstance(x, tuple) and x[0] == 200)]
        assert not bad, bad[:3]
        for i, x in enumerate(out):
            if i % 2 == 1:
                assert "data: [DONE]" in x[2], x[2][-200:]
        # One after another on 2 threads this would take 120 s.
        assert took < 15, took
    finally:
        fc.stop(inst)


@test
def upstream_transfers_park_too():
    # The fake upstream answers "SLOW" after 5 s: 24 such calls on 2 threads at once.
    inst, sock = fc.start_instance(BIN, harness.CONF, [("threads", "2"),
                                                       ("upstream_timeout_ms", "15000")])
    try:
        t = new_tenant("infl-u", plan="enterprise")
        limits(t, host_share_pct=100)
        t0 = time.monotonic()
        ts, out = at_once(24, lambda i: fc.request(
            sock, "POST", "/v1/chat/completions",
            dict(chat_body("SLOW", model="gpt-4o-mini"), stream=(i % 2 == 1)),
            key=t["key"], timeout=30))
        join(ts)
        took = time.monotonic() - t0
        assert all(isinstance(x, tuple) and x[0] == 200 for x in out), \
            [x[0] if isinstance(x, tuple) else x for x in out]
        # One after another on 2 threads: 60 s.
        assert took < 12, took
    finally:
        fc.stop(inst)


def refused(x, code):
    return isinstance(x, tuple) and x[0] in (429, 503) and err_code(x[2]) == code


@test
def a_tenant_holds_at_most_its_share_of_a_process():
    inst, sock = fc.start_instance(BIN, harness.CONF, [("threads", "2"),
                                                       ("max_inflight", "20")])
    try:
        t = new_tenant("infl-s", plan="enterprise")
        limits(t, host_share_pct=25)  # 25 % of 20: 5 calls
        ts, out = at_once(9, lambda i: fc.request(
            sock, "POST", "/v1/chat/completions", slow(3000), key=t["key"], timeout=30))
        join(ts)
        ok = [x for x in out if isinstance(x, tuple) and x[0] == 200]
        no = [x for x in out if refused(x, "tenant_share_exceeded")]
        assert len(ok) == 5 and len(no) == 4, [x[0] if isinstance(x, tuple) else x for x in out]
        assert all(x[0] == 429 and x[1].get("retry-after") == "1" for x in no), no
        assert wait_until(lambda: int(db_exec(
            "SELECT COUNT(*) FROM executions WHERE tenant_id = %d AND status = 'refused' AND "
            "reason_code = 'tenant_share_exceeded'" % t["id"], tenant=t)[0][0]) == 4,
            timeout=10)
    finally:
        fc.stop(inst)


@test
def a_full_process_gives_its_last_places_to_tenants_under_their_share():
    inst, sock = fc.start_instance(BIN, harness.CONF, [("threads", "2"),
                                                       ("max_inflight", "20")])
    try:
        a, b = new_tenant("infl-f", plan="enterprise"), new_tenant("infl-g", plan="enterprise")
        limits(a, host_share_pct=100)
        limits(b, host_share_pct=100)
        ts, out = at_once(25, lambda i: fc.request(
            sock, "POST", "/v1/chat/completions", slow(5000), key=a["key"], timeout=30))
        # A alone may fill the process up to its last tenth (18 of 20), no further.
        wait_until(lambda: sum(1 for x in out if x is not None) >= 7, timeout=10)
        time.sleep(0.3)
        early = [x for x in out if x is not None]
        assert len(early) == 7 and all(refused(x, "tenant_share_exceeded") for x in early), \
            [x[0] if isinstance(x, tuple) else x for x in early]
        # B is under its share: it gets the last two places, then the process is full.
        tb, outb = at_once(3, lambda i: fc.request(
            sock, "POST", "/v1/chat/completions", slow(2000),
            key=b["key"], timeout=30))
        join(tb)
        assert sorted(x[0] for x in outb) == [200, 200, 503], [x[0] for x in outb]
        assert [x for x in outb if x[0] == 503 and refused(x, "server_busy")], outb
        join(ts)
        assert sum(1 for x in out if x[0] == 200) == 18, [x[0] for x in out]
    finally:
        fc.stop(inst)


@test
def a_stream_cut_mid_way_is_billed_for_what_was_produced():
    inst, sock = fc.start_instance(BIN, harness.CONF, [("threads", "1"),
                                                       ("mock_stream_delay_ms", "100")])
    try:
        t = new_tenant("infl-c", plan="enterprise")
        b = dict(chat_body("[mock:words=100] cut me", max_tokens=200), stream=True)
        s = fc.open_stream(sock, "POST", "/v1/chat/completions", b, key=t["key"], timeout=30)
        got = b""
        while got.count(b"data: ") < 5:
            chunk = s.recv(65536)
            assert chunk, "the stream ended early: %r" % got[-500:]
            got += chunk
        s.close()
        # The thread is free at once: another call on the same 1-thread process answers.
        st, _, r = fc.request(sock, "POST", "/v1/chat/completions", chat_body("next"),
                              key=t["key"], timeout=5)
        assert st == 200, r

        def cancelled():
            rows = db_exec("SELECT status, completion_tokens FROM executions WHERE tenant_id"
                           " = %d AND stream = 1" % t["id"], tenant=t)
            return rows if rows and rows[0][0] == "cancelled" else None

        rows = wait_until(cancelled, timeout=20)
        assert 0 < int(rows[0][1]) < 100, rows
    finally:
        fc.stop(inst)


if __name__ == "__main__":
    run()
