"""Issue 16 part B: key scopes, the tenant's self-service keys API, end users.

Scopes: a key made without naming scopes (every key made before scopes existed)
has inference + read; manage is given on purpose. A call outside the key's scopes
is 403 scope_denied, before anything else happens. A manage key lists, creates,
rotates and revokes its tenant's keys and sets their key_* limits within the plan;
it cannot give scopes it does not have, nor reach another tenant's keys.
"""
import json
import os

import harness
from harness import test, run, api, ctl, assert_error, wait_until, fake_last
from apihelp import new_tenant, chat_body, db_exec, everything_kept
from dashhelp import Dash, new_admin, text_of

OPERATOR_TOKEN = os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")


def manage_key(t):
    """A new key of tenant t with every scope (made by the CLI)."""
    return ctl("key", "create", "--tenant", t["slug"], "--name", "admin",
               "--scopes", "inference,read,manage")


@test
def test_default_scopes_are_inference_and_read():
    t = new_tenant("scp")
    k = ctl("key", "list", "--tenant", t["slug"])
    mine = [x for x in k if x["id"] == t["key_id"]][0]
    assert mine["scopes"] == ["inference", "read"], mine
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    assert st == 200, body
    st, _, body = api("GET", "/v1/usage", key=t["key"])
    assert st == 200, body
    err = assert_error(api("GET", "/v1/keys", key=t["key"]), 403, "scope_denied")
    assert "manage" in err["message"], err


@test
def test_scope_refusals():
    t = new_tenant("scp")
    ro = ctl("key", "create", "--tenant", t["slug"], "--name", "ro", "--scopes", "read")
    inf = ctl("key", "create", "--tenant", t["slug"], "--name", "inf", "--scopes", "inference")
    assert ro["scopes"] == ["read"] and inf["scopes"] == ["inference"]
    # read: no chat, no runs; reads work
    assert_error(api("POST", "/v1/chat/completions", chat_body(), key=ro["key"]), 403,
                 "scope_denied")
    assert_error(api("POST", "/v1/agents/assistant/runs", {"input": "hi"}, key=ro["key"]), 403,
                 "scope_denied")
    for path in ("/v1/usage", "/v1/budget", "/v1/runs", "/v1/limits"):
        st, _, body = api("GET", path, key=ro["key"])
        assert st == 200, (path, st, body)
    # inference: chat works, reads do not
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=inf["key"])
    assert st == 200, body
    for path in ("/v1/usage", "/v1/budget", "/v1/runs", "/v1/runs/run_x", "/v1/limits"):
        assert_error(api("GET", path, key=inf["key"]), 403, "scope_denied")
    # a refused call is not recorded as an execution
    n = db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d AND key_id = %d"
                % (t["id"], ro["id"]), tenant=t)
    assert n == [["0"]], n
    # changed scopes apply (caches dropped)
    ctl("key", "scopes", "--tenant", t["slug"], "--key", ro["id"], "--scopes", "inference,read")
    ok = wait_until(lambda: api("POST", "/v1/chat/completions", chat_body(),
                                key=ro["key"])[0] == 200, timeout=3)
    assert ok, "the new scopes did not apply"


@test
def test_cli_rejects_bad_scopes():
    t = new_tenant("scp")
    for bad in ("", "inference,inference", "admin", "read,"):
        rc, _, err = ctl("key", "create", "--tenant", t["slug"], "--scopes", bad, check=False)
        assert rc != 0 and "--scopes" in err, (bad, rc, err)


@test
def test_self_service_keys():
    t = new_tenant("ssk")
    m = manage_key(t)
    st, _, body = api("GET", "/v1/keys", key=m["key"])
    assert st == 200, body
    ids = {k["id"] for k in body["data"]}
    assert {t["key_id"], m["id"]} <= ids, body
    assert all("key" not in k for k in body["data"]), "a listed key shows its secret"
    # create: default scopes, then explicit ones
    st, h, nk = api("POST", "/v1/keys", {"name": "ci"}, key=m["key"])
    assert st == 201, nk
    assert nk["scopes"] == ["inference", "read"] and nk["key"].startswith("ah_"), nk
    assert h.get("cache-control") == "no-store", h
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=nk["key"])
    assert st == 200, body
    st, _, rk = api("POST", "/v1/keys", {"name": "reader", "scopes": ["read"],
                                         "expires_in": 3600}, key=m["key"])
    assert st == 201 and rk["scopes"] == ["read"] and rk["expires_at"], rk
    # get one
    st, _, one = api("GET", "/v1/keys/%d" % rk["id"], key=m["key"])
    assert st == 200 and one["id"] == rk["id"] and "key" not in one, one
    # rotate with no grace: the old key stops, the new one works
    st, _, rot = api("POST", "/v1/keys/%d/rotate" % nk["id"], {"grace_seconds": 0}, key=m["key"])
    assert st == 201 and rot["replaces"] == nk["id"] and rot["scopes"] == nk["scopes"], rot
    assert wait_until(lambda: api("GET", "/v1/models", key=nk["key"])[0] == 401, timeout=3)
    assert api("GET", "/v1/models", key=rot["key"])[0] == 200
    # a rotated key cannot be rotated again
    assert_error(api("POST", "/v1/keys/%d/rotate" % nk["id"], {}, key=m["key"]), 409, "conflict")
    # revoke
    st, _, rv = api("POST", "/v1/keys/%d/revoke" % rot["id"], key=m["key"])
    assert st == 200 and rv["state"] == "revoked", rv
    assert wait_until(lambda: api("GET", "/v1/models", key=rot["key"])[0] == 401, timeout=3)
    # scopes of an existing key
    st, _, sc = api("POST", "/v1/keys/%d/scopes" % rk["id"], {"scopes": "inference,read"},
                    key=m["key"])
    assert st == 200 and sc["scopes"] == ["inference", "read"], sc
    # every change is audited with the calling key as the actor
    rows = db_exec("SELECT action, actor_type, actor_id FROM audit_log WHERE tenant_id = %d"
                   " AND actor_type = 'api_key' ORDER BY id" % t["id"])
    actions = [r[0] for r in rows]
    for a in ("key.create", "key.rotate", "key.revoke", "key.scopes"):
        assert a in actions, (a, rows)
    assert all(r[2] == m["prefix"] for r in rows), rows


@test
def test_self_service_bad_input():
    t = new_tenant("ssk")
    m = manage_key(t)
    for body in ({"scopes": ["root"]}, {"scopes": []}, {"scopes": 3}, {"name": 5},
                 {"expires_in": 10}, {"scopes": ["read", "read"]}):
        assert_error(api("POST", "/v1/keys", body, key=m["key"]), 400, "invalid_request")
    assert_error(api("POST", "/v1/keys", "not json", key=m["key"]), 400, "invalid_json")
    assert_error(api("GET", "/v1/keys/999999999", key=m["key"]), 404, "not_found")
    assert_error(api("GET", "/v1/keys/abc", key=m["key"]), 404, "not_found")
    assert_error(api("POST", "/v1/keys/%d/scopes" % m["id"], {}, key=m["key"]), 400,
                 "invalid_request")


@test
def test_no_wider_scopes_than_the_caller():
    t = new_tenant("ssk")
    mg = ctl("key", "create", "--tenant", t["slug"], "--name", "mg", "--scopes", "read,manage")
    assert_error(api("POST", "/v1/keys", {"scopes": ["inference"]}, key=mg["key"]), 403,
                 "scope_denied")
    assert_error(api("POST", "/v1/keys/%d/scopes" % t["key_id"],
                     {"scopes": ["inference", "read"]}, key=mg["key"]), 403, "scope_denied")
    st, _, body = api("POST", "/v1/keys", {"scopes": ["read", "manage"]}, key=mg["key"])
    assert st == 201, body


@test
def test_other_tenants_keys_are_not_found():
    a = new_tenant("ssa")
    b = new_tenant("ssb")
    ma = manage_key(a)
    for method, path, body in (("GET", "/v1/keys/%d", None), ("POST", "/v1/keys/%d/revoke", None),
                               ("POST", "/v1/keys/%d/rotate", {}),
                               ("POST", "/v1/keys/%d/scopes", {"scopes": ["read"]}),
                               ("GET", "/v1/keys/%d/limits", None),
                               ("POST", "/v1/keys/%d/limits", {"key_rpm": 5})):
        assert_error(api(method, path % b["key_id"], body, key=ma["key"]), 404, "not_found")
    st, _, body = api("GET", "/v1/models", key=b["key"])
    assert st == 200, "tenant b's key was touched: %s" % body
    st, _, body = api("GET", "/v1/keys", key=ma["key"])
    assert b["key_id"] not in {k["id"] for k in body["data"]}


@test
def test_key_limits_within_the_plan():
    t = new_tenant("skl")
    m = manage_key(t)
    # the plan sets no key_rpm: any value; null unsets
    st, _, body = api("POST", "/v1/keys/%d/limits" % t["key_id"], {"key_rpm": 2}, key=m["key"])
    assert st == 200 and body["limits"]["key_rpm"] == {"value": "2", "source": "key"}, body
    st, _, body = api("GET", "/v1/keys/%d/limits" % t["key_id"], key=m["key"])
    assert st == 200 and body["key_id"] == t["key_id"], body
    assert body["limits"]["key_rpm"]["value"] == "2", body
    # the limit is enforced on that key
    codes = [api("POST", "/v1/chat/completions", chat_body(), key=t["key"])[0] for _ in range(4)]
    assert 429 in codes, codes
    # a tenant-level bound: a key may go lower, never higher nor unlimited
    ctl("limits", "set", "--tenant", t["slug"], "key_tpm", "1000")
    assert_error(api("POST", "/v1/keys/%d/limits" % t["key_id"], {"key_tpm": 5000},
                     key=m["key"]), 400, "invalid_request")
    assert_error(api("POST", "/v1/keys/%d/limits" % t["key_id"], {"key_tpm": 0},
                     key=m["key"]), 400, "invalid_request")
    st, _, body = api("POST", "/v1/keys/%d/limits" % t["key_id"], {"key_tpm": "500",
                                                                   "key_rpm": None},
                      key=m["key"])
    assert st == 200, body
    assert body["limits"]["key_tpm"]["value"] == "500", body
    assert body["limits"]["key_rpm"]["source"] != "key", body
    # tenant-wide limits and unknown names are not a key's
    for bad in ({"rpm": 5}, {"nope": 1}, {}, {"key_rpm": -1}, {"key_rpm": [1]}):
        assert_error(api("POST", "/v1/keys/%d/limits" % t["key_id"], bad, key=m["key"]), 400,
                     "invalid_request")


@test
def test_end_users_recorded_and_shown_back():
    t = new_tenant("eu")
    k = t["key"]
    st, _, body = api("POST", "/v1/chat/completions", chat_body(user="alice@example.com"), key=k)
    assert st == 200, body
    # the header beats the body's "user"
    st, _, body = api("POST", "/v1/chat/completions", chat_body(user="alice@example.com"), key=k,
                      headers={"X-Actor-Id": "bob"})
    assert st == 200, body
    st, _, run = api("POST", "/v1/agents/assistant/runs", {"input": "hi", "user": "carol"},
                     key=k)
    assert st == 200 and run["end_user"] == "carol", run
    st, _, got = api("GET", "/v1/runs/%s" % run["id"], key=k)
    assert st == 200 and got["end_user"] == "carol", got
    # the dashboard's execution page names the end user (escaped like any value)
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    st, _, page = d.get("/admin/tenants/%d/executions/%s" % (t["id"], run["id"]))
    assert st == 200 and "carol" in text_of(page), (st, page[:300])
    # no end user: null, and the rollup's "" group
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=k)
    assert st == 200, body
    rows = db_exec("SELECT end_user, COUNT(*) FROM executions WHERE tenant_id = %d"
                   " GROUP BY end_user ORDER BY end_user" % t["id"], tenant=t)
    assert rows == [["", "1"], ["alice@example.com", "1"], ["bob", "1"], ["carol", "1"]], rows
    st, _, rep = api("GET", "/v1/usage?group_by=end_user", key=k)
    assert st == 200, rep
    by = {r["end_user"]: r["requests"] for r in rep["data"]}
    assert by == {"": 1, "alice@example.com": 1, "bob": 1, "carol": 1}, rep
    assert rep["total"]["requests"] == 4, rep
    # the operator API has the same report
    assert OPERATOR_TOKEN, "no operator token in this environment"
    st, _, op = api("GET", "/admin/api/v1/tenants/%s/usage?group_by=end_user" % t["slug"],
                    key=OPERATOR_TOKEN)
    assert st == 200 and op["data"] == rep["data"], op


@test
def test_end_user_on_audit_rows():
    t = new_tenant("eu")
    m = manage_key(t)
    st, _, nk = api("POST", "/v1/keys", {"name": "x"}, key=m["key"],
                    headers={"X-Actor-Id": "dave"})
    assert st == 201, nk
    rows = db_exec("SELECT end_user FROM audit_log WHERE tenant_id = %d AND action = 'key.create'"
                   " AND target = 'key:%d'" % (t["id"], nk["id"]))
    assert rows == [["dave"]], rows


@test
def test_end_user_bad_input():
    t = new_tenant("eu")
    k = t["key"]
    for bad in ("x" * 65, "tab\there", "caf\u00e9"):
        try:
            res = api("POST", "/v1/chat/completions", chat_body(), key=k,
                      headers={"X-Actor-Id": bad})
        except (ValueError, UnicodeEncodeError):
            continue  # the client library refuses it before sending: nothing to test
        assert_error(res, 400, "invalid_request")
    assert_error(api("POST", "/v1/chat/completions", chat_body(user=5), key=k), 400,
                 "invalid_request")
    assert_error(api("POST", "/v1/chat/completions", chat_body(user="a\u0001b"), key=k), 400,
                 "invalid_request")
    # a long OpenAI user id is cut to 64 bytes, not refused
    st, _, body = api("POST", "/v1/chat/completions", chat_body(user="u" * 200), key=k)
    assert st == 200, body
    rows = db_exec("SELECT end_user FROM executions WHERE tenant_id = %d" % t["id"], tenant=t)
    assert rows == [["u" * 64]], rows
    assert_error(api("GET", "/v1/usage?group_by=user", key=k), 400, "invalid_request")


@test
def test_operator_api_keys_and_scopes():
    assert OPERATOR_TOKEN, "no operator token in this environment"
    t = new_tenant("opk")
    st, _, body = api("GET", "/admin/api/v1/tenants/%s/keys" % t["slug"], key=OPERATOR_TOKEN)
    assert st == 200 and [k["id"] for k in body["data"]] == [t["key_id"]], body
    assert body["data"][0]["scopes"] == ["inference", "read"], body
    st, _, k = api("POST", "/admin/api/v1/tenants/%s/keys/%d/scopes" % (t["slug"], t["key_id"]),
                   {"scopes": ["inference", "read", "manage"]}, key=OPERATOR_TOKEN)
    assert st == 200 and k["scopes"] == ["inference", "read", "manage"], k
    assert wait_until(lambda: api("GET", "/v1/keys", key=t["key"])[0] == 200, timeout=3)
    rows = db_exec("SELECT actor_type FROM audit_log WHERE tenant_id = %d AND action ="
                   " 'key.scopes'" % t["id"])
    assert rows == [["operator"]], rows
    # another tenant's key through this tenant: not found; a tenant key: refused
    o = new_tenant("opk")
    assert_error(api("POST", "/admin/api/v1/tenants/%s/keys/%d/scopes" % (t["slug"], o["key_id"]),
                     {"scopes": ["read"]}, key=OPERATOR_TOKEN), 404, "not_found")
    assert_error(api("GET", "/admin/api/v1/tenants/%s/keys" % t["slug"], key=t["key"]), 403,
                 "tenant_key_not_allowed")
    assert_error(api("GET", "/admin/api/v1/tenants/nope-nope/keys", key=OPERATOR_TOKEN), 404,
                 "not_found")


# ---------------------------------------------------------------- the request's provider key

REQ_KEY = "sk-request-only-" + harness.rand_suffix(20)


@test
def test_request_provider_key_order_and_secrecy():
    t = new_tenant("rpk")
    k = t["key"]
    body = chat_body("hi with my key", model="gpt-4o-mini")
    hdr = {"X-Provider-Api-Key": REQ_KEY}
    # off by default: refused, nothing sent upstream with it
    err = assert_error(api("POST", "/v1/chat/completions", body, key=k, headers=hdr), 403,
                       "provider_key_not_allowed")
    assert REQ_KEY not in json.dumps(err)
    ctl("limits", "set", "--tenant", t["slug"], "request_provider_key", "on")
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
        stdin="sk-tenant-own-5678\n")

    def with_req_key():
        st, _, b = api("POST", "/v1/chat/completions", body, key=k, headers=hdr)
        return st == 200 and fake_last()["headers"]["authorization"] == "Bearer " + REQ_KEY

    # request > tenant's own (the limit change shows within the cache bound)
    assert wait_until(with_req_key, timeout=3), fake_last()["headers"]
    # without the header: the tenant's own, then (cleared) the platform's
    st, _, b = api("POST", "/v1/chat/completions", body, key=k)
    assert st == 200 and fake_last()["headers"]["authorization"] == "Bearer sk-tenant-own-5678"
    ctl("provider-key", "clear", "--tenant", t["slug"], "--provider", "openai")
    st, _, b = api("POST", "/v1/chat/completions", body, key=k, headers=hdr)
    assert st == 200 and fake_last()["headers"]["authorization"] == "Bearer " + REQ_KEY
    st, _, b = api("POST", "/v1/chat/completions", body, key=k)
    assert st == 200 and fake_last()["headers"]["authorization"] == "Bearer sk-platform-openai"
    # streamed and as a run too
    st, _, b = api("POST", "/v1/agents/assistant/runs", {"input": "run with my key"}, key=k,
                   headers=hdr)
    assert st == 200, b  # the mock agent needs no key: recorded as none
    rows = db_exec("SELECT cred_source FROM executions WHERE tenant_id = %d AND kind = 'chat'"
                   " ORDER BY seq" % t["id"], tenant=t)
    srcs = [r[0] for r in rows]
    assert srcs[-4:] == ["request", "tenant", "request", "platform"], srcs
    # an upstream that refuses the key: the error does not carry it
    st, _, e = api("POST", "/v1/chat/completions", chat_body("FAIL500", model="gpt-4o-mini"),
                   key=k, headers=hdr)
    assert st >= 500 and REQ_KEY not in json.dumps(e), e
    # bad header values
    for bad in ("has space", "x" * 600):
        assert_error(api("POST", "/v1/chat/completions", body, key=k,
                         headers={"X-Provider-Api-Key": bad}), 400, "invalid_request")
    # never in a log line, a row or a page
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    pages = []
    for path in ("/admin/executions?tenant_id=%d" % t["id"], "/admin/audit",
                 "/admin/tenants/%d/provider-keys" % t["id"], "/admin/tenants/%d" % t["id"]):
        st, _, page = d.get(path)
        assert st == 200, (path, st)
        pages.append((path, page))
    for where, text in everything_kept() + pages:
        assert REQ_KEY not in text, "the request's provider key is in %s" % where


@test
def test_request_provider_key_limit_values():
    t = new_tenant("rpk")
    rc, _, err = ctl("limits", "set", "--tenant", t["slug"], "request_provider_key", "yes",
                     check=False)
    assert rc != 0 and "request_provider_key" in err, err
    st, _, lim = api("GET", "/v1/limits", key=t["key"])
    assert lim["limits"]["request_provider_key"] == {"value": "off", "source": "default"}, lim


@test
def test_provider_key_set_verify():
    t = new_tenant("vfy")
    for prov in ("openai", "anthropic", "gemini"):
        out = ctl("provider-key", "set", "--tenant", t["slug"], "--provider", prov, "--verify",
                  stdin="sk-good-%s-4321\n" % prov)
        assert out["provider"] == prov and out["last4"] == "4321", out
    rc, out, err = ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
                       "--verify", stdin="sk-invalid-9999\n", check=False)
    assert rc != 0 and "refused the key" in err and "sk-invalid" not in err, (rc, err)
    rows = db_exec("SELECT last4 FROM provider_credentials WHERE tenant_id = %d"
                   " AND provider = 'openai'" % t["id"])
    assert rows == [["4321"]], "a key that failed --verify was stored: %s" % rows
    # without --verify nothing is checked (the old behaviour)
    out = ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
              stdin="sk-invalid-8888\n")
    assert out["last4"] == "8888", out
    rows = db_exec("SELECT detail FROM audit_log WHERE tenant_id = %d AND action ="
                   " 'provider_key.set' ORDER BY id" % t["id"])
    assert [json.loads(r[0])["verified"] for r in rows] == [True, True, True, False], rows


if __name__ == "__main__":
    run()
