"""Tenant lifecycle from the CLI: export archives, retention purges, verify-isolation."""
import hashlib
import http.client
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time
import urllib.parse

from apihelp import DB_NAME, chat_body, db_exec, new_tenant, tenant_db
import harness
from harness import BASE, CONF, CTL, api, ctl, rand_suffix, run, test


def export(slug):
    """Export slug's data; returns {name: bytes} of the archive's members."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.tar")
        manifest = ctl("tenant", "export", slug, "--out", path)
        assert not os.path.exists(path + ".partial")
        with tarfile.open(path) as tf:
            members = {m.name.split("/", 1)[1]: tf.extractfile(m).read() for m in tf.getmembers()}
    return manifest, members


def busy_tenant(prefix, isolation=None):
    t = new_tenant(prefix, isolation=isolation)
    ctl("provider-key", "set", "--tenant", t["slug"], "--provider", "openai",
        stdin="sk-byok-%s-secret\n" % t["slug"])
    for i in range(3):
        st, _, _ = api("POST", "/v1/chat/completions",
                       chat_body("export me %d" % i, metadata={"user": "u%d" % i}), key=t["key"])
        assert st == 200
    st, _, body = api("POST", "/v1/agents/assistant/runs", {"input": "a run to export"},
                      key=t["key"])
    assert st in (200, 201), body
    st, _, body = api("POST", "/v1/sessions", {"agent": "assistant"}, key=t["key"])
    return t


@test
def export_has_every_file_with_counts_and_digests():
    t = busy_tenant("exp")
    manifest, m = export(t["slug"])
    assert manifest["format"] == "agenthost-export/1"
    assert manifest["tenant"] == t["slug"]
    names = {f["name"] for f in manifest["files"]}
    for n in ("agents.jsonl", "api_keys.jsonl", "provider_keys.jsonl", "executions.jsonl",
              "sessions.jsonl", "usage_daily.jsonl", "audit_log.jsonl"):
        assert n in names and n in m, n
    assert "manifest.json" in m and "tenant.json" in m
    for f in manifest["files"]:
        data = m[f["name"]]
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["name"]
        assert len(data) == f["bytes"]
        lines = data.decode().splitlines()
        assert len(lines) == f["rows"], f["name"]
        for line in lines:
            json.loads(line)
    n_exec = int(db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d" % t["id"],
                         tenant=t)[0][0])
    assert n_exec == 4
    rows = [json.loads(x) for x in m["executions.jsonl"].decode().splitlines()]
    assert len(rows) == n_exec
    assert any("a run to export" in (r["input"] or "") for r in rows), rows
    settings = json.loads(m["tenant.json"])
    assert settings["slug"] == t["slug"] and "retention_days" in settings["limits"]


@test
def export_holds_no_secrets_and_no_other_tenant():
    t = busy_tenant("expsec")
    other = busy_tenant("expother")
    _, m = export(t["slug"])
    blob = b"".join(m.values())
    assert t["key"].encode() not in blob
    assert b"sk-byok-" not in blob
    key_hash = db_exec("SELECT HEX(key_hash) FROM api_keys WHERE id = %d" % t["key_id"])[0][0]
    assert key_hash.encode() not in blob and key_hash.lower().encode() not in blob
    assert other["slug"].encode() not in blob
    assert other["key"][:12].encode() not in blob
    keys = [json.loads(x) for x in m["api_keys.jsonl"].decode().splitlines()]
    assert keys and all(set(k) >= {"id", "prefix", "name"} and "key_hash" not in k for k in keys)
    pk = [json.loads(x) for x in m["provider_keys.jsonl"].decode().splitlines()]
    assert pk == [dict(pk[0], provider="openai")] and pk[0]["last4"] == "cret"


@test
def export_streams_to_stdout_and_is_audited():
    t = busy_tenant("expout")
    p = subprocess.run([CTL, "-c", CONF, "tenant", "export", t["slug"], "--out", "-"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        assert any(n.endswith("/executions.jsonl") for n in tf.getnames())
    assert json.loads(p.stderr)["tenant"] == t["slug"]
    rows = db_exec("SELECT COUNT(*) FROM audit_log WHERE tenant_id = %d"
                   " AND action = 'tenant.export'" % t["id"])
    assert rows[0][0] == "1", rows


@test
def export_of_an_unknown_tenant_fails_cleanly():
    rc, out, err = ctl("tenant", "export", "no-such-tenant-x", "--out", "/tmp/x.tar", check=False)
    assert rc != 0 and "not found" in err
    assert not os.path.exists("/tmp/x.tar") and not os.path.exists("/tmp/x.tar.partial")


@test
def purge_deletes_only_old_executions_of_tenants_with_retention():
    t = busy_tenant("purge")
    keep = busy_tenant("keep")
    ctl("limits", "set", "--tenant", t["slug"], "retention_days", "2")
    for x in (t, keep):
        db_exec("UPDATE executions SET created_at = created_at - INTERVAL 5 DAY"
                " WHERE tenant_id = %d ORDER BY seq LIMIT 2" % x["id"], tenant=x)
    usage_before = db_exec("SELECT SUM(requests) FROM usage_daily WHERE tenant_id = %d" % t["id"])
    dry = ctl("purge", "--tenant", t["slug"], "--dry-run")
    assert dry["dry_run"] is True and dry["purged"] == 0
    out = ctl("purge", "--tenant", t["slug"], "--batch", "1")
    assert out["purged"] == 2, out
    left = db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d" % t["id"],
                   tenant=t)[0][0]
    assert left == "2", left
    # rollups are kept; a tenant without retention keeps everything
    assert db_exec("SELECT SUM(requests) FROM usage_daily WHERE tenant_id = %d"
                   % t["id"]) == usage_before
    ctl("purge")
    assert db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d"
                   % keep["id"], tenant=keep)[0][0] == "4"


@test
def retention_and_region_are_tenant_settings_with_a_source():
    t = new_tenant("settings")
    lim = ctl("limits", "show", "--tenant", t["slug"])
    names = json.dumps(lim)
    assert "retention_days" in names and "data_region" in names and "default_model" in names
    ctl("limits", "set", "--tenant", t["slug"], "data_region", "eu-west")
    st, _, body = api("GET", "/v1/limits", key=t["key"])
    assert st == 200
    assert body["limits"]["data_region"]["value"] == "eu-west", body["limits"]["data_region"]
    assert body["limits"]["data_region"]["source"] == "tenant"


def verify(*args):
    return ctl("verify-isolation", *args, check=False)


@test
def verify_isolation_passes_for_a_clean_tenant():
    t = busy_tenant("vclean")
    rc, out, err = verify("--tenant", t["slug"])
    assert rc == 0, (out, err)
    assert out["findings"] == 0 and out["scope"] == "tenant"
    assert {c["check"] for c in out["checks"]} >= {"orphan_executions", "provider_keys_not_sealed",
                                                     "api_keys_replayable",
                                                     "provider_keys_unopenable"}


@test
def verify_isolation_finds_tampering():
    # rows in the shared tables of a tenant then marked dedicated: a shared tenant to start
    t = busy_tenant("vbad", isolation="shared")
    # (undone at the end: the key hash is unique, and later passes tamper the same way)
    key_hash = db_exec("SELECT HEX(key_hash) FROM api_keys WHERE id = %d" % t["key_id"])[0][0]
    db_exec("UPDATE provider_credentials SET ciphertext = CONCAT(ciphertext, 'x')"
            " WHERE tenant_id = %d" % t["id"])
    db_exec("UPDATE api_keys SET key_hash = REPEAT(X'00', 32) WHERE id = %d" % t["key_id"])
    db_exec("UPDATE tenants SET isolation_mode = 'dedicated' WHERE id = %d" % t["id"])
    try:
        rc, out, err = verify("--tenant", t["slug"])
        assert rc == 1, (rc, err)
        found = {c["check"]: c["findings"] for c in out["checks"]}
        assert found["provider_keys_unopenable"] == 1, found
        assert found["api_keys_replayable"] == 1, found
        assert found["dedicated_rows_in_shared_executions"] == 4, found
    finally:
        db_exec("UPDATE tenants SET isolation_mode = 'shared' WHERE id = %d" % t["id"])
        db_exec("UPDATE api_keys SET key_hash = UNHEX('%s') WHERE id = %d"
                % (key_hash, t["key_id"]))
        db_exec("UPDATE provider_credentials SET ciphertext = LEFT(ciphertext,"
                " LENGTH(ciphertext) - 1) WHERE tenant_id = %d" % t["id"])


@test
def verify_isolation_finds_orphans_across_tenants():
    rc, before, _ = verify()
    n0 = {c["check"]: c["findings"] for c in before["checks"]}["orphan_executions"]
    db_exec("INSERT INTO executions (tenant_id, id, kind, model, status, created_at)"
            " VALUES (987654321, 'exec_orphan', 'chat', 'mock-1', 'succeeded', UTC_TIMESTAMP())")
    try:
        rc, out, _ = verify()
        assert rc == 1
        n1 = {c["check"]: c["findings"] for c in out["checks"]}["orphan_executions"]
        assert n1 == n0 + 1, (n0, n1)
    finally:
        db_exec("DELETE FROM executions WHERE tenant_id = 987654321")


TENANT_TABLES = ("api_keys", "provider_credentials", "agents", "sessions", "session_messages",
                 "executions", "run_steps", "usage_daily", "usage_5min", "usage_attr_daily",
                 "reservations", "idempotency_keys", "breakers", "admin_users", "audit_log")
# A dedicated tenant's content is in its own database (and a copy of its rollups; the
# control database keeps the rollups of every tenant).
CONTENT_TABLES = ("sessions", "session_messages", "executions", "run_steps", "usage_daily",
                  "usage_5min", "usage_attr_daily")


def count_rows(database, tbl, tid):
    return int(db_exec("SELECT COUNT(*) FROM `%s`.%s WHERE tenant_id = %d"
                       % (database, tbl, tid))[0][0])


def rows_of(t, database=None):
    """The tenant's row counts: every table of the control database and, when the tenant
    is dedicated, "<table>@own" for the content tables of its database."""
    tid = t["id"]
    out = {tbl: count_rows(DB_NAME, tbl, tid) for tbl in TENANT_TABLES}
    database = database or tenant_db(t)
    if database != DB_NAME:
        out.update({tbl + "@own": count_rows(database, tbl, tid) for tbl in CONTENT_TABLES})
    return out


def database_exists(name):
    return db_exec("SELECT COUNT(*) FROM information_schema.SCHEMATA"
                   " WHERE SCHEMA_NAME = '%s'" % name)[0][0] == "1"


def account_exists(name):
    return db_exec("SELECT COUNT(*) FROM mysql.user WHERE User = '%s'" % name)[0][0] != "0"


def orphan_count():
    rc, out, _ = verify()
    return sum(c["findings"] for c in out["checks"] if c["check"].startswith("orphan_"))


@test
def offboard_suspends_exports_and_can_be_undone():
    t = busy_tenant("off")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "off.tar")
        out = ctl("tenant", "offboard", t["slug"], "--out", path, "--reason", "contract ended")
        assert out["status"] == "offboarding" and out["erase_after"] > 0
        assert os.path.getsize(path) > 0
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    assert st == 403 and body["error"]["reason_code"] == "tenant_suspended", body
    # not due yet: purge leaves it alone
    out = ctl("purge")
    assert all(e["tenant_id"] != t["id"] for e in out["erased"])
    ctl("tenant", "offboard", t["slug"], "--undo")
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    assert st == 200, body
    rc, _, err = ctl("tenant", "offboard", t["slug"], "--undo", check=False)
    assert rc != 0 and "not being offboarded" in err


@test
def offboarded_tenant_is_erased_after_its_date_and_nothing_else_is():
    t = busy_tenant("erase")
    other = busy_tenant("survivor")
    ctl("admin", "add", "ta-" + t["slug"], "--role", "tenant_admin", "--tenant", t["slug"],
        stdin="a-long-password-1\n")
    own_db, own_user = db_exec("SELECT data_db, data_user FROM tenants WHERE id = %d"
                               % t["id"])[0]
    before_other = rows_of(other)
    orphans_before = orphan_count()
    with tempfile.TemporaryDirectory() as d:
        ctl("tenant", "offboard", t["slug"], "--out", os.path.join(d, "e.tar"), "--days", "0")
    out = ctl("purge", "--batch", "2")
    erased = [e for e in out["erased"] if e["tenant_id"] == t["id"]]
    assert len(erased) == 1 and erased[0]["rows"] > 0, out
    assert all(n == 0 for n in rows_of(t, DB_NAME).values()), rows_of(t, DB_NAME)
    # a dedicated tenant's database and its account go with it
    assert not own_db or not database_exists(own_db), own_db
    assert not own_user or not account_exists(own_user), own_user
    assert db_exec("SELECT COUNT(*) FROM tenants WHERE id = %d" % t["id"])[0][0] == "0"
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope = 'tenant' AND scope_id = %d"
                   % t["id"])[0][0] == "0"
    assert rows_of(other) == before_other
    st, _, body = api("GET", "/v1/models", key=t["key"])
    assert st == 401, body
    rows = db_exec("SELECT actor_type FROM audit_log WHERE action = 'tenant.erase'"
                   " AND target LIKE 'tenant:%d:%%'" % t["id"])
    assert rows == [["cli"]], rows
    # nothing of the tenant was left behind without it
    assert orphan_count() == orphans_before
    assert db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d" % t["id"])[0][0] == "0"


@test
def an_active_tenant_is_never_erased():
    t = busy_tenant("active")
    db_exec("UPDATE tenants SET offboard_after = UTC_TIMESTAMP() - INTERVAL 1 DAY"
            " WHERE id = %d" % t["id"])
    out = ctl("purge")
    assert all(e["tenant_id"] != t["id"] for e in out["erased"])
    assert db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d" % t["id"],
                   tenant=t)[0][0] == "4"


@test
def tenant_create_with_first_key_and_admin_is_all_or_nothing():
    slug = "onb-" + rand_suffix()
    admin = "onbadm-" + rand_suffix()
    out = ctl("tenant", "create", slug, "--plan", "pro", "--key", "first", "--admin", admin,
              stdin="a-good-long-password\n")
    assert out["slug"] == slug and out["admin"] == admin
    key = out["api_key"]["key"]
    st, _, body = api("GET", "/v1/models", key=key)
    assert st == 200, body
    users = {u["name"]: u for u in ctl("admin", "list")}
    assert users[admin]["role"] == "tenant_admin" and users[admin]["tenant_id"] == out["id"]
    # the admin name is taken now: a second tenant with it leaves nothing behind
    slug2 = "onb2-" + rand_suffix()
    rc, _, err = ctl("tenant", "create", slug2, "--key", "k", "--admin", admin,
                     stdin="a-good-long-password\n", check=False)
    assert rc != 0 and "already exists" in err, err
    assert db_exec("SELECT COUNT(*) FROM tenants WHERE slug = '%s'" % slug2)[0][0] == "0"
    rc, _, err = ctl("tenant", "create", "onb3-" + rand_suffix(), "--plan", "nope", "--key", "k",
                     check=False)
    assert rc != 0 and "does not exist" in err


@test
def housekeeping_deletes_only_what_nothing_needs():
    t = busy_tenant("house")
    tid = t["id"]
    ins = ("INSERT INTO budget_counters (scope, scope_id, win, period, reserved_micros,"
           " updated_at) VALUES ('tenant', %d, '%s', '%s', %d, UTC_TIMESTAMP(6))")
    db_exec(ins % (tid, "minute", "2001-01-01 00:00", 0))
    db_exec(ins % (tid, "minute", "2001-01-01 00:01", 5))  # holds a reservation: kept
    db_exec(ins % (tid, "day", "2001-01-01", 0))
    db_exec(ins % (tid, "month", "2001-01", 0))
    db_exec("INSERT INTO reservations (tenant_id, key_id, state, micros, tokens, prompt_tokens,"
            " max_tokens, counters, exec_id, kind, model, provider, owner, created_at,"
            " expires_at) VALUES (%d, 0, 'settled', 1, 1, 1, 1, '', 'exec_old', 'chat',"
            " 'mock-1', 'mock', 'x', '2001-01-01', '2001-01-01')" % tid)
    db_exec("INSERT INTO usage_5min (tenant_id, bucket, requests) VALUES (%d, 1000, 1)" % tid)
    current = db_exec("SELECT COUNT(*) FROM budget_counters WHERE scope = 'tenant'"
                      " AND scope_id = %d AND period > '2002'" % tid)[0][0]
    assert int(current) > 0
    # every server's reaper does the same housekeeping once a minute, so the rows may be
    # gone before purge runs: what is checked is what is left
    out = ctl("purge")
    assert out["housekeeping_rows"] >= 0 and out["failures"] == 0, out
    left = db_exec("SELECT win, period FROM budget_counters WHERE scope = 'tenant'"
                   " AND scope_id = %d AND win <> 'inflight' AND period < '2002'"
                   " ORDER BY period" % tid)
    assert left == [["minute", "2001-01-01 00:01"]], left
    assert db_exec("SELECT COUNT(*) FROM reservations WHERE exec_id = 'exec_old'")[0][0] == "0"
    assert db_exec("SELECT COUNT(*) FROM usage_5min WHERE tenant_id = %d AND bucket = 1000"
                   % tid)[0][0] == "0"
    assert db_exec("SELECT COUNT(*) FROM budget_counters WHERE scope = 'tenant'"
                   " AND scope_id = %d AND period > '2002'" % tid)[0][0] == current
    # the tenant still works, budgets and all
    st, _, _ = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    assert st == 200


@test
def housekeeping_waits_on_no_lease_row_it_keeps():
    """Housekeeping finds empty lease rows with a read that locks nothing and deletes them
    by their keys: a lease row it keeps, locked by a grant in progress, does not hold it up
    (a scanning DELETE waited on every locked row it read: seconds of stalled grants after
    a 10,000-tenant load), and it still deletes every empty row, however many."""
    base = 7_100_000_000_000
    db_exec("DELETE FROM leases WHERE owner_id >= %d AND owner_id < %d" % (base, base + 10**7))
    db_exec("INSERT INTO leases (owner_id, scope, scope_id, win, period, updated_at)"
            " SELECT %d + seq, 'tenant', 900000000 + seq, 'day', '2001-01-01', '2001-01-01'"
            " FROM seq_1_to_60000" % base)
    # live rows it must keep: one locked below, and one given back a moment ago
    db_exec("INSERT INTO leases (owner_id, scope, scope_id, win, period, granted_micros,"
            " updated_at) VALUES (%d, 'tenant', 899999999, 'day', '2001-01-01', 5,"
            " '2001-01-01')" % base)
    db_exec("INSERT INTO leases (owner_id, scope, scope_id, win, period, updated_at)"
            " SELECT id, 'tenant', 899999998, 'day', '2001-01-01', UTC_TIMESTAMP(6)"
            " FROM owners ORDER BY id LIMIT 1")
    holder = subprocess.Popen(
        ["mariadb", "--no-defaults", "-uroot", "-S", harness.DB_SOCKET, DB_NAME, "-e",
         "BEGIN; SELECT granted_micros FROM leases WHERE owner_id = %d AND scope_id ="
         " 899999999 FOR UPDATE; SELECT SLEEP(55); ROLLBACK" % base],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            locked = db_exec("SELECT COUNT(*) FROM information_schema.innodb_trx"
                             " WHERE trx_rows_locked > 0 AND trx_mysql_thread_id IN"
                             " (SELECT id FROM information_schema.processlist"
                             " WHERE info LIKE '%SLEEP(55)%')")[0][0]
            if locked != "0":
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the lock holder never took its lock")
        # a scanning DELETE would wait innodb_lock_wait_timeout (50 s) on the locked row and
        # fail; ctl's own timeout is 60 s
        out = ctl("purge")
        assert out["failures"] == 0, out
    finally:
        holder.kill()
        holder.wait()
    left = db_exec("SELECT scope_id FROM leases WHERE owner_id >= %d AND owner_id < %d"
                   " ORDER BY scope_id" % (base, base + 10**7))
    assert left == [["899999999"]], left[:5]
    assert db_exec("SELECT COUNT(*) FROM leases WHERE scope_id = 899999998")[0][0] == "1"
    db_exec("DELETE FROM leases WHERE scope_id IN (899999998, 899999999)")


@test
def housekeeping_is_one_process_turn():
    """One process of the installation has the housekeeping turn at a time (sql/032): the
    row names an agenthost process (alive, or one a test started and stopped since: its
    turn lapses at next_at), and its period is at most the turn's 55 s."""
    who, ahead = db_exec("SELECT taken_by, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6),"
                         " next_at) FROM turns WHERE name = 'housekeeping'")[0]
    assert " pid " in who, who
    pid = int(who.rsplit(" ", 1)[1])
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert b"agenthost" in f.read(), who
    except FileNotFoundError:
        pass
    # taken at most 55 s ahead; its holder tries again every 60 s
    assert -10_000_000 < int(ahead) <= 55_000_000, ahead


OP = {"Authorization": "Bearer " + os.environ.get("AGENTHOST_OPERATOR_TOKEN", "")}


def op(method, path, body=None, raw=False):
    return api(method, "/admin/api/v1" + path, body, headers=OP, raw=raw)


def op_bytes(method, path, body=None):
    """Status, headers and the raw bytes of an operator API call (archives are binary)."""
    u = urllib.parse.urlsplit(BASE)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    hdrs = dict(OP)
    if body is not None:
        hdrs["Content-Type"] = "application/json"
        body = json.dumps(body)
    conn.request(method, "/admin/api/v1" + path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, headers, data


@test
def operator_api_creates_suspends_and_resumes_a_tenant():
    slug = "opapi-" + rand_suffix()
    st, _, body = op("POST", "/tenants", {"slug": slug, "name": "<b>Op</b>", "plan": "pro"})
    assert st == 201, body
    assert body["slug"] == slug and body["plan"] == "pro" and body["status"] == "active"
    st, _, body = op("POST", "/tenants", {"slug": slug})
    assert st == 409 and body["error"]["reason_code"] == "conflict"
    st, _, body = op("POST", "/tenants", {"slug": "12345"})
    assert st == 400 and body["error"]["reason_code"] == "invalid_request"
    st, _, body = op("POST", "/tenants", {"slug": "x-" + rand_suffix(), "plan": "nope"})
    assert st == 400, body
    k = ctl("key", "create", "--tenant", slug, "--name", "k")
    st, _, body = op("POST", "/tenants/%s/suspend" % slug, {"reason": "unpaid"})
    assert st == 200 and body["status"] == "suspended" and body["suspended_reason"] == "unpaid"
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=k["key"])
    assert st == 403 and body["error"]["reason_code"] == "tenant_suspended"
    st, _, body = op("POST", "/tenants/%s/resume" % slug)
    assert st == 200 and body["status"] == "active"
    st, _, body = api("POST", "/v1/chat/completions", chat_body(), key=k["key"])
    assert st == 200
    rows = db_exec("SELECT action, actor_type FROM audit_log WHERE tenant_id = %d"
                   " AND actor_type = 'operator' ORDER BY id" % body_id(slug))
    assert [r[0] for r in rows] == ["tenant.create", "tenant.suspend", "tenant.resume"], rows


def body_id(slug):
    return ctl("tenant", "show", slug)["id"]


@test
def operator_api_onboards_with_first_key_and_admin():
    slug = "opon-" + rand_suffix()
    admin = "opadm-" + rand_suffix()
    st, _, body = op("POST", "/tenants", {"slug": slug, "key_name": "first",
                                          "admin_name": admin})
    assert st == 201, body
    key, pw = body["api_key"]["key"], body["admin"]["password"]
    assert body["admin"]["name"] == admin and len(pw) == 32
    st, _, _ = api("GET", "/v1/models", key=key)
    assert st == 200
    from dashhelp import Dash
    d = Dash()
    d.login(admin, pw)
    st, _, body = op("POST", "/tenants", {"slug": "opon2-" + rand_suffix(), "admin_name": admin})
    assert st == 409 and "dashboard user" in body["error"]["message"], body
    st, _, body = op("POST", "/tenants", {"slug": "opon3-" + rand_suffix(),
                                          "admin_name": "bad name!"})
    assert st == 400


@test
def operator_api_needs_an_operator_token():
    t = new_tenant("opauth")
    st, _, body = api("POST", "/admin/api/v1/tenants", {"slug": "x-" + rand_suffix()},
                      key=t["key"])
    assert st == 403 and body["error"]["reason_code"] == "tenant_key_not_allowed", body
    st, _, body = api("GET", "/admin/api/v1/tenants/%s/export" % t["slug"])
    assert st == 401


@test
def operator_api_streams_an_export():
    t = busy_tenant("opexp")
    st, h, data = op_bytes("GET", "/tenants/%s/export" % t["slug"])
    assert st == 200, data[:300]
    assert h["content-type"] == "application/x-tar"
    assert t["slug"] + "-export.tar" in h["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = tf.getnames()
        manifest = json.load(tf.extractfile(t["slug"] + "-export/manifest.json"))
    assert t["slug"] + "-export/executions.jsonl" in names
    assert {f["name"]: f["rows"] for f in manifest["files"]}["executions.jsonl"] == 4
    assert t["key"].encode() not in data
    st, _, body = op("GET", "/tenants/no-such-tenant-q/export")
    assert st == 404


@test
def operator_api_offboards_with_the_archive_and_undo():
    t = busy_tenant("opoff")
    st, _, data = op_bytes("POST", "/tenants/%s/offboard" % t["slug"], {"days": 7})
    assert st == 200, data[:300]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert any(n.endswith("/manifest.json") for n in tf.getnames())
    st, _, body = op("GET", "/tenants/%s" % t["slug"])
    assert body["status"] == "suspended" and body["erase_after"] > 0, body
    st, _, body = op("POST", "/tenants/%s/offboard" % t["slug"], {"days": -1})
    assert st == 400
    st, _, body = op("POST", "/tenants/%s/offboard/undo" % t["slug"])
    assert st == 200 and body["status"] == "active" and "erase_after" not in body
    st, _, body = op("POST", "/tenants/%s/offboard/undo" % t["slug"])
    assert st == 409 and body["error"]["reason_code"] == "not_offboarding"


run()
