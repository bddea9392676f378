// End to end: per-domain counters in local KV, 451 spike detection by the cron handler, and the stats API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, call, triggerCron, genericEvents as events, postGeneric, seedSpike } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
let worker;

before(async () => {
  worker = await startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: TOKEN } });
});

after(async () => {
  await worker?.stop();
});

const now = Math.floor(Date.now() / 1000);

async function post(batch) {
  const response = await postGeneric(worker, TOKEN, batch);
  assert.equal(response.status, 200, response.text);
  return response.json;
}

const domainRow = (list, domain) => list.domains.find((d) => d.domain === domain);

test("a policy spike on gmail.com fires after two evaluations; steady outlook.com does not", async () => {
  const policy = "451 4.7.1 <someone@gmail.com>: local policy violation";
  await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: policy, now });

  const hour = await call(worker, "/api/domains?window=1h");
  assert.equal(hour.status, 200, hour.text);
  assert.equal(hour.json.window, "1h");
  assert.equal(hour.json.domains[0].domain, "gmail.com", "sorted by 451s, descending");
  const gmail = domainRow(hour.json, "gmail.com");
  assert.equal(gmail.smtp_451, 60);
  assert.equal(gmail.deferred, 60);
  assert.equal(gmail.delivered, 200);
  assert.equal(gmail.attempts, 260);
  assert.equal(gmail.categories.policy_rejected, 60);
  assert.ok(Math.abs(gmail.ratio_451 - 60 / 260) < 1e-6);
  assert.equal(gmail.status, "firing");
  const outlook = domainRow(hour.json, "outlook.com");
  assert.equal(outlook.smtp_451, 1);
  assert.equal(outlook.status, "ok");

  const day = await call(worker, "/api/domains?window=24h");
  assert.equal(domainRow(day.json, "gmail.com").delivered, 200 + 19 * 100);

  const detail = await call(worker, "/api/domains/gmail.com?window=24h");
  assert.equal(detail.status, 200, detail.text);
  assert.equal(detail.json.domain, "gmail.com");
  assert.equal(detail.json.status, "firing");
  const bucketSum = detail.json.buckets.reduce((sum, b) => sum + b.smtp_451, 0);
  assert.equal(bucketSum, 60 + 19);
  assert.ok(detail.json.samples.some((s) => s.category === "policy_rejected"));
  assert.doesNotMatch(detail.text, /someone@/, "sample replies are redacted");

  const alerts = await call(worker, "/api/alerts");
  assert.equal(alerts.status, 200, alerts.text);
  const active = alerts.json.active.filter((a) => a.domain === "gmail.com");
  assert.equal(active.length, 1);
  assert.notEqual(active[0].severity, "benign");
  assert.equal(active[0].causes[0].category, "policy_rejected");
  assert.ok(active[0].baseline_ratio < 0.05);
  assert.ok(!alerts.json.active.some((a) => a.domain === "outlook.com"));
});

test("50 requests sent at once, 20 events each, are counted exactly, before and after the cron publishes", async () => {
  const at = now - 120;
  const bodies = Array.from({ length: 50 }, (_, r) =>
    JSON.stringify(events(`load${r % 10}.example`, 20, { event: r % 2 ? "deferred" : "delivered", reply: r % 2 ? "451 4.7.0 try again later" : undefined, at })),
  );
  await Promise.all(bodies.map((body) => post(body)));
  const total = async () => {
    const { json } = await call(worker, "/api/domains?window=1h&limit=1000");
    return json.domains
      .filter((d) => d.domain.startsWith("load"))
      .reduce((sum, d) => sum + d.delivered + d.deferred, 0);
  };
  assert.equal(await total(), 1000);
  await triggerCron(worker);
  assert.equal(await total(), 1000);
  await triggerCron(worker);
  assert.equal(await total(), 1000);
});

test("the same body delivered twice is counted once", async () => {
  const body = JSON.stringify(events("redelivery.example", 7, { at: now - 30 }));
  await post(body);
  await post(body);
  await triggerCron(worker);
  await post(body);
  const { json } = await call(worker, "/api/domains?window=1h");
  assert.equal(domainRow(json, "redelivery.example").delivered, 7);
});

test("events older than the history are reported stale and not stored; older than the retention, backfilled", async () => {
  const ancient = await post(events("stale.example", 3, { at: now - 500 * 86400 }));
  assert.equal(ancient.stale, 3);
  const old = await post(events("backfill.example", 3, { at: now - 30 * 86400 + 3600 }));
  assert.deepEqual([old.stale, old.accepted], [0, 3]);
  const { json } = await call(worker, "/api/domains?window=7d");
  assert.equal(domainRow(json, "stale.example"), undefined);
  assert.equal(domainRow(json, "backfill.example"), undefined, "not in the hourly windows");
});

test("bad parameters are 400 errors naming the parameter", async () => {
  const window = await call(worker, "/api/domains?window=2h");
  assert.equal(window.status, 400);
  assert.match(window.json.message, /window/);
  const limit = await call(worker, "/api/domains?limit=-1");
  assert.equal(limit.status, 400);
  assert.match(limit.json.message, /limit/);
});

test("the OpenAPI document lists every route", async () => {
  const { status, json } = await call(worker, "/api/openapi.json");
  assert.equal(status, 200);
  assert.match(json.openapi, /^3\.1/);
  for (const path of ["/api/health", "/api/classify", "/api/domains", "/api/domains/{domain}", "/api/alerts"]) {
    assert.ok(json.paths[path], `missing ${path}`);
  }
  assert.ok(Object.keys(json.paths).some((p) => p.startsWith("/webhooks/")));
});
