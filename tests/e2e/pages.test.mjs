// End to end: what KV holds at volume. Webhooks write nothing to KV (the counting object counts them); the
// cron publishes one page per (shard, hour) touched. So 300 one-event requests from five ESPs leave a
// handful of `page:` keys, and the API is exact before the publish (from the object), right after it (the
// fresh pages are not trusted yet) and once the pages are settled (read from KV).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startWorker, call, cronRun, postGeneric, sendgridSigner, mailgunSignature, svixHeaders, kvKeys, Tally, apiCounts,
  pageKey, sleep,
} from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const MAILGUN_KEY = "e2e-mailgun-signing-key";
const POSTMARK = "e2e-postmark:secret";
const RESEND_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const sendgrid = sendgridSigner();
const REQUESTS = 300;
const BUCKET = 300;
const RETENTION = 8 * 86_400;
/** `SETTLE_SECS` in src/counting/publish.rs: how long after its put a page is trusted. */
const SETTLE_MS = 60_000;
const DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "a.pages.example", "b.pages.example", "c.pages.example"];

const vars = {
  GENERIC_WEBHOOK_TOKEN: TOKEN,
  SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKey,
  MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
  POSTMARK_WEBHOOK_CREDENTIALS: POSTMARK,
  RESEND_WEBHOOK_SECRET: RESEND_SECRET,
  // A minute, so that a later run in this test may publish again and shows it has nothing to publish.
  PUBLISH_MINUTES: "1",
};

const now = Math.floor(Date.now() / 1000);
/** Events stop before the current bucket: every bucket they touch has closed. */
const lastClosedSecond = now - (now % BUCKET) - 1;
const tally = new Tally(BUCKET);
const iso = (at) => new Date(at * 1000).toISOString();

/**
 * One event per request, as each ESP words it. Four outcomes: delivered, a 451 deferral, a 421 deferral
 * and a 550 bounce; Resend relays no SMTP code, so its deferrals count no 451.
 */
const DEFER_451 = "451 4.7.1 Try again later";
const DEFER_421 = "421 4.7.0 Too many concurrent connections";
const BOUNCE_550 = "550 5.1.1 user unknown";
const COUNTS = [{ delivered: 1 }, { deferred: 1, smtp_451: 1 }, { deferred: 1 }, { bounced: 1 }];

function request(r, worker) {
  const domain = DOMAINS[(r * 7) % DOMAINS.length];
  const outcome = (r * 3 + Math.floor(r / 10)) % 4;
  // Spread over two and a half hours, out of order: four hour pages at most.
  const at = lastClosedSecond - ((r * 617) % 9000);
  const recipient = `user${r}@${domain}`;
  const id = `pages-${process.pid}-${r}`;
  const esp = ["generic", "generic", "generic", "generic", "sendgrid", "sendgrid", "mailgun", "mailgun", "postmark", "resend"][r % 10];
  let counts = COUNTS[outcome];
  let send;
  if (esp === "generic") {
    const reply = [undefined, DEFER_451, DEFER_421, BOUNCE_550][outcome];
    const event = { id, event: ["delivered", "deferred", "deferred", "bounced"][outcome], recipient, timestamp: at, ...(reply ? { reply } : {}) };
    // A single object, not an array: the one-event form most MTAs post.
    send = () => postGeneric(worker(), TOKEN, event);
  } else if (esp === "sendgrid") {
    const event = [
      { event: "delivered" },
      { event: "deferred", response: DEFER_451 },
      { event: "deferred", response: DEFER_421 },
      { event: "bounce", type: "bounce", status: "5.1.1", reason: BOUNCE_550 },
    ][outcome];
    const body = JSON.stringify([{ sg_event_id: id, email: recipient, timestamp: at, ...event }]);
    send = () => call(worker(), "/webhooks/sendgrid", { method: "POST", headers: sendgrid.headers(body), body });
  } else if (esp === "mailgun") {
    const event = [
      { event: "delivered" },
      { event: "failed", severity: "temporary", "delivery-status": { code: 451, message: "4.7.1 Try again later" } },
      { event: "failed", severity: "temporary", "delivery-status": { code: 421, message: "4.7.0 Too many concurrent connections" } },
      { event: "failed", severity: "permanent", "delivery-status": { code: 550, message: "5.1.1 user unknown" } },
    ][outcome];
    const data = { id, timestamp: at, recipient, "recipient-domain": domain, ...event };
    send = () => call(worker(), "/webhooks/mailgun", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ signature: mailgunSignature(MAILGUN_KEY), "event-data": data }),
    });
  } else if (esp === "postmark") {
    const event = [
      { RecordType: "Delivery", MessageID: id, Recipient: recipient, DeliveredAt: iso(at) },
      { RecordType: "Bounce", ID: 1_000_000 + r, Type: "Transient", Email: recipient, BouncedAt: iso(at), Details: DEFER_451 },
      { RecordType: "Bounce", ID: 1_000_000 + r, Type: "Transient", Email: recipient, BouncedAt: iso(at), Details: DEFER_421 },
      { RecordType: "Bounce", ID: 1_000_000 + r, Type: "HardBounce", Email: recipient, BouncedAt: iso(at), Details: BOUNCE_550 },
    ][outcome];
    const body = JSON.stringify({ MessageStream: "outbound", ...event });
    const authorization = `Basic ${Buffer.from(POSTMARK).toString("base64")}`;
    send = () => call(worker(), "/webhooks/postmark", { method: "POST", headers: { authorization, "content-type": "application/json" }, body });
  } else {
    const type = ["email.delivered", "email.delivery_delayed", "email.delivery_delayed", "email.bounced"][outcome];
    counts = [{ delivered: 1 }, { deferred: 1 }, { deferred: 1 }, { bounced: 1 }][outcome];
    const bounce = outcome === 3 ? { bounce: { message: "The recipient's mailbox does not exist", type: "Permanent" } } : {};
    const body = JSON.stringify({ type, created_at: iso(at), data: { email_id: id, to: [recipient], ...bounce } });
    // Svix signs each attempt anew; the message id stays, and is the event's id.
    send = () => call(worker(), "/webhooks/resend", { method: "POST", headers: svixHeaders(RESEND_SECRET, `msg_${id}`, body), body });
  }
  tally.add(domain, at, counts);
  return { esp, send };
}

async function assertExact(worker, when) {
  const got = await apiCounts(worker, DOMAINS);
  assert.deepEqual(got.listed, tally.domains(), `the domains listed ${when}`);
  assert.deepEqual(got.byDomain, tally.byDomain, `every domain's totals and buckets ${when}`);
}

test("300 one-event webhooks leave KV holding pages, not a key per request", async () => {
  const persistDir = mkdtempSync(join(tmpdir(), "bouncewatch-pages-"));
  let worker = await startWorker({ vars, persistDir });
  const restart = async (extra = {}) => {
    await worker.stop();
    worker = await startWorker({ vars: { ...vars, ...extra }, persistDir });
  };
  try {
    const requests = Array.from({ length: REQUESTS }, (_, r) => request(r, () => worker));
    const started = Date.now();
    const answers = [];
    // Ten at a time: the point here is what is stored, not concurrency (burst.test.mjs does that).
    const queue = [...requests];
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let item = queue.shift(); item; item = queue.shift()) answers.push({ esp: item.esp, ...(await item.send()) });
    }));
    const posted = Date.now() - started;
    const failed = answers.filter((a) => a.status !== 200 || a.json.accepted !== 1 || a.json.duplicates !== 0);
    assert.deepEqual(failed.map((a) => `${a.esp} ${a.status} ${a.text}`), [], "every request is one new event, counted");
    const byEsp = Object.groupBy(answers, (a) => a.esp);
    assert.deepEqual(Object.fromEntries(Object.entries(byEsp).map(([esp, list]) => [esp, list.length])),
      { generic: 120, sendgrid: 60, mailgun: 60, postmark: 30, resend: 30 });

    // Before any cron run: KV is untouched by 300 webhooks, and the API is exact from the object alone.
    assert.deepEqual(await kvKeys(worker), [], "webhooks write nothing to KV");
    await assertExact(worker, "before any cron run");

    const expectedKeys = tally.pages().map(([shard, hour]) => pageKey(shard, hour));
    const publishedAt = Date.now();
    const publish = await cronRun(worker);
    assert.equal(publish.ok, true, JSON.stringify(publish));
    assert.deepEqual(publish.report.upkeep.map((u) => u.publish), [{ ran: true, hours: expectedKeys.length, puts: expectedKeys.length }],
      "one put per hour touched: every page fits in one part");

    // Not a minute since the publish: the next run publishes nothing, and the pages are not read yet, so
    // reads succeed even when every KV get fails. Straight after the publish, before any other check, so
    // that the restart fits in the minute on a loaded machine too (the end-to-end files run side by side).
    const early = await cronRun(worker);
    assert.deepEqual(early.report.upkeep.map((u) => u.publish), [{ ran: false, hours: 0, puts: 0 }]);
    await restart({ BOUNCEWATCH_FAULTS: "get" });
    assert.ok(Date.now() - publishedAt < SETTLE_MS, "the restart took under a minute, or this check proves nothing");
    await assertExact(worker, "unsettled, with KV gets failing");

    await restart();
    const keys = await kvKeys(worker);
    assert.deepEqual(keys.map((k) => k.name).sort(), expectedKeys, "KV holds one page per hour touched, nothing else");
    for (const key of keys) {
      // Every page expires a retention after its hour ends (the put's clock and KV's may differ by a moment).
      const hour = Number(key.name.split(":")[2]);
      assert.ok(Math.abs(key.expiration - (hour + 3600 + RETENTION)) <= 5, `${key.name} expires at ${key.expiration}`);
    }
    await assertExact(worker, "with the pages published");
    await sleep(Math.max(0, publishedAt + SETTLE_MS + 1_500 - Date.now()));
    await assertExact(worker, "once the pages are settled");
    const later = await cronRun(worker);
    assert.deepEqual(later.report.upkeep.map((u) => u.publish), [{ ran: true, hours: 0, puts: 0 }], "clean hours are not put again");
    assert.deepEqual((await kvKeys(worker)).map((k) => k.name).sort(), expectedKeys);

    // Settled hours come from KV now: with its gets failing, a read of every domain fails (and says to
    // retry) rather than answering from the object alone. One domain's hours come from its own rows in the
    // object, settled or not (src/counting/read.rs), so its page does not need KV.
    await restart({ BOUNCEWATCH_FAULTS: "get" });
    const all = await call(worker, "/api/domains?window=24h");
    assert.equal(all.status, 503, all.text);
    assert.equal(all.json.error, "storage_unavailable");
    const one = await call(worker, `/api/domains/${DOMAINS[0]}?window=24h`);
    assert.equal(one.status, 200, one.text);
    assert.ok(one.json.buckets.length > 0, one.text);
    console.log(
      `pages: ${REQUESTS} one-event requests (${tally.events} events, ${DOMAINS.length} domains) posted in ${posted} ms; ` +
        `KV keys before the cron 0, after it ${keys.length} (${expectedKeys.join(", ")}); test took ${Date.now() - started} ms`,
    );
  } finally {
    await worker.stop();
    rmSync(persistDir, { recursive: true, force: true });
  }
});
