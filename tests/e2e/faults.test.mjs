// End to end: storage and email failures under wrangler dev. The test-only BOUNCEWATCH_FAULTS var makes the
// Worker's KV fail (`Faults` in src/store.rs); restarting the Worker on the same local KV directory without
// it is the recovery. The ESPs' retries must then have counted every event exactly once. A failing email
// API must get the alert delivered once it recovers, exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startWorker, call, postGeneric, sendgridSigner, mailgunSignature, cronRun, cronRuns, seedSpike, settle, captureServer,
} from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const MAILGUN_KEY = "e2e-mailgun-signing-key";
const BUCKET = 300;
const FIELDS = ["delivered", "deferred", "bounced", "smtp_451"];
const sendgrid = sendgridSigner();
const now = Math.floor(Date.now() / 1000);

/**
 * Six deliveries (four generic batches, a signed SendGrid batch, a signed Mailgun event) about two domains,
 * stamped 10 to 50 minutes ago, out of order: every bucket they touch has closed, so the cron publishes them all.
 */
function deliveries() {
  const expected = new Map();
  const count = (domain, at, counts) => {
    const bucket = at - (at % BUCKET);
    const buckets = expected.get(domain) ?? new Map();
    expected.set(domain, buckets);
    const slot = buckets.get(bucket) ?? Object.fromEntries(FIELDS.map((f) => [f, 0]));
    buckets.set(bucket, slot);
    for (const [field, n] of Object.entries(counts)) slot[field] += n;
  };
  const domains = ["f1.faults.example", "f2.faults.example"];
  const at = (i) => now - 600 - ((i * 977) % 2400);
  const list = [];
  for (let b = 0; b < 4; b++) {
    const events = Array.from({ length: 5 }, (_, i) => {
      const domain = domains[(b + i) % 2];
      const deferred = i % 2 === 0;
      count(domain, at(b * 5 + i), deferred ? { deferred: 1, smtp_451: 1 } : { delivered: 1 });
      return {
        id: `faults-${b}-${i}`, event: deferred ? "deferred" : "delivered", recipient: `u${i}@${domain}`,
        timestamp: at(b * 5 + i), ...(deferred ? { reply: "451 4.7.1 Try again later" } : {}),
      };
    });
    list.push({ events: 5, send: (worker) => postGeneric(worker, TOKEN, events) });
  }
  const sgBody = JSON.stringify([
    { sg_event_id: "faults-sg-1", email: "a@f1.faults.example", timestamp: at(21), event: "bounce", type: "bounce", reason: "550 5.1.1 user unknown" },
    { sg_event_id: "faults-sg-2", email: "b@f2.faults.example", timestamp: at(22), event: "deferred", response: "451 4.7.1 Try again later" },
  ]);
  count("f1.faults.example", at(21), { bounced: 1 });
  count("f2.faults.example", at(22), { deferred: 1, smtp_451: 1 });
  list.push({
    events: 2,
    send: (worker) => call(worker, "/webhooks/sendgrid", { method: "POST", headers: sendgrid.headers(sgBody), body: sgBody }),
  });
  const mgData = {
    id: "faults-mg-1", event: "failed", severity: "temporary", timestamp: at(23), recipient: "c@f1.faults.example",
    "delivery-status": { code: 451, message: "4.7.1 Try again later" },
  };
  count("f1.faults.example", at(23), { deferred: 1, smtp_451: 1 });
  list.push({
    events: 1,
    // Mailgun re-signs every attempt (a new token), as a real retry would.
    send: (worker) => call(worker, "/webhooks/mailgun", {
      method: "POST", body: JSON.stringify({ signature: mailgunSignature(MAILGUN_KEY), "event-data": mgData }),
    }),
  });
  return { list, expected };
}

/** Every domain's totals and buckets over the last day, as the API reports them. */
async function counted(worker, domains) {
  const result = new Map();
  const list = await call(worker, "/api/domains?window=24h");
  assert.equal(list.status, 200, list.text);
  for (const domain of domains) {
    const detail = await call(worker, `/api/domains/${domain}?window=24h`);
    assert.equal(detail.status, 200, detail.text);
    const row = list.json.domains.find((d) => d.domain === domain);
    const totals = Object.fromEntries(FIELDS.map((f) => [f, row?.[f] ?? 0]));
    const buckets = new Map(detail.json.buckets.map((b) => [b.start, Object.fromEntries(FIELDS.map((f) => [f, b[f]]))]));
    result.set(domain, { totals, buckets });
  }
  return result;
}

function assertExact(got, expected, when) {
  for (const [domain, buckets] of expected) {
    const totals = Object.fromEntries(FIELDS.map((f) => [f, [...buckets.values()].reduce((sum, b) => sum + b[f], 0)]));
    assert.deepEqual(got.get(domain).totals, totals, `${domain} totals ${when}`);
    assert.deepEqual(got.get(domain).buckets, buckets, `${domain} buckets ${when}`);
  }
}

const vars = { GENERIC_WEBHOOK_TOKEN: TOKEN, SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKey, MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY };

/** Runs `body` against a Worker on `persistDir` whose KV fails as `faults` says (none when undefined). */
async function withWorker(persistDir, faults, body) {
  const worker = await startWorker({ vars: faults ? { ...vars, BOUNCEWATCH_FAULTS: faults } : vars, persistDir });
  try {
    await body(worker);
  } finally {
    await worker.stop();
  }
}

const assertUnavailable = (response, what) => {
  assert.equal(response.status, 503, `${what}: ${response.text}`);
  assert.equal(response.json.error, "storage_unavailable", what);
};

test("webhooks answer 503 while the counting object fails, and after the ESPs' retries every event is counted once, in its bucket", async () => {
  const persistDir = mkdtempSync(join(tmpdir(), "bouncewatch-faults-"));
  const { list, expected } = deliveries();
  const domains = [...expected.keys()];
  const total = list.reduce((n, d) => n + d.events, 0);
  try {
    // The object is unreachable: nothing is counted, nothing can be read, the cron run fails.
    await withWorker(persistDir, "object", async (worker) => {
      const responses = await Promise.all(list.map((d) => d.send(worker)));
      responses.forEach((r, i) => assertUnavailable(r, `delivery ${i}`));
      assertUnavailable(await call(worker, "/api/domains?window=24h"), "the domain list");
      assertUnavailable(await call(worker, "/api/alerts"), "the alerts");
      const run = await cronRun(worker);
      assert.equal(run.ok, false);
      assert.match(run.error, /injected counting object failure/);
    });

    // The object commits but its answers are lost (a timeout after the write): the ESPs see 503 and retry.
    await withWorker(persistDir, "object-after-commit", async (worker) => {
      const responses = await Promise.all(list.map((d) => d.send(worker)));
      responses.forEach((r, i) => assertUnavailable(r, `delivery ${i}`));
    });

    // KV fails: webhooks do not need it; the publish fails and is retried; reads come from the object.
    await withWorker(persistDir, "put", async (worker) => {
      const responses = await Promise.all(list.map((d) => d.send(worker)));
      responses.forEach((r, i) => {
        assert.equal(r.status, 200, r.text);
        assert.deepEqual([r.json.accepted, r.json.duplicates], [0, list[i].events], "the retry finds its events counted");
      });
      assertExact(await counted(worker, domains), expected, "after retries of committed deliveries");
      const run = await cronRun(worker);
      assert.equal(run.ok, true, JSON.stringify(run));
      assert.match(run.report.upkeep[0].publish.error, /injected put failure/);
      assertExact(await counted(worker, domains), expected, "while KV fails");
    });

    // Everything recovers; the ESPs' late retries count nothing twice and the pages are published.
    await withWorker(persistDir, undefined, async (worker) => {
      const responses = await Promise.all(list.map((d) => d.send(worker)));
      const duplicates = responses.reduce((n, r) => n + r.json.duplicates, 0);
      assert.equal(duplicates, total);
      // The failed publish counts as this PUBLISH_MINUTES' run; the next due one publishes (shown natively:
      // a_kv_outage_leaves_webhooks_alone_and_the_next_publish_catches_up).
      await cronRun(worker);
      assertExact(await counted(worker, domains), expected, "after the recovery");
    });
  } finally {
    rmSync(persistDir, { recursive: true, force: true });
  }
});

test("an email API failing for four cron runs gets the alert once it recovers, exactly once", async () => {
  const capture = await captureServer([500, "reset", 503, 429]);
  const worker = await startWorker({
    vars: {
      GENERIC_WEBHOOK_TOKEN: TOKEN,
      ALERT_FROM: "alerts@bouncewatch.example",
      ALERT_TO: "ops@bouncewatch.example",
      ALERT_EMAIL_PROVIDER: "resend",
      ALERT_EMAIL_API_KEY: "re_e2e_key",
      ALERT_EMAIL_API_BASE: capture.base,
      // Retries are due on every run here (the default waits 1, 2, 4 … minutes).
      ALERT_RETRY: "1s",
    },
  });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: "451 4.7.1 local policy violation" });
    await settle(() => cronRuns(worker).length, 2, { quietMs: 0 });
    const runs = cronRuns(worker);
    for (let i = 0; i < 5; i++) runs.push(await cronRun(worker));
    // A run logs its line after its sends, so every attempt has been made by now.
    assert.equal(capture.requests.length, 5, worker.logs());
    assert.deepEqual(capture.requests.map((r) => r.answer), [500, "reset", 503, 429, 200]);
    assert.deepEqual(
      runs.map((r) => [r.notified.length, r.notify_failures.length]),
      [[0, 0], [0, 1], [0, 1], [0, 1], [0, 1], [1, 0], [0, 0]],
      "one attempt per run until the delivery, then nothing",
    );
    for (const request of capture.requests) {
      assert.equal(request.body, capture.requests[0].body, "every attempt sends the same message");
      assert.equal(request.headers["idempotency-key"], capture.requests[0].headers["idempotency-key"]);
    }
    assert.match(JSON.parse(capture.requests[0].body).subject, /^\[bouncewatch\] gmail\.com: 451 deferrals/);
    const alerts = await call(worker, "/api/alerts");
    assert.deepEqual(alerts.json.active.map((a) => a.domain), ["gmail.com"], "the alert is still firing");
  } finally {
    await worker.stop();
    capture.close();
  }
});
