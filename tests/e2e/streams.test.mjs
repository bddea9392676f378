// End to end (issue 14): which of the sender's streams a 451 spike comes from. Generic-form webhooks carry
// the sending IP and tags; the counting object stores them per bucket; the alert, /api/domains/{domain},
// /api/streams and the alert email say where the 451s came from, or nothing when the ESP named nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { startWorker, triggerCron, call, genericEvents, postGeneric, seedSpike, settle } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const VARS = { GENERIC_WEBHOOK_TOKEN: TOKEN, ALERT_FROM: "alerts@bouncewatch.example", ALERT_TO: "ops@bouncewatch.example" };
const POLICY = "451 4.7.1 local policy violation";
const IPS = ["198.51.100.7", "198.51.100.8", "198.51.100.9"];

/** `count` events to `domain` sent from `ip` with `tags`. */
const sent = (domain, count, { ip, tags = [], event = "delivered", at }) =>
  genericEvents(domain, count, { event, reply: event === "deferred" ? POLICY : undefined, at })
    .map((e) => ({ ...e, sending_ip: ip, tags }));

async function post(worker, batch) {
  const response = await postGeneric(worker, TOKEN, batch);
  assert.equal(response.status, 200, response.text);
}

/** A quiet day on `domain` from the three IPs, then `spike(ip, n)`'s events in the last minutes, then two cron runs. */
async function spikeOn(worker, domain, spike) {
  const now = Math.floor(Date.now() / 1000);
  for (let hoursAgo = 2; hoursAgo <= 20; hoursAgo++) {
    await post(worker, IPS.flatMap((ip) => sent(domain, 40, { ip, tags: ["campaign:weekly"], at: now - hoursAgo * 3600 })));
  }
  await post(worker, IPS.flatMap((ip, n) => spike(ip, n, now - 60)));
  for (let run = 0; run < 2; run++) assert.equal(await triggerCron(worker), 200);
}

async function json(worker, path) {
  const response = await call(worker, path);
  assert.equal(response.status, 200, `${path}: ${response.text}`);
  return JSON.parse(response.text);
}

async function activeAlert(worker, domain) {
  const alerts = await json(worker, "/api/alerts");
  const alert = alerts.active.find((a) => a.domain === domain);
  assert.ok(alert, `no active alert on ${domain}: ${JSON.stringify(alerts)}\n${worker.logs()}`);
  return alert;
}

function emails(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).filter((n) => String(n).endsWith(".eml"))
    .map((n) => readFileSync(join(dir, String(n)), "utf8").replace(/=\r?\n/g, ""));
}

test("a gmail.com spike with 90 % of its 451s from one of three IPs: the alert, the email and the API name that IP", async () => {
  const worker = await startWorker({ vars: VARS });
  try {
    // Every IP sends 100 messages; 54 of the 60 451s come from the first.
    await spikeOn(worker, "gmail.com", (ip, n, at) => {
      const deferred = [54, 3, 3][n];
      return [...sent("gmail.com", 100 - deferred, { ip, at }), ...sent("gmail.com", deferred, { ip, event: "deferred", at })];
    });
    const alert = await activeAlert(worker, "gmail.com");
    const top = alert.breakdown.sending_ip[0];
    assert.deepEqual([top.value, top.smtp_451, top.share], [IPS[0], 54, 0.9], JSON.stringify(alert.breakdown));
    assert.equal(alert.breakdown.sending_ip.length, 3);
    assert.match(alert.concentration, /^90 % of the 451s came from sending IP 198\.51\.100\.7 \(33 % of the attempts\): check that IP's reputation/);

    const mail = join(worker.cwd, ".wrangler/tmp/email");
    assert.equal(await settle(() => emails(mail).length, 1), 1, worker.logs());
    assert.match(emails(mail)[0], /90 % of the 451s came from sending IP 198\.51\.100\.7/);

    const detail = await json(worker, "/api/domains/gmail.com?window=15m");
    assert.equal(detail.breakdown.sending_ip[0].value, IPS[0]);
    assert.equal(detail.concentration, alert.concentration);

    const streams = await json(worker, "/api/streams?window=15m");
    assert.equal(streams.smtp_451, 60);
    assert.deepEqual(streams.sending_ip.map((v) => [v.value, v.attempts, v.smtp_451]),
      [[IPS[0], 100, 54], [IPS[1], 100, 3], [IPS[2], 100, 3]]);
    assert.equal(streams.sending_ip[0].ratio_451, 0.54);
  } finally {
    await worker.stop();
  }
});

test("a spike spread evenly over the IPs but all on one tag: the alert names the tag", async () => {
  const worker = await startWorker({ vars: VARS });
  try {
    // Each IP: 20 451s and 20 deliveries tagged campaign:spring, 60 deliveries tagged campaign:weekly.
    await spikeOn(worker, "gmail.com", (ip, _n, at) => [
      ...sent("gmail.com", 20, { ip, tags: ["campaign:spring"], event: "deferred", at }),
      ...sent("gmail.com", 20, { ip, tags: ["campaign:spring"], at }),
      ...sent("gmail.com", 60, { ip, tags: ["campaign:weekly"], at }),
    ]);
    const alert = await activeAlert(worker, "gmail.com");
    assert.match(alert.concentration, /^100 % of the 451s came from tag campaign:spring \(40 % of the attempts\): check that campaign's content and list/);
    assert.deepEqual(alert.breakdown.sending_ip.map((v) => v.share), [0.3333, 0.3333, 0.3333]);
    assert.deepEqual(alert.breakdown.tag.map((v) => [v.value, v.share]), [["campaign:spring", 1], ["campaign:weekly", 0]]);
  } finally {
    await worker.stop();
  }
});

test("a spike with no dimension data alerts with no breakdown and no error", async () => {
  const worker = await startWorker({ vars: VARS });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: POLICY });
    const alert = await activeAlert(worker, "gmail.com");
    assert.equal(alert.state, "firing");
    assert.equal(alert.breakdown, undefined);
    assert.equal(alert.concentration, undefined);
    const detail = await json(worker, "/api/domains/gmail.com?window=1h");
    assert.equal(detail.breakdown, undefined);
    const streams = await json(worker, "/api/streams?window=1h");
    assert.deepEqual([streams.sending_ip, streams.ip_pool, streams.sending_domain, streams.tag, streams.other], [[], [], [], [], {}]);
    assert.ok(streams.smtp_451 >= 60);
    assert.doesNotMatch(worker.logs(), /panicked|RuntimeError/);
  } finally {
    await worker.stop();
  }
});
