"""Dashboard accounts (issue 14): TOTP two-factor sign-in with a server-drawn QR code,
recovery codes, replay refusal, sign-in throttling that slows guessing without locking the
real user out, and the per-tenant dashboard policy (address allowlist, idle timeout, MFA
required). Codes are computed here from the secret in the otpauth URI shown at enrolment.
Failures come from X-Forwarded-For addresses (tests/run trusts 127.0.0.1), so they do not
count against 127.0.0.1 for the other tests."""
import base64
import hashlib
import hmac
import html
import os
import random
import re
import struct
import subprocess
import tempfile
import time
import urllib.parse

import harness
from apihelp import db_exec
from dashhelp import Dash, new_admin
from harness import ctl, new_tenant, run, test, wait_until


def totp(secret, offset=0):
    """The RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of the step now + offset."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time()) // 30 + offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def addr():
    """A random address to come from (TEST-NET-ish private range)."""
    return "10.%d.%d.%d" % (random.randint(0, 255), random.randint(0, 255),
                            random.randint(1, 254))


def at(ip):
    return Dash(headers={"X-Forwarded-For": ip})


def wait_for_step_start():
    """Stay clear of a 30 s step boundary, so "this step" and "the next" mean what they say."""
    while int(time.time()) % 30 > 25:
        time.sleep(0.5)


def enrol(d):
    """Set up TOTP on the signed-in (or enrolment-due) Dash d; returns (secret, recovery codes)."""
    st, h, body = d.get("/admin/account")
    assert st == 200, (st, body[:300])
    assert "Two-factor sign-in is <strong>off</strong>" in body, body[:2000]
    wait_for_step_start()
    st, h, body = d.post("/admin/account/mfa")
    assert st == 200, (st, body[:300])
    m = re.search(r'value="(otpauth://totp/[^"]+)"', body)
    assert m, body[:2000]
    uri = html.unescape(m.group(1))
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
    assert q["issuer"] == ["agenthost"] and q["algorithm"] == ["SHA1"], q
    secret = q["secret"][0]
    # the QR code is inline SVG drawn on the server: no script, no image URL
    assert re.search(r'<svg class="qr"[^>]*viewBox="0 0 (\d+) \1"', body), body[:2000]
    assert re.search(r'<path d="(M\d+,\d+h1v1h-1z)+"', body)
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)  # no inline script
    st, h, body = d.post("/admin/account/mfa/confirm", {"code": totp(secret)})
    assert st == 200, (st, body[:500])
    codes = re.findall(r'<code class="secret">([A-Z2-7]{5}-[A-Z2-7]{5})</code>', body)
    assert len(codes) == 10 and len(set(codes)) == 10, body[:2000]
    return secret, codes


def password_step(d, name, pw, expect_location):
    d.get("/admin/login")
    st, h, body = d.post("/admin/login", {"name": name, "password": pw})
    assert st == 303, (st, body[:300])
    assert h["location"].endswith(expect_location), h["location"]
    st, h, body = d.get(expect_location)  # as a browser would: the next form and its token
    assert st == 200, (st, body[:300])


@test
def totp_enrolment_sign_in_and_replay():
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    secret, _ = enrol(d)
    # sealed at rest: 20 bytes of secret + 16 of MAC, and not the secret's bytes
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    rows = db_exec("SELECT HEX(totp_ct), totp_enabled FROM admin_users WHERE name = '%s'" % name)
    assert rows[0][1] == "1" and len(rows[0][0]) == 2 * 36, rows
    assert raw.hex().upper() not in rows[0][0]
    # never shown again: no URI on the account page, and no second enrolment
    st, h, body = d.get("/admin/account")
    assert st == 200 and "otpauth" not in body and "<strong>on</strong>" in body, body[:2000]
    st, h, body = d.post("/admin/account/mfa")
    assert st == 409 and "otpauth" not in body, st
    d.post("/admin/logout")

    d = Dash()
    password_step(d, name, pw, "/admin/login/code")
    half = d.cookies["ah_admin"]
    # a half-done sign-in reaches no page
    for path in ("/admin", "/admin/users", "/admin/tenants"):
        st, h, body = d.get(path)
        assert st == 303 and h["location"].endswith("/admin/login/code"), (path, st)
    st, h, body = d.get("/admin/login/code")
    assert st == 200 and 'name="code"' in body, st
    # the code used at enrolment is spent: refused within its window
    st, h, body = d.post("/admin/login/code", {"code": totp(secret)})
    assert st == 401 and "used already" in body, (st, body[:500])
    st, h, body = d.post("/admin/login/code", {"code": "000000" if totp(secret, 1) != "000000"
                                               else "111111"})
    assert st == 401 and "Wrong code" in body, st
    st, h, body = d.post("/admin/login/code", {"code": totp(secret, 1)})
    assert st == 303 and h["location"].endswith("/admin"), (st, body[:300])
    assert d.cookies["ah_admin"] != half  # a new token for the full session
    st, h, body = d.get("/admin")
    assert st == 200 and name in body, st
    rows = db_exec("SELECT reason_code FROM audit_log WHERE action = 'admin.login' AND"
                   " target = 'admin:%s' AND outcome = 'ok' ORDER BY id DESC LIMIT 1" % name)
    assert rows == [["mfa"]], rows
    # the same code again, on a new sign-in: replay refused
    d2 = Dash()
    password_step(d2, name, pw, "/admin/login/code")
    st, h, body = d2.post("/admin/login/code", {"code": totp(secret, 1)})
    assert st == 401 and "used already" in body, st
    # operators see who has it: the CLI's list and the users page
    users = {u["name"]: u for u in ctl("admin", "list")}
    assert users[name]["mfa"] is True, users[name]
    st, h, body = d.get("/admin/users")
    row = re.search(r"<tr>(?:(?!</tr>).)*?%s(?:(?!</tr>).)*</tr>" % re.escape(name), body, re.S)
    assert row and ">2FA<" in row.group(0), body[:3000]
    # the old half-done session was ended, not upgraded
    d3 = Dash()
    d3.cookies["ah_admin"] = half
    st, h, body = d3.get("/admin")
    assert st == 303 and h["location"].endswith("/admin/login"), st


@test
def recovery_codes_are_hashed_and_single_use():
    name, pw = new_admin("support")
    d = Dash()
    d.login(name, pw)
    secret, codes = enrol(d)
    rows = db_exec("SELECT HEX(r.code_hash) FROM admin_recovery_codes r JOIN admin_users u"
                   " ON u.id = r.user_id WHERE u.name = '%s'" % name)
    assert len(rows) == 10, rows
    stored = " ".join(r[0] for r in rows)
    for c in codes:
        assert c.replace("-", "").encode().hex().upper() not in stored
    d = Dash()
    password_step(d, name, pw, "/admin/login/code")
    st, h, body = d.post("/admin/login/code", {"code": codes[3].lower()})
    assert st == 303, (st, body[:300])
    st, h, body = d.get("/admin/account")
    assert "Unused recovery codes: 9" in body, body[:2000]
    d = Dash()
    password_step(d, name, pw, "/admin/login/code")
    st, h, body = d.post("/admin/login/code", {"code": codes[3]})
    assert st == 401, st
    # new codes need a current code; the old ones stop working
    d = Dash()
    password_step(d, name, pw, "/admin/login/code")
    st, h, body = d.post("/admin/login/code", {"code": codes[0]})
    assert st == 303, st
    d.get("/admin/account")
    st, h, body = d.post("/admin/account/recovery", {"code": "12345x"})
    assert st == 400, st
    wait_for_step_start()
    st, h, body = d.post("/admin/account/recovery", {"code": totp(secret, 1)})
    assert st == 200, (st, body[:500])
    fresh = re.findall(r'<code class="secret">([A-Z2-7]{5}-[A-Z2-7]{5})</code>', body)
    assert len(fresh) == 10
    d = Dash()
    password_step(d, name, pw, "/admin/login/code")
    st, h, body = d.post("/admin/login/code", {"code": codes[5]})
    assert st == 401, st
    st, h, body = d.post("/admin/login/code", {"code": fresh[5]})
    assert st == 303, st


@test
def forms_keep_csrf():
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    for path in ("/admin/account/mfa", "/admin/account/mfa/confirm", "/admin/account/recovery"):
        st, h, body = d.post(path, {"code": "123456"}, csrf=False)
        assert st == 403, (path, st)
    st, h, body = d.post("/admin/login/code", {"code": "123456"}, csrf=False)
    assert st == 403, st


@test
def tenant_requires_mfa_so_its_admin_enrols_after_the_password():
    t = new_tenant("mfa")
    ctl("limits", "set", "--tenant", t["slug"], "dashboard_mfa", "required")
    name, pw = new_admin("tenant_admin", tenant=t["id"])
    d = Dash()

    def sent_to_enrolment():
        d.cookies.clear()
        d.get("/admin/login")
        st, h, body = d.post("/admin/login", {"name": name, "password": pw})
        return st == 303 and h["location"].endswith("/admin/account")

    assert wait_until(sent_to_enrolment, timeout=5, interval=0.3)
    st, h, body = d.get("/admin/tenants/%d/keys" % t["id"])
    assert st == 303 and h["location"].endswith("/admin/account"), (st, h.get("location"))
    st, h, body = d.get("/admin/account")
    assert "requires two-factor sign-in" in body, body[:2000]
    before = d.cookies["ah_admin"]
    secret, _ = enrol(d)
    assert d.cookies["ah_admin"] != before  # enrolment finished the sign-in with a new token
    # the page that finished it carries the new session's CSRF token: its forms work
    st, h, body = d.post("/admin/logout")
    assert st == 303 and "ah_admin" not in d.cookies, st
    d = Dash()
    password_step(d, name, pw, "/admin/login/code")
    # a sign-in with its code due cannot use the account pages (nor any other)
    st, h, body = d.get("/admin/account")
    assert st == 303 and h["location"].endswith("/admin/login/code"), st
    wait_for_step_start()
    st, h, body = d.post("/admin/login/code", {"code": totp(secret, 1)})
    assert st == 303, (st, body[:300])
    st, h, body = d.get("/admin/tenants/%d/keys" % t["id"])
    assert st == 200, st
    # an operator clears it (lost device): the user is asked to enrol again
    ctl("admin", "mfa-reset", name)
    d = Dash()
    password_step(d, name, pw, "/admin/account")
    # the setting is a limit: bad values are refused clearly
    rc, out, err = ctl("limits", "set", "--tenant", t["slug"], "dashboard_mfa", "maybe",
                       check=False)
    assert rc != 0 and "dashboard_mfa" in err, (rc, err)


@test
def throttle_grows_per_account_and_address_and_says_when():
    name, pw = new_admin("operator")
    bad = at(addr())
    for _ in range(3):
        bad.login(name, "wrong-password-1", expect=401)
    st, h, body = bad.login(name, pw, expect=429)  # even the right password waits
    assert "Try again in 1 second." in body, body[:1500]
    assert h["retry-after"] == "1", h
    time.sleep(1.3)
    bad.login(name, "wrong-password-1", expect=401)
    st, h, body = bad.login(name, "wrong-password-1", expect=429)
    assert re.search(r"Try again in 2 seconds", body), body[:1500]
    # the real user from another address is not slowed at all
    t0 = time.time()
    at(addr()).login(name, pw, expect=303)
    assert time.time() - t0 < 1.5
    # not a lock: waiting is enough, from the same address too
    time.sleep(2.3)
    bad.login(name, pw, expect=303)
    rows = db_exec("SELECT COUNT(*) FROM audit_log WHERE action = 'admin.login' AND"
                   " target = 'admin:%s' AND reason_code = 'login_throttled'" % name)
    assert int(rows[0][0]) >= 2, rows


@test
def many_addresses_slow_the_real_user_by_a_small_bound_only():
    name, pw = new_admin("operator")
    for _ in range(10):
        at(addr()).login(name, "wrong-password-2", expect=401)
    real = at(addr())
    t0 = time.time()
    st, h, body = real.login(name, pw, expect=429)
    m = re.search(r"Try again in (\d+) seconds?", body)
    assert m and 1 <= int(m.group(1)) <= 2, body[:1500]
    while True:
        time.sleep(0.5)
        real.get("/admin/login")
        st, h, body = real.post("/admin/login", {"name": name, "password": pw})
        if st == 303:
            break
        assert st == 429 and time.time() - t0 < 4.0, (st, time.time() - t0)
    assert time.time() - t0 < 4.0


@test
def tenant_dashboard_allowlist_and_idle_timeout():
    t = new_tenant("pol")
    name, pw = new_admin("tenant_admin", tenant=t["id"])
    ctl("limits", "set", "--tenant", t["slug"], "dashboard_ip_allowlist", "10.77.0.0/16")
    ctl("limits", "set", "--tenant", t["slug"], "dashboard_session_idle_s", "120")

    def refused_outside():
        d = at("10.78.0.1")
        d.get("/admin/login")
        st, h, body = d.post("/admin/login", {"name": name, "password": pw})
        return st == 403 and "cannot be used from this address (10.78.0.1)" in body

    assert wait_until(refused_outside, timeout=5, interval=0.3)
    inside = at("10.77.3.4")
    inside.login(name, pw)
    st, h, body = inside.get("/admin/tenants/%d/keys" % t["id"])
    assert st == 200, st
    # the same session from outside the list is refused
    moved = at("192.0.2.9")
    moved.cookies = dict(inside.cookies)
    st, h, body = moved.get("/admin/tenants/%d/keys" % t["id"])
    assert st == 403, st
    rows = db_exec("SELECT COUNT(*) FROM audit_log WHERE action = 'admin.ip_denied' AND"
                   " target = 'admin:%s'" % name)
    assert int(rows[0][0]) >= 2, rows
    # idle for longer than the tenant's 120 s: signed out (an operator's 30 min still holds)
    op, oppw = new_admin("operator")
    opd = Dash()
    opd.login(op, oppw)
    db_exec("UPDATE admin_sessions s JOIN admin_users u ON u.id = s.user_id SET"
            " s.last_seen = s.last_seen - INTERVAL 150 SECOND WHERE u.name IN ('%s', '%s')"
            % (name, op))
    st, h, body = inside.get("/admin/tenants/%d/keys" % t["id"])
    assert st == 303 and h["location"].endswith("/admin/login"), st
    st, h, body = opd.get("/admin")
    assert st == 200, st
    rc, out, err = ctl("limits", "set", "--tenant", t["slug"], "dashboard_ip_allowlist",
                       "10.0.0.0/99", check=False)
    assert rc != 0 and "dashboard_ip_allowlist" in err, (rc, err)


@test
def verify_isolation_finds_an_unsealed_totp_secret():
    t = new_tenant("vtotp")
    name, pw = new_admin("tenant_admin", tenant=t["id"])
    rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
    found = {c["check"]: c["findings"] for c in out["checks"]}
    assert found["admin_totp_not_sealed"] == 0, found
    db_exec("UPDATE admin_users SET totp_ct = 'JBSWY3DPEHPK3PXP', totp_nonce = NULL,"
            " totp_enabled = 1 WHERE name = '%s'" % name)
    rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
    assert rc == 1, (rc, err)
    found = {c["check"]: c["findings"] for c in out["checks"]}
    assert found["admin_totp_not_sealed"] == 1, found
    # and such a row signs nobody in: the code step cannot open it
    d = Dash()
    password_step(d, name, pw, "/admin/login/code")
    st, h, body = d.post("/admin/login/code", {"code": "123456"})
    assert st == 401, st
    ctl("admin", "mfa-reset", name)
    rc, out, err = ctl("verify-isolation", "--tenant", t["slug"], check=False)
    found = {c["check"]: c["findings"] for c in out["checks"]}
    assert found["admin_totp_not_sealed"] == 0, found


@test
def operator_sets_dashboard_access_on_the_tenant_page():
    t = new_tenant("acc")
    op, oppw = new_admin("operator")
    d = Dash()
    d.login(op, oppw)
    st, h, body = d.get("/admin/tenants/%d" % t["id"])
    assert "/admin/tenants/%d/access" % t["id"] in body
    st, h, body = d.get("/admin/tenants/%d/access" % t["id"])
    assert st == 200 and "dashboard_ip_allowlist" in body and "(default)" in body, st
    # a bad value changes nothing and comes back with what was typed
    st, h, body = d.post("/admin/tenants/%d/access" % t["id"],
                         {"dashboard_ip_allowlist": "10.0.0.0/99", "dashboard_mfa": "required",
                          "dashboard_session_idle_s": ""})
    assert st == 400 and "dashboard_ip_allowlist" in body and 'value="10.0.0.0/99"' in body, st
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope = 'tenant' AND scope_id = %d"
                   % t["id"]) == [["0"]]
    st, h, body = d.post("/admin/tenants/%d/access" % t["id"],
                         {"dashboard_ip_allowlist": " 10.5.0.0/16 ", "dashboard_mfa": "required",
                          "dashboard_session_idle_s": "600"})
    assert st == 303, (st, body[:500])
    rows = db_exec("SELECT name, value FROM limits WHERE scope = 'tenant' AND scope_id = %d"
                   " ORDER BY name" % t["id"])
    assert rows == [["dashboard_ip_allowlist", "10.5.0.0/16"], ["dashboard_mfa", "required"],
                    ["dashboard_session_idle_s", "600"]], rows
    st, h, body = d.get("/admin/tenants/%d/access?done=saved" % t["id"])
    assert "Saved" in body and "(tenant)" in body
    # clearing a field inherits again
    st, h, body = d.post("/admin/tenants/%d/access" % t["id"],
                         {"dashboard_ip_allowlist": "", "dashboard_mfa": "required",
                          "dashboard_session_idle_s": "600"})
    assert st == 303
    assert db_exec("SELECT COUNT(*) FROM limits WHERE scope = 'tenant' AND scope_id = %d"
                   " AND name = 'dashboard_ip_allowlist'" % t["id"]) == [["0"]]
    rows = db_exec("SELECT action, target FROM audit_log WHERE tenant_id = %d AND action LIKE"
                   " 'limit.%%' ORDER BY id" % t["id"])
    assert ["limit.unset", "limit:tenant:%d:dashboard_ip_allowlist" % t["id"]] in rows, rows
    # the tenant's own admin sees it read-only and cannot change it; support cannot either
    for role in ("tenant_admin", "support"):
        name, pw = new_admin(role, tenant=t["id"] if role == "tenant_admin" else None)
        u = Dash()
        password_step(u, name, pw, "/admin/account" if role == "tenant_admin" else "/admin")
        if role == "tenant_admin":
            enrol(u)  # the tenant now requires two-factor sign-in
        st, h, body = u.get("/admin/tenants/%d/access" % t["id"])
        assert st == 200 and "required" in body and "<select" not in body, (role, st)
        st, h, body = u.post("/admin/tenants/%d/access" % t["id"], {"dashboard_mfa": "optional"})
        assert st == 403, (role, st)


def cgi_with(conf_extra, method, uri, cookie="", body=b""):
    """One request to agenthost as plain CGI with the test configuration plus conf_extra."""
    base = open(harness.CONF).read() if harness.CONF else ""
    keys = {k for k, _ in conf_extra} | {"listen"}
    lines = [l for l in base.splitlines() if l.split("=")[0].strip() not in keys]
    fd, path = tempfile.mkstemp(prefix="ah-accounts-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines + ["%s = %s" % kv for kv in conf_extra] + ["listen = "]) + "\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AGENTHOST_CONF": path,
           "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
           "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body)),
           "REQUEST_METHOD": method, "REQUEST_URI": uri, "HTTP_COOKIE": cookie,
           "CONTENT_TYPE": "application/x-www-form-urlencoded",
           "HTTP_X_FORWARDED_FOR": addr()}
    binary = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
    try:
        p = subprocess.run([binary], input=body, env=env, capture_output=True, timeout=30)
    finally:
        os.unlink(path)
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        k = k.strip().lower()
        headers[k] = headers[k] + "\n" + v.strip() if k in headers else v.strip()
    return headers, payload.decode("utf-8", "replace")


@test
def roles_in_dashboard_mfa_roles_are_sent_to_enrolment():
    conf = [("dashboard_mfa_roles", "support")]
    for role, where in (("support", "/admin/account"), ("operator", "/admin")):
        name, pw = new_admin(role)
        h, body = cgi_with(conf, "GET", "/admin/login")
        pre = re.search(r"ah_pre=([0-9a-f]{64})", h.get("set-cookie", "")).group(1)
        form = urllib.parse.urlencode({"csrf": pre, "name": name, "password": pw}).encode()
        h, body = cgi_with(conf, "POST", "/admin/login", cookie="ah_pre=" + pre, body=form)
        assert h.get("status", "").startswith("303"), (role, h, body[:300])
        assert h["location"].endswith(where), (role, h["location"])
        sess = re.search(r"ah_admin=([0-9a-f]{64})", h["set-cookie"]).group(1)
        if role == "support":
            # the enrolment-due session reaches the account page and nothing else
            h, body = cgi_with(conf, "GET", "/admin/usage", cookie="ah_admin=" + sess)
            assert h["location"].endswith("/admin/account"), h
            h, body = cgi_with(conf, "GET", "/admin/account", cookie="ah_admin=" + sess)
            assert h["status"].startswith("200") and "requires two-factor" in body, h


run()
