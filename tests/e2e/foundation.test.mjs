// End to end: the built wasm under workerd answers health, classify (both forms) and unknown routes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startWorker, call, ROOT } from "./harness.mjs";

const version = readFileSync(join(ROOT, "Cargo.toml"), "utf8").match(/^version = "(.+)"/m)[1];
let worker;

before(async () => {
  worker = await startWorker();
});

after(async () => {
  await worker?.stop();
});

test("health reports ok and the crate version", async () => {
  const { status, json } = await call(worker, "/api/health");
  assert.equal(status, 200);
  // `problems` lists configuration that cannot be used (issue 15: a bad CLASSIFY_RULES); none here.
  assert.deepEqual(json, { status: "ok", version, problems: [] });
});

test("classify by query string answers one verdict", async () => {
  const reply = encodeURIComponent("451 4.3.0 greylisted, please retry in 300 seconds");
  const { status, json } = await call(worker, `/api/classify?reply=${reply}`);
  assert.equal(status, 200);
  assert.equal(json.category, "greylisted");
  assert.equal(json.permanence, "transient");
  assert.equal(json.smtp_code, 451);
  assert.equal(json.enhanced_code, "4.3.0");
  assert.equal(typeof json.rule, "string");
});

test("classify by POST answers in order", async () => {
  const replies = [
    "550 5.1.1 <someone@example.org>: Recipient address rejected: User unknown",
    "451 4.7.1 local policy violation",
    "Connection refused by mx.example.org",
  ];
  const { status, json } = await call(worker, "/api/classify", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(replies),
  });
  assert.equal(status, 200);
  assert.deepEqual(json.map((v) => v.category), ["mailbox_unknown", "policy_rejected", "network_error"]);
  assert.deepEqual(json.map((v) => v.permanence), ["permanent", "transient", "transient"]);
});

test("classify without a reply is a 400 naming the parameter", async () => {
  const { status, json } = await call(worker, "/api/classify");
  assert.equal(status, 400);
  assert.equal(json.error, "bad_request");
  assert.match(json.message, /reply/);
});

test("classify with more than 1,000 replies is a 413", async () => {
  const { status, json } = await call(worker, "/api/classify", {
    method: "POST",
    body: JSON.stringify(Array(1001).fill("451 4.7.1 try later")),
  });
  assert.equal(status, 413);
  assert.equal(json.error, "payload_too_large");
});

test("an unknown route is a 404 JSON error", async () => {
  const { status, json, headers } = await call(worker, "/api/nothing-here");
  assert.equal(status, 404);
  assert.equal(json.error, "not_found");
  assert.match(headers.get("content-type"), /application\/json/);
});

test("the dashboard is served from public/", async () => {
  const response = await fetch(`${worker.url}/`);
  assert.equal(response.status, 200);
  assert.match(await response.text(), /bouncewatch/);
});
