// Latency of a signed 1,000-event SendGrid batch (the batch of benches/webhooks.rs) through the built
// Worker under `wrangler dev` (workerd, local KV) on 127.0.0.1, from a client on the same machine.
// Every request carries fresh event ids, so each one stores a new shard, as distinct ESP batches do
// (a redelivery would overwrite its own). Requests go one at a time; the first WARMUP are not counted.
// Usage: node benches/worker_latency.mjs <wasm bench package dir>; `make bench-worker` builds the
// optimized Worker (as deployed) and that package first. The figures include workerd's local KV write.
import { createRequire } from "node:module";
import { resolve } from "node:path";

import { call, startWorker } from "../tests/e2e/harness.mjs";

const WARMUP = 10;
const REQUESTS = 200;

const fixtures = createRequire(import.meta.url)(resolve(process.argv[2], "bouncewatch_wasm_bench.js"));

/** The value at quantile `q` of sorted `values`, by nearest rank. */
const quantile = (values, q) => values[Math.max(0, Math.ceil(q * values.length) - 1)];

async function post(worker, request) {
  const now = Math.floor(Date.now() / 1000);
  const body = fixtures.sendgrid_batch(request, now);
  const timestamp = String(now);
  const headers = {
    "content-type": "application/json",
    "x-twilio-email-event-webhook-signature": fixtures.sendgrid_signature(body, timestamp),
    "x-twilio-email-event-webhook-timestamp": timestamp,
  };
  const started = performance.now();
  const { status, json } = await call(worker, "/webhooks/sendgrid", { method: "POST", headers, body });
  const elapsed = performance.now() - started;
  if (status !== 200 || json?.accepted !== 1000) throw new Error(`request ${request}: ${status} ${JSON.stringify(json)}`);
  return { elapsed, bytes: body.length };
}

const worker = await startWorker({ vars: { SENDGRID_WEBHOOK_PUBLIC_KEY: fixtures.sendgrid_public_key() } });
try {
  for (let i = 0; i < WARMUP; i++) await post(worker, i);
  const timings = [];
  let bytes = 0;
  for (let i = WARMUP; i < WARMUP + REQUESTS; i++) {
    const result = await post(worker, i);
    timings.push(result.elapsed);
    bytes = result.bytes;
  }
  timings.sort((a, b) => a - b);
  const ms = (value) => `${value.toFixed(1)} ms`;
  console.log(`SendGrid batch, 1,000 events (${bytes} bytes), ${REQUESTS} requests after ${WARMUP} warm-up, one at a time`);
  console.log(`median ${ms(quantile(timings, 0.5))}  p99 ${ms(quantile(timings, 0.99))}  min ${ms(timings[0])}  max ${ms(timings.at(-1))}`);
} finally {
  await worker.stop();
}
