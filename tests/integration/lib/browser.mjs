// Shared helpers of the browser tests (headless Debian Chromium driven by
// playwright-core): a check() runner that prints the harness's lines and the
// RESULT line tests/run reads, agenthostctl and SQL helpers, sign-in, and
// screenshots at desktop and phone widths into AGENTHOST_SCREENSHOT_DIR.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.AGENTHOST_URL;
const CTL = process.env.AGENTHOST_CTL;
const DB_SOCKET = process.env.AGENTHOST_TEST_DB_SOCKET;
export const SHOTS = process.env.AGENTHOST_SCREENSHOT_DIR || "var/test/screenshots";
export const DESKTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };
// Headers for page.request calls: a connection of its own each time. playwright-core 1.61
// keeps one keep-alive pool for the whole process, so a connection left idle while pages
// are visited is reused just as lighttpd closes it for idling 5 s ("socket hang up").
export const NO_REUSE = { Connection: "close" };

let passed = 0, failed = 0, skipped = 0;

export async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
    passed++;
  } catch (e) {
    if (e && e.skip) {
      console.log(`skip - ${name}: ${e.message}`);
      skipped++;
      return;
    }
    console.log(`FAIL - ${name}: ${e && e.stack ? e.stack : e}`);
    failed++;
  }
}

export function finish() {
  console.log(`RESULT passed=${passed} failed=${failed} skipped=${skipped}`);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

export function ctl(args, input) {
  const out = execFileSync(CTL, args, {
    encoding: "utf8",
    input: input === undefined ? "" : input,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return out.trim() ? JSON.parse(out) : null;
}

export function sql(query) {
  const db = (fs.readFileSync(process.env.AGENTHOST_CONF, "utf8").match(/^db_name\s*=\s*(\S+)/m) || [])[1] || "agenthost";
  const out = execFileSync("mariadb", ["--no-defaults", "-uroot", "-S", DB_SOCKET, "--batch",
    "--skip-column-names", "-e", query, db], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.length).map((l) => l.split("\t"));
}

export function suffix() {
  return Math.random().toString(36).slice(2, 10);
}

export function newTenant(prefix, name) {
  const slug = `${prefix}-${suffix()}`;
  const t = ctl(["tenant", "create", slug, "--name", name || `Browser ${slug}`, "--plan", "pro"]);
  const k = ctl(["key", "create", "--tenant", slug, "--name", "browser"]);
  ctl(["agent", "create", "--tenant", slug, "--name", "assistant", "--model", "mock-1",
    "--instructions", "You are a helpful assistant."]);
  return { slug, id: t.id, key: k.key, keyId: k.id };
}

export function newAdmin(role, tenant) {
  const name = `${role.replace("_", "")}-${suffix()}`;
  const pw = `pw-${suffix()}${suffix()}`;
  const args = ["admin", "add", name, "--role", role];
  if (tenant) args.push("--tenant", String(tenant));
  ctl(args, pw + "\n");
  return { name, pw, role };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

// A signed-in page for admin at the given viewport.
export async function signIn(browser, admin, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, isMobile: viewport.width < 600,
    hasTouch: viewport.width < 600 });
  const page = await context.newPage();
  page.on("dialog", (d) => { page._dialogs = (page._dialogs || 0) + 1; d.dismiss(); });
  await page.goto(`${BASE}/admin/login`);
  await page.fill("input[name=name]", admin.name);
  await page.fill("input[name=password]", admin.pw);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert(new URL(page.url()).pathname === "/admin", `after sign-in at ${page.url()}`);
  return { context, page };
}

// Load path, expect status, and store a screenshot named role-name-width.png.
export async function visit(page, pathname, shot, status = 200) {
  const resp = await page.goto(`${BASE}${pathname}`);
  assert(resp.status() === status, `${pathname}: status ${resp.status()}`);
  if (shot) {
    fs.mkdirSync(SHOTS, { recursive: true });
    const w = page.viewportSize().width < 600 ? "phone" : "desktop";
    await page.screenshot({ path: path.join(SHOTS, `${shot}-${w}.png`), fullPage: true });
  }
  return resp;
}
