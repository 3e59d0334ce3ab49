"""Progress of the long agenthostctl commands (agenthostctl(8), PROGRESS): JSON lines on
stderr with --progress, a line rewritten in place when stderr is a terminal, nothing
otherwise; the result on stdout is the same one JSON value in every case."""
import json
import os
import pty
import subprocess
import tempfile

from apihelp import chat_body, db_exec, new_tenant
from harness import CONF, CTL, api, ctl, run, test

KEYS = {"progress", "phase", "item", "done", "total", "elapsed_ms"}


def ctl_raw(*args):
    """agenthostctl with args, stdout and stderr as pipes: (exit status, stdout, stderr)."""
    p = subprocess.run([CTL, "-c", CONF] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def progress_lines(stderr, command):
    """The JSON progress objects of stderr (other lines, error messages, are skipped);
    each has every key, the command's name and sane numbers."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        assert set(o) == KEYS, "progress keys: %r" % (o,)
        assert o["progress"] == command, o
        assert isinstance(o["done"], int) and o["done"] >= 0, o
        assert o["total"] is None or (isinstance(o["total"], int) and o["done"] <= o["total"]), o
        out.append(o)
    assert out, "no progress line in %r" % stderr
    times = [o["elapsed_ms"] for o in out]
    assert times == sorted(times), "elapsed_ms goes back: %r" % times
    return out


def busy(prefix):
    """A shared tenant with a few executions."""
    t = new_tenant(prefix, isolation="shared")
    for i in range(3):
        st, _, b = api("POST", "/v1/chat/completions", chat_body("progress %d" % i), key=t["key"])
        assert st == 200, b
    return t


@test
def export_without_progress_or_terminal_prints_only_the_result():
    t = busy("pg")
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = ctl_raw("tenant", "export", t["slug"], "--out", os.path.join(d, "a.tar"))
    assert rc == 0 and err == "", (rc, err)
    assert json.loads(out)["tenant"] == t["slug"]


@test
def export_progress_json_lines_match_the_manifest():
    t = busy("pg")
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = ctl_raw("tenant", "export", t["slug"], "--out", os.path.join(d, "a.tar"),
                               "--progress")
    assert rc == 0, err
    manifest = json.loads(out)
    files = manifest["files"]
    lines = progress_lines(err, "tenant export")
    assert lines[-1]["phase"] == "done", lines[-1]
    reads = [o for o in lines if o["phase"] == "read"]
    writes = [o for o in lines if o["phase"] == "write"]
    assert len(lines) == len(reads) + len(writes) + 1, [o["phase"] for o in lines]
    # the last "read" of each table (in archive order) is the file's row count
    last = {}
    order = []
    for o in reads:
        if o["item"] not in last:
            order.append(o["item"])
        last[o["item"]] = o["done"]
    assert len(order) == len(files), (order, files)
    for table, f in zip(order, files):  # the tables are read in the archive's order
        assert last[table] == f["rows"], (table, last[table], f)
    assert last["executions"] == 3, last
    assert [(o["item"], o["done"], o["total"]) for o in writes] == \
        [(f["name"], i + 1, len(files)) for i, f in enumerate(files)]


@test
def export_at_a_terminal_rewrites_one_line_and_clears_it():
    t = busy("pg")
    master, slave = pty.openpty()
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.Popen([CTL, "-c", CONF, "tenant", "export", t["slug"], "--out",
                              os.path.join(d, "a.tar")], stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        tty = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            tty += chunk
        out, _ = p.communicate(timeout=60)
    os.close(master)
    assert p.returncode == 0, tty
    assert json.loads(out)["tenant"] == t["slug"]
    text = tty.decode()
    assert "\r\x1b[Ktenant export: read " in text, repr(text)
    assert "\r\x1b[Ktenant export: write " in text, repr(text)
    assert text.endswith("\r\x1b[K"), repr(text[-40:])
    assert "\n" not in text and "{" not in text, repr(text)


@test
def move_reports_each_step_and_its_rows():
    t = busy("pgm")
    n = int(db_exec("SELECT COUNT(*) FROM executions WHERE tenant_id = %d" % t["id"],
                    tenant=t)[0][0])
    rc, out, err = ctl_raw("tenant", "move", t["slug"], "--to", "dedicated", "--drain-seconds",
                           "0", "--progress")
    assert rc == 0, err
    report = json.loads(out)
    lines = progress_lines(err, "tenant move")
    phases = [o["phase"] for o in lines]
    for p in ("wait", "provision", "copy", "verify", "switch", "late", "delete", "done"):
        assert p in phases, (p, phases)
    assert phases.index("wait") < phases.index("copy") < phases.index("switch") \
        < phases.index("delete") and phases[-1] == "done", phases
    copied = {}  # rows added per table, over every copy round (one report per table and
    # round on one server; across servers the page reports would be running totals)
    for o in lines:
        if o["phase"] == "copy":
            copied[o["item"]] = copied.get(o["item"], 0) + o["done"]
    assert copied["executions"] == n, (copied, n)
    assert sum(copied.values()) == report["copied"], (copied, report)
    verify = [o for o in lines if o["phase"] == "verify"]
    assert [o["done"] for o in verify] == list(range(1, len(report["tables"]) + 1)), verify
    assert all(o["total"] == len(report["tables"]) for o in verify), verify
    deleted = sum(o["done"] for o in lines if o["phase"] == "delete")
    assert deleted == report["deleted"], (deleted, report)
    # and back: the dedicated database goes in one step
    rc, out, err = ctl_raw("tenant", "move", t["slug"], "--to", "shared", "--drain-seconds", "0",
                           "--progress")
    assert rc == 0, err
    lines = progress_lines(err, "tenant move")
    back = [o for o in lines if o["phase"] == "delete"]
    assert [o["item"] for o in back] == ["database"], back
    assert back[0]["done"] == json.loads(out)["deleted"], (back, out)


@test
def a_failed_move_ends_its_progress_with_failed():
    t = new_tenant("pgf", isolation="shared")
    rc, out, err = ctl_raw("tenant", "move", t["slug"], "--to", "shared", "--progress")
    assert rc == 1 and out == "", (rc, out)
    assert "already shared" in err, err
    lines = progress_lines(err, "tenant move")
    assert lines[-1]["phase"] == "failed", lines


@test
def purge_and_verify_isolation_report_per_tenant():
    t = busy("pgp")
    ctl("limits", "set", "--tenant", t["slug"], "retention_days", "1")
    rc, out, err = ctl_raw("purge", "--tenant", t["slug"], "--progress")
    assert rc == 0, err
    assert json.loads(out)["failures"] == 0
    lines = progress_lines(err, "purge")
    item = "tenant %d" % t["id"]
    # the executions are younger than a day: one batch, nothing deleted
    assert [(o["phase"], o["item"], o["done"], o["total"]) for o in lines] == \
        [("tenant", item, 1, 1), ("purge", item, 0, None), ("done", None, 0, None)], lines

    rc, out, err = ctl_raw("verify-isolation", "--tenant", t["slug"], "--progress")
    assert rc == 0, err
    result = json.loads(out)
    lines = progress_lines(err, "verify-isolation")
    checks = [o for o in lines if o["phase"] == "check"]
    assert checks and [o["done"] for o in checks] == list(range(1, checks[0]["total"] + 1))
    names = {c["check"] for c in result["checks"]}
    assert all(o["item"] in names for o in checks), (checks, names)
    assert [(o["item"], o["done"], o["total"]) for o in lines if o["phase"] == "credentials"] \
        == [("tenant %d" % t["id"], 1, 1)]
    assert lines[-1]["phase"] == "done"
    rc, out, err = ctl_raw("verify-isolation", "--tenant", t["slug"])
    assert rc == 0 and err == "", err


@test
def purge_of_every_tenant_counts_them_and_housekeeps():
    new_tenant("pga", isolation="shared")
    n = len(ctl("tenant", "list"))
    rc, out, err = ctl_raw("purge", "--progress")
    assert rc == 0, err
    assert json.loads(out)["failures"] == 0
    lines = progress_lines(err, "purge")
    tenants = [o for o in lines if o["phase"] == "tenant"]
    assert [(o["done"], o["total"]) for o in tenants] == [(i + 1, n) for i in range(n)], \
        (n, tenants[:3])
    assert [o["phase"] for o in lines][-2:] == ["housekeeping", "done"], lines[-3:]


@test
def progress_is_refused_where_it_means_nothing():
    rc, _, err = ctl("tenant", "list", "--progress", check=False)
    assert rc == 2 and "progress" in err, (rc, err)


if __name__ == "__main__":
    run()
