"""Helpers shared by the API integration tests (not a test file itself)."""
import os
import subprocess

import harness
from harness import ctl


def new_tenant(prefix):
    """A fresh tenant with an API key and an agent 'assistant' on the mock model."""
    t = harness.new_tenant(prefix)
    ctl("agent", "create", "--tenant", t["slug"], "--name", "assistant", "--model", "mock-1",
        "--instructions", "You are a helpful assistant.")
    return t


def db_exec(sql):
    """Run SQL on the test database; rows as lists of strings (NULL as None)."""
    p = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", harness.DB_SOCKET,
                        "--batch", "--skip-column-names", "-e", sql, DB_NAME],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("mariadb: " + p.stderr.strip())
    return [[None if c == "NULL" else c for c in line.split("\t")]
            for line in p.stdout.splitlines()]


def _db_name():
    conf = harness.CONF
    if conf and os.path.exists(conf):
        for line in open(conf):
            k, _, v = line.partition("=")
            if k.strip() == "db_name":
                return v.strip()
    return "agenthost"


DB_NAME = _db_name()


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
