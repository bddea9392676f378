// End to end under load: 50 concurrent clients post 1,000 webhook requests (generic, signed SendGrid and
// signed Mailgun) about 20 domains, their events stamped out of order over the last three hours (36 buckets,
// four hour-pages), plus 100 redeliveries: 50 racing their original, 50 after the cron published it. Every
// domain's totals and every bucket must match what was sent, exactly, before and after the hour pages are
// published to KV.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, call, cronRun, postGeneric, sendgridSigner, mailgunSignature, OUTCOMES, generator } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const MAILGUN_KEY = "e2e-mailgun-signing-key";
const sendgrid = sendgridSigner();
const CLIENTS = 50;
const REQUESTS = 1000;
/** The default BUCKET_MINUTES. */
const BUCKET = 300;
const SPAN = 3 * 3600;
const DOMAINS = Array.from({ length: 20 }, (_, i) => `d${String(i).padStart(2, "0")}.load.example`);
const FIELDS = ["delivered", "deferred", "bounced", "smtp_451"];

const random = generator(20261128);
const below = (n) => Math.floor(random() * n);

const now = Math.floor(Date.now() / 1000);
/** Events stop before the current bucket, so every bucket they touch is closed when the test reads it. */
const lastClosedSecond = now - (now % BUCKET) - 1;
const expected = { domains: new Map(), buckets: new Map() };
let eventCount = 0;

function tally(domain, at, counts) {
  const bucket = at - (at % BUCKET);
  const byDomain = expected.domains.get(domain) ?? Object.fromEntries(FIELDS.map((f) => [f, 0]));
  expected.domains.set(domain, byDomain);
  const byBucket = expected.buckets.get(domain) ?? new Map();
  expected.buckets.set(domain, byBucket);
  const slot = byBucket.get(bucket) ?? Object.fromEntries(FIELDS.map((f) => [f, 0]));
  byBucket.set(bucket, slot);
  for (const [field, n] of Object.entries(counts)) {
    byDomain[field] += n;
    slot[field] += n;
  }
}

/** One event: a domain, an outcome and a time up to three hours back, in a closed bucket, in no particular order. */
function draw(request, index) {
  const event = { id: `load-${request}-${index}`, domain: DOMAINS[below(DOMAINS.length)], outcome: OUTCOMES[below(OUTCOMES.length)], at: lastClosedSecond - below(SPAN) };
  tally(event.domain, event.at, event.outcome.counts);
  eventCount++;
  return event;
}

/**
 * Request `r`: 80 % generic batches, 15 % signed SendGrid batches (1–4 events each), 5 % signed Mailgun
 * events. `send()` signs at send time, as the ESP would for each attempt.
 */
function makeRequest(r) {
  const kind = r % 20 < 16 ? "generic" : r % 20 < 19 ? "sendgrid" : "mailgun";
  const events = Array.from({ length: kind === "mailgun" ? 1 : 1 + below(4) }, (_, i) => draw(r, i));
  if (kind === "generic") {
    const body = JSON.stringify(events.map((e) => ({ id: e.id, recipient: `user${r}@${e.domain}`, timestamp: e.at, ...e.outcome.generic })));
    return { events: events.length, send: () => postGeneric(worker, TOKEN, body) };
  }
  if (kind === "sendgrid") {
    const body = JSON.stringify(events.map((e) => ({ sg_event_id: e.id, email: `user${r}@${e.domain}`, timestamp: e.at, ...e.outcome.sendgrid })));
    return { events: events.length, send: () => call(worker, "/webhooks/sendgrid", { method: "POST", headers: sendgrid.headers(body), body }) };
  }
  const [e] = events;
  const data = { id: e.id, timestamp: e.at, recipient: `user${r}@${e.domain}`, "recipient-domain": e.domain, ...e.outcome.mailgun };
  const send = () =>
    call(worker, "/webhooks/mailgun", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ signature: mailgunSignature(MAILGUN_KEY), "event-data": data }),
    });
  return { events: 1, send };
}

const requests = Array.from({ length: REQUESTS }, (_, r) => makeRequest(r));
/** Every 20th request is redelivered while its first delivery is in flight; every 20th from the 10th, later. */
const racing = requests.filter((_, r) => r % 20 === 0);
const late = requests.filter((_, r) => r % 20 === 10);

let worker;

before(async () => {
  worker = await startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: TOKEN, SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKey, MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY } });
});

after(async () => {
  await worker?.stop();
});

/** Sends `work` through `CLIENTS` concurrent clients; returns every response. */
async function flood(work) {
  const queue = [...work];
  const responses = [];
  const client = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) responses.push(...(await item()));
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return responses;
}

function assertAllStored(responses) {
  const failed = responses.filter((r) => r.status !== 200);
  assert.deepEqual(failed.map((r) => `${r.status} ${r.text}`), [], "every delivery is stored");
}

/** Compares every domain's 24-hour totals with what was sent; returns the number of values compared. */
async function assertDomainTotals(when) {
  const { status, json, text } = await call(worker, "/api/domains?window=24h&limit=1000");
  assert.equal(status, 200, text);
  const rows = json.domains.filter((d) => d.domain.endsWith(".load.example"));
  assert.deepEqual(rows.map((d) => d.domain).sort(), [...expected.domains.keys()].sort(), when);
  for (const row of rows) {
    const got = Object.fromEntries(FIELDS.map((f) => [f, row[f]]));
    assert.deepEqual(got, expected.domains.get(row.domain), `${row.domain} ${when}`);
  }
  return rows.length * FIELDS.length;
}

/** Compares every non-empty bucket of every domain with what was sent; returns the number of buckets. */
async function assertBuckets(when) {
  let compared = 0;
  for (const domain of expected.domains.keys()) {
    const { status, json, text } = await call(worker, `/api/domains/${domain}?window=24h`);
    assert.equal(status, 200, text);
    const got = Object.fromEntries(json.buckets.map((b) => [b.start, Object.fromEntries(FIELDS.map((f) => [f, b[f]]))]));
    const want = Object.fromEntries(expected.buckets.get(domain));
    assert.deepEqual(got, want, `${domain}'s buckets ${when}`);
    compared += Object.keys(want).length;
  }
  return compared;
}

test("1,000 webhook requests from 50 concurrent clients, with redeliveries, are counted exactly once, in the right buckets", async () => {
  const started = Date.now();
  const first = await flood(
    requests.map((request) => async () => (racing.includes(request) ? Promise.all([request.send(), request.send()]) : [await request.send()])),
  );
  assert.equal(first.length, REQUESTS + racing.length);
  assertAllStored(first);
  const accepted = first.reduce((sum, r) => sum + r.json.accepted, 0);
  const duplicates = first.reduce((sum, r) => sum + r.json.duplicates, 0);
  const racedEvents = racing.reduce((sum, r) => sum + r.events, 0);
  assert.equal(accepted, eventCount, "every event is counted once, whichever of two racing deliveries carried it");
  assert.equal(duplicates, racedEvents, "the other delivery of a racing pair reports its events as duplicates");
  const posted = Date.now();

  // Before any cron run the counts come from the object alone; then it publishes the hour pages.
  const compared = [await assertDomainTotals("before any cron run")];
  const publish = await cronRun(worker);
  assert.ok(publish.ok && publish.report.upkeep[0].publish.puts > 0, JSON.stringify(publish));
  compared.push(await assertDomainTotals("after the publish"));
  const late_answers = await flood(late.map((request) => async () => [await request.send()]));
  assertAllStored(late_answers);
  assert.equal(late_answers.reduce((sum, r) => sum + r.json.accepted, 0), 0, "late redeliveries count nothing");
  compared.push(await assertDomainTotals("after redeliveries of published events"));
  const again = await cronRun(worker);
  assert.ok(again.ok, JSON.stringify(again));
  compared.push(await assertDomainTotals("after the next cron run"));
  const buckets = await assertBuckets("at the end");
  console.log(
    `load: ${REQUESTS} requests + ${racing.length} racing + ${late.length} late redeliveries, ${eventCount} events, ` +
      `${DOMAINS.length} domains; posted in ${posted - started} ms, checked in ${Date.now() - posted} ms; ` +
      `per-domain values compared ${compared.join(" + ")}, buckets compared ${buckets}; cron reports: ` +
      JSON.stringify([publish, again].map((run) => run.report.upkeep)),
  );
});
