// End to end: the counting object de-duplicates per event, not per request. The same events sent again in
// other batches, shuffled, with new ones among them, count once; so do SendGrid events repeated in a later
// signed batch. Each answer's `accepted` and `duplicates` must say which were new, and the API must count
// every event exactly once, with one counting object and with two.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  startWorker, call, cronRun, postGeneric, sendgridSigner, kvKeys, shardOf, Tally, apiCounts, pageKey, OUTCOMES, generator,
} from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const sendgrid = sendgridSigner();
const BUCKET = 300;
const DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "r1.regroup.example", "r2.regroup.example", "r3.regroup.example"];

function shuffled(list, random) {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

const chunks = (list, size) => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

async function regroup(shards) {
  const random = generator(20261212 + shards);
  const now = Math.floor(Date.now() / 1000);
  const lastClosedSecond = now - (now % BUCKET) - 1;
  const tally = new Tally(BUCKET);
  const prefix = `rg${shards}-${process.pid}`;
  /** Event `i` of family `family`; counted in the tally the first time it is made, by the caller. */
  const make = (family, i) => {
    const outcome = OUTCOMES[(i * 5 + family.length) % OUTCOMES.length];
    return { id: `${prefix}-${family}-${i}`, domain: DOMAINS[(i * 3) % DOMAINS.length], at: lastClosedSecond - ((i * 331) % 7200), outcome };
  };
  const count = (e) => tally.add(e.domain, e.at, e.outcome.counts);
  const generic = (e) => ({ id: e.id, recipient: `u-${e.id}@${e.domain}`, timestamp: e.at, ...e.outcome.generic });
  const sendgridEvent = (e) => ({ sg_event_id: e.id, email: `u-${e.id}@${e.domain}`, timestamp: e.at, ...e.outcome.sendgrid });

  const worker = await startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: TOKEN, SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKey, COUNTER_SHARDS: String(shards) } });
  try {
    const answers = [];
    /** Posts `batch` and checks that its answer names exactly `fresh` new events and the rest duplicates. */
    const post = async (what, send, size, fresh) => {
      const { status, json, text } = await send();
      assert.equal(status, 200, `${what}: ${text}`);
      assert.deepEqual({ accepted: json.accepted, duplicates: json.duplicates }, { accepted: fresh, duplicates: size - fresh }, what);
      answers.push(json);
    };
    const postBatch = (what, events, fresh) => post(what, () => postGeneric(worker, TOKEN, events.map(generic)), events.length, fresh);

    // First delivery: 240 events in batches of 7.
    const first = Array.from({ length: 240 }, (_, i) => make("g", i));
    first.forEach(count);
    for (const [n, batch] of chunks(first, 7).entries()) await postBatch(`first delivery, batch ${n}`, batch, batch.length);

    // The same 240 again, shuffled, with 40 new ones among them, in batches of 11.
    const added = Array.from({ length: 40 }, (_, i) => make("n", i));
    added.forEach(count);
    const isNew = new Set(added.map((e) => e.id));
    const regrouped = shuffled([...first, ...added], random);
    for (const [n, batch] of chunks(regrouped, 11).entries()) {
      await postBatch(`regrouped, batch ${n}`, batch, batch.filter((e) => isNew.has(e.id)).length);
    }

    // One body carrying a new event twice and an old one: the new one counts once.
    const twice = make("t", 0);
    count(twice);
    await postBatch("an event twice in one body", [twice, twice, first[0]], 1);

    // SendGrid: a batch of 30, then a signed batch repeating 12 of its sg_event_ids among 18 new events.
    // One of the new ones carries a generic event's id: ids are per ESP, so it is not a duplicate.
    const sgFirst = Array.from({ length: 30 }, (_, i) => make("s", i));
    sgFirst.forEach(count);
    const sgBody = JSON.stringify(sgFirst.map(sendgridEvent));
    await post("SendGrid batch", () => call(worker, "/webhooks/sendgrid", { method: "POST", headers: sendgrid.headers(sgBody), body: sgBody }), 30, 30);
    const sgNew = [...Array.from({ length: 17 }, (_, i) => make("s", 100 + i)), { ...first[5], outcome: OUTCOMES[0] }];
    sgNew.forEach(count);
    const sgMixed = shuffled([...shuffled(sgFirst, random).slice(0, 12), ...sgNew], random);
    const mixedBody = JSON.stringify(sgMixed.map(sendgridEvent));
    await post("SendGrid batch repeating 12 earlier events", () => call(worker, "/webhooks/sendgrid", { method: "POST", headers: sendgrid.headers(mixedBody), body: mixedBody }), 30, 18);

    const accepted = answers.reduce((n, a) => n + a.accepted, 0);
    assert.equal(accepted, tally.events, "every distinct event accepted once over all the answers");

    const assertExact = async (when) => {
      const got = await apiCounts(worker, DOMAINS);
      assert.deepEqual(got.listed, tally.domains(), `the domains listed ${when}`);
      assert.deepEqual(got.byDomain, tally.byDomain, `every domain's totals and buckets ${when}`);
    };
    await assertExact("before any cron run");

    const run = await cronRun(worker);
    assert.equal(run.ok, true, JSON.stringify(run));
    const expectedKeys = tally.pages(shards).map(([shard, hour]) => pageKey(shard, hour)).sort();
    assert.equal(run.report.upkeep.length, shards);
    assert.equal(run.report.upkeep.reduce((n, u) => n + u.publish.puts, 0), expectedKeys.length, JSON.stringify(run.report.upkeep));
    const keys = (await kvKeys(worker)).map((k) => k.name).sort();
    assert.deepEqual(keys, expectedKeys, "one page per (shard, hour) touched");
    assert.deepEqual([...new Set(keys.map((k) => k.split(":")[1]))], Array.from({ length: shards }, (_, s) => String(s)), "every shard published");
    await assertExact("after the publish");

    // Every generic event once more after the publish, in batches of 50: nothing new, nothing dirty.
    const all = shuffled([...first, ...added, twice], random);
    for (const [n, batch] of chunks(all, 50).entries()) await postBatch(`after the publish, batch ${n}`, batch, 0);
    await assertExact("after redelivering everything");
    const sent = answers.reduce((n, a) => n + a.accepted + a.duplicates, 0);
    return { requests: answers.length, eventsSent: sent, distinctEvents: tally.events, kvKeys: keys.length };
  } finally {
    await worker.stop();
  }
}

test("the same events regrouped into different batches count once", async () => {
  const started = Date.now();
  const figures = await regroup(1);
  console.log(`regroup, 1 shard: ${JSON.stringify(figures)} in ${Date.now() - started} ms`);
});

test("the same events regrouped into different batches count once, over two counting objects", async () => {
  const used = new Set(DOMAINS.map((d) => shardOf(d, 2)));
  assert.equal(used.size, 2, "the domains must spread over both shards");
  const started = Date.now();
  const figures = await regroup(2);
  console.log(`regroup, 2 shards: ${JSON.stringify(figures)} in ${Date.now() - started} ms`);
});
