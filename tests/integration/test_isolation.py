"""Isolation modes: a dedicated tenant's own database and account, shared and dedicated
tenants side by side, moves between the modes under load, verify-isolation's checks of
dedicated tenants (a thousand dedicated tenants: bulk_tenants.py).

Every test creates its own tenants with an explicit --isolation, so it means the same in
every pass of tests/run. Content tables (executions, run_steps, sessions, session_messages and
a copy of the rollups) of a dedicated tenant live in its database <db_name>_t<id>; the
control database keeps the rollups of every tenant.
"""
import json
import os
import re
import subprocess
import threading
import time

import harness
from apihelp import DB_NAME, chat_body, db_exec, tenant_db
from harness import BASE, BASE_NGINX, ISOLATION_PASS, api, ctl, rand_suffix, run, skip, test, wait_until

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTENT = ("executions", "run_steps", "sessions", "session_messages")
ROLLUPS = ("usage_daily", "usage_5min", "usage_attr_daily")
PRIVILEGES = {"SELECT", "INSERT", "UPDATE", "DELETE"}


# ---------------------------------------------------------------- helpers

_calculator = []


def register_calculator():
    """The calculator tool, registered as test_tools does (the registry is global;
    registering again updates it)."""
    if _calculator:
        return
    ctl("tool", "register", "calculator", "--exec",
        os.path.join(TOP, "contrib", "tools", "calculator"), "--schema", json.dumps(
            {"type": "object", "properties": {
                "expression": {"type": "string", "minLength": 1, "maxLength": 1000}},
             "required": ["expression"], "additionalProperties": False}),
        "--description", "test tool calculator", "--timeout-ms", 5000,
        "--max-output-bytes", 65536)
    _calculator.append(1)


def create(prefix, isolation, plan="enterprise", agent=True):
    """A tenant with an explicit isolation mode, its first key and (agent) an agent
    'assistant' on mock-1 that may use the calculator. Plan enterprise: every tool is
    allowed, and no rate limit gets in the way of the load."""
    slug = "%s-%s" % (prefix, rand_suffix())
    out = ctl("tenant", "create", slug, "--isolation", isolation, "--plan", plan, "--key", "k")
    t = {"slug": slug, "id": out["id"], "key": out["api_key"]["key"]}
    if agent:
        register_calculator()
        ctl("agent", "create", "--tenant", slug, "--name", "assistant", "--model", "mock-1",
            "--instructions", "You are a helpful assistant.", "--tool", "calculator")
    return t


def row(t):
    """The tenant's isolation columns in the control database."""
    r = db_exec("SELECT isolation_mode, data_db, data_user, migrating FROM tenants"
                " WHERE id = %d" % t["id"])
    assert r, "tenant %s is gone" % t["slug"]
    return dict(zip(("mode", "data_db", "data_user", "migrating"), r[0]))


def own_db_name(t):
    return "%s_t%d" % (DB_NAME, t["id"])


def count(database, table, t, where=""):
    return int(db_exec("SELECT COUNT(*) FROM `%s`.%s WHERE tenant_id = %d %s"
                       % (database, table, t["id"], where))[0][0])


def usage_requests(database, t):
    return int(db_exec("SELECT COALESCE(SUM(requests), 0) FROM `%s`.usage_daily"
                       " WHERE tenant_id = %d" % (database, t["id"]))[0][0])


def database_exists(name):
    return db_exec("SELECT COUNT(*) FROM information_schema.SCHEMATA"
                   " WHERE SCHEMA_NAME = '%s'" % name)[0][0] == "1"


def account_hosts(user):
    return [r[0] for r in db_exec("SELECT Host FROM mysql.user WHERE User = '%s'" % user)]


def grants_of(user):
    out = []
    for host in account_hosts(user):
        out += [r[0] for r in db_exec("SHOW GRANTS FOR '%s'@'%s'" % (user, host))]
    return out


GRANT_RE = re.compile(r"^GRANT (.+?) ON (\S+) TO ")


def assert_grants_only_on(user, database):
    """The account has SELECT, INSERT, UPDATE, DELETE on database and nothing else: no
    global privilege (USAGE is none), no other database, table or routine, no role, no
    grant option. "_" in a database name may be escaped in a grant (it is a wildcard)."""
    grants = grants_of(user)
    assert grants, "no account %s" % user
    privs = set()
    for g in grants:
        m = GRANT_RE.match(g)
        assert m, "unexpected grant: %s" % g
        what, on = m.groups()
        assert "WITH GRANT OPTION" not in g, g
        if on == "*.*":
            assert what == "USAGE", g
            continue
        # mariadb --batch writes a backslash as two
        assert on.replace("\\\\", "\\").replace("\\_", "_") == "`%s`.*" % database, g
        privs |= {p.strip() for p in what.split(",")}
    assert privs == PRIVILEGES, (privs, grants)


def columns(database, table):
    return db_exec("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS"
                   " WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s' ORDER BY ORDINAL_POSITION"
                   % (database, table))


def chat(t, text, base=None):
    return api("POST", "/v1/chat/completions", chat_body(text), key=t["key"], base=base)


# A run that calls the calculator: a run row, two model step rows (each one request in
# the rollups) and three run_steps (model, tool, model).
TOOL_RUN = '[mock:tool=calculator {"expression": "6*7"}]'


def agent_run(t, text, session_id=None):
    body = {"input": text}
    if session_id:
        body["session_id"] = session_id
    st, _, r = api("POST", "/v1/agents/assistant/runs", body, key=t["key"])
    assert st == 200, (st, r)
    return r


def usage_total(t):
    st, _, u = api("GET", "/v1/usage", key=t["key"])
    assert st == 200, (st, u)
    return u["total"]["requests"]


def table_rows(database, table, t, drop=()):
    """The tenant's rows of table as a sorted list of tuples of (column, value), without
    the columns in drop (executions.seq is a counter of the database it is in)."""
    p = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", harness.DB_SOCKET, "--batch",
                        "-e", "SELECT * FROM %s WHERE tenant_id = %d" % (table, t["id"]),
                        database], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    if not lines:
        return []
    head = lines[0].split("\t")
    keep = [i for i, c in enumerate(head) if c not in drop]
    return sorted(tuple((head[i], v.split("\t")[i]) for i in keep)
                  for v in lines[1:])


def content_snapshot(t):
    """The tenant's content rows where they are now, table by table."""
    database = tenant_db(t)
    return {tbl: table_rows(database, tbl, t, drop=("seq",) if tbl == "executions" else ())
            for tbl in CONTENT}


def ids_by_seq(t):
    return [r[0] for r in db_exec("SELECT id FROM executions WHERE tenant_id = %d ORDER BY seq"
                                  % t["id"], tenant=t)]


def verify(*args):
    return ctl("verify-isolation", *args, check=False)


def findings(out):
    return {c["check"]: c["findings"] for c in out["checks"]}


# ---------------------------------------------------------------- a dedicated tenant

@test
def dedicated_tenant_has_its_own_database_and_account():
    t = create("ded", "dedicated")
    r = row(t)
    name = own_db_name(t)
    assert r["mode"] == "dedicated" and r["migrating"] == "0", r
    assert r["data_db"] == name and r["data_user"] == name, r
    assert database_exists(name), name
    tables = {x[0] for x in db_exec("SHOW TABLES", tenant=t)}
    for tbl in CONTENT + ROLLUPS:
        assert tbl in tables, (tbl, sorted(tables))
        assert columns(name, tbl) == columns(DB_NAME, tbl), tbl
    # control tables stay in the control database only
    for tbl in ("tenants", "api_keys", "limits", "reservations", "budget_counters", "audit_log"):
        assert tbl not in tables, tbl
    # the account reaches its own database and nothing else (not the control database,
    # not another tenant's): the test does not know its password, so the grants say it
    assert_grants_only_on(r["data_user"], name)


@test
def dedicated_tenant_content_is_written_in_its_database():
    t = create("dedw", "dedicated")
    name = row(t)["data_db"]
    st, _, b = chat(t, "dedicated chat " + rand_suffix())
    assert st == 200, (st, b)
    st, _, b2 = chat(t, "dedicated chat via nginx", base=BASE_NGINX or None)
    assert st == 200, (st, b2)
    ids = (b["id"], b2["id"])
    for i in ids:
        assert count(name, "executions", t, "AND id = '%s'" % i) == 1, i
        assert db_exec("SELECT COUNT(*) FROM executions WHERE id = '%s'" % i) == [["0"]], i
    assert count(DB_NAME, "executions", t) == 0
    # a run with its steps, in a session with its messages
    st, _, s = api("POST", "/v1/sessions", {"agent": "assistant"}, key=t["key"])
    assert st == 201, (st, s)
    run_ = agent_run(t, "a dedicated run " + TOOL_RUN, session_id=s["id"])
    assert count(name, "executions", t, "AND id = '%s'" % run_["id"]) == 1
    assert count(name, "executions", t) == 5  # 2 chats, the run and its 2 model steps
    assert count(name, "run_steps", t, "AND run_id = '%s'" % run_["id"]) == 3
    assert count(name, "sessions", t) == 1 and count(name, "session_messages", t) == 2
    for tbl in CONTENT:
        assert count(DB_NAME, tbl, t) == 0, tbl
    # the rollups: one request per model call (2 chats, 2 steps), the same in the control
    # database's summary, the tenant's own copy and the usage API
    assert usage_requests(DB_NAME, t) == 4, usage_requests(DB_NAME, t)
    assert usage_requests(name, t) == 4, usage_requests(name, t)
    assert usage_total(t) == 4
    # and the API reads it back from there
    st, _, got = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200 and got["output"] == run_["output"] and len(got["steps"]) == 3, got
    st, _, lst = api("GET", "/v1/runs", key=t["key"])
    assert [x["id"] for x in lst["data"]] == [run_["id"]], lst
    st, _, got = api("GET", "/v1/sessions/" + s["id"], key=t["key"])
    assert st == 200 and got["message_count"] == 2, got
    # the tenant's database holds nobody else's rows
    for tbl in CONTENT + ROLLUPS:
        assert db_exec("SELECT COUNT(*) FROM %s WHERE tenant_id <> %d" % (tbl, t["id"]),
                       tenant=t) == [["0"]], tbl


@test
def new_tenants_get_the_isolation_of_the_pass():
    want = {"shared": ("shared", "shared"), "dedicated": ("dedicated", "dedicated"),
            "mixed": ("shared", "dedicated")}.get(ISOLATION_PASS)
    if want is None:
        skip("not run by tests/run (AGENTHOST_TEST_ISOLATION_PASS is %r)" % ISOLATION_PASS)
    free = harness.new_tenant("pdf", plan="free")
    pro = harness.new_tenant("pdp", plan="pro")
    got = (row(free)["mode"], row(pro)["mode"])
    assert got == want, (ISOLATION_PASS, got)
    for t in (free, pro):
        assert (row(t)["data_db"] != "") == (row(t)["mode"] == "dedicated"), row(t)
    # --isolation wins over the plan's and the global default
    other = "shared" if want[1] == "dedicated" else "dedicated"
    t = create("pdx", other, plan="pro", agent=False)
    assert row(t)["mode"] == other


@test
def shared_and_dedicated_tenants_see_only_their_own():
    a = create("sbs", "shared")
    b = create("sbd", "dedicated")
    runs, chats = {}, {}
    for t in (a, b):
        runs[t["slug"]] = [agent_run(t, "mine %d" % i)["id"] for i in range(2)]
        st, _, c = chat(t, "mine")
        assert st == 200, c
        chats[t["slug"]] = c["id"]
    for t, o in ((a, b), (b, a)):
        st, _, lst = api("GET", "/v1/runs", key=t["key"])
        assert st == 200 and [x["id"] for x in lst["data"]] == runs[t["slug"]][::-1], lst
        for rid in runs[o["slug"]]:
            st, _, e = api("GET", "/v1/runs/" + rid, key=t["key"])
            assert st == 404 and e["error"]["reason_code"] == "not_found", (st, e)
        st, _, e = api("GET", "/v1/runs/" + chats[o["slug"]], key=t["key"])
        assert st == 404, (st, e)
        assert usage_total(t) == 3
    # where the rows are: two runs (the agent has a tool, so a run row and a model step
    # row each) and a chat per tenant
    bdb = row(b)["data_db"]
    assert count(DB_NAME, "executions", a) == 5 and count(DB_NAME, "executions", b) == 0
    assert count(bdb, "executions", b) == 5 and count(bdb, "executions", a) == 0


# ---------------------------------------------------------------- moves under load

class Load:
    """Client threads POSTing chat completions (each with a unique marker, and an upstream
    latency so that some are in flight whenever the move begins) until stopped, half
    through lighttpd and half through nginx. Every response is recorded; after a 503
    tenant_migrating the thread checks that reads are still served."""

    def __init__(self, t, tag, threads=6, latency_ms=200):
        self.t, self.tag, self.latency = t, tag, latency_ms
        self.results = []   # (marker, sent, done, status, id or error)
        self.read_errors = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.n = 0
        self.threads = [threading.Thread(target=self.worker, daemon=True)
                        for _ in range(threads)]

    def worker(self):
        bases = [BASE, BASE_NGINX or BASE]
        while not self.stop_ev.is_set():
            with self.lock:
                self.n += 1
                n = self.n
            marker = "mv-%s-%s-%d" % (self.tag, self.t["slug"], n)
            body = chat_body("%s [mock:latency=%d]" % (marker, self.latency),
                             metadata={"marker": marker})
            sent = time.monotonic()
            try:
                st, _, b = api("POST", "/v1/chat/completions", body, key=self.t["key"],
                               base=bases[n % 2], timeout=60)
            except Exception as e:  # a dropped connection is a failure of the move
                st, b = None, repr(e)
            done = time.monotonic()
            if st == 200 and isinstance(b, dict) and b.get("id"):
                res = b["id"]
            elif st == 503 and isinstance(b, dict) and \
                    b.get("error", {}).get("reason_code") == "tenant_migrating":
                res = "tenant_migrating"
                for path in ("/v1/runs", "/v1/usage"):
                    rs, _, rb = api("GET", path, key=self.t["key"], base=bases[n % 2])
                    if rs != 200:
                        with self.lock:
                            self.read_errors.append((path, rs, rb))
                time.sleep(0.05)
            else:
                res = b
            with self.lock:
                self.results.append((marker, sent, done, st, res))

    def start(self):
        for th in self.threads:
            th.start()

    def stop(self):
        self.stop_ev.set()
        for th in self.threads:
            th.join(timeout=90)
        assert not any(th.is_alive() for th in self.threads), "a client thread hangs"


def move_under_load(t, to, extra=()):
    """Move t to `to` (extra: more arguments of tenant move) while clients keep calling;
    check every response and where the rows end up. Returns the move's report."""
    src_db, src = tenant_db(t), row(t)
    pre = content_snapshot(t)
    pre_order = ids_by_seq(t)
    usage0 = usage_requests(DB_NAME, t)
    load = Load(t, to)
    load.start()
    time.sleep(1.0)
    m0 = time.monotonic()
    rc, report, err = ctl("tenant", "move", t["slug"], "--to", to, "--drain-seconds", "1",
                          *extra, check=False)
    m1 = time.monotonic()
    time.sleep(1.0)
    load.stop()
    assert rc == 0, (rc, report, err)
    assert isinstance(report, dict), report
    print("move to %s: %.2f s, report %s" % (to, m1 - m0, json.dumps(report)))

    ok = [r for r in load.results if r[3] == 200]
    refused = [r for r in load.results if r[4] == "tenant_migrating"]
    other = [r for r in load.results if r[3] != 200 and r[4] != "tenant_migrating"]
    assert not other, "responses other than 200 or 503 tenant_migrating: %r" % other[:5]
    assert not load.read_errors, "reads not served while migrating: %r" % load.read_errors[:5]
    during = [r for r in ok if m0 < r[2] < m1]
    print("move to %s under load: %d calls, %d ok (%d done during the move), %d refused"
          % (to, len(load.results), len(ok), len(during), len(refused)))
    assert len(during) >= 3, "only %d calls succeeded during the move" % len(during)
    assert refused, "no call was refused with tenant_migrating"

    r = row(t)
    assert r["mode"] == to and r["migrating"] == "0", r
    dst_db = tenant_db(t)
    if to == "dedicated":
        assert dst_db == own_db_name(t) and r["data_user"] == dst_db, r
        assert_grants_only_on(r["data_user"], dst_db)
        # the source: no content row left in the shared tables
        for tbl in CONTENT:
            assert count(DB_NAME, tbl, t) == 0, tbl
    else:
        assert dst_db == DB_NAME and r["data_db"] == "", r
        # the source: the database and its account are dropped
        assert not database_exists(src_db), src_db
        assert not account_hosts(src["data_user"]), src["data_user"]

    # every call answered 200 has its execution exactly once, and nothing else was added
    ids = [x[4] for x in ok]
    assert len(set(ids)) == len(ids), "an id answered twice"
    have = {}

    def written():
        # The ledger writes answered calls a batch later (ENFORCEMENT.md 3.5): the last
        # ones of the load may still be on their way.
        have.clear()
        for i, n in db_exec("SELECT id, COUNT(*) FROM executions WHERE tenant_id = %d GROUP "
                            "BY id" % t["id"], tenant=t):
            have[i] = int(n)
        return all(i in have for i in ids)

    wait_until(written, timeout=15)
    missing = [i for i in ids if have.get(i) != 1]
    assert not missing, "executions of 200 answers missing or repeated: %r" % missing[:5]
    total = sum(have.values())
    assert total == len(pre["executions"]) + len(ok), (total, len(pre["executions"]), len(ok))
    # the rows that were there before came over unchanged, in their order
    after = content_snapshot(t)
    for tbl in CONTENT:
        if tbl == "executions":
            gone = set(pre[tbl]) - set(after[tbl])
            assert not gone, "executions changed by the move: %r" % sorted(gone)[:2]
        else:
            assert after[tbl] == pre[tbl], "%s changed by the move" % tbl
    assert ids_by_seq(t)[:len(pre_order)] == pre_order, "executions' order changed"
    # usage: one request per 200, counted once in the control database (and the copy)
    assert usage_requests(DB_NAME, t) == usage0 + len(ok), (usage_requests(DB_NAME, t), usage0,
                                                             len(ok))
    if to == "dedicated":
        assert usage_requests(dst_db, t) == usage_requests(DB_NAME, t), \
            (usage_requests(dst_db, t), usage_requests(DB_NAME, t))
    assert usage_total(t) == usage_requests(DB_NAME, t)
    rc, out, err = verify("--tenant", t["slug"])
    assert rc == 0 and out["findings"] == 0, (rc, [c for c in out["checks"] if c["findings"]]
                                              if isinstance(out, dict) else out, err)
    return report


@test
def move_to_dedicated_and_back_under_load():
    t = create("mv", "shared")
    # content of every kind before the move: chats, a run with steps, a session
    for i in range(3):
        st, _, b = chat(t, "before the move %d" % i)
        assert st == 200, b
    st, _, s = api("POST", "/v1/sessions", {"agent": "assistant"}, key=t["key"])
    assert st == 201, s
    run_ = agent_run(t, "a run before the move " + TOOL_RUN, session_id=s["id"])
    st, _, run_before = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200 and len(run_before["steps"]) == 3, run_before
    usage_before = usage_requests(DB_NAME, t)

    move_under_load(t, "dedicated")
    st, _, got = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200 and got == run_before, (got, run_before)
    st, _, got = api("GET", "/v1/sessions/" + s["id"], key=t["key"])
    assert st == 200 and got["message_count"] == 2, got

    move_under_load(t, "shared")
    st, _, got = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200 and got == run_before, (got, run_before)
    st, _, got = api("GET", "/v1/sessions/" + s["id"], key=t["key"])
    assert st == 200 and got["message_count"] == 2, got
    assert usage_requests(DB_NAME, t) > usage_before
    # and it still works as a shared tenant, writing in the shared tables
    st, _, b = chat(t, "after both moves")
    assert st == 200, b
    assert wait_until(lambda: count(DB_NAME, "executions", t, "AND id = '%s'" % b["id"]) == 1,
                      timeout=15)


DB_PORT = os.environ.get("AGENTHOST_TEST_DB_PORT", "")


@test
def move_to_another_server_and_back_under_load():
    # "Another server" is the test MariaDB reached over TCP (127.0.0.1:port) instead of
    # the control connection's socket: the move then copies through agenthostctl in
    # keyset pages and checksums each side on its own connection.
    if not DB_PORT:
        skip("AGENTHOST_TEST_DB_PORT is not set")
    t = create("mvx", "shared")
    for i in range(3):
        st, _, b = chat(t, "before the move %d" % i)
        assert st == 200, b
    run_ = agent_run(t, "a run before the move " + TOOL_RUN)
    st, _, run_before = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200, run_before
    move_under_load(t, "dedicated", ("--db-host", "127.0.0.1", "--db-port", DB_PORT))
    host = db_exec("SELECT data_host, data_port FROM tenants WHERE id = %d" % t["id"])[0]
    assert host == ["127.0.0.1", DB_PORT], host
    st, _, got = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200 and got == run_before, (got, run_before)
    move_under_load(t, "shared")
    st, _, got = api("GET", "/v1/runs/" + run_["id"], key=t["key"])
    assert st == 200 and got == run_before, (got, run_before)


@test
def move_of_an_unknown_tenant_fails_cleanly():
    rc, out, err = ctl("tenant", "move", "no-such-tenant-m", "--to", "dedicated", check=False)
    assert rc != 0 and err, (rc, out, err)


# ---------------------------------------------------------------- verify-isolation

@test
def verify_isolation_checks_dedicated_tenants():
    t = create("vded", "dedicated")
    st, _, b = chat(t, "verify me")
    assert st == 200, b
    r = row(t)
    rc, out, err = verify("--tenant", t["slug"])
    assert rc == 0 and out["findings"] == 0, (rc, out, err)
    found = findings(out)
    assert {"dedicated_grants_beyond_db", "dedicated_db_missing"} <= set(found), sorted(found)

    hosts = account_hosts(r["data_user"])
    assert hosts, r
    acct = "'%s'@'%s'" % (r["data_user"], hosts[0])
    db_exec("GRANT SELECT ON `%s`.* TO %s" % (DB_NAME, acct))
    try:
        rc, out, err = verify("--tenant", t["slug"])
        assert rc == 1, (rc, out, err)
        assert findings(out)["dedicated_grants_beyond_db"] >= 1, findings(out)
    finally:
        db_exec("REVOKE SELECT ON `%s`.* FROM %s" % (DB_NAME, acct))
    # DDL on its own database is beyond what the account may hold, too
    own = "`%s`.*" % r["data_db"].replace("_", "\\_")
    db_exec("GRANT CREATE, DROP ON %s TO %s" % (own, acct))
    try:
        rc, out, err = verify("--tenant", t["slug"])
        assert rc == 1, (rc, out, err)
        assert findings(out)["dedicated_grants_beyond_db"] >= 1, findings(out)
    finally:
        db_exec("REVOKE CREATE, DROP ON %s FROM %s" % (own, acct))
    assert_grants_only_on(r["data_user"], r["data_db"])

    # a purge meeting a tenant whose database it cannot reach carries on with the others
    other = create("vok", "shared")
    ctl("limits", "set", "--tenant", t["slug"], "retention_days", "30")
    ctl("limits", "set", "--tenant", other["slug"], "retention_days", "30")
    db_exec("UPDATE tenants SET data_db = '%s_gone' WHERE id = %d" % (r["data_db"], t["id"]))
    try:
        rc, out, err = verify("--tenant", t["slug"])
        assert rc == 1, (rc, out, err)
        assert findings(out)["dedicated_db_missing"] == 1, findings(out)
        rc, out, err = ctl("purge", check=False)
        assert rc == 1 and out["failures"] >= 1, (rc, out, err)
        purged = {x["tenant_id"] for x in out["tenants"]}
        assert other["id"] in purged and t["id"] not in purged, (out, err)
        assert "tenant %d" % t["id"] in err, err
    finally:
        db_exec("UPDATE tenants SET data_db = '%s' WHERE id = %d" % (r["data_db"], t["id"]))
    rc, out, err = verify("--tenant", t["slug"])
    assert rc == 0 and out["findings"] == 0, (rc, out, err)


# A crash between the two settlements of a dedicated tenant (the tenant's database
# committed, the control database not) needs a hook inside one call: tests/unit/test_tenantdb.c
# covers it (crash_after_data_step, crash_before_data_step), with the reaper.


run()
