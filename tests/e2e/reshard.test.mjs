// End to end: raising COUNTER_SHARDS on a running deployment. A domain would then belong to another counting
// object (FNV-1a of its name modulo the shard count) that holds neither its counts nor the ids of its events,
// so its page would miss them and ESP retries would count them again. The objects refuse instead: every
// request answers 503 naming the setting (the ESPs retry) until it is set back, and nothing is lost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorker, call, postGeneric, shardOf, Tally, apiCounts } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const BUCKET = 300;
/** gmail.com stays with object 0 when a second one is added; outlook.com moves to object 1. */
const STAYS = "gmail.com";
const MOVES = "outlook.com";

test("raising COUNTER_SHARDS from 1 to 2 on live counts is refused with 503 until set back, and nothing is lost or counted twice", async () => {
  assert.deepEqual([shardOf(STAYS, 2), shardOf(MOVES, 2)], [0, 1]);
  const persistDir = mkdtempSync(join(tmpdir(), "bouncewatch-reshard-"));
  const now = Math.floor(Date.now() / 1000);
  const lastClosedSecond = now - (now % BUCKET) - 1;
  const tally = new Tally(BUCKET);
  const events = Array.from({ length: 40 }, (_, i) => {
    const domain = i % 2 ? MOVES : STAYS;
    const deferred = i % 4 < 2;
    const e = {
      id: `reshard-${process.pid}-${i}`, event: deferred ? "deferred" : "delivered", recipient: `u${i}@${domain}`,
      timestamp: lastClosedSecond - i * 90, ...(deferred ? { reply: "451 4.7.1 Try again later" } : {}),
    };
    tally.add(domain, e.timestamp, deferred ? { deferred: 1, smtp_451: 1 } : { delivered: 1 });
    return e;
  });
  const withShards = (shards) => startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: TOKEN, COUNTER_SHARDS: String(shards) }, persistDir });
  let worker = await withShards(1);
  try {
    const first = await postGeneric(worker, TOKEN, events);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.accepted, 40);
    assert.deepEqual((await apiCounts(worker, [STAYS, MOVES])).byDomain, tally.byDomain, "with one object");

    await worker.stop();
    worker = await withShards(2);
    // Both the domain that stays and the one that would move: the new object asks shard 0 and refuses too.
    for (const batch of [events, events.filter((e) => e.recipient.endsWith(MOVES))]) {
      const refused = await postGeneric(worker, TOKEN, batch);
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.error, "storage_unavailable");
      assert.match(refused.json.message, /COUNTER_SHARDS is 2 but the counts were written with 1/);
    }
    const list = await call(worker, "/api/domains?window=24h");
    assert.equal(list.status, 503, list.text);

    await worker.stop();
    worker = await withShards(1);
    // The ESP retries the refused batch: every event was counted before the change, none while refused.
    const retry = await postGeneric(worker, TOKEN, events);
    assert.equal(retry.status, 200, retry.text);
    assert.deepEqual({ accepted: retry.json.accepted, duplicates: retry.json.duplicates }, { accepted: 0, duplicates: 40 });
    assert.deepEqual((await apiCounts(worker, [STAYS, MOVES])).byDomain, tally.byDomain, "after setting it back");
  } finally {
    await worker.stop();
    rmSync(persistDir, { recursive: true, force: true });
  }
});
