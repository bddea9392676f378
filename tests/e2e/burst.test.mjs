// End to end: a burst. 1,000 webhook requests started at once (not a pool: every fetch is in flight
// together), each with its own events. The Worker may shed load, but only with a 503 (the ESP retries),
// never a 5xx of another kind or a 2xx that loses events. Retrying what was refused until everything is
// stored must leave every event counted exactly once, with one counting object and with two.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  startWorker, call, cronRun, postGeneric, sendgridSigner, mailgunSignature, kvKeys, shardOf, Tally, apiCounts, pageKey, sleep, OUTCOMES,
} from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const MAILGUN_KEY = "e2e-mailgun-signing-key";
const sendgrid = sendgridSigner();
const REQUESTS = 1000;
const MAX_ROUNDS = 10;
const BUCKET = 300;
const DOMAINS = Array.from({ length: 12 }, (_, i) => `b${String(i).padStart(2, "0")}.burst.example`);


/** Sends once; a connection that fails without an answer is recorded as status 0. */
async function attempt(request) {
  try {
    return await request.send();
  } catch (error) {
    return { status: 0, text: String(error?.cause?.code ?? error) };
  }
}

async function burst(shards) {
  const now = Math.floor(Date.now() / 1000);
  const lastClosedSecond = now - (now % BUCKET) - 1;
  const tally = new Tally(BUCKET);
  const prefix = `burst${shards}-${process.pid}`;
  let worker;
  /** Request `r`: 70 % generic (1–3 events), 20 % signed SendGrid (1–3), 10 % signed Mailgun (one event). */
  const makeRequest = (r) => {
    const kind = r % 10 < 7 ? "generic" : r % 10 < 9 ? "sendgrid" : "mailgun";
    const events = Array.from({ length: kind === "mailgun" ? 1 : 1 + (r % 3) }, (_, i) => {
      const e = { id: `${prefix}-${r}-${i}`, domain: DOMAINS[(r + i * 5) % DOMAINS.length], at: lastClosedSecond - ((r * 97 + i * 1013) % 5400), outcome: OUTCOMES[(r + i) % OUTCOMES.length] };
      tally.add(e.domain, e.at, e.outcome.counts);
      return e;
    });
    if (kind === "generic") {
      const body = JSON.stringify(events.map((e) => ({ id: e.id, recipient: `u${r}@${e.domain}`, timestamp: e.at, ...e.outcome.generic })));
      return { kind, events: events.length, send: () => postGeneric(worker, TOKEN, body) };
    }
    if (kind === "sendgrid") {
      const body = JSON.stringify(events.map((e) => ({ sg_event_id: e.id, email: `u${r}@${e.domain}`, timestamp: e.at, ...e.outcome.sendgrid })));
      return { kind, events: events.length, send: () => call(worker, "/webhooks/sendgrid", { method: "POST", headers: sendgrid.headers(body), body }) };
    }
    const [e] = events;
    const data = { id: e.id, timestamp: e.at, recipient: `u${r}@${e.domain}`, "recipient-domain": e.domain, ...e.outcome.mailgun };
    // Re-signed on every attempt, as Mailgun does.
    const send = () => call(worker, "/webhooks/mailgun", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ signature: mailgunSignature(MAILGUN_KEY), "event-data": data }),
    });
    return { kind, events: 1, send };
  };
  const requests = Array.from({ length: REQUESTS }, (_, r) => makeRequest(r));

  worker = await startWorker({
    vars: { GENERIC_WEBHOOK_TOKEN: TOKEN, SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKey, MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY, COUNTER_SHARDS: String(shards) },
  });
  try {
    const started = Date.now();
    const rounds = [];
    const stored = [];
    let pending = requests;
    for (let round = 0; pending.length > 0; round++) {
      assert.ok(round < MAX_ROUNDS, `still ${pending.length} requests refused after ${MAX_ROUNDS} rounds`);
      // All at once: every fetch starts before any answer is awaited.
      const inFlight = pending.map((request) => attempt(request));
      const answers = await Promise.all(inFlight);
      const statuses = { 200: 0, 503: 0, network: 0 };
      const unexpected = [];
      const retry = [];
      answers.forEach((answer, i) => {
        if (answer.status === 200) {
          statuses[200]++;
          stored.push({ request: pending[i], json: answer.json });
        } else if (answer.status === 503 || answer.status === 0) {
          statuses[answer.status === 503 ? 503 : "network"]++;
          if (answer.status === 503) assert.equal(answer.json?.error, "storage_unavailable", answer.text);
          retry.push(pending[i]);
        } else {
          unexpected.push(`${pending[i].kind} ${answer.status} ${answer.text}`);
        }
      });
      assert.deepEqual(unexpected, [], `round ${round}: every answer is 200 or 503`);
      rounds.push({ sent: pending.length, ...statuses, ms: Date.now() - started });
      pending = retry;
      if (pending.length > 0) await sleep(500);
    }
    const posted = Date.now() - started;

    for (const { request, json } of stored) {
      assert.equal(json.accepted + json.duplicates, request.events, "a stored answer accounts for each of its events");
    }
    const accepted = stored.reduce((n, s) => n + s.json.accepted, 0);
    const duplicates = stored.reduce((n, s) => n + s.json.duplicates, 0);
    // A 503 may come after the object committed (its answer lost): the retry then reports duplicates. So
    // the answers' sum is the events minus those duplicates, and the API is the judge.
    assert.equal(accepted + duplicates, tally.events);

    const assertExact = async (when) => {
      const got = await apiCounts(worker, DOMAINS);
      assert.deepEqual(got.listed, tally.domains(), `the domains listed ${when}`);
      assert.deepEqual(got.byDomain, tally.byDomain, `every domain's totals and buckets ${when}`);
    };
    await assertExact("after the burst and its retries");

    const run = await cronRun(worker);
    assert.equal(run.ok, true, JSON.stringify(run));
    const expectedKeys = tally.pages(shards).map(([shard, hour]) => pageKey(shard, hour)).sort();
    const keys = (await kvKeys(worker)).map((k) => k.name).sort();
    assert.deepEqual(keys, expectedKeys, `${REQUESTS} requests leave one page per (shard, hour) touched`);
    await assertExact("after the publish");
    return { requests: REQUESTS, events: tally.events, rounds, accepted, duplicates, postedMs: posted, kvKeys: keys.length };
  } finally {
    await worker.stop();
  }
}

test("a burst of 1,000 concurrent webhooks: every one answered 2xx or 503, no event lost or counted twice", async () => {
  const figures = await burst(1);
  console.log(`burst, 1 shard: ${JSON.stringify(figures)}`);
});

test("a burst of 1,000 concurrent webhooks over two counting objects: every one answered 2xx or 503, no event lost or counted twice", async () => {
  assert.equal(new Set(DOMAINS.map((d) => shardOf(d, 2))).size, 2, "the domains must spread over both shards");
  const figures = await burst(2);
  console.log(`burst, 2 shards: ${JSON.stringify(figures)}`);
});
