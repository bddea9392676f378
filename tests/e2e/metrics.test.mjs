// End to end: GET /metrics under wrangler dev, read by the real Prometheus text parser (prometheus_client,
// pinned in scripts/schemathesis-requirements.txt, installed by scripts/setup.sh into .venv-schemathesis).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, call, cronRun, postGeneric, seedSpike, startWorker } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const READ = "e2e-read-token";
const POLICY = "451 4.7.1 <someone@gmail.com>: local policy violation";

// Parses stdin with prometheus_client and prints every sample as {family, type, name, labels, value}.
const PARSER = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
`;

function parse(text) {
  return new Promise((resolve, reject) => {
    const child = spawn(join(ROOT, ".venv-schemathesis/bin/python"), ["-c", PARSER], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the parser refused the exposition:\n${err}`))));
    child.stdin.end(text);
  });
}

const find = (samples, name, labels = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
const sum = (samples, name, labels) => find(samples, name, labels).reduce((total, s) => total + s.value, 0);

test("GET /metrics is valid Prometheus text with the firing domain and the Worker's own counters, refused webhooks included", async () => {
  const worker = await startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: TOKEN, READ_TOKEN: READ, METRICS_TOP_N: "1" } });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: POLICY });
    // Refused before anything reaches a counting object; the 413 by the shell, before the body is read.
    assert.equal((await postGeneric(worker, "wrong-token", "[]")).status, 401);
    assert.equal((await postGeneric(worker, TOKEN, "{not json")).status, 400);
    assert.equal((await postGeneric(worker, TOKEN, "[" + " ".repeat(5 * 1024 * 1024 + 10) + "]")).status, 413);
    assert.equal((await call(worker, "/webhooks/nosuchesp", { method: "POST", body: "{}" })).status, 404);
    await cronRun(worker);
    assert.equal((await call(worker, "/metrics")).status, 401, "READ_TOKEN is required");
    const response = await fetch(`${worker.url}/metrics`, { headers: { authorization: `Bearer ${READ}` } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const samples = await parse(await response.text());

    const scope = { scope: "domain", domain: "gmail.com" };
    assert.equal(find(samples, "bouncewatch_window_smtp_451", scope)[0].value, 60);
    assert.equal(find(samples, "bouncewatch_alert_state", { ...scope, state: "firing" })[0].value, 1);
    assert.equal(find(samples, "bouncewatch_alert_severity", { ...scope, severity: "critical" })[0].value, 1);
    assert.ok(find(samples, "bouncewatch_baseline_ratio_451", scope)[0].value < 0.05);
    // METRICS_TOP_N=1: outlook.com is summed as "other".
    assert.equal(find(samples, "bouncewatch_window_events", { domain: "outlook.com" }).length, 0);
    assert.equal(find(samples, "bouncewatch_window_events", { domain: "other", kind: "delivered" })[0].value, 50);
    // The same per provider: gmail.com is Google's, outlook.com Microsoft's, summed as "other" here.
    const google = { scope: "provider", provider: "google" };
    assert.equal(find(samples, "bouncewatch_window_smtp_451", google)[0].value, 60);
    assert.equal(find(samples, "bouncewatch_window_events", { scope: "provider", provider: "other", kind: "delivered" })[0].value, 50);
    assert.equal(find(samples, "bouncewatch_providers")[0].value, 2);

    const accepted = find(samples, "bouncewatch_webhook_events_total", { esp: "generic", outcome: "accepted" });
    assert.equal(accepted.reduce((sum, s) => sum + s.value, 0), 19 * 202 + 311, "every event seeded");
    assert.equal(accepted[0].type, "counter");
    const requests = (esp, status) => sum(samples, "bouncewatch_webhook_requests_total", { esp, status });
    assert.deepEqual(
      [requests("generic", "200"), requests("generic", "401"), requests("generic", "400"), requests("generic", "413"), requests("unknown", "404")],
      [20, 1, 1, 1, 1],
      "every webhook answer, the refused ones included",
    );
    assert.ok(find(samples, "bouncewatch_do_rows_written_total", { shard: "0" })[0].value > 0);
    assert.ok(find(samples, "bouncewatch_do_requests_total", { shard: "0", op: "tick" })[0].value >= 1);
    const lastRun = find(samples, "bouncewatch_last_cron_run_timestamp_seconds")[0].value;
    assert.ok(Math.abs(lastRun - Date.now() / 1000) < 120, `last cron run ${lastRun}`);
    assert.ok(find(samples, "bouncewatch_publish_lag_seconds", { shard: "0" })[0].value < 600);
  } finally {
    await worker.stop();
  }
});
