"""harness: a tiny test framework for agenthost's integration tests (stdlib only).

A test file registers functions with @test and calls run() at the end:

    from harness import test, run, api

    @test
    def healthz_answers():
        status, headers, body = api("GET", "/healthz")
        assert status == 200, (status, body)

    run()

run() calls the tests in the order they were defined, prints "ok - name",
"skip - name: reason" or "FAIL - name: reason" for each, and ends with
"RESULT passed=N failed=M skipped=K" (tests/run reads that line). Arguments
on the command line select tests by substring of their names.

DESIGN
The environment comes from tests/run through variables: AGENTHOST_URL (lighttpd,
mounted at "/"), AGENTHOST_URL_NGINX and AGENTHOST_URL_APACHE (nginx and
Apache, mounted under "/gw"; Apache's is empty when it is not installed, or
when it cannot reach agenthost: then AGENTHOST_APACHE_ERROR says why),
AGENTHOST_CTL and AGENTHOST_CONF (the admin CLI and its configuration),
FAKE_UPSTREAM_URL, AGENTHOST_TEST_DB_SOCKET, AGENTHOST_LOG_DIR, and
AGENTHOST_TEST_ISOLATION_PASS (shared, dedicated or mixed: which default isolation
mode new tenants get in this pass; empty when run by hand). HTTP goes
through http.client, not urllib, so that every status (4xx, 5xx) comes back
as a value instead of an exception, and streamed bodies can be read as they
arrive.
"""

import http.client
import json
import os
import random
import string
import subprocess
import sys
import time
import traceback
import urllib.parse

BASE = os.environ.get("AGENTHOST_URL", "http://127.0.0.1:8080")
BASE_NGINX = os.environ.get("AGENTHOST_URL_NGINX", "")
BASE_APACHE = os.environ.get("AGENTHOST_URL_APACHE", "")
APACHE_ERROR = os.environ.get("AGENTHOST_APACHE_ERROR", "")
CTL = os.environ.get("AGENTHOST_CTL", "src/agenthostctl")
CONF = os.environ.get("AGENTHOST_CONF", "")
FAKE_URL = os.environ.get("FAKE_UPSTREAM_URL", "")
DB_SOCKET = os.environ.get("AGENTHOST_TEST_DB_SOCKET", "")
LOG_DIR = os.environ.get("AGENTHOST_LOG_DIR", "")
ISOLATION_PASS = os.environ.get("AGENTHOST_TEST_ISOLATION_PASS", "")

_tests = []


class Skip(Exception):
    """Raised (through skip()) to mark a test as skipped rather than failed."""


def test(fn):
    """Register fn as a test; tests run in the order they are defined."""
    _tests.append(fn)
    return fn


def skip(reason):
    """Skip the running test with a reason."""
    raise Skip(reason)


def _conn(base, timeout):
    u = urllib.parse.urlsplit(base)
    if u.scheme != "http" or not u.hostname:
        raise ValueError("base URL must be http://host:port[/prefix], got %r" % base)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout), u.path.rstrip("/")


def _request(method, path, body, key, headers, base, timeout):
    conn, prefix = _conn(base or BASE, timeout)
    hdrs = {}
    data = None
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        # The API takes JSON only (415 otherwise): raw bodies are sent as JSON too, unless
        # the caller names another Content-Type in headers.
        hdrs["Content-Type"] = "application/json"
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    hdrs.update(headers or {})
    conn.request(method, prefix + path, body=data, headers=hdrs)
    return conn, conn.getresponse()


def _headers(resp):
    out = {}
    for k, v in resp.getheaders():
        k = k.lower()
        out[k] = out[k] + ", " + v if k in out else v
    return out


def api(method, path, body=None, key=None, headers=None, base=None, raw=False, timeout=30):
    """Send one request and read the whole response.

    body: a dict/list (sent as JSON), str or bytes (sent as is), or None.
    key: an API key sent as "Authorization: Bearer <key>".
    base: another base URL (e.g. BASE_NGINX); path is appended to it.
    Returns (status, headers, body): headers is a dict with lower-case names,
    body the parsed JSON when the response is JSON (and raw is False), else text.
    """
    conn, resp = _request(method, path, body, key, headers, base, timeout)
    try:
        data = resp.read()
        hdrs = _headers(resp)
    finally:
        conn.close()
    text = data.decode("utf-8", errors="replace")
    if not raw and "json" in hdrs.get("content-type", ""):
        try:
            return resp.status, hdrs, json.loads(text)
        except ValueError:
            pass
    return resp.status, hdrs, text


def sse_full(path, body, key=None, headers=None, base=None, method="POST", timeout=60):
    """Send a request whose answer is an event stream.

    Returns (status, headers, events): events is a list of (event, data) where
    event is the "event:" field or None, data the joined "data:" lines; comment
    lines (": ping") are dropped. When the answer is not an event stream,
    events is the body as api() would return it.
    """
    conn, resp = _request(method, path, body, key, headers, base, timeout)
    try:
        hdrs = _headers(resp)
        if "text/event-stream" not in hdrs.get("content-type", ""):
            text = resp.read().decode("utf-8", errors="replace")
            try:
                return resp.status, hdrs, json.loads(text)
            except ValueError:
                return resp.status, hdrs, text
        events = []
        event, data = None, []
        for raw_line in resp:
            line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
            if line == "":
                if data or event is not None:
                    events.append((event, "\n".join(data)))
                event, data = None, []
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
        if data or event is not None:
            events.append((event, "\n".join(data)))
        return resp.status, hdrs, events
    finally:
        conn.close()


def sse(path, body, key=None, headers=None, base=None):
    """POST body to path and return the stream's events as a list of (event, data).

    Fails the test (AssertionError) when the answer is not a 200 event stream.
    """
    status, hdrs, events = sse_full(path, body, key=key, headers=headers, base=base)
    assert status == 200 and isinstance(events, list), \
        "expected a 200 event stream, got %s: %s" % (status, events)
    return events


def ctl(*args, stdin=None, check=True):
    """Run agenthostctl with args; return its stdout parsed as JSON (None when empty).

    stdin (str) is passed on standard input, e.g. a provider key. A non-zero
    exit raises RuntimeError with stderr (the secret on stdin is never quoted).
    With check=False, returns (exit status, parsed stdout or text, stderr) instead.
    """
    cmd = [CTL] + (["-c", CONF] if CONF else []) + [str(a) for a in args]
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    out = p.stdout.strip()
    try:
        parsed = json.loads(out) if out else None
    except ValueError:
        parsed = out
    if not check:
        return p.returncode, parsed, p.stderr.strip()
    if p.returncode != 0:
        raise RuntimeError("agenthostctl %s: exit %d: %s"
                           % (" ".join(str(a) for a in args), p.returncode, p.stderr.strip()))
    return parsed


def rand_suffix(n=8):
    """A random lower-case suffix for unique names."""
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def new_tenant(prefix="t", plan="free", isolation=None):
    """Create a tenant with a random slug and an API key for it.

    isolation ("shared" or "dedicated") is passed as --isolation; without it the tenant
    gets the default of its plan (the isolation_mode limit), as in every test pass.
    Returns {"slug", "id", "key", "key_id", "prefix"}.
    """
    slug = "%s-%s" % (prefix, rand_suffix())
    iso = ["--isolation", isolation] if isolation else []
    t = ctl("tenant", "create", slug, "--name", "Test " + slug, "--plan", plan, *iso)
    k = ctl("key", "create", "--tenant", slug, "--name", "test")
    return {"slug": slug, "id": t["id"], "key": k["key"], "key_id": k["id"],
            "prefix": k.get("prefix")}


def fake_last():
    """The fake upstream's record of the last request it received (GET /_last)."""
    if not FAKE_URL:
        skip("no fake upstream (FAKE_UPSTREAM_URL is empty)")
    status, _, body = api("GET", "/_last", base=FAKE_URL)
    assert status == 200, "fake upstream /_last: %s %s" % (status, body)
    return body


def assert_error(res, status, reason_code=None):
    """Check that res (from api()) is an error of status with the agenthost error shape.

    Returns the error object.
    """
    st, hdrs, body = res
    assert st == status, "expected status %d, got %d: %s" % (status, st, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), \
        "expected an error object, got %r" % (body,)
    err = body["error"]
    for field in ("message", "type", "reason_code"):
        assert field in err, "error without %s: %r" % (field, err)
    if reason_code is not None:
        assert err["reason_code"] == reason_code, \
            "expected reason_code %s, got %s (%s)" % (reason_code, err["reason_code"],
                                                      err.get("message"))
    return err


def wait_until(fn, timeout=5.0, interval=0.05):
    """Call fn until it returns a true value or timeout seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def _reason(exc):
    """One line saying why a test failed: the message, else the failing source line."""
    msg = str(exc)
    if msg:
        return "%s: %s" % (type(exc).__name__, msg) if not isinstance(exc, AssertionError) \
            else msg
    tb = traceback.extract_tb(exc.__traceback__)
    where = tb[-1] if tb else None
    if where:
        return "%s at line %d: %s" % (type(exc).__name__, where.lineno, where.line)
    return type(exc).__name__


def run():
    """Run the registered tests (filtered by substrings in sys.argv), print the
    outcome of each and the RESULT line, and exit 0 when none failed."""
    wanted = sys.argv[1:]
    passed = failed = skipped = 0
    for fn in _tests:
        name = fn.__name__
        if wanted and not any(w in name for w in wanted):
            continue
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("skip - %s: %s" % (name, e), flush=True)
            continue
        except Exception as e:  # any error in a test is that test's failure
            failed += 1
            print("FAIL - %s: %s" % (name, _reason(e)), flush=True)
            if os.environ.get("AGENTHOST_TEST_VERBOSE") == "1":
                traceback.print_exc(file=sys.stdout)
            continue
        passed += 1
        print("ok - %s" % name, flush=True)
    print("RESULT passed=%d failed=%d skipped=%d" % (passed, failed, skipped), flush=True)
    sys.exit(1 if failed else 0)
