// End to end: raising COUNTER_SHARDS on a running deployment, as the README suggests for more traffic than
// one object takes. A domain then belongs to another counting object (FNV-1a of its name modulo the shard
// count), but its counts and the ids of its events stay in the object that counted them. Its page, the
// domain list and the de-duplication of ESP retries must not depend on which object counted what.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorker, postGeneric, shardOf, Tally, apiCounts } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const BUCKET = 300;
/** gmail.com stays with object 0 when a second one is added; outlook.com moves to object 1. */
const STAYS = "gmail.com";
const MOVES = "outlook.com";

test("raising COUNTER_SHARDS from 1 to 2 keeps a moved domain's counts on its page and its events de-duplicated", async () => {
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
    const got = await apiCounts(worker, [STAYS, MOVES]);
    assert.deepEqual(got.byDomain[STAYS], tally.byDomain[STAYS], `${STAYS}, which did not move`);
    assert.deepEqual(got.byDomain[MOVES], tally.byDomain[MOVES], `${MOVES}'s list row and page after it moved`);

    // The ESP retries the same batch (it lost the first answer): every event is known.
    const retry = await postGeneric(worker, TOKEN, events);
    assert.equal(retry.status, 200, retry.text);
    assert.deepEqual({ accepted: retry.json.accepted, duplicates: retry.json.duplicates }, { accepted: 0, duplicates: 40 }, "a retry after the change counts nothing");
    assert.deepEqual((await apiCounts(worker, [STAYS, MOVES])).byDomain, tally.byDomain, "after the retry");
  } finally {
    await worker.stop();
    rmSync(persistDir, { recursive: true, force: true });
  }
});
