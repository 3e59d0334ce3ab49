"""The host itself: plain CGI mode, SIGTERM shutdown within a second (also
with a stream in flight), connections that end before a request closed once,
configuration errors that name the key, plugin ABI refusal at start.

These start their own agenthost processes from the test configuration
(AGENTHOST_CONF), on their own sockets, next to the servers tests/run runs.
"""
import json
import os
import socket
import subprocess
import tempfile
import time

import harness
from harness import test, run, ctl

BIN = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def conf_with(extra):
    """A copy of the test configuration with extra lines (later keys win)."""
    base = open(harness.CONF).read() if harness.CONF else ""
    lines = [l for l in base.splitlines()
             if l.split("=")[0].strip() not in {k for k, _ in extra}]
    fd, path = tempfile.mkstemp(prefix="ah-host-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines + ["%s = %s" % kv for kv in extra]) + "\n")
    return path


def cgi(env_extra, body=b""):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AGENTHOST_CONF": conf_with([("listen", "")]),
           "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
           "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body))}
    env.update(env_extra)
    p = subprocess.run([BIN], input=body, env=env, capture_output=True, timeout=30)
    os.unlink(env["AGENTHOST_CONF"])
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return p.returncode, headers, payload


@test
def plain_cgi_answers_one_request():
    rc, h, body = cgi({"REQUEST_METHOD": "GET", "REQUEST_URI": "/healthz"})
    assert rc == 0 and h.get("status", "").startswith("200"), (rc, h, body)
    assert json.loads(body) == {"status": "ok"} and h.get("x-request-id")


@test
def plain_cgi_chat_completion_with_key():
    t = harness.new_tenant("cgi")
    req = json.dumps({"model": "mock-1", "messages": [{"role": "user", "content": "via cgi"}]})
    rc, h, body = cgi({"REQUEST_METHOD": "POST", "REQUEST_URI": "/v1/chat/completions",
                       "HTTP_AUTHORIZATION": "Bearer " + t["key"],
                       "CONTENT_TYPE": "application/json"}, req.encode())
    assert h.get("status", "").startswith("200"), (h, body)
    assert "via cgi" in json.loads(body)["choices"][0]["message"]["content"]
    rc, h, body = cgi({"REQUEST_METHOD": "GET", "REQUEST_URI": "/v1/models"})
    assert h.get("status", "").startswith("401"), (h, body)


def start_server(extra=()):
    d = tempfile.mkdtemp(prefix="ah-host-")
    sock = os.path.join(d, "ah.sock")
    conf = conf_with([("listen", sock), ("threads", "4")] + list(extra))
    log = open(os.path.join(d, "stderr.log"), "wb")
    p = subprocess.Popen([BIN, "-c", conf], stderr=log)
    deadline = time.monotonic() + 5
    while not os.path.exists(sock):
        assert p.poll() is None, "agenthost exited at start"
        assert time.monotonic() < deadline, "no socket"
        time.sleep(0.02)
    return p, sock, d


def fcgi_request(sock_path, params, body=b""):
    """Send one FastCGI request on a unix socket (enough of the protocol for tests)."""
    def rec(t, content, rid=1):
        pad = (8 - len(content) % 8) % 8
        return bytes([1, t, rid >> 8, rid & 255, len(content) >> 8, len(content) & 255, pad, 0]) \
            + content + b"\0" * pad

    def nv(k, v):
        k, v = k.encode(), v.encode()
        enc = lambda n: bytes([n]) if n < 128 else (n | 0x80000000).to_bytes(4, "big")
        return enc(len(k)) + enc(len(v)) + k + v

    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(rec(1, bytes([0, 1, 0, 0, 0, 0, 0, 0])))
    ps = b"".join(nv(k, v) for k, v in params.items())
    s.sendall(rec(4, ps) + rec(4, b""))
    if body:
        s.sendall(rec(5, body))
    s.sendall(rec(5, b""))
    return s


@test
def sigterm_exits_within_a_second_when_idle():
    p, sock, _ = start_server()
    time.sleep(0.2)
    t0 = time.monotonic()
    p.terminate()
    p.wait(timeout=5)
    took = time.monotonic() - t0
    assert took < 1.0, "took %.2fs" % took
    assert p.returncode == 0, p.returncode


@test
def sigterm_exits_within_a_second_with_a_stream_in_flight():
    t = harness.new_tenant("term")
    p, sock, _ = start_server([("mock_stream_delay_ms", "200")])
    body = json.dumps({"model": "mock-1", "stream": True,
                       "messages": [{"role": "user", "content": "[mock:words=500] long"}]}).encode()
    s = fcgi_request(sock, {"REQUEST_METHOD": "POST", "REQUEST_URI": "/v1/chat/completions",
                            "HTTP_AUTHORIZATION": "Bearer " + t["key"],
                            "CONTENT_TYPE": "application/json",
                            "CONTENT_LENGTH": str(len(body))}, body)
    s.settimeout(5)
    got = s.recv(4096)
    assert b"text/event-stream" in got, got[:200]
    t0 = time.monotonic()
    p.terminate()
    p.wait(timeout=5)
    took = time.monotonic() - t0
    s.close()
    assert took < 1.0, "took %.2fs" % took


@test
def connections_ending_before_a_request_close_nothing_else():
    """A connection that closes before sending a request, or sends no FastCGI at all (a
    prober, a confused web server), is closed exactly once. libfcgi closes such a connection
    itself; closing its number again closed whatever another thread had opened under it
    meanwhile (the next request's connection, or a database connection being made: "Can't
    connect to server (9)"). Every close the process makes is traced (strace): none may
    fail with EBADF, and requests between the probes are all answered."""
    import fcgi_client as fc
    t = harness.new_tenant("probe")
    inst, sock = fc.start_instance(BIN, harness.CONF, [("threads", "2")])
    trace = os.path.join(inst["dir"], "close.trace")
    st = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=close", "-o", trace,
                           "-p", str(inst["pids"][0])], stderr=subprocess.PIPE)
    try:
        assert harness.wait_until(lambda: os.path.exists(trace), timeout=5), "strace"
        time.sleep(0.3)
        for i in range(20):
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            if i % 2:
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            c.close()
            code, _, b = fc.request(sock, "GET", "/v1/models", key=t["key"], timeout=10)
            assert code == 200, (i, code, b)
        time.sleep(0.2)
    finally:
        st.terminate()
        err = st.communicate(timeout=10)[1]
        fc.stop(inst)
    closes = open(trace).read().splitlines()
    assert len(closes) >= 20, (err, closes[:5])
    twice = [l for l in closes if "EBADF" in l]
    assert not twice, "a closed descriptor closed again: %s" % twice[:3]


@test
def bad_config_value_names_the_key():
    for extra, key in ((("threads", "0"),), "threads"), ((("max_body_bytes", "lots"),), "max_body_bytes"), \
                      ((("no_such_setting", "1"),), "no_such_setting"), \
                      ((("provider.nosuch.base_url", "http://127.0.0.1:1"),), "provider.nosuch"), \
                      ((("trusted_proxies", "10.0.0.0/99"),), "trusted_proxies"), \
                      ((("budget_timezone", "Mars/Olympus"),), "budget_timezone"):
        conf = conf_with(list(extra))
        p = subprocess.run([BIN, "-c", conf, "-t"], capture_output=True, text=True, timeout=30)
        os.unlink(conf)
        assert p.returncode != 0 and key in p.stderr, (extra, p.returncode, p.stderr)
    conf = conf_with([])
    p = subprocess.run([BIN, "-c", conf, "-t"], capture_output=True, text=True, timeout=30)
    os.unlink(conf)
    assert p.returncode == 0, p.stderr


@test
def plugin_of_wrong_abi_is_refused_at_start():
    d = tempfile.mkdtemp(prefix="ah-plugin-")
    src = os.path.join(TOP, "tests", "plugins", "example_provider.c")
    good, bad = os.path.join(d, "good.so"), os.path.join(d, "bad.so")
    inc = ["-I", os.path.join(TOP, "src")]
    built = os.path.join(TOP, "tests", "plugins", "echo.so")  # made by `make check`
    if os.path.exists(built):
        good = built
    else:
        subprocess.run(["cc", "-shared", "-fPIC"] + inc + [src, "-o", good], check=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-DWRONG_ABI"] + inc + [src, "-o", bad], check=True)
    conf = conf_with([("plugins", bad)])
    p = subprocess.run([BIN, "-c", conf, "-t"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "ABI" in p.stderr and bad in p.stderr, p.stderr
    conf = conf_with([("plugins", good)])
    p = subprocess.run([BIN, "-c", conf, "-t"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


if __name__ == "__main__":
    run()
