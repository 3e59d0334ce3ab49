"""Admission control (issue 3): each refusal and its reason_code, the headers,
soft budgets, and the properties that must hold across threads, processes
and hosts:

  (1) 200 concurrent requests over 4 processes sharing one socket, one tenant
      with a hard budget for ~50: settled spend <= limit, and the number
      served is what the budget allows, within one request;
  (2) the same over two separate instances (two sockets, one database);
  (3) kill -9 with requests in flight: after the reaper, no reservation is
      left open and everything that was in flight is billed.
"""
import json
import os
import signal
import threading
import time

import harness
import fcgi_client as fc
from harness import test, run, api, sse, ctl
from apihelp import new_tenant, db_exec, chat_body, err_code

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
WORDS = 200          # completion tokens of each mock call in the budget tests


def limits(t, **kv):
    for k, v in kv.items():
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))


def budget_body(i=0):
    return chat_body("[mock:words=%d] n%03d" % (WORDS, i), max_tokens=WORDS)


def worst_and_actual(t):
    """Reserve one call sequentially to learn the reservation and the actual cost."""
    st, h, b = api("POST", "/v1/chat/completions", budget_body(999), key=t["key"])
    assert st == 200, (st, b)
    body = json.dumps(budget_body(999))
    prompt_bound = len("[mock:words=%d] n999" % WORDS) + 8 + 16
    reserve = prompt_bound * 1 + WORDS * 2          # mock-1: $1/M in, $2/M out
    actual = b["usage"]["prompt_tokens"] * 1 + b["usage"]["completion_tokens"] * 2
    return reserve, actual, body


def spent(t):
    rows = db_exec("SELECT COALESCE(SUM(cost_micros),0), COUNT(*) FROM executions "
                   "WHERE tenant_id=%d AND status='succeeded'" % t["id"], tenant=t)
    return int(rows[0][0]), int(rows[0][1])


def open_reservations(t):
    return int(db_exec("SELECT COUNT(*) FROM reservations WHERE tenant_id=%d AND state='open'"
                       % t["id"])[0][0])


def hammer(socks, key, n, workers):
    """n chat requests spread round-robin over socks from `workers` threads."""
    results, lock, idx = [], threading.Lock(), [0]

    def worker():
        while True:
            with lock:
                i = idx[0]
                idx[0] += 1
            if i >= n:
                return
            st, _, b = fc.request(socks[i % len(socks)], "POST", "/v1/chat/completions",
                                  budget_body(i), key=key, timeout=60)
            with lock:
                results.append((st, b["error"]["reason_code"] if st != 200 else None))

    ts = [threading.Thread(target=worker) for _ in range(workers)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return results


def budget_property(socks, label):
    t = new_tenant(label)
    limits(t, rpm=0, tpm=0, concurrency=0)
    reserve, actual, _ = worst_and_actual(t)
    first = actual
    limit = 50 * actual + first                       # room for ~50 after the probe call
    ctl("limits", "set", "--tenant", t["slug"], "budget_usd_daily", "%.6f" % (limit / 1e6))
    results = hammer(socks, t["key"], 200, 40)
    served = sum(1 for st, _ in results if st == 200)
    refused = [rc for st, rc in results if st != 200]
    assert set(refused) <= {"tenant_budget_exceeded"}, set(refused)
    total, count = spent(t)
    assert total <= limit, "settled spend %d over the limit %d" % (total, limit)
    # What the budget allows: requests are admitted while spend + worst case fits.
    allowed = 0
    s = first
    while s + reserve <= limit:
        s += actual
        allowed += 1
    assert allowed - 1 <= served <= allowed, (served, allowed, reserve, actual)
    assert count == served + 1
    assert open_reservations(t) == 0
    row = db_exec("SELECT spent_micros, reserved_micros FROM budget_counters WHERE "
                  "scope='tenant' AND scope_id=%d AND win='day'" % t["id"])
    assert int(row[0][0]) == total and int(row[0][1]) == 0, (row, total)


@test
def property_1_four_processes_one_socket():
    inst, sock = fc.start_instance(BIN, harness.CONF, [("threads", "16"),
                                                       ("mock_latency_ms", "15")], procs=4)
    try:
        assert len(inst["pids"]) == 4, inst["pids"]
        budget_property([sock], "p1")
    finally:
        fc.stop(inst)


@test
def property_2_two_instances_same_database():
    a, sa = fc.start_instance(BIN, harness.CONF, [("threads", "16"), ("mock_latency_ms", "15")])
    b, sb = fc.start_instance(BIN, harness.CONF, [("threads", "16"), ("mock_latency_ms", "15")])
    try:
        budget_property([sa, sb], "p2")
    finally:
        fc.stop(a)
        fc.stop(b)


@test
def property_3_kill_9_in_flight_is_reaped_and_billed():
    t = new_tenant("kill")
    limits(t, rpm=0, concurrency=0)
    victim, vs = fc.start_instance(BIN, harness.CONF, [("mock_latency_ms", "30000"),
                                                       ("upstream_timeout_ms", "1000"),
                                                       ("reservation_grace_s", "1")])
    socks = [fc.open_stream(vs, "POST", "/v1/chat/completions", budget_body(i), key=t["key"])
             for i in range(5)]
    assert harness.wait_until(lambda: open_reservations(t) == 5, timeout=10), \
        open_reservations(t)
    booked = int(db_exec("SELECT SUM(micros) FROM reservations WHERE tenant_id=%d "
                         "AND state='open'" % t["id"])[0][0])
    fc.stop(victim, signal.SIGKILL)
    for s in socks:
        s.close()
    # reservations live upstream_timeout (1 s) + grace (1 s); then any reaper settles them
    time.sleep(2.2)
    out = ctl("reap")
    assert out["reaped"] + 0 >= 0
    assert harness.wait_until(lambda: open_reservations(t) == 0, timeout=10)
    rows = db_exec("SELECT status, reason_code, cost_micros FROM executions WHERE tenant_id=%d"
                   % t["id"], tenant=t)
    assert len(rows) == 5 and all(r[:2] == ["failed", "reservation_expired"] for r in rows), rows
    assert sum(int(r[2]) for r in rows) == booked
    row = db_exec("SELECT spent_micros, reserved_micros FROM budget_counters WHERE "
                  "scope='tenant' AND scope_id=%d AND win='day'" % t["id"])
    assert int(row[0][0]) == booked and int(row[0][1]) == 0, row


# ---------------------------------------------------------------- each refusal

@test
def rpm_refusal_and_headers():
    t = new_tenant("rpm")
    limits(t, rpm=2)
    for i in range(2):
        st, h, b = api("POST", "/v1/chat/completions", chat_body("r%d" % i), key=t["key"])
        assert st == 200, b
        assert h["x-ratelimit-limit-requests"] == "2", h
        assert h["x-ratelimit-remaining-requests"] == str(1 - i), h
        assert h["x-ratelimit-reset-requests"].endswith("s"), h
    st, h, b = api("POST", "/v1/chat/completions", chat_body("r3"), key=t["key"])
    assert st == 429 and err_code(b) == "rpm_exceeded", (st, b)
    assert b["error"]["type"] == "rate_limit_error" and int(h["retry-after"]) >= 1, (b, h)
    rows = db_exec("SELECT status, reason_code FROM executions WHERE tenant_id=%d ORDER BY seq"
                   % t["id"], tenant=t)
    assert rows[-1] == ["refused", "rpm_exceeded"], rows


@test
def key_rpm_refusal_is_per_key():
    t = new_tenant("krpm")
    k2 = ctl("key", "create", "--tenant", t["slug"], "--name", "second")
    limits(t, key_rpm=1)
    assert api("GET", "/v1/models", key=t["key"])[0] == 200
    st, _, b = api("POST", "/v1/chat/completions", chat_body("a"), key=t["key"])
    assert st == 200, b
    st, _, b = api("POST", "/v1/chat/completions", chat_body("b"), key=t["key"])
    assert st == 429 and err_code(b) == "key_rpm_exceeded", (st, b)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("c"), key=k2["key"])
    assert st == 200, (st, b)


@test
def tpm_refusal():
    t = new_tenant("tpm")
    limits(t, tpm=100)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=500), key=t["key"])
    assert st == 429 and err_code(b) == "tpm_exceeded", (st, b)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=20), key=t["key"])
    assert st == 200, (st, b)


@test
def concurrency_refusal():
    t = new_tenant("conc")
    limits(t, concurrency=1)
    inst, sock = fc.start_instance(BIN, harness.CONF, [("mock_latency_ms", "1500")])
    try:
        s = fc.open_stream(sock, "POST", "/v1/chat/completions", chat_body("slow"), key=t["key"])
        assert harness.wait_until(lambda: open_reservations(t) == 1, timeout=5)
        st, _, b = fc.request(sock, "POST", "/v1/chat/completions", chat_body("second"),
                              key=t["key"])
        assert st == 429 and err_code(b) == "concurrency_exceeded", (st, b)
        st, _, b = fc.read_response(s)
        assert st == 200, b
        st, _, b = fc.request(sock, "POST", "/v1/chat/completions", chat_body("third"),
                              key=t["key"])
        assert st == 200, (st, b)
    finally:
        fc.stop(inst)


@test
def budget_refusal_is_insufficient_quota():
    t = new_tenant("bud")
    limits(t, budget_usd_daily="0.000100")
    st, h, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=500), key=t["key"])
    assert st == 429 and err_code(b) == "tenant_budget_exceeded", (st, b)
    assert b["error"]["type"] == "insufficient_quota", b
    st, h, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=10), key=t["key"])
    assert st == 200, (st, b)
    assert h["x-budget-limit-usd-daily"] == "0.0001", h
    assert float(h["x-budget-remaining-usd-daily"]) < 0.0001, h


@test
def token_budget_refusal():
    t = new_tenant("tokb")
    limits(t, budget_tokens_monthly=50)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=100), key=t["key"])
    assert st == 429 and err_code(b) == "tenant_budget_exceeded", (st, b)
    assert "token budget" in b["error"]["message"], b


@test
def soft_budget_admits_warns_and_audits():
    t = new_tenant("soft")
    limits(t, budget_usd_daily="0.000100", budget_enforcement="soft")
    st, h, b = api("POST", "/v1/chat/completions", chat_body("x", max_tokens=500), key=t["key"])
    assert st == 200, (st, b)
    assert "soft" in h.get("x-budget-warning", ""), h
    rows = db_exec("SELECT action, reason_code FROM audit_log WHERE tenant_id=%d AND "
                   "action='budget.soft_exceeded'" % t["id"])
    assert rows == [["budget.soft_exceeded", "tenant_budget_exceeded"]], rows


@test
def global_budget_is_503_and_other_errors_differ():
    t = new_tenant("glob")
    try:
        ctl("limits", "set", "--global", "global_budget_usd_daily", "0.000001")
        st, _, b = api("POST", "/v1/chat/completions", chat_body("x"), key=t["key"])
        assert st == 503 and err_code(b) == "global_budget_exceeded", (st, b)
    finally:
        ctl("limits", "unset", "--global", "global_budget_usd_daily")
    time.sleep(1.1)  # the per-thread limits cache holds for at most 1 s
    st, _, b = api("POST", "/v1/chat/completions", chat_body("x"), key=t["key"])
    assert st == 200, (st, b)


@test
def client_disconnect_mid_stream_is_billed_for_what_was_produced():
    t = new_tenant("disc")
    inst, sock = fc.start_instance(BIN, harness.CONF, [("mock_stream_delay_ms", "50")])
    try:
        s = fc.open_stream(sock, "POST", "/v1/chat/completions",
                           chat_body("[mock:words=400] go", stream=True, max_tokens=400),
                           key=t["key"])
        got = b""
        while got.count(b"chat.completion.chunk") < 5:
            chunk = s.recv(4096)
            assert chunk, "the stream ended early: %r" % got[-500:]
            got += chunk
        s.close()
        assert harness.wait_until(lambda: open_reservations(t) == 0, timeout=10)
        rows = db_exec("SELECT status, reason_code, completion_tokens, cost_micros FROM "
                       "executions WHERE tenant_id=%d" % t["id"], tenant=t)
        assert len(rows) == 1 and rows[0][0] == "cancelled", rows
        assert 0 < int(rows[0][2]) < 400 and int(rows[0][3]) > 0, rows
    finally:
        fc.stop(inst)


if __name__ == "__main__":
    run()
