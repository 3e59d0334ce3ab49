"""A minimal FastCGI client for tests that talk to agenthost processes directly
(several processes or instances on their own sockets, no web server between).

request() sends one request and returns (status, headers, body); open_stream()
returns the socket after sending, for tests that read part of a stream or kill
a process with the request in flight.
"""
import json
import os
import socket
import subprocess
import tempfile
import time

FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def _rec(t, content, rid=1):
    pad = (8 - len(content) % 8) % 8
    return bytes([1, t, rid >> 8, rid & 255, len(content) >> 8, len(content) & 255, pad, 0]) \
        + content + b"\0" * pad


def _nv(k, v):
    k, v = k.encode(), v.encode()

    def enc(n):
        return bytes([n]) if n < 128 else (n | 0x80000000).to_bytes(4, "big")
    return enc(len(k)) + enc(len(v)) + k + v


def open_stream(sock_path, method, uri, body=None, key=None, headers=None, timeout=30,
                params=None):
    """Connect, send one request, return the socket (read with read_response).
    params: extra or replaced FastCGI params (REMOTE_ADDR ...)."""
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    extra = params
    params = {"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": uri.partition("?")[2],
              "CONTENT_LENGTH": str(len(data)), "REMOTE_ADDR": "127.0.0.1",
              "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
    if data:
        params["CONTENT_TYPE"] = "application/json"
    if key:
        params["HTTP_AUTHORIZATION"] = "Bearer " + key
    for k, v in (headers or {}).items():
        params["HTTP_" + k.upper().replace("-", "_")] = v
    params.update(extra or {})
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock_path)
    out = _rec(FCGI_BEGIN, bytes([0, 1, 0, 0, 0, 0, 0, 0]))
    ps = b"".join(_nv(k, v) for k, v in params.items())
    for i in range(0, len(ps), 65535):
        out += _rec(FCGI_PARAMS, ps[i:i + 65535])
    out += _rec(FCGI_PARAMS, b"")
    for i in range(0, len(data), 65535):
        out += _rec(FCGI_STDIN, data[i:i + 65535])
    out += _rec(FCGI_STDIN, b"")
    s.sendall(out)
    return s


def read_response(s):
    """Read records until END_REQUEST; return (status, headers, body text or JSON)."""
    buf, stdout = b"", b""
    while True:
        while len(buf) < 8:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the end of the response")
            buf += chunk
        t, clen, plen = buf[1], (buf[4] << 8) | buf[5], buf[6]
        while len(buf) < 8 + clen + plen:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a record")
            buf += chunk
        content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
        if t == FCGI_STDOUT:
            stdout += content
        elif t == FCGI_END:
            break
    s.close()
    head, _, body = stdout.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs.get("status", "200").split()[0])
    text = body.decode("utf-8", "replace")
    if "json" in hdrs.get("content-type", ""):
        try:
            return status, hdrs, json.loads(text)
        except ValueError:
            pass
    return status, hdrs, text


def request(sock_path, method, uri, body=None, key=None, headers=None, timeout=30, params=None):
    return read_response(open_stream(sock_path, method, uri, body, key, headers, timeout, params))


def conf_with(base_conf, extra):
    """A copy of a configuration file with extra (key, value) pairs (which replace any there)."""
    base = open(base_conf).read() if base_conf else ""
    keys = {k for k, _ in extra}
    lines = [l for l in base.splitlines() if l.split("=")[0].strip() not in keys]
    fd, path = tempfile.mkstemp(prefix="ah-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines + ["%s = %s" % kv for kv in extra]) + "\n")
    return path


def start_instance(binary, base_conf, extra=(), procs=1):
    """Start agenthost on a fresh unix socket: one process that opens the socket
    itself, or, with procs > 1, that many processes sharing it under spawn-fcgi.
    Returns (handle, socket path); stop(handle) ends them."""
    d = tempfile.mkdtemp(prefix="ah-inst-")
    sock = os.path.join(d, "ah.sock")
    log = open(os.path.join(d, "stderr.log"), "wb")
    if procs == 1:
        conf = conf_with(base_conf, [("listen", sock)] + list(extra))
        p = subprocess.Popen([binary, "-c", conf], stderr=log)
        handle = {"pids": [p.pid], "popen": [p], "dir": d}
    else:
        conf = conf_with(base_conf, [("listen", "")] + list(extra))
        pidfile = os.path.join(d, "pids")
        subprocess.run(["spawn-fcgi", "-s", sock, "-F", str(procs), "-P", pidfile, "--",
                        "/bin/sh", "-c", 'exec "$0" -c "$1" 2>>"$2"', binary, conf,
                        os.path.join(d, "children.log")], check=True, stdout=subprocess.DEVNULL,
                       stderr=log)
        handle = {"pids": [], "popen": [], "dir": d, "pidfile": pidfile}
    deadline = time.monotonic() + 10
    while True:
        try:
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            c.close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("agenthost did not come up on " + sock)
            time.sleep(0.05)
    if procs > 1:
        deadline = time.monotonic() + 5
        while True:
            pids = [int(x) for x in open(pidfile).read().split()] if os.path.exists(pidfile) else []
            if len(pids) >= procs or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        handle["pids"] = pids
    return handle, sock


def stop(handle, sig=15):
    for pid in handle["pids"]:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    for p in handle["popen"]:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
    deadline = time.monotonic() + 5
    for pid in handle["pids"]:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().split()[2] == "Z":
                        break
                time.sleep(0.05)
            except (ProcessLookupError, FileNotFoundError):
                break
