"""Per-tenant content logging (tenants.log_content): chat completions' prompts and answers,
stored with the execution where the tenant's content lives, bounded in size, shown on the
execution page (never to support), exported, purged and isolated like every execution."""
import json
import os
import re
import tarfile
import tempfile
import time

from apihelp import DB_NAME, chat_body, db_exec, new_tenant, tenant_db
from dashhelp import Dash, new_admin, text_of
from harness import api, ctl, run, test

OP = {"Authorization": "Bearer " + os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")}
MAX = 65536  # log_content_max_bytes, the default the tests run with


def signed_in(role, tenant=None):
    name, pw = new_admin(role, tenant=tenant)
    d = Dash()
    d.login(name, pw)
    return d


def chat(t, text, **kw):
    st, _, body = api("POST", "/v1/chat/completions", chat_body(text, **kw), key=t["key"])
    assert st == 200, body
    return body


def stored(t, exec_id):
    """(input, output) of the execution, read where the tenant's content lives."""
    for _ in range(50):  # the ledger writes executions in batches
        rows = db_exec("SELECT input, output FROM executions WHERE tenant_id = %d AND id = '%s'"
                       % (t["id"], exec_id), tenant=t)
        if rows:
            return rows[0][0], rows[0][1]
        time.sleep(0.1)
    raise AssertionError("execution %s not recorded" % exec_id)


def set_content(d, t, value, expect=303):
    d.get("/admin/tenants/%d" % t["id"])
    st, _, body = d.post("/admin/tenants/%d/content" % t["id"], {"log_content": value})
    assert st == expect, (st, body[:400])
    return body


@test
def off_by_default_stores_nothing_and_the_page_says_why():
    t = new_tenant("cnoff")
    assert db_exec("SELECT log_content FROM tenants WHERE id = %d" % t["id"]) == [["0"]]
    body = chat(t, "a secret question")
    assert stored(t, body["id"]) == (None, None)
    d = signed_in("tenant_admin", t["slug"])
    st, _, page = d.get("/admin/tenants/%d/executions/%s" % (t["id"], body["id"]))
    assert st == 200
    txt = text_of(page)
    assert "content logging is off for this tenant" in txt, txt[-1500:]
    assert "a secret question" not in page
    st, _, page = d.get("/admin/tenants/%d" % t["id"])
    assert st == 200 and "off: chat completions store figures only" in text_of(page)


@test
def tenant_admin_turns_it_on_and_sees_prompt_and_answer():
    t = new_tenant("cnon")
    d = signed_in("tenant_admin", t["slug"])
    set_content(d, t, "on")
    assert db_exec("SELECT log_content FROM tenants WHERE id = %d" % t["id"]) == [["1"]]
    assert db_exec("SELECT COUNT(*) FROM audit_log WHERE tenant_id = %d"
                   " AND action = 'tenant.log_content_on'" % t["id"]) == [["1"]]
    time.sleep(0.2)  # key caches follow the tenant's change at the next request
    body = chat(t, "what is <b>2+2</b>?")
    answer = body["choices"][0]["message"]["content"]
    inp, out = stored(t, body["id"])
    assert json.loads(inp) == [{"role": "user", "content": "what is <b>2+2</b>?"}], inp
    assert out == answer and answer, (out, answer)
    for who in (d, signed_in("operator")):
        st, _, page = who.get("/admin/tenants/%d/executions/%s" % (t["id"], body["id"]))
        assert st == 200
        assert "what is &lt;b&gt;2+2&lt;/b&gt;?" in page, page[-2000:]  # escaped, shown
        assert "<b>2+2</b>" not in page
        assert re.search(r'id="content-output">.*?<pre class="payload">', page, re.S), page[-2000:]
    st, _, page = signed_in("support").get(
        "/admin/tenants/%d/executions/%s" % (t["id"], body["id"]))
    assert st == 200 and "2+2" not in page and "does not see prompts" in page
    # off again: later calls store nothing; the earlier one keeps its content
    set_content(d, t, "off")
    time.sleep(0.2)
    later = chat(t, "not to be kept")
    assert stored(t, later["id"]) == (None, None)
    assert stored(t, body["id"])[0] is not None


@test
def streamed_answers_are_stored_too():
    t = new_tenant("cnstream")
    ctl_on(t)
    st, _, raw = api("POST", "/v1/chat/completions", chat_body("stream me", stream=True),
                     key=t["key"], raw=True)
    assert st == 200
    ids = re.findall(r'"id":\s*"(chatcmpl-[^"]+)"', raw if isinstance(raw, str) else raw.decode())
    assert ids, raw
    inp, out = stored(t, ids[0])
    assert "stream me" in inp and out, (inp, out)


def ctl_on(t, on=True):
    st, _, body = api("POST", "/admin/api/v1/tenants/%s/content" % t["slug"],
                      {"log_content": on}, headers=OP)
    assert st == 200 and body["log_content"] is on, (st, body)
    time.sleep(0.2)


@test
def operator_api_sets_it_and_refuses_bad_values():
    t = new_tenant("cnapi")
    st, _, body = api("GET", "/admin/api/v1/tenants/%s" % t["slug"], headers=OP)
    assert st == 200 and body["log_content"] is False
    st, _, body = api("POST", "/admin/api/v1/tenants/%s/content" % t["slug"],
                      {"log_content": "yes"}, headers=OP)
    assert st == 400 and body["error"]["reason_code"] == "invalid_request", body
    st, _, body = api("POST", "/admin/api/v1/tenants/%s/content" % t["slug"],
                      {"log_content": True}, key=t["key"])
    assert st in (401, 403), (st, body)
    ctl_on(t)
    assert ctl("tenant", "show", t["slug"])["log_content"] is True


@test
def dashboard_refuses_support_and_bad_values():
    t = new_tenant("cnbad")
    set_content(signed_in("support"), t, "on", expect=403)
    body = set_content(signed_in("operator"), t, "maybe", expect=400)
    assert "choose on or off" in body
    other = new_tenant("cnother")
    d = signed_in("tenant_admin", t["slug"])
    st, _, _ = d.post("/admin/tenants/%d/content" % other["id"], {"log_content": "on"})
    assert st == 404
    assert db_exec("SELECT log_content FROM tenants WHERE id IN (%d, %d)"
                   % (t["id"], other["id"])) == [["0"], ["0"]]


@test
def stored_size_is_bounded():
    t = new_tenant("cnbig")
    ctl_on(t)
    big = "é" * 40000  # 80,000 bytes of UTF-8: over the bound, cut at a character
    body = chat(t, big)
    inp, _ = stored(t, body["id"])
    raw = inp.encode()
    assert len(raw) <= MAX and inp.endswith("…"), len(raw)
    raw.decode("utf-8")  # a whole number of characters


def export_members(slug):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.tar")
        ctl("tenant", "export", slug, "--out", path)
        with tarfile.open(path) as tf:
            return {m.name.split("/", 1)[1]: tf.extractfile(m).read() for m in tf.getmembers()}


@test
def content_is_the_tenants_data_exported_purged_and_isolated():
    t = new_tenant("cnlife")
    other = new_tenant("cnlife2")
    ctl_on(t)
    ctl_on(other)
    body = chat(t, "prompt-of-%s" % t["slug"])
    chat(other, "prompt-of-%s" % other["slug"])
    inp, out = stored(t, body["id"])
    assert "prompt-of-%s" % t["slug"] in inp and out
    # where it lives: the tenant's own database when dedicated, nowhere else
    if tenant_db(t) != DB_NAME:
        assert db_exec("SELECT COUNT(*) FROM `%s`.executions WHERE input LIKE '%%prompt-of-%s%%'"
                       % (DB_NAME, t["slug"])) == [["0"]]
    rc, out_v, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
    assert rc == 0 and out_v["findings"] == 0, (out_v, err)
    m = export_members(t["slug"])
    rows = [json.loads(x) for x in m["executions.jsonl"].decode().splitlines()]
    assert any("prompt-of-%s" % t["slug"] in (r.get("input") or "") and r.get("output")
               for r in rows), rows
    assert b"prompt-of-%s" % other["slug"].encode() not in b"".join(m.values())
    # purge with retention removes the content with its execution
    ctl("limits", "set", "--tenant", t["slug"], "retention_days", "1")
    db_exec("UPDATE executions SET created_at = created_at - INTERVAL 3 DAY"
            " WHERE tenant_id = %d" % t["id"], tenant=t)
    ctl("purge", "--tenant", t["slug"])
    assert db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d" % t["id"],
                   tenant=t) == [["0"]]
    assert db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d AND input IS NOT NULL"
                   % other["id"], tenant=other) == [["1"]]


run()
