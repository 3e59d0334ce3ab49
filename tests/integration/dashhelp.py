"""Helpers for the dashboard's HTTP tests (not a test file itself).

Dash is a minimal browser: it keeps cookies, follows nothing by itself,
and finds the CSRF token in the last page it read so that post() can send
it like a form would. new_admin() creates a dashboard user through
agenthostctl with a random password.
"""
import html
import http.client
import re
import urllib.parse

import harness
from harness import ctl, rand_suffix


def new_admin(role="operator", tenant=None, prefix="adm"):
    """A new dashboard user; returns (name, password)."""
    name = "%s-%s" % (prefix, rand_suffix())
    pw = "pw-" + rand_suffix(16)
    args = ["admin", "add", name, "--role", role]
    if tenant is not None:
        args += ["--tenant", str(tenant)]
    ctl(*args, stdin=pw + "\n")
    return name, pw


class Dash:
    def __init__(self, base=None, headers=None):
        self.base = base or harness.BASE
        self.cookies = {}
        self.csrf = None
        self.headers = headers or {}

    def request(self, method, path, fields=None, body=None, headers=None):
        u = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        hdrs = dict(self.headers)
        hdrs.update(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        data = body
        if fields is not None:
            data = urllib.parse.urlencode(fields).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, u.path.rstrip("/") + path, body=data, headers=hdrs)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", errors="replace")
        headers = {}
        set_cookies = []
        for k, v in resp.getheaders():
            k = k.lower()
            if k == "set-cookie":
                set_cookies.append(v)
            headers[k] = headers[k] + ", " + v if k in headers else v
        conn.close()
        for c in set_cookies:
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in c or value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        headers["_set_cookie"] = set_cookies
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', text)
        if m:
            self.csrf = m.group(1)
        return resp.status, headers, text

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, fields=None, csrf=True):
        fields = dict(fields or {})
        if csrf and "csrf" not in fields and self.csrf:
            fields["csrf"] = self.csrf
        return self.request("POST", path, fields=fields)

    def login(self, name, password, expect=303):
        self.get("/admin/login")
        st, h, body = self.post("/admin/login", {"name": name, "password": password})
        assert st == expect, (st, body[:500])
        if st == 303:
            st, h, body = self.get("/admin")
            assert st == 200, (st, body[:300])
        return st, h, body


def text_of(page):
    """The visible text of a page, roughly (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))
