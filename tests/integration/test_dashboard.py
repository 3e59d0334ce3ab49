"""The dashboard's sign-in, sessions, CSRF, roles and the overview, over HTTP."""
import re

from apihelp import chat_body, db_exec
from dashhelp import Dash, new_admin, text_of
from harness import BASE_NGINX, api, ctl, new_tenant, run, skip, test

XSS = "<script>alert(1)</script>"


@test
def login_page_renders_with_csrf_and_cookie_flags():
    d = Dash()
    st, h, body = d.get("/admin/login")
    assert st == 200, st
    assert "text/html" in h["content-type"]
    assert re.search(r'name="csrf" value="[0-9a-f]{64}"', body)
    pre = [c for c in h["_set_cookie"] if c.startswith("ah_pre=")]
    assert pre and "HttpOnly" in pre[0] and "SameSite=Strict" in pre[0], pre
    assert "Secure" not in pre[0]  # plain HTTP here
    assert "default-src 'none'" in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY"


@test
def operator_signs_in_and_session_cookie_is_safe():
    name, pw = new_admin("operator")
    d = Dash()
    d.get("/admin/login")
    st, h, body = d.post("/admin/login", {"name": name, "password": pw})
    assert st == 303, (st, body[:300])
    assert h["location"].endswith("/admin"), h["location"]
    sess = [c for c in h["_set_cookie"] if c.startswith("ah_admin=")]
    assert sess, h["_set_cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/admin"):
        assert flag in sess[0], sess[0]
    st, h, body = d.get("/admin")
    assert st == 200, st
    assert "Overview" in body and name in body
    # the stored session is a hash, never the cookie's token
    token = d.cookies["ah_admin"]
    rows = db_exec("SELECT COUNT(*) FROM admin_sessions WHERE HEX(token_hash) = '%s'"
                   % token.upper())
    assert rows[0][0] == "0"


@test
def wrong_password_is_refused_and_audited():
    name, pw = new_admin("support")
    d = Dash()
    st, h, body = d.login(name, pw + "x", expect=401)
    assert "Wrong name or password" in body
    assert "ah_admin" not in d.cookies
    rows = db_exec("SELECT outcome, reason_code FROM audit_log WHERE action = 'admin.login'"
                   " AND target = 'admin:%s' ORDER BY id DESC LIMIT 1" % name)
    assert rows == [["denied", "bad_credentials"]], rows


@test
def unknown_user_gets_the_same_answer():
    d = Dash()
    st, h, body = d.login("nobody-" + name_suffix(), "whatever-password", expect=401)
    assert "Wrong name or password" in body


def name_suffix():
    from harness import rand_suffix
    return rand_suffix()


@test
def login_without_csrf_is_refused():
    name, pw = new_admin("operator")
    d = Dash()
    d.get("/admin/login")
    st, h, body = d.post("/admin/login", {"name": name, "password": pw, "csrf": "0" * 64})
    assert st == 403, st
    assert "ah_admin" not in d.cookies


@test
def login_is_throttled_per_account_and_address():
    # from an address of its own (tests/run trusts X-Forwarded-For from 127.0.0.1), so
    # these failures do not delay the other tests' sign-ins; test_accounts.py has the rest
    name, pw = new_admin("operator")
    d = Dash(headers={"X-Forwarded-For": "10.254.0.%d" % (hash(name) % 250 + 1)})
    for _ in range(3):
        d.login(name, "bad-password-1", expect=401)
    # even the right password is refused while throttled, with when to retry
    st, h, body = d.login(name, pw, expect=429)
    assert "Too many failed sign-ins. Try again in" in body
    assert "ah_admin" not in d.cookies


@test
def pages_need_a_session():
    d = Dash()
    for path in ("/admin", "/admin/overview"):
        st, h, body = d.get(path)
        assert st == 303, (path, st)
        assert h["location"].endswith("/admin/login"), h["location"]
    st, h, body = d.post("/admin/logout", {"csrf": "x"})
    assert st == 303 and h["location"].endswith("/admin/login")


@test
def post_without_valid_csrf_is_refused():
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    st, h, body = d.post("/admin/logout", {"csrf": "f" * 64})
    assert st == 403, st
    st, h, body = d.post("/admin/logout", {}, csrf=False)
    assert st == 403, st
    # still signed in
    st, h, body = d.get("/admin")
    assert st == 200


@test
def logout_ends_the_session():
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    token = d.cookies["ah_admin"]
    st, h, body = d.post("/admin/logout")
    assert st == 303 and h["location"].endswith("/admin/login")
    d.cookies["ah_admin"] = token  # a stolen copy of the cookie no longer works
    st, h, body = d.get("/admin")
    assert st == 303


@test
def idle_session_expires():
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    db_exec("UPDATE admin_sessions s JOIN admin_users u ON u.id = s.user_id"
            " SET s.last_seen = s.last_seen - INTERVAL 31 MINUTE WHERE u.name = '%s'" % name)
    st, h, body = d.get("/admin")
    assert st == 303, st


@test
def password_change_ends_sessions():
    name, pw = new_admin("operator")
    d = Dash()
    d.login(name, pw)
    ctl("admin", "passwd", name, stdin="another-password-123\n")
    st, h, body = d.get("/admin")
    assert st == 303, st


@test
def overview_for_staff_lists_tenants_and_escapes_names():
    t = new_tenant("dash")
    ctl("tenant", "create", "x-" + t["slug"], "--name", XSS)
    st, _, _ = api("POST", "/v1/chat/completions", chat_body(), key=t["key"])
    assert st == 200
    name, pw = new_admin("support")
    d = Dash()
    st, h, body = d.login(name, pw)
    assert "Top tenants by spend" in body
    assert XSS not in body
    assert "Requests, 24 h" in body


@test
def overview_for_tenant_admin_shows_only_its_tenant():
    t = new_tenant("dashta")
    other = new_tenant("dashother")
    ctl("tenant", "create", "y-" + t["slug"], "--name", XSS)
    name, pw = new_admin("tenant_admin", tenant=t["slug"])
    d = Dash()
    st, h, body = d.login(name, pw)
    assert "Top tenants" not in body
    assert other["slug"] not in body
    assert "tenant_admin" in body


@test
def role_is_checked_by_the_cli():
    rc, out, err = ctl("admin", "add", "x-" + name_suffix(), "--role", "tenant_admin",
                       stdin="long-enough-password\n", check=False)
    assert rc != 0 and "--tenant" in err, err
    rc, out, err = ctl("admin", "add", "x-" + name_suffix(), "--role", "boss",
                       stdin="long-enough-password\n", check=False)
    assert rc != 0
    rc, out, err = ctl("admin", "add", "x-" + name_suffix(), "--role", "operator",
                       stdin="short\n", check=False)
    assert rc != 0 and "12" in err, err
    users = ctl("admin", "list")
    assert all("pw_hash" not in u for u in users)


@test
def static_files_are_served_and_contained():
    d = Dash()
    st, h, body = d.get("/admin/static/admin.css")
    assert st == 200 and "text/css" in h["content-type"]
    st, h, body = d.get("/admin/static/..%2Fsql%2F001_schema.sql")
    assert st in (400, 404), st
    st, h, body = d.get("/admin/static/.htaccess")
    assert st == 404, st
    st, h, body = d.get("/admin/static/nope.css")
    assert st == 404


@test
def dashboard_works_under_a_mount_prefix():
    if not BASE_NGINX:
        skip("nginx is not configured")
    name, pw = new_admin("operator")
    d = Dash(base=BASE_NGINX)
    st, h, body = d.login(name, pw)
    assert '/gw/admin/static/admin.css' in body
    sess = [c for c in d.cookies]
    assert "ah_admin" in sess


@test
def without_templates_the_api_works_and_the_dashboard_says_why():
    import os
    import fcgi_client as fc
    import harness
    binary = os.path.join(os.path.dirname(os.path.abspath(harness.CTL)), "agenthost")
    inst, sock = fc.start_instance(binary, harness.CONF, [("template_dir", "/nonexistent")])
    try:
        t = new_tenant("notpl")
        st, _, body = fc.request(sock, "GET", "/v1/models", key=t["key"])
        assert st == 200, body
        st, _, body = fc.request(sock, "GET", "/admin/login")
        assert st == 503 and "not installed" in str(body), (st, str(body)[:200])
        st, _, body = fc.request(sock, "GET", "/admin")
        assert st == 503, st
    finally:
        fc.stop(inst)


run()
