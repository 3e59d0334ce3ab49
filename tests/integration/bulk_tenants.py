"""A thousand dedicated tenants: each with its own database and account, created 4 at a
time, then one chat each over lighttpd and nginx, with MariaDB's connections sampled.

tests/run runs this once, after every isolation pass (the "bulk" step): its thousand
databases and accounts stay, and a run made after them pays for them in every dump of all
databases, purge of all tenants and check over all tenants (test_levels_rest and
test_tenantops took 5-10 times longer in the passes that followed it). Not a test_ file
for that reason; run it by hand with tests/run bulk.
"""
import concurrent.futures
import os
import threading
import time

from apihelp import DB_NAME, chat_body, db_exec
from harness import BASE, BASE_NGINX, api, ctl, rand_suffix, run, test


def own_db_name(t):
    return "%s_t%d" % (DB_NAME, t["id"])


def count(database, table, t):
    return int(db_exec("SELECT COUNT(*) FROM `%s`.%s WHERE tenant_id = %d"
                       % (database, table, t["id"]))[0][0])


def status_var(name):
    return int(db_exec("SHOW GLOBAL STATUS LIKE '%s'" % name)[0][1])


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


@test
def a_thousand_dedicated_tenants():
    n = int(os.environ.get("AGENTHOST_TEST_BULK_TENANTS", "1000"))
    prefix = "bulk-" + rand_suffix(5)
    max_conn = int(db_exec("SELECT @@max_connections")[0][0])
    refused0 = status_var("Connection_errors_max_connections")

    def make(i):
        t0 = time.monotonic()
        slug = "%s-%04d" % (prefix, i)
        out = ctl("tenant", "create", slug, "--isolation", "dedicated", "--key", "k")
        return {"slug": slug, "id": out["id"], "key": out["api_key"]["key"]}, \
            time.monotonic() - t0

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        made = list(pool.map(make, range(n)))
    create_s = time.monotonic() - t0
    tenants = [m[0] for m in made]
    each = [m[1] for m in made]
    print("BULK created %d dedicated tenants in %.1f s with 4 processes at a time"
          " (each: p50 %.0f ms, p95 %.0f ms, max %.0f ms)"
          % (n, create_s, percentile(each, .5) * 1000, percentile(each, .95) * 1000,
             max(each) * 1000))
    dbs = int(db_exec("SELECT COUNT(*) FROM information_schema.SCHEMATA"
                      " WHERE SCHEMA_NAME LIKE '%s\\_t%%'" % DB_NAME)[0][0])
    assert dbs >= n, (dbs, n)

    # one chat per tenant, over lighttpd and nginx, while sampling the connections
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], status_var("Threads_connected"))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    bases = [BASE, BASE_NGINX or BASE]

    def call(i):
        c0 = time.monotonic()
        st, _, b = api("POST", "/v1/chat/completions", chat_body("bulk %d" % i),
                       key=tenants[i]["key"], base=bases[i % 2], timeout=60)
        return st, b, time.monotonic() - c0

    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            res = list(pool.map(call, range(n)))
    finally:
        stop.set()
        sampler.join()
    chat_s = time.monotonic() - t0
    lat = [x[2] for x in res]
    bad = [(tenants[i]["slug"], x[0], x[1]) for i, x in enumerate(res) if x[0] != 200]
    max_used = status_var("Max_used_connections")
    now = status_var("Threads_connected")
    refused = status_var("Connection_errors_max_connections") - refused0
    print("BULK %d chats (one per tenant, 8 clients, lighttpd and nginx) in %.1f s:"
          " p50 %.0f ms, p95 %.0f ms, max %.0f ms; %d not 200"
          % (n, chat_s, percentile(lat, .5) * 1000, percentile(lat, .95) * 1000,
             max(lat) * 1000, len(bad)))
    print("BULK MariaDB connections: max_connections %d, Max_used_connections %d,"
          " Threads_connected peak %d (sampled), now %d, refused for max_connections %d"
          % (max_conn, max_used, peak[0], now, refused))
    assert not bad, "%d chats failed, e.g. %r" % (len(bad), bad[:3])
    assert refused == 0, refused
    assert max_used < max_conn, (max_used, max_conn)
    # each execution is in its tenant's database
    for t in tenants[:: max(1, n // 50)]:
        assert count(own_db_name(t), "executions", t) == 1, t["slug"]
        assert count(DB_NAME, "executions", t) == 0, t["slug"]


run()
