// Browser tests of the dashboard in headless Chromium: every role signs in
// and walks its pages at desktop and phone widths (screenshots into
// AGENTHOST_SCREENSHOT_DIR), escaping, CSRF and the cross-tenant URL case.
import { BASE, DESKTOP, NO_REUSE, PHONE, SHOTS, assert, check, ctl, finish, launch, newAdmin, newTenant,
  signIn, sql, visit } from "./lib/browser.mjs";

const XSS = "<script>alert(1)</script>";
const browser = await launch();
const tenant = newTenant("br", XSS);
const other = newTenant("brother");
const admins = {
  operator: newAdmin("operator"),
  support: newAdmin("support"),
  tenant_admin: newAdmin("tenant_admin", tenant.slug),
};

// Calls of tenant t so that every table and chart has rows to draw: chat completions with
// long texts, one refused call (unknown model), an agent run, and a key with a long name
// rotated once (two keys of one name).
async function seedCalls(t) {
  const post = (path, key, data) => fetch(`${BASE}${path}`, { method: "POST",
    headers: { ...NO_REUSE, Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(data) });
  const k = ctl(["key", "create", "--tenant", t.slug, "--name",
    "a-rather-long-key-name-for-the-nightly-batch-jobs-of-the-finance-department"]);
  ctl(["key", "rotate", "--tenant", t.slug, "--key", String(k.id), "--grace", "3600"]);
  for (let i = 0; i < 6; i++) {
    const r = await post("/v1/chat/completions", t.key, { model: "mock-1",
      messages: [{ role: "user", content: `question ${i}: ${"averyveryverylongwordwithoutanyspaces".repeat(4)}` }] });
    assert(r.status === 200, `seed call ${i}: ${r.status}`);
  }
  const bad = await post("/v1/chat/completions", t.key, { model: "no-such-model", messages: [{ role: "user", content: "x" }] });
  assert(bad.status >= 400, `a call with an unknown model answered ${bad.status}`);
  const run = await post("/v1/agents/assistant/runs", t.key, { input: "hello" });
  assert(run.status === 200 || run.status === 201, `agent run: ${run.status}`);
  await new Promise((res) => setTimeout(res, 1500)); // the ledger writes rollups in batches
  const ex = sql(`SELECT id FROM executions WHERE tenant_id = ${t.id} ORDER BY seq DESC LIMIT 1`);
  return ex.length ? ex[0][0] : null;
}
const execId = await seedCalls(tenant);

// Pages each role walks: [name, path]; every one must answer 200.
function pagesOf(role) {
  const t = tenant.id;
  const pages = [["overview", "/admin"]];
  if (role === "tenant_admin") {
    pages.push(["tenant", `/admin/tenants/${t}`], ["keys", `/admin/tenants/${t}/keys`],
      ["provider-keys", `/admin/tenants/${t}/provider-keys`], ["routes", `/admin/tenants/${t}/routes`],
      ["budgets", `/admin/tenants/${t}/budgets`],
      ["health", "/admin/health"]);
  } else {
    pages.push(["tenants", "/admin/tenants"], ["tenant", `/admin/tenants/${t}`], ["health", "/admin/health"],
      ["plans", "/admin/plans"], ["plan", "/admin/plans/pro"], ["global", "/admin/global"]);
  }
  if (role === "operator") pages.push(["users", "/admin/users"]);
  pages.push(["usage", `/admin/usage?tenant_id=${t}`], ["showback", `/admin/showback?tenant_id=${t}`],
    ["invoice", `/admin/tenants/${t}/invoice`],
    ["executions", `/admin/executions?tenant_id=${t}`], ["audit", `/admin/audit?tenant_id=${t}`],
    ["account", "/admin/account"], ["tenant-access", `/admin/tenants/${t}/access`]);
  if (role !== "tenant_admin") pages.push(["usage-all", "/admin/usage?days=90"], ["executions-all", "/admin/executions"]);
  if (execId) pages.push(["execution", `/admin/tenants/${t}/executions/${execId}`]);
  return pages;
}

// Which of those paths exist yet on this build (a page not built answers 404 to everyone).
async function existing(page, pages) {
  const out = [];
  for (const [name, p] of pages) {
    const r = await page.request.get(`${BASE}${p}`, { maxRedirects: 0, headers: NO_REUSE });
    if (r.status() !== 404) out.push([name, p]);
  }
  return out;
}

for (const role of Object.keys(admins)) {
  await check(`${role} signs in and walks every page at desktop and phone widths`, async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      const { context, page } = await signIn(browser, admins[role], viewport);
      for (const [name, p] of await existing(page, pagesOf(role))) {
        await visit(page, p, `${role}-${name}`);
        assert(!(await page.content()).includes(XSS), `${p} renders the raw tenant name`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 1, `${p} scrolls sideways by ${overflow}px at ${viewport.width}px`);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert(width <= viewport.width, `${p} is ${width}px wide at a ${viewport.width}px viewport`);
      }
      assert(!page._dialogs, "a script ran (dialog opened)");
      await context.close();
    }
  });
}

await check("login page screenshot and a wrong password message", async () => {
  const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  await visit(pp, "/admin/login", "login");
  const width = await pp.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= PHONE.width, `the login page is ${width}px wide at ${PHONE.width}px`);
  await phone.close();
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await visit(page, "/admin/login", "login");
  await page.fill("input[name=name]", admins.operator.name);
  await page.fill("input[name=password]", "not-the-password");
  await Promise.all([page.waitForLoadState(), page.click("button[type=submit]")]);
  assert((await page.textContent("body")).includes("Wrong name or password"), "no message");
  await context.close();
});

await check("a tenant named <script> shows as text in the tenant list and on its page", async () => {
  const op = await signIn(browser, admins.operator);
  for (const p of [`/admin/tenants?q=${tenant.slug}`, `/admin/tenants/${tenant.id}`]) {
    await visit(op.page, p, null);
    assert((await op.page.textContent("main")).includes(XSS), `${p}: the name is not shown as text`);
  }
  assert(!op.page._dialogs, "a script ran");
  await op.context.close();
});

await check("a POST without the CSRF token is refused", async () => {
  const { context, page } = await signIn(browser, admins.operator);
  const r = await page.request.post(`${BASE}/admin/logout`, {
    form: { csrf: "0".repeat(64) }, maxRedirects: 0, headers: NO_REUSE,
  });
  assert(r.status() === 403, `status ${r.status()}`);
  await visit(page, "/admin", null); // still signed in
  await context.close();
});

await check("a tenant_admin editing the URL to another tenant gets 404, audited", async () => {
  const { context, page } = await signIn(browser, admins.tenant_admin);
  const before = Number(sql(`SELECT COUNT(*) FROM audit_log WHERE action = 'admin.cross_tenant' AND actor_id = '${admins.tenant_admin.name}'`)[0][0]);
  const probes = [`/admin/tenants/${other.id}/keys`, `/admin/tenants/${other.id}/budgets`,
    `/admin/usage?tenant_id=${other.id}`, `/admin/executions?tenant_id=${other.id}`];
  let refused = 0;
  for (const p of probes) {
    const resp = await page.goto(`${BASE}${p}`);
    assert(resp.status() === 404, `${p}: ${resp.status()}`);
    refused++;
  }
  const after = Number(sql(`SELECT COUNT(*) FROM audit_log WHERE action = 'admin.cross_tenant' AND actor_id = '${admins.tenant_admin.name}'`)[0][0]);
  assert(refused === probes.length && after - before === refused,
    `audit rows ${after - before}, refusals ${refused}`);
  await context.close();
});

// POST a chat completion with key; returns the HTTP status.
async function callWith(page, key) {
  const r = await page.request.post(`${BASE}/v1/chat/completions`, {
    headers: { ...NO_REUSE, Authorization: `Bearer ${key}` },
    data: { model: "mock-1", messages: [{ role: "user", content: "from the browser test" }] },
  });
  return r.status();
}

await check("tenant_admin creates a key, rotates it and both keys work during the grace period", async () => {
  const { context, page } = await signIn(browser, admins.tenant_admin);
  await visit(page, `/admin/tenants/${tenant.id}/keys`, null);
  await page.fill("form.stack input[name=name]", "browser-made");
  await Promise.all([page.waitForNavigation(), page.click("form.stack button[type=submit]")]);
  const created = await page.inputValue("#newkey");
  assert(created.startsWith("ah_live_"), "no key shown");
  await page.screenshot({ path: `${SHOTS}/tenant_admin-key-created-desktop.png`, fullPage: true });
  assert((await callWith(page, created)) === 200, "the new key does not work");
  // rotate the new key with the default grace (24 h)
  await visit(page, `/admin/tenants/${tenant.id}/keys`, null);
  const row = page.locator("tr", { hasText: "browser-made" });
  await Promise.all([page.waitForNavigation(), row.locator("form[action$='/rotate'] button").click()]);
  const rotated = await page.inputValue("#newkey");
  assert(rotated.startsWith("ah_live_") && rotated !== created, "no rotated key shown");
  assert((await page.textContent("main")).includes("both keys work"), "no grace notice");
  assert((await callWith(page, rotated)) === 200, "the rotated key does not work");
  assert((await callWith(page, created)) === 200, "the old key stopped during its grace period");
  await visit(page, `/admin/tenants/${tenant.id}/keys`, "tenant_admin-keys-rotating");
  assert(/rotating/i.test(await page.textContent("main")), "no countdown shown");
  await context.close();
});

await check("a budget set in the page refuses the next call", async () => {
  const t2 = newTenant("brbudget");
  const ta = newAdmin("tenant_admin", t2.slug);
  const { context, page } = await signIn(browser, ta);
  assert((await callWith(page, t2.key)) === 200, "first call refused");
  await visit(page, `/admin/tenants/${t2.id}/budgets`, null);
  await page.fill("input[name=budget_usd_daily]", "0.000001");
  await Promise.all([page.waitForNavigation(), page.click("form.stack button[type=submit]")]);
  await page.waitForTimeout(1100); // limits are cached for at most 1 s per thread
  assert((await callWith(page, t2.key)) === 429, "the budget did not refuse the call");
  await visit(page, `/admin/tenants/${t2.id}/budgets`, "tenant_admin-budget-exceeded");
  await context.close();
});

await check("support filters executions by tenant in the form", async () => {
  const { context, page } = await signIn(browser, admins.support);
  assert((await callWith(page, other.key)) === 200, "call refused");
  await visit(page, "/admin/executions", null);
  await page.selectOption("form.toolbar select[name=tenant_id]", String(other.id));
  await Promise.all([page.waitForNavigation(), page.click("form.toolbar button[type=submit]")]);
  assert(new URL(page.url()).searchParams.get("tenant_id") === String(other.id), page.url());
  const rows = await page.locator("main table tbody tr").count();
  assert(rows >= 1, "no execution listed");
  const text = await page.textContent("main table tbody");
  assert(text.includes(other.slug) || text.includes(String(other.id)), "rows of another tenant");
  await page.screenshot({ path: `${SHOTS}/support-executions-filtered-desktop.png`, fullPage: true });
  await context.close();
});

await check("the invoice prints without the navigation", async () => {
  const { context, page } = await signIn(browser, admins.operator);
  await visit(page, `/admin/tenants/${tenant.id}/invoice`, null);
  await page.emulateMedia({ media: "print" });
  assert(!(await page.isVisible("header.top")), "navigation printed");
  assert(!(await page.isVisible("form.toolbar")), "form printed");
  assert((await page.textContent("main")).includes("Total"), "no total");
  const pdf = await page.pdf({ path: `${SHOTS}/operator-invoice-print.pdf`, format: "A4" });
  assert(pdf.length > 1000, "empty PDF");
  await context.close();
});

await check("two-factor set-up shows an inline SVG QR code at phone width, then asks for the code", async () => {
  const user = newAdmin("operator");
  const { context, page } = await signIn(browser, user, PHONE);
  await visit(page, "/admin/account", null);
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/admin/account/mfa'] button")]);
  assert(await page.locator("svg.qr path").count() === 1, "no QR code");
  const box = await page.locator("svg.qr").boundingBox();
  assert(box && box.width >= 120, `QR code ${box && box.width}px wide`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 1, `the set-up page scrolls sideways by ${overflow}px`);
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/account-mfa-phone.png`, fullPage: true });
  await page.fill("input[name=code]", "000000");
  await Promise.all([page.waitForLoadState(), page.click("form[action$='/mfa/confirm'] button")]);
  assert((await page.textContent("body")).includes("does not match"), "a wrong first code was not refused");
  assert(!page._dialogs, "a script ran");
  await context.close();
});

await check("sign out ends the session", async () => {
  const { context, page } = await signIn(browser, admins.support);
  await Promise.all([page.waitForNavigation(), page.click("form.whoami button")]);
  assert(new URL(page.url()).pathname === "/admin/login", page.url());
  const r = await page.request.get(`${BASE}/admin`, { maxRedirects: 0, headers: NO_REUSE });
  assert(r.status() === 303, `status ${r.status()}`);
  await context.close();
});

await browser.close();
finish();
