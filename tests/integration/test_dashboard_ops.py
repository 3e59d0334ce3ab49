"""Operator pages of the dashboard: plans and their limits, global limits, dashboard users."""
import re
import time

from apihelp import chat_body, db_exec, new_tenant
from dashhelp import Dash, new_admin, text_of
from harness import api, ctl, rand_suffix, run, test


def signed_in(role="operator", tenant=None):
    name, pw = new_admin(role, tenant)
    d = Dash()
    d.login(name, pw)
    return d, name


@test
def plans_page_lists_plans_with_tenant_counts():
    d, _ = signed_in()
    st, _, body = d.get("/admin/plans")
    assert st == 200
    for p in ("free", "pro", "enterprise"):
        assert "/admin/plans/%s" % p in body


@test
def operator_creates_a_plan_and_sets_a_limit_that_applies_to_its_tenants():
    d, _ = signed_in()
    plan = "p" + rand_suffix()
    st, h, body = d.post("/admin/plans", {"name": plan, "description": "<b>bold</b> plan"})
    assert st == 303 and h["location"].endswith("/admin/plans/" + plan), (st, body[:300])
    st, _, body = d.get("/admin/plans/" + plan)
    assert st == 200 and "&lt;b&gt;bold&lt;/b&gt;" in body
    t = ctl("tenant", "create", "tp-" + rand_suffix(), "--plan", plan)
    k = ctl("key", "create", "--tenant", t["id"], "--name", "k")
    st, h, body = d.post("/admin/plans/" + plan, {"v.allowed_models": "mock-2"})
    assert st == 303 and "saved=1" in h["location"], (st, h.get("location"))
    st, _, body = d.get("/admin/plans/%s?saved=1" % plan)
    assert "Saved: 1 change." in body
    lim = ctl("limits", "show", "--plan", plan)
    assert "mock-2" in str(lim)
    time.sleep(1.2)  # applies to the plan's tenants within the limits cache (1 s)
    st, _, body = api("POST", "/v1/chat/completions", chat_body(model="mock-1"), key=k["key"])
    assert st == 403 and body["error"]["reason_code"] == "model_not_allowed", body
    # clear it again
    st, h, _ = d.post("/admin/plans/" + plan, {"unset.allowed_models": "1"})
    assert st == 303
    assert "mock-2" not in str(ctl("limits", "show", "--plan", plan))


@test
def invalid_plan_limit_changes_nothing_and_says_why():
    d, _ = signed_in()
    st, _, body = d.post("/admin/plans/pro", {"v.rpm": "lots", "v.tpm": "5000"})
    assert st == 400, st
    assert "Nothing was saved" in body
    assert 'value="lots"' in body  # what was typed comes back
    rows = db_exec("SELECT l.value FROM limits l JOIN plans p ON p.id = l.scope_id"
                   " WHERE l.scope = 'plan' AND p.name = 'pro' AND l.name = 'tpm'")
    assert rows != [["5000"]], rows  # the valid field was not saved either


@test
def bad_plan_names_are_refused_readably():
    d, _ = signed_in()
    st, _, body = d.post("/admin/plans", {"name": "Bad Name!", "description": ""})
    assert st == 400 and "1 to 32" in body
    st, _, body = d.post("/admin/plans", {"name": "free", "description": ""})
    assert st == 400 and "exists already" in body


@test
def support_reads_plans_but_cannot_change_them():
    d, _ = signed_in("support")
    st, _, body = d.get("/admin/plans/free")
    assert st == 200 and 'name="v.rpm"' not in body
    st, _, _ = d.post("/admin/plans/free", {"v.rpm": "1"})
    assert st == 403
    st, _, _ = d.post("/admin/plans", {"name": "x" + rand_suffix(), "description": ""})
    assert st == 403
    st, _, _ = d.post("/admin/global", {"v.rpm": "1"})
    assert st == 403
    st, _, _ = d.get("/admin/users")
    assert st == 403


@test
def tenant_admin_sees_no_operator_page():
    t = new_tenant("opsta")
    d, _ = signed_in("tenant_admin", t["slug"])
    for p in ("/admin/plans", "/admin/plans/free", "/admin/global", "/admin/users"):
        st, _, _ = d.get(p)
        assert st == 404, (p, st)


@test
def global_page_shows_spend_and_validates():
    d, _ = signed_in()
    st, _, body = d.get("/admin/global")
    assert st == 200 and "All tenants, today" in body and "global_budget_usd_daily" in body
    st, _, body = d.post("/admin/global", {"v.global_budget_usd_daily": "-5"})
    assert st == 400 and "Nothing was saved" in body


@test
def operator_adds_a_user_who_can_then_sign_in():
    d, _ = signed_in()
    t = new_tenant("opsuser")
    name = "new-" + rand_suffix()
    st, _, body = d.post("/admin/users", {"name": name, "role": "tenant_admin",
                                          "tenant": t["slug"]})
    assert st == 200, body[:300]
    pw = re.search(r'id="newpw" class="secret" readonly value="([0-9a-f]{32})"', body).group(1)
    d2 = Dash()
    st, _, page = d2.login(name, pw)
    assert "tenant_admin" in page
    # the list shows the user with its tenant, never a hash
    st, _, body = d.get("/admin/users")
    assert name in body and "$argon2id$" not in body


@test
def user_form_errors_are_readable():
    d, _ = signed_in()
    st, _, body = d.post("/admin/users", {"name": "x" + rand_suffix(), "role": "tenant_admin",
                                          "tenant": ""})
    assert st == 400 and "needs a tenant" in body
    st, _, body = d.post("/admin/users", {"name": "x" + rand_suffix(), "role": "boss"})
    assert st == 400 and "Choose a role" in body
    st, _, body = d.post("/admin/users", {"name": "<script>", "role": "support"})
    assert st == 400 and "<script>" not in body.split("</header>", 1)[1]


@test
def reset_password_ends_sessions_and_removal_needs_confirmation():
    d, _ = signed_in()
    victim, pw = new_admin("support")
    v = Dash()
    v.login(victim, pw)
    st, _, body = d.post("/admin/users/%s/password" % victim)
    assert st == 200 and "shown only once" in body
    st, _, _ = v.get("/admin")
    assert st == 303  # signed out by the reset
    st, _, body = d.post("/admin/users/%s/delete" % victim)
    assert st == 400 and "confirmation" in body
    st, _, _ = d.post("/admin/users/%s/delete" % victim, {"confirm": "yes"})
    assert st == 303
    assert not [u for u in ctl("admin", "list") if u["name"] == victim]


@test
def operator_cannot_remove_themself():
    d, me = signed_in()
    st, _, body = d.post("/admin/users/%s/delete" % me, {"confirm": "yes"})
    assert st == 400 and "your own account" in body
    st, _, _ = d.get("/admin")
    assert st == 200


run()
