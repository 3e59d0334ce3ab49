"""Helpers shared by the API integration tests (not a test file itself)."""
import os
import select
import subprocess

import harness
from harness import ctl


def new_tenant(prefix, plan="free", isolation=None):
    """A fresh tenant with an API key and an agent 'assistant' on the mock model."""
    t = harness.new_tenant(prefix, plan=plan, isolation=isolation)
    ctl("agent", "create", "--tenant", t["slug"], "--name", "assistant", "--model", "mock-1",
        "--instructions", "You are a helpful assistant.")
    return t


def _mariadb(sql, database):
    p = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", harness.DB_SOCKET,
                        "--batch", "--skip-column-names", "-e", sql, database],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("mariadb: " + p.stderr.strip())
    return [[None if c == "NULL" else c for c in line.split("\t")]
            for line in p.stdout.splitlines()]


def tenant_id(tenant):
    """The id of tenant: an id (int or digits) or a dict with "id"."""
    return int(tenant["id"] if isinstance(tenant, dict) else tenant)


def tenant_db(tenant):
    """The database holding tenant's content rows (executions, run_steps, sessions,
    session_messages and its copy of the usage rollups): its own database when the tenant
    is dedicated, else the control database. Looked up on every call (a move changes it)."""
    tid = tenant_id(tenant)
    rows = _mariadb("SELECT isolation_mode, data_db FROM tenants WHERE id = %d" % tid, DB_NAME)
    if not rows:
        raise RuntimeError("tenant %d does not exist" % tid)
    mode, data_db = rows[0]
    if mode == "dedicated":
        if not data_db:
            raise RuntimeError("tenant %d is dedicated but has no data_db" % tid)
        return data_db
    return DB_NAME


def db_exec(sql, tenant=None):
    """Run SQL on the test database; rows as lists of strings (NULL as None).

    Without tenant, on the control database (tenants, keys, limits, reservations, audit
    and every tenant's usage rollups). With tenant (an id or a dict with "id"), on the
    database holding that tenant's content tables: its own when it is dedicated
    (root over the socket can use any database).
    """
    return _mariadb(sql, DB_NAME if tenant is None else tenant_db(tenant))


def _db_name():
    conf = harness.CONF
    if conf and os.path.exists(conf):
        for line in open(conf):
            k, _, v = line.partition("=")
            if k.strip() == "db_name":
                return v.strip()
    return "agenthost"


DB_NAME = _db_name()


class LedgerLock:
    """Holds LOCK TABLES executions WRITE, usage_daily WRITE on a connection of its own
    (the shared tables every ledger batch writes) until release(): answered calls stay in
    the journal meanwhile. Returns once the lock is held."""

    def __init__(self):
        self.p = subprocess.Popen(["mariadb", "--no-defaults", "--unbuffered", "-uroot", "-S",
                                   harness.DB_SOCKET, DB_NAME], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.p.stdin.write(
            "LOCK TABLES executions WRITE, usage_daily WRITE; SELECT 'locked';\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], 10)
        if not (ready and self.p.stdout.readline().strip() == "locked"):
            self.p.kill()
            raise AssertionError("the ledger's tables were not locked")

    def release(self):
        if self.p.poll() is not None:
            return
        try:
            self.p.stdin.write("UNLOCK TABLES;\n")
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()


def chat_body(text="hello there", model="mock-1", **kw):
    b = {"model": model, "messages": [{"role": "user", "content": text}]}
    b.update(kw)
    return b


def err_code(body):
    assert isinstance(body, dict) and "error" in body, body
    e = body["error"]
    assert e["reason_code"] == e["code"], e
    assert e.get("request_id"), e
    return e["reason_code"]


def everything_kept():
    """Every place a key must never land: the server logs, every table, the dashboard."""
    out = []
    if harness.LOG_DIR and os.path.isdir(harness.LOG_DIR):
        for name in sorted(os.listdir(harness.LOG_DIR)):
            if "fake" in name:
                continue  # the tests' fake upstream: the provider itself, not agenthost
            path = os.path.join(harness.LOG_DIR, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    out.append((name, f.read().decode("utf-8", "replace")))
    p = subprocess.run(["mariadb-dump", "--no-defaults", "-uroot", "-S", harness.DB_SOCKET,
                        "--all-databases", "--skip-comments"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out.append(("database dump", p.stdout.decode("utf-8", "replace")))
    return out
