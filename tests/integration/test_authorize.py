"""Authorization (issue 3): the tenant's IP allowlist, with X-Forwarded-For believed
only from trusted proxies, the model and agent allowlists, and the max_tokens cap.

tests/run's configuration has `trusted_proxies = 127.0.0.1/32, ::1/128`, and the web
servers reach agenthost from 127.0.0.1, so a test can play "a client behind our
proxy" by sending X-Forwarded-For. Every test makes its own tenant and sets its
limits before the tenant's first request, so no worker has a cached copy; where a
test changes a limit later it waits for the per-thread cache bound
(LIMITS_CACHE_MS, 1 s) with slack.
"""
import harness
from harness import test, run, api, ctl, assert_error, wait_until
from apihelp import new_tenant, chat_body, err_code

CACHE_BOUND_S = 2.5  # LIMITS_CACHE_MS plus slack for a loaded machine


def set_limit(t, name, value):
    ctl("limits", "set", "--tenant", t["slug"], name, value)


def models(t, xff=None, base=None):
    headers = {"X-Forwarded-For": xff} if xff is not None else None
    return api("GET", "/v1/models", key=t["key"], headers=headers, base=base)


def ip_refused(res, addr=None):
    err = assert_error(res, 403, "ip_not_allowed")
    assert err["type"] == "permission_error", err
    assert err_code(res[2]) == "ip_not_allowed"
    if addr is not None:
        assert addr in err["message"], err
    return err


def eventually_status(fn, status):
    """Poll fn() (an api() result) until it answers status, within the cache bound."""
    res = wait_until(lambda: (lambda r: r if r[0] == status else None)(fn()),
                     timeout=CACHE_BOUND_S, interval=0.1)
    return res or fn()


# ---------------------------------------------------------------- IP allowlist

@test
def no_allowlist_allows_any_address_and_ignores_xff():
    t = new_tenant("ipnone")
    st, _, b = models(t)
    assert st == 200, (st, b)
    # Without an allowlist the client address does not matter, not even a garbled one.
    st, _, b = models(t, xff="not-an-address")
    assert st == 200, (st, b)


@test
def allowlist_refuses_other_networks():
    t = new_tenant("ipdeny")
    set_limit(t, "ip_allowlist", "10.1.0.0/16")
    ip_refused(models(t), "127.0.0.1")
    # Every tenant route, not only model calls, and behind nginx too.
    ip_refused(api("GET", "/v1/limits", key=t["key"]))
    ip_refused(api("POST", "/v1/chat/completions", chat_body(), key=t["key"]), "127.0.0.1")
    if harness.BASE_NGINX:
        ip_refused(models(t, base=harness.BASE_NGINX), "127.0.0.1")


@test
def allowlist_with_loopback_allows():
    t = new_tenant("ipallow")
    set_limit(t, "ip_allowlist", "10.1.0.0/16, 127.0.0.1/32")
    st, _, b = models(t)
    assert st == 200, (st, b)
    st, _, b = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    assert st == 200, (st, b)
    # The list is stored normalised (host bits cleared).
    lim = ctl("limits", "show", "--tenant", t["slug"])
    text = repr(lim)
    assert "10.1.0.0/16" in text and "127.0.0.1/32" in text, text


@test
def allowlist_edit_takes_effect_within_the_cache_bound():
    t = new_tenant("ipedit")
    set_limit(t, "ip_allowlist", "127.0.0.0/8")
    st, _, b = models(t)
    assert st == 200, (st, b)
    set_limit(t, "ip_allowlist", "192.0.2.0/24")
    ip_refused(eventually_status(lambda: models(t), 403), "127.0.0.1")
    ctl("limits", "unset", "--tenant", t["slug"], "ip_allowlist")
    st, _, b = eventually_status(lambda: models(t), 200)
    assert st == 200, (st, b)


@test
def ipv4_mapped_ipv6_entry_matches_ipv4_client():
    t = new_tenant("ipmap")
    set_limit(t, "ip_allowlist", "::ffff:127.0.0.1/128")
    st, _, b = models(t)
    assert st == 200, (st, b)


@test
def ipv6_entries_via_trusted_proxy():
    t = new_tenant("ip6")
    set_limit(t, "ip_allowlist", "::1, 2001:db8::/32")
    # The web server's own address (127.0.0.1) is not on the list.
    ip_refused(models(t), "127.0.0.1")
    # ::1 is itself a trusted proxy: with every hop trusted the leftmost one is the client.
    st, _, b = models(t, xff="::1")
    assert st == 200, (st, b)
    st, _, b = models(t, xff="2001:db8:1::5")
    assert st == 200, (st, b)
    ip_refused(models(t, xff="2001:db9::5"), "2001:db9::5")


@test
def xff_from_trusted_proxy_is_believed():
    t = new_tenant("xff")
    set_limit(t, "ip_allowlist", "10.1.0.0/16")
    st, _, b = models(t, xff="10.1.2.3")
    assert st == 200, (st, b)
    st, _, b = api("POST", "/v1/chat/completions", chat_body(), key=t["key"],
                   headers={"X-Forwarded-For": "10.1.2.3"})
    assert st == 200, (st, b)
    ip_refused(models(t, xff="10.9.9.9"), "10.9.9.9")
    # Walked from the right: the rightmost untrusted hop is the client, whatever a
    # client wrote further left.
    st, _, b = models(t, xff="10.9.9.9, 10.1.2.3")
    assert st == 200, (st, b)
    ip_refused(models(t, xff="10.1.2.3, 10.9.9.9"), "10.9.9.9")
    # Trusted hops (127.0.0.1, ::1) are skipped.
    st, _, b = models(t, xff="10.1.2.3, 127.0.0.1, ::1")
    assert st == 200, (st, b)
    if harness.BASE_NGINX:
        st, _, b = models(t, xff="10.1.2.3", base=harness.BASE_NGINX)
        assert st == 200, (st, b)
        ip_refused(models(t, xff="10.9.9.9", base=harness.BASE_NGINX), "10.9.9.9")


@test
def malformed_xff_is_refused():
    t = new_tenant("xffbad")
    set_limit(t, "ip_allowlist", "10.1.0.0/16, 127.0.0.1/32")
    for bad in ("not-an-address", "10.1.2.3:4567", "[2001:db8::1]", "10.1.2", "10.1.2.3,",
                "10.1.2.3, , 127.0.0.1", "10.1.2.3, garbage", "unknown"):
        err = ip_refused(models(t, xff=bad))
        assert "X-Forwarded-For" in err["message"], (bad, err)
    # Garbage left of the client's hop is never looked at.
    st, _, b = models(t, xff="garbage, 10.1.2.3")
    assert st == 200, (st, b)


@test
def refusal_happens_before_the_model_call():
    t = new_tenant("ipnobill")
    set_limit(t, "ip_allowlist", "10.1.0.0/16")
    ip_refused(api("POST", "/v1/agents/assistant/runs", {"input": "x"}, key=t["key"]))
    set_limit(t, "ip_allowlist", "127.0.0.1")
    st, _, lst = eventually_status(lambda: api("GET", "/v1/runs", key=t["key"]), 200)
    assert st == 200 and lst["data"] == [], (st, lst)


# ---------------------------------------------------------------- models and agents

@test
def model_allowlist():
    t = new_tenant("models")
    set_limit(t, "allowed_models", "gpt-4o-mini")
    res = api("POST", "/v1/chat/completions", chat_body(model="mock-1"), key=t["key"])
    err = assert_error(res, 403, "model_not_allowed")
    assert err["type"] == "permission_error" and "mock-1" in err["message"], err
    # Streaming requests are refused the same way, before the stream starts.
    res = api("POST", "/v1/chat/completions", chat_body(model="mock-1", stream=True),
              key=t["key"])
    assert_error(res, 403, "model_not_allowed")
    # An agent whose model is not allowed cannot run either.
    res = api("POST", "/v1/agents/assistant/runs", {"input": "hi"}, key=t["key"])
    assert_error(res, 403, "model_not_allowed")


@test
def model_allowlist_allows_listed_models():
    t = new_tenant("models2")
    set_limit(t, "allowed_models", "mock-1, gpt-4o-mini")
    st, _, b = api("POST", "/v1/chat/completions", chat_body(model="mock-1"), key=t["key"])
    assert st == 200, (st, b)
    st, _, b = api("POST", "/v1/agents/assistant/runs", {"input": "hi"}, key=t["key"])
    assert st == 200, (st, b)


@test
def agent_allowlist():
    t = new_tenant("agents")
    ctl("agent", "create", "--tenant", t["slug"], "--name", "helper", "--model", "mock-1")
    set_limit(t, "allowed_agents", "helper")
    res = api("POST", "/v1/agents/assistant/runs", {"input": "hi"}, key=t["key"])
    err = assert_error(res, 403, "agent_not_allowed")
    assert err["type"] == "permission_error" and "assistant" in err["message"], err
    st, _, b = api("POST", "/v1/agents/helper/runs", {"input": "hi"}, key=t["key"])
    assert st == 200 and b["status"] == "succeeded", (st, b)
    # Plain chat completions are not agent runs: the agent list does not apply.
    st, _, b = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    assert st == 200, (st, b)


# ---------------------------------------------------------------- max_tokens cap

@test
def max_tokens_is_capped_by_the_limit():
    t = new_tenant("maxtok")
    set_limit(t, "max_tokens", "5")
    st, _, b = api("POST", "/v1/chat/completions",
                   chat_body("[mock:words=50] tell me a long story", max_tokens=100),
                   key=t["key"])
    assert st == 200, (st, b)
    assert b["usage"]["completion_tokens"] <= 5, b["usage"]
    assert b["choices"][0]["finish_reason"] == "length", b["choices"][0]
    # A request without max_tokens gets the cap as well.
    st, _, b = api("POST", "/v1/chat/completions",
                   chat_body("[mock:words=50] another long story"), key=t["key"])
    assert st == 200, (st, b)
    assert b["usage"]["completion_tokens"] <= 5, b["usage"]
    assert b["choices"][0]["finish_reason"] == "length", b["choices"][0]
    # Below the cap the request's own value holds.
    st, _, b = api("POST", "/v1/chat/completions",
                   chat_body("[mock:words=50] short", max_tokens=3), key=t["key"])
    assert st == 200, (st, b)
    assert b["usage"]["completion_tokens"] <= 3, b["usage"]


run()
