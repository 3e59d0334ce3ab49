"""Limits: plans, scopes and precedence, through the CLI, GET /v1/limits and the operator API.

Every test makes its own tenants and plans (random names), so the plan
defaults other test files rely on are never touched. The only global edits
are to key_tpm at values far above anything a test uses, and they are
removed again before the test ends. Limits are cached per worker thread for
at most LIMITS_CACHE_MS (1 s), so API checks after a CLI edit wait up to a
little more than that for the edit to show, which is the bound the design
states.
"""
import json
import os
import subprocess

import harness
from harness import test, run, api, ctl, skip, assert_error, wait_until, rand_suffix

CACHE_BOUND_S = 2.5  # LIMITS_CACHE_MS plus slack for a loaded machine


def db_name():
    conf = harness.CONF
    if conf and os.path.exists(conf):
        for line in open(conf):
            k, _, v = line.partition("=")
            if k.strip() == "db_name":
                return v.strip()
    return "agenthost"


def db_rows(sql):
    """Run SQL on the test database; rows as lists of strings."""
    if not harness.DB_SOCKET:
        skip("no database socket (AGENTHOST_TEST_DB_SOCKET)")
    p = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", harness.DB_SOCKET,
                        "--batch", "--skip-column-names", "-e", sql, db_name()],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("mariadb: " + p.stderr.strip())
    return [line.split("\t") for line in p.stdout.splitlines()]


def new_plan():
    name = "p-" + rand_suffix()
    p = ctl("plan", "create", name, "--description", "test plan")
    assert p["name"] == name and p["description"] == "test plan", p
    return name


def api_limits(key):
    st, _, body = api("GET", "/v1/limits", key=key)
    assert st == 200, (st, body)
    return body


def api_entry(key, name):
    return api_limits(key)["limits"][name]


def wait_api(key, name, value, source):
    """Wait (within the cache bound) until GET /v1/limits shows name = value from source."""
    want = {"value": value, "source": source}
    got = wait_until(lambda: api_entry(key, name) == want and want, timeout=CACHE_BOUND_S)
    assert got, "GET /v1/limits %s: want %s, have %s" % (name, want, api_entry(key, name))


def cli_entry(*scope, name):
    return ctl("limits", "show", *scope)["limits"][name]


def ctl_fails(*args, status=2, contains=None):
    rc, out, err = ctl(*args, check=False)
    assert rc == status, "agenthostctl %s: exit %d (want %d): %s %s" % (
        " ".join(str(a) for a in args), rc, status, out, err)
    if contains:
        assert contains in err, "stderr lacks %r: %s" % (contains, err)
    return err


# ---------------------------------------------------------------- defaults and shape

@test
def free_plan_defaults_in_api_and_cli():
    t = harness.new_tenant("lim")
    b = api_limits(t["key"])
    assert b["object"] == "limits" and b["tenant_id"] == t["id"] and b["key_id"] == t["key_id"], b
    lim = b["limits"]
    assert len(lim) == 42, sorted(lim)
    assert lim["response_cache"] == {"value": "request", "source": "default"}, lim
    assert lim["end_user_alert_thresholds"] == {"value": "", "source": "default"}, lim
    for n in ("end_user_budget_usd_daily", "end_user_budget_usd_monthly",
              "end_user_budget_tokens_daily", "end_user_budget_tokens_monthly"):
        assert lim[n] == {"value": "0", "source": "default"}, lim[n]
    assert lim["host_share_pct"] == {"value": "25", "source": "default"}, lim["host_share_pct"]
    assert lim["dashboard_mfa"] == {"value": "optional", "source": "default"}, lim["dashboard_mfa"]
    assert lim["dashboard_ip_allowlist"] == {"value": "", "source": "default"}
    assert lim["dashboard_session_idle_s"] == {"value": "0", "source": "default"}
    # the default mode of new tenants: global in the dedicated test pass, else built in
    assert lim["isolation_mode"]["value"] in ("shared", "dedicated"), lim["isolation_mode"]
    assert lim["rpm"] == {"value": "60", "source": "plan"}, lim["rpm"]
    assert lim["tpm"] == {"value": "200000", "source": "plan"}, lim["tpm"]
    assert lim["concurrency"] == {"value": "4", "source": "plan"}, lim["concurrency"]
    assert lim["budget_usd_daily"] == {"value": "5", "source": "plan"}
    assert lim["budget_usd_monthly"] == {"value": "50", "source": "plan"}
    assert lim["max_tokens"] == {"value": "4096", "source": "plan"}
    assert lim["budget_enforcement"] == {"value": "hard", "source": "default"}
    assert lim["breaker_errors"] == {"value": "5", "source": "default"}
    assert lim["breaker_window_s"] == {"value": "60", "source": "default"}
    assert lim["breaker_cooldown_s"] == {"value": "30", "source": "default"}
    assert lim["allowed_models"] == {"value": "", "source": "default"}
    assert lim["ip_allowlist"] == {"value": "", "source": "default"}
    assert lim["global_budget_usd_daily"] == {"value": "0", "source": "default"}
    assert lim["allowed_tools"] == {"value": "", "source": "default"}
    shown = ctl("limits", "show", "--tenant", t["slug"])
    assert shown["scope"] == "tenant" and shown["tenant"] == t["slug"], shown
    assert shown["tenant_id"] == t["id"] and shown["plan"] == "free", shown
    for name, e in lim.items():
        assert shown["limits"][name]["value"] == e["value"], (name, shown["limits"][name], e)
        assert shown["limits"][name]["source"] == e["source"], (name, shown["limits"][name], e)


@test
def pro_and_enterprise_plans():
    pro = harness.new_tenant("lim", plan="pro")
    lim = api_limits(pro["key"])["limits"]
    assert lim["rpm"] == {"value": "600", "source": "plan"}, lim["rpm"]
    assert lim["budget_usd_monthly"] == {"value": "3000", "source": "plan"}
    assert lim["max_tokens"] == {"value": "16384", "source": "plan"}
    assert lim["allowed_tools"] == {"value": "calculator,http_fetch", "source": "plan"}
    ent = harness.new_tenant("lim", plan="enterprise")
    lim = api_limits(ent["key"])["limits"]
    assert lim["allowed_tools"] == {"value": "*", "source": "plan"}, lim["allowed_tools"]
    # Enterprise sets nothing: global rows (none here for rpm) or the built-in default.
    assert lim["rpm"]["source"] in ("default", "global"), lim["rpm"]
    assert lim["budget_usd_daily"]["source"] in ("default", "global"), lim["budget_usd_daily"]


# ---------------------------------------------------------------- precedence

@test
def key_over_tenant_over_plan_over_global_over_default():
    plan = new_plan()
    t = harness.new_tenant("lim", plan=plan)
    other = ctl("key", "create", "--tenant", t["slug"], "--name", "other")
    name = "key_tpm"
    assert api_entry(t["key"], name)["source"] in ("default", "global")
    try:
        steps = [
            (("--global",), "900000001", "global"),
            (("--plan", plan), "800000001", "plan"),
            (("--tenant", t["slug"]), "700000001", "tenant"),
            (("--tenant", t["slug"], "--key", t["key_id"]), "600000001", "key"),
        ]
        for scope, value, source in steps:
            out = ctl("limits", "set", *scope, name, value)
            assert out["value"] == value and out["scope"] == source, out
            wait_api(t["key"], name, value, source)
            e = cli_entry("--tenant", t["slug"], "--key", t["key_id"], name=name)
            assert e["value"] == value and e["source"] == source, e
        # The key's own value is that key's only; the tenant's other key sees the tenant's.
        wait_api(other["key"], name, "700000001", "tenant")
        e = cli_entry("--tenant", t["slug"], name=name)
        assert e["value"] == "700000001" and e["source"] == "tenant", e
        assert e["updated_by"] and e["updated_at"], e
        # Unset from the most specific down: each time the next scope shows through.
        for scope, value, source in [
            (("--tenant", t["slug"], "--key", t["key_id"]), "700000001", "tenant"),
            (("--tenant", t["slug"]), "800000001", "plan"),
            (("--plan", plan), "900000001", "global"),
        ]:
            out = ctl("limits", "unset", *scope, name)
            assert out["removed"] is True, out
            wait_api(t["key"], name, value, source)
    finally:
        ctl("limits", "unset", "--global", name)
    wait_api(t["key"], name, "0", "default")
    assert cli_entry("--tenant", t["slug"], name=name) == {"value": "0", "source": "default"}


@test
def tenant_rpm_overrides_plan():
    t = harness.new_tenant("lim")
    ctl("limits", "set", "--tenant", t["slug"], "rpm", "75")
    wait_api(t["key"], "rpm", "75", "tenant")
    ctl("limits", "unset", "--tenant", t["slug"], "rpm")
    wait_api(t["key"], "rpm", "60", "plan")


@test
def plan_and_global_views():
    plan = new_plan()
    ctl("limits", "set", "--plan", plan, "rpm", "42")
    ctl("limits", "set", "--plan", plan, "budget_usd_daily", "1.25")
    ctl("limits", "set", "--global", "key_tpm", "900000002")
    try:
        v = ctl("limits", "show", "--plan", plan)
        assert v["scope"] == "plan" and v["plan"] == plan and v["tenant_id"] is None, v
        lim = v["limits"]
        assert lim["rpm"]["value"] == "42" and lim["rpm"]["source"] == "plan", lim["rpm"]
        assert lim["rpm"]["updated_by"], lim["rpm"]
        assert lim["budget_usd_daily"]["value"] == "1.25", lim["budget_usd_daily"]
        assert lim["key_tpm"]["value"] == "900000002", lim["key_tpm"]
        assert lim["key_tpm"]["source"] == "global", lim["key_tpm"]
        assert "updated_by" not in lim["key_tpm"], lim["key_tpm"]
        assert lim["tpm"] == {"value": "0", "source": "default"}, lim["tpm"]
        g = ctl("limits", "show", "--global")
        assert g["scope"] == "global" and g["plan"] is None, g
        assert g["limits"]["key_tpm"]["source"] == "global", g["limits"]["key_tpm"]
        assert g["limits"]["key_tpm"]["updated_by"], g["limits"]["key_tpm"]
        assert g["limits"]["rpm"]["source"] in ("default", "global"), g["limits"]["rpm"]
        free = ctl("limits", "show", "--plan", "free")["limits"]
        assert free["rpm"]["value"] == "60" and free["rpm"]["source"] == "plan", free["rpm"]
    finally:
        ctl("limits", "unset", "--global", "key_tpm")


# ---------------------------------------------------------------- validation

@test
def values_are_normalised():
    t = harness.new_tenant("lim")
    s = t["slug"]
    assert ctl("limits", "set", "--tenant", s, "budget_usd_daily", " 12.50 ")["value"] == "12.5"
    assert ctl("limits", "set", "--tenant", s, "tpm", "007")["value"] == "7"
    assert ctl("limits", "set", "--tenant", s, "budget_enforcement", "SOFT")["value"] == "soft"
    out = ctl("limits", "set", "--tenant", s, "allowed_models", " mock-1, mock-fast ,mock-1")
    assert out["value"] == "mock-1,mock-fast", out
    out = ctl("limits", "set", "--tenant", s, "ip_allowlist", "127.0.0.1, ::1, 10.1.2.3/8")
    assert out["value"] == "127.0.0.1/32,::1/128,10.0.0.0/8", out
    wait_api(t["key"], "budget_usd_daily", "12.5", "tenant")
    lim = api_limits(t["key"])["limits"]
    assert lim["allowed_models"] == {"value": "mock-1,mock-fast", "source": "tenant"}, lim
    assert lim["budget_enforcement"] == {"value": "soft", "source": "tenant"}, lim


@test
def invalid_values_are_refused():
    t = harness.new_tenant("lim")
    s = t["slug"]
    for name, value in [("rpm", "-5"), ("rpm", "1.5"), ("rpm", "ten"), ("rpm", ""),
                        ("tpm", "1000000000001"), ("budget_usd_daily", "1.1234567"),
                        ("budget_usd_daily", "10000000.01"), ("budget_usd_daily", "$5"),
                        ("budget_enforcement", "maybe"), ("allowed_models", "a b"),
                        ("allowed_agents", "x;y"), ("ip_allowlist", "nope"),
                        ("ip_allowlist", "10.0.0.0/33"), ("breaker_window_s", "0")]:
        err = ctl_fails("limits", "set", "--tenant", s, "--", name, value)
        assert name in err, (name, value, err)
    ctl_fails("limits", "set", "--tenant", s, "no_such_limit", "1", contains="unknown limit")
    # Nothing above was stored.
    rows = db_rows("SELECT COUNT(*) FROM limits WHERE scope = 'tenant' AND scope_id = %d"
                   % t["id"])
    assert rows == [["0"]], rows


@test
def scopes_a_limit_cannot_be_set_at_are_refused():
    t = harness.new_tenant("lim")
    s = t["slug"]
    err = ctl_fails("limits", "set", "--tenant", s, "global_budget_usd_daily", "5",
                    contains="cannot be set at the tenant scope")
    assert "global" in err, err
    ctl_fails("limits", "set", "--plan", "free", "global_budget_tokens_daily", "5",
              contains="cannot be set at the plan scope")
    ctl_fails("limits", "set", "--tenant", s, "--key", t["key_id"], "rpm", "5",
              contains="cannot be set at the key scope")
    ctl_fails("limits", "set", "--tenant", s, "--global", "rpm", "5", contains="exactly one")
    ctl_fails("limits", "set", "rpm", "5", contains="exactly one")
    ctl_fails("limits", "set", "--plan", "free", "--key", t["key_id"], "key_rpm", "5",
              contains="--key needs --tenant")
    ctl_fails("limits", "set", "--plan", "no-such-plan", "rpm", "5", status=1,
              contains="does not exist")
    ctl_fails("limits", "show", "--tenant", "no-such-tenant-" + rand_suffix(), status=1,
              contains="not found")
    # Another tenant's key is not this tenant's key.
    u = harness.new_tenant("lim")
    ctl_fails("limits", "set", "--tenant", s, "--key", u["key_id"], "key_rpm", "5", status=1,
              contains="not found")


@test
def unset_of_a_value_not_set():
    t = harness.new_tenant("lim")
    out = ctl("limits", "unset", "--tenant", t["slug"], "rpm")
    assert out["removed"] is False, out


@test
def limit_changes_are_audited():
    t = harness.new_tenant("lim")
    ctl("limits", "set", "--tenant", t["slug"], "rpm", "70")
    ctl("limits", "unset", "--tenant", t["slug"], "rpm")
    rows = db_rows("SELECT action, target, actor_type FROM audit_log WHERE tenant_id = %d"
                   " AND action LIKE 'limit.%%' ORDER BY id" % t["id"])
    target = "limit:tenant:%d:rpm" % t["id"]
    assert rows == [["limit.set", target, "cli"], ["limit.unset", target, "cli"]], rows
    detail = db_rows("SELECT detail FROM audit_log WHERE tenant_id = %d AND action ="
                     " 'limit.set'" % t["id"])
    assert json.loads(detail[0][0])["value"] == "70", detail


# ---------------------------------------------------------------- plans

@test
def plans_list_and_create():
    names = [p["name"] for p in ctl("plan", "list")]
    for n in ("free", "pro", "enterprise"):
        assert n in names, names
    plan = new_plan()
    assert plan in [p["name"] for p in ctl("plan", "list")]
    ctl_fails("plan", "create", plan, status=1, contains="already exists")
    ctl_fails("plan", "create", "Bad Name", contains="plan name")
    # A tenant on a new plan inherits everything.
    t = harness.new_tenant("lim", plan=plan)
    lim = api_limits(t["key"])["limits"]
    assert lim["rpm"]["source"] in ("default", "global"), lim["rpm"]


# ---------------------------------------------------------------- reaper

@test
def reap_reports_a_count():
    out = ctl("reap")
    assert isinstance(out.get("reaped"), int) and out["reaped"] >= 0, out


# ---------------------------------------------------------------- operator API

def operator_tokens():
    """(label, token) pairs: the config token when tests/run exports it, and a CLI-made one."""
    out = []
    env = os.environ.get("AGENTHOST_OPERATOR_TOKEN")
    if env:
        out.append(("config", env))
    made = ctl("operator-token", "create", "--name", "test-" + rand_suffix())
    assert made["token"].startswith("ah_op_") and len(made["token"]) == 49, made
    assert made["prefix"] == made["token"][:12], made
    out.append(("cli", made["token"]))
    return out, made


@test
def operator_reads_any_tenants_limits():
    t = harness.new_tenant("lim")
    ctl("limits", "set", "--tenant", t["slug"], "--key", t["key_id"], "key_rpm", "11")
    toks, _ = operator_tokens()
    for label, tok in toks:
        for ref in (t["slug"], str(t["id"])):
            st, _, b = api("GET", "/admin/api/v1/tenants/%s/limits" % ref, key=tok)
            assert st == 200, (label, st, b)
            assert b["object"] == "limits" and b["tenant_id"] == t["id"], b
            assert b["key_id"] == 0, b
            assert b["limits"]["rpm"] == {"value": "60", "source": "plan"}, b["limits"]["rpm"]
            assert b["limits"]["key_rpm"]["source"] != "key", b["limits"]["key_rpm"]
        st, _, b = api("GET", "/admin/api/v1/tenants/%s/limits?key_id=%d"
                       % (t["slug"], t["key_id"]), key=tok)
        assert st == 200 and b["key_id"] == t["key_id"], (st, b)
        assert b["limits"]["key_rpm"] == {"value": "11", "source": "key"}, b["limits"]
        assert_error(api("GET", "/admin/api/v1/tenants/no-such-%s/limits" % rand_suffix(),
                         key=tok), 404, "not_found")
        assert_error(api("GET", "/admin/api/v1/tenants/999999999/limits", key=tok), 404,
                     "not_found")
        u = harness.new_tenant("lim")
        assert_error(api("GET", "/admin/api/v1/tenants/%s/limits?key_id=%d"
                         % (t["slug"], u["key_id"]), key=tok), 404, "not_found")
        assert_error(api("GET", "/admin/api/v1/tenants/%s/limits?key_id=x" % t["slug"],
                         key=tok), 400)


@test
def operator_route_refuses_tenant_keys_and_bad_tokens():
    t = harness.new_tenant("lim")
    path = "/admin/api/v1/tenants/%s/limits" % t["slug"]
    st, _, b = api("GET", path, key=t["key"])
    assert st in (401, 403) and "error" in b, (st, b)
    assert "limits" not in b, b
    assert_error(api("GET", path), 401, "invalid_operator_token")
    assert_error(api("GET", path, key="ah_op_" + "A" * 43), 401, "invalid_operator_token")


@test
def operator_tokens_list_and_revoke():
    toks, made = operator_tokens()
    listed = [x for x in ctl("operator-token", "list") if x["id"] == made["id"]]
    assert len(listed) == 1 and listed[0]["state"] == "active", listed
    assert listed[0]["prefix"] == made["prefix"] and "token" not in listed[0], listed
    t = harness.new_tenant("lim")
    path = "/admin/api/v1/tenants/%s/limits" % t["slug"]
    st, _, _ = api("GET", path, key=made["token"])
    assert st == 200, st
    out = ctl("operator-token", "revoke", made["id"])
    assert out == {"id": made["id"], "state": "revoked"}, out
    assert_error(api("GET", path, key=made["token"]), 401, "invalid_operator_token")
    listed = [x for x in ctl("operator-token", "list") if x["id"] == made["id"]]
    assert listed[0]["state"] == "revoked" and listed[0]["revoked_at"], listed
    ctl_fails("operator-token", "revoke", "999999999", status=1, contains="not found")
    ctl_fails("operator-token", "revoke", "abc", contains="positive integer")
    ctl_fails("operator-token", "create", contains="--name")
    rows = db_rows("SELECT action FROM audit_log WHERE target = 'operator_token:%d' ORDER BY id"
                   % made["id"])
    assert rows == [["operator_token.create"], ["operator_token.revoke"]], rows


run()
