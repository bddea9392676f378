// The dashboard in a real browser (Debian's chromium driven by playwright-core) against the built Worker under
// wrangler dev: seed traffic through /webhooks/generic, let the cron fire the gmail.com alert, then look.
// Tests that need the stats API (issue 4) skip, saying so, on a build that answers 404 for it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startWorker, call, triggerCron, ROOT } from "./harness.mjs";

const WEBHOOK_TOKEN = "dashboard-e2e-token";
const ARTIFACTS = join(ROOT, "tests/artifacts");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
// The flags this machine needs (see the environment notes): without the background-networking ones Chromium
// tries Google's hosts at start-up. playwright-core adds --headless and a fresh temporary --user-data-dir.
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let worker;
let browser;
let statsApi = false;
const consoleErrors = [];
const scriptErrors = [];
const foreignRequests = [];

/**
 * Six hours of steady traffic to three domains with the odd greylisting, then a 451 "local policy" spike on
 * gmail.com in the last ten minutes: 40 of 50 attempts deferred, well over the detector's defaults (20 × 451,
 * 5 % and 3 × baseline).
 */
function seedEvents(now) {
  const events = [];
  const add = (event, domain, reply, timestamp) =>
    events.push({ id: `seed-${events.length + 1}`, event, domain, reply, timestamp: Math.floor(timestamp) });
  for (let t = now - 6 * 3600; t < now - 60; t += 600) {
    for (const domain of ["gmail.com", "outlook.com", "yahoo.com"]) {
      for (let i = 0; i < 4; i++) add("delivered", domain, "250 2.0.0 OK", t + i * 60);
    }
    if (Math.round(t / 600) % 6 === 0) add("deferred", "outlook.com", "451 4.3.0 greylisted, please retry in 300 seconds", t + 300);
  }
  for (let i = 0; i < 40; i++) add("deferred", "gmail.com", "451 4.7.1 local policy violation", now - 590 + i * 14);
  for (let i = 0; i < 10; i++) add("delivered", "gmail.com", "250 2.0.0 OK", now - 590 + i * 55);
  return events;
}

async function seed() {
  const events = seedEvents(Math.floor(Date.now() / 1000));
  for (let i = 0; i < events.length; i += 200) {
    const { status, text } = await call(worker, "/webhooks/generic", {
      method: "POST",
      headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(events.slice(i, i + 200)),
    });
    assert.ok(status >= 200 && status < 300, `webhook answered ${status}: ${text}`);
  }
  // Hysteresis: an alert fires on the second consecutive evaluation.
  for (let run = 0; run < 2; run++) assert.equal(await triggerCron(worker), 200);
}

/** A page that records console errors, uncaught exceptions and any request leaving 127.0.0.1. */
async function openPage(viewport) {
  const page = await browser.newPage({ viewport });
  page.on("console", (message) => message.type() === "error" && consoleErrors.push(`${message.text()} (${page.url()})`));
  page.on("pageerror", (error) => scriptErrors.push(error.message));
  page.on("request", (request) => {
    const { protocol, hostname } = new URL(request.url());
    if (protocol !== "data:" && hostname !== "127.0.0.1") foreignRequests.push(request.url());
  });
  return page;
}

const screenshot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
// Decided in before(), so checked inside each test body (a test's `skip` option is read when the file loads).
const NO_STATS = "the stats API (issue 4) is not in this build: /api/domains answers 404";
const NO_CLASSIFIER = "the classifier (issue 2) is not in this build: /api/classify answers with its skeleton rule";

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  worker = await startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: WEBHOOK_TOKEN } });
  statsApi = (await call(worker, "/api/domains?window=1h")).status !== 404;
  if (statsApi) await seed();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await worker?.stop();
});

test("the gmail.com alert is at the top, with its severity in words", async (t) => {
  if (!statsApi) return t.skip(NO_STATS);
  const page = await openPage(DESKTOP);
  await page.goto(`${worker.url}/`);
  const alert = page.locator(".alerts article.alert", { hasText: "gmail.com" });
  await alert.waitFor();
  assert.match(await alert.locator(".badge").innerText(), /warning|critical/i);
  assert.match(await alert.innerText(), /policy_rejected/);
  const row = page.locator("table.domains tbody tr", { hasText: "gmail.com" });
  await row.locator("svg.spark path").first().waitFor();
  await screenshot(page, "dashboard-desktop");
  await page.close();
});

test("the domain page draws its chart with bars and an accessible title", async (t) => {
  if (!statsApi) return t.skip(NO_STATS);
  const page = await openPage(DESKTOP);
  await page.goto(`${worker.url}/#/domain/gmail.com`);
  const chart = page.locator("svg.chart");
  await chart.waitFor();
  assert.ok(await chart.locator("rect.bar-attempts").count() > 0, "attempt bars drawn");
  assert.ok(await chart.locator("rect.bar-451").count() > 0, "451 bars drawn");
  assert.equal(await chart.getAttribute("role"), "img");
  assert.match(await chart.locator("title").first().textContent(), /gmail\.com/);
  assert.match(await page.locator(".breakdown").innerText(), /policy_rejected/);
  assert.match(await page.locator(".samples").innerText(), /local policy violation/);
  await screenshot(page, "domain-desktop");
  await page.close();
});

let shownVerdict;
let workerVerdict;

test("the classify box shows the Worker's verdict: category, permanence, action and rule", async () => {
  const reply = "451 4.7.1 local policy violation";
  workerVerdict = (await call(worker, `/api/classify?reply=${encodeURIComponent(reply)}`)).json;
  const page = await openPage(DESKTOP);
  await page.goto(`${worker.url}/`);
  await page.fill("#classify-input", reply);
  await page.click("#classify-form button");
  const verdict = page.locator("#classify-result dl.verdict");
  await verdict.waitFor();
  shownVerdict = await verdict.evaluate((dl) =>
    Object.fromEntries([...dl.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  assert.equal(shownVerdict.Category, workerVerdict.category);
  assert.equal(shownVerdict.Permanence, workerVerdict.permanence);
  assert.equal(shownVerdict.Action, workerVerdict.action);
  assert.equal(shownVerdict.Rule, workerVerdict.rule);
  await screenshot(page, "classify-desktop");
  await page.close();
});

test("the classify box names a local policy violation policy_rejected", (t) => {
  if (workerVerdict?.rule === "skeleton") return t.skip(NO_CLASSIFIER);
  assert.equal(shownVerdict?.Category, "policy_rejected");
  assert.equal(shownVerdict?.Permanence, "transient");
});

test("at phone width the pages fit the screen", async () => {
  for (const [hash, name] of [["#/", "dashboard-phone"], ["#/domain/gmail.com", "domain-phone"]]) {
    const page = await openPage(PHONE);
    await page.goto(`${worker.url}/${hash}`);
    // Loaded, or failed visibly: either way the page is laid out.
    await page.locator("main:not(:empty), #banner:not([hidden])").first().waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${name} scrolls sideways`);
    await screenshot(page, name);
    await page.close();
  }
});

test("with READ_TOKEN set, the page asks once for the token and sends it as a bearer", async (t) => {
  const token = "dashboard-read-token";
  const locked = await startWorker({ vars: { READ_TOKEN: token } });
  try {
    if ((await call(locked, "/api/alerts")).status !== 401) return t.skip("READ_TOKEN is not enforced in this build: /api/alerts did not answer 401");
    // Its own page: the 401s it provokes on purpose are logged by Chromium as console errors.
    const page = await browser.newPage({ viewport: DESKTOP });
    const bearers = [];
    page.on("request", (r) => r.url().includes("/api/") && bearers.push(r.headers().authorization ?? null));
    await page.goto(`${locked.url}/`);
    await page.locator("#token-form").waitFor();
    await page.fill("#token-input", token);
    await page.click("#token-form button");
    await page.locator("main:not(:empty)").waitFor();
    assert.ok(bearers.includes(`Bearer ${token}`), "the API calls after the form carry the token");
    await page.reload();
    await page.locator("main:not(:empty)").waitFor();
    assert.ok(await page.locator("#token").isHidden(), "asked once: a reload does not ask again");
    await page.close();
  } finally {
    await locked.stop();
  }
});

test("no uncaught script errors", () => {
  assert.deepEqual(scriptErrors, []);
});

test("no console errors", (t) => {
  // Without the stats API every load logs Chromium's "Failed to load resource: 404" for its routes.
  if (!statsApi) return t.skip(NO_STATS);
  assert.deepEqual(consoleErrors, []);
});

test("no request leaves 127.0.0.1", () => {
  assert.deepEqual(foreignRequests, []);
});
