"""Guards (issue 3): Idempotency-Key on POSTs and the circuit breaker per tenant and provider.

Idempotency: a retry with the same key and body is answered with the first
response, byte for byte, without a second execution or provider call; the
same key with another request is 409 idempotency_conflict; a retry while
the first still runs is 409 idempotency_in_progress; keys belong to one
tenant; refusals that exist to be retried (429/503) are not remembered; a
claim left by a dead process expires.

Breaker: N upstream failures open the tenant's breaker for the provider
(503 circuit_open with Retry-After) while another tenant's calls to the same
provider go on (property 4); after the cooldown exactly one probe goes
through, and its outcome closes or re-opens the breaker.

Each test makes its own tenants (random slugs). Limits are cached per worker
thread for at most 1 s, so every test sets its limits before the tenant's
first request.
"""
import json
import threading
import time

from harness import test, run, api, sse_full, ctl, fake_last, rand_suffix, wait_until
from apihelp import new_tenant, db_exec, chat_body, err_code

FAIL = "[mock:error=upstream_error] please fail"


def idem(key):
    return {"Idempotency-Key": key}


def new_key():
    return "idem-" + rand_suffix(16)


def executions(t, where=""):
    return int(db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id=%d %s"
                       % (t["id"], where), tenant=t)[0][0])


def limits(t, **kv):
    for k, v in kv.items():
        ctl("limits", "set", "--tenant", t["slug"], k, str(v))


# ---------------------------------------------------------------- idempotency

@test
def same_key_same_body_replays_first_response():
    t = new_tenant("idem")
    k = new_key()
    body = chat_body("idempotent hello")
    st1, h1, b1 = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st1 == 200, (st1, b1)
    assert "idempotent-replayed" not in h1, h1
    st2, h2, b2 = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st2 == 200, (st2, b2)
    assert h2.get("idempotent-replayed") == "true", h2
    assert b2 == b1, (b1, b2)
    assert b2["id"] == b1["id"]
    assert h2.get("x-request-id") == h1.get("x-request-id"), (h1, h2)
    assert executions(t) == 1, "one execution row for two requests with one key"


@test
def replay_does_not_call_the_provider_again():
    t = new_tenant("idemup")
    k = new_key()
    first = chat_body("idem upstream first", model="gpt-4o-mini")
    st, _, b1 = api("POST", "/v1/chat/completions", first, key=t["key"], headers=idem(k))
    assert st == 200, (st, b1)
    # another call without a key becomes the fake upstream's "last request"
    st, _, b = api("POST", "/v1/chat/completions",
                   chat_body("idem upstream other", model="gpt-4o-mini"), key=t["key"])
    assert st == 200, (st, b)
    st, h, b2 = api("POST", "/v1/chat/completions", first, key=t["key"], headers=idem(k))
    assert st == 200 and h.get("idempotent-replayed") == "true", (st, h, b2)
    assert b2["id"] == b1["id"], (b1, b2)
    last = fake_last()
    assert "idem upstream other" in json.dumps(last["body"]), \
        "the replay reached the upstream: %s" % last
    assert executions(t) == 2, executions(t)


@test
def same_key_other_request_is_409_conflict():
    t = new_tenant("idemc")
    k = new_key()
    st, _, b = api("POST", "/v1/chat/completions", chat_body("one body"), key=t["key"],
                   headers=idem(k))
    assert st == 200, (st, b)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("another body"), key=t["key"],
                   headers=idem(k))
    assert st == 409 and err_code(b) == "idempotency_conflict", (st, b)
    assert b["error"]["type"] == "conflict_error", b
    # the same key on another endpoint is another request too
    st, _, b = api("POST", "/v1/sessions", {}, key=t["key"], headers=idem(k))
    assert st == 409 and err_code(b) == "idempotency_conflict", (st, b)
    assert executions(t) == 1


@test
def streamed_request_is_replayed():
    t = new_tenant("idems")
    k = new_key()
    body = chat_body("[mock:words=12] stream me", stream=True)
    st1, h1, ev1 = sse_full("/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st1 == 200 and isinstance(ev1, list) and len(ev1) > 2, (st1, ev1)
    assert ev1[-1][1] == "[DONE]", ev1[-1]
    st2, h2, ev2 = sse_full("/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st2 == 200 and isinstance(ev2, list), (st2, ev2)
    assert "text/event-stream" in h2.get("content-type", ""), h2
    assert h2.get("idempotent-replayed") == "true", h2
    assert ev2 == ev1, "the replayed stream differs"
    assert executions(t) == 1


@test
def keys_are_per_tenant():
    a, b = new_tenant("idema"), new_tenant("idemb")
    k = new_key()
    st, _, ra = api("POST", "/v1/chat/completions", chat_body("tenant a"), key=a["key"],
                    headers=idem(k))
    assert st == 200, (st, ra)
    st, h, rb = api("POST", "/v1/chat/completions", chat_body("tenant b"), key=b["key"],
                    headers=idem(k))
    assert st == 200 and "idempotent-replayed" not in h, (st, h, rb)
    assert ra["id"] != rb["id"]
    # the same key and body under b again replays b's own response, never a's
    st, h, rb2 = api("POST", "/v1/chat/completions", chat_body("tenant b"), key=b["key"],
                     headers=idem(k))
    assert st == 200 and h.get("idempotent-replayed") == "true" and rb2["id"] == rb["id"]
    assert executions(a) == 1 and executions(b) == 1


@test
def bad_key_is_400():
    t = new_tenant("idemk")
    st, _, b = api("POST", "/v1/chat/completions", chat_body(), key=t["key"],
                   headers=idem("x" * 256))
    assert st == 400 and err_code(b) == "invalid_request", (st, b)
    st, _, b = api("POST", "/v1/chat/completions", chat_body(), key=t["key"],
                   headers=idem("k" * 255))
    assert st == 200, (st, b)
    assert executions(t) == 1


@test
def retry_while_running_is_409_in_progress():
    t = new_tenant("idemr")
    k = new_key()
    body = chat_body("[mock:latency=1500] slow one")
    first = {}

    def go():
        first["res"] = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))

    th = threading.Thread(target=go)
    th.start()
    # wait until the claim is in the database, then retry
    assert wait_until(lambda: db_exec(
        "SELECT COUNT(*) FROM idempotency_keys WHERE tenant_id=%d AND state='running'"
        % t["id"])[0][0] == "1", timeout=5), "no running claim appeared"
    st, h, b = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    th.join()
    assert st == 409 and err_code(b) == "idempotency_in_progress", (st, b)
    assert h.get("retry-after"), h
    st1, _, b1 = first["res"]
    assert st1 == 200, (st1, b1)
    st, h, b = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st == 200 and h.get("idempotent-replayed") == "true" and b["id"] == b1["id"]
    assert executions(t) == 1


@test
def claim_of_a_dead_process_expires():
    t = new_tenant("idemd")
    k = new_key()
    # a claim whose process died: still running, past its lifetime
    db_exec("INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, state, status,"
            " owner, created_at, expires_at) VALUES (%d, '%s', UNHEX(REPEAT('00', 32)),"
            " 'running', 0, 'gone:1', UTC_TIMESTAMP(6) - INTERVAL 2 MINUTE,"
            " UTC_TIMESTAMP(6) - INTERVAL 1 SECOND)" % (t["id"], k))
    st, h, b = api("POST", "/v1/chat/completions", chat_body("after a crash"), key=t["key"],
                   headers=idem(k))
    assert st == 200 and "idempotent-replayed" not in h, (st, b)
    st, h, b2 = api("POST", "/v1/chat/completions", chat_body("after a crash"), key=t["key"],
                    headers=idem(k))
    assert st == 200 and h.get("idempotent-replayed") == "true" and b2["id"] == b["id"]
    rows = db_exec("SELECT state, status FROM idempotency_keys WHERE tenant_id=%d"
                   " AND idem_key='%s'" % (t["id"], k))
    assert rows == [["done", "200"]], rows


@test
def expired_key_runs_again():
    t = new_tenant("ideme")
    k = new_key()
    body = chat_body("expire me")
    st, _, b1 = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st == 200, (st, b1)
    db_exec("UPDATE idempotency_keys SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
            " WHERE tenant_id=%d AND idem_key='%s'" % (t["id"], k))
    st, h, b2 = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st == 200 and "idempotent-replayed" not in h, (st, h)
    assert b2["id"] != b1["id"]
    assert executions(t) == 2


@test
def retryable_refusal_is_not_remembered():
    t = new_tenant("idemq")
    limits(t, budget_tokens_daily=1)
    k = new_key()
    body = chat_body("refused first")
    st, _, b = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st == 429 and err_code(b) == "tenant_budget_exceeded", (st, b)
    ctl("limits", "unset", "--tenant", t["slug"], "budget_tokens_daily")

    def retry():
        res = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
        return res if res[0] == 200 else None

    res = wait_until(retry, timeout=3.0, interval=0.2)
    assert res, "the retry after raising the budget was not served"
    assert "idempotent-replayed" not in res[1], res[1]
    assert executions(t, "AND status='succeeded'") == 1


@test
def key_is_ignored_where_not_honoured():
    t = new_tenant("idemg")
    k = new_key()
    for _ in range(2):
        st, h, b = api("GET", "/v1/models", key=t["key"], headers=idem(k))
        assert st == 200 and "idempotent-replayed" not in h, (st, h)
    assert db_exec("SELECT COUNT(*) FROM idempotency_keys WHERE tenant_id=%d"
                   % t["id"])[0][0] == "0"


# ---------------------------------------------------------------- breaker

def breaker_state(t, provider="mock"):
    rows = db_exec("SELECT state, failures FROM breakers WHERE tenant_id=%d AND provider='%s'"
                   % (t["id"], provider))
    return (rows[0][0], int(rows[0][1])) if rows else None


def open_breaker(t, n):
    for i in range(n):
        st, _, b = api("POST", "/v1/chat/completions", chat_body(FAIL), key=t["key"])
        assert st == 502 and err_code(b) == "upstream_error", (i, st, b)


@test
def breaker_opens_for_one_tenant_only():
    bad, good = new_tenant("brkbad"), new_tenant("brkgood")
    for t in (bad, good):
        limits(t, breaker_errors=3, breaker_window_s=60, breaker_cooldown_s=30)
    open_breaker(bad, 2)
    assert breaker_state(bad) == ("closed", 2), breaker_state(bad)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("still closed"), key=bad["key"])
    assert st == 200, (st, b)
    open_breaker(bad, 1)
    assert breaker_state(bad) == ("open", 3), breaker_state(bad)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("refused"), key=bad["key"])
    assert st == 503 and err_code(b) == "circuit_open", (st, b)
    ra = int(h.get("retry-after", "0"))
    assert 1 <= ra <= 30, h
    # the other tenant, same provider, one failure of its own: untouched
    open_breaker(good, 1)
    for i in range(3):
        st, _, b = api("POST", "/v1/chat/completions", chat_body("fine %d" % i), key=good["key"])
        assert st == 200, (i, st, b)
    assert breaker_state(good) == ("closed", 1), breaker_state(good)
    # the open breaker refuses streams too, before anything is sent
    st, h, b = sse_full("/v1/chat/completions", chat_body("refused", stream=True),
                        key=bad["key"])
    assert st == 503 and err_code(b) == "circuit_open", (st, b)
    assert executions(bad, "AND status='refused'") >= 2


@test
def breaker_probe_success_closes():
    t = new_tenant("brkp")
    limits(t, breaker_errors=2, breaker_window_s=60, breaker_cooldown_s=1)
    open_breaker(t, 2)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("too early"), key=t["key"])
    assert st == 503 and err_code(b) == "circuit_open", (st, b)
    time.sleep(1.2)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("probe"), key=t["key"])
    assert st == 200, (st, b)
    assert breaker_state(t) == ("closed", 0), breaker_state(t)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("after"), key=t["key"])
    assert st == 200, (st, b)


@test
def breaker_probe_failure_reopens():
    t = new_tenant("brkf")
    limits(t, breaker_errors=2, breaker_window_s=60, breaker_cooldown_s=1)
    open_breaker(t, 2)
    time.sleep(1.2)
    open_breaker(t, 1)  # the probe fails
    assert breaker_state(t)[0] == "open", breaker_state(t)
    st, h, b = api("POST", "/v1/chat/completions", chat_body("refused again"), key=t["key"])
    assert st == 503 and err_code(b) == "circuit_open", (st, b)
    time.sleep(1.2)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("probe ok"), key=t["key"])
    assert st == 200, (st, b)
    assert breaker_state(t) == ("closed", 0), breaker_state(t)


@test
def breaker_lets_exactly_one_probe_through():
    t = new_tenant("brk1")
    limits(t, breaker_errors=1, breaker_window_s=60, breaker_cooldown_s=1, concurrency=16)
    open_breaker(t, 1)
    time.sleep(1.2)
    results, lock = [], threading.Lock()

    def go(i):
        res = api("POST", "/v1/chat/completions", chat_body("[mock:latency=800] p%d" % i),
                  key=t["key"])
        with lock:
            results.append((res[0], res[2]["error"]["reason_code"] if res[0] != 200 else None))

    ts = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r == (503, "circuit_open")]
    assert len(ok) == 1 and len(refused) == 5, results
    assert breaker_state(t) == ("closed", 0), breaker_state(t)


@test
def breaker_window_restarts():
    t = new_tenant("brkw")
    limits(t, breaker_errors=2, breaker_window_s=1, breaker_cooldown_s=30)
    open_breaker(t, 1)
    time.sleep(1.2)
    open_breaker(t, 1)  # a new window: one failure, not two
    assert breaker_state(t) == ("closed", 1), breaker_state(t)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("fine"), key=t["key"])
    assert st == 200, (st, b)


@test
def breaker_off_with_zero_errors():
    t = new_tenant("brk0")
    limits(t, breaker_errors=0)
    open_breaker(t, 6)
    assert breaker_state(t) is None, breaker_state(t)
    st, _, b = api("POST", "/v1/chat/completions", chat_body("fine"), key=t["key"])
    assert st == 200, (st, b)


@test
def circuit_open_is_not_remembered_by_idempotency():
    t = new_tenant("brki")
    limits(t, breaker_errors=1, breaker_window_s=60, breaker_cooldown_s=1)
    open_breaker(t, 1)
    k = new_key()
    body = chat_body("after the outage")
    st, _, b = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st == 503 and err_code(b) == "circuit_open", (st, b)
    time.sleep(1.2)
    st, h, b = api("POST", "/v1/chat/completions", body, key=t["key"], headers=idem(k))
    assert st == 200 and "idempotent-replayed" not in h, (st, h, b)


run()
