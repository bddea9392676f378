// End to end (issue 13): the Worker under wrangler dev looks MX records up on a DNS-over-HTTPS stub on
// 127.0.0.1 (DOH_URL) from its cron runs, and sees Microsoft deferring 40 hosted domains, outlook.com and
// hotmail.com, each below the 20-451 floor on its own, as one provider alert and one email; Google-hosted
// domains stay ok; malformed, huge, NXDOMAIN, SERVFAIL, slow and null-MX answers neither crash nor name a
// wrong provider.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorker, postGeneric, genericEvents, cronRun, settle, captureServer, call } from "./harness.mjs";
import { startDohStub } from "./doh_stub.mjs";

const TOKEN = "e2e-generic-token";
const THROTTLE = "451 4.7.500 Server busy. Please try again later from [192.0.2.2]. (S77714)";
const microsoftHosted = Array.from({ length: 40 }, (_, n) => `corp${String(n).padStart(2, "0")}.example`);
const googleHosted = Array.from({ length: 10 }, (_, n) => `gcorp${String(n).padStart(2, "0")}.example`);
const microsoft = [...microsoftHosted, "outlook.com", "hotmail.com"];
const FAULTS = {
  "flaky.example": { fault: "servfail" },
  "garbled.example": { fault: "malformed" },
  "bloated.example": { fault: "huge" },
  "slow.example": { fault: "slow", delayMs: 8_000 },
  "gone.example": { fault: "nxdomain" },
  "parked.example": { mx: ["0 ."] },
};

async function post(worker, events) {
  for (let i = 0; i < events.length; i += 1000) {
    const response = await postGeneric(worker, TOKEN, events.slice(i, i + 1000));
    assert.equal(response.status, 200, response.text);
  }
}

test("40 Microsoft-hosted domains, outlook.com and hotmail.com below the floor are one microsoft alert and one email", async () => {
  const answers = Object.fromEntries([
    ...microsoftHosted.map((d) => [d, { mx: [`10 ${d.replace(".", "-")}.mail.protection.outlook.com.`] }]),
    ...googleHosted.map((d) => [d, { mx: ["1 aspmx.l.google.com.", "5 alt1.aspmx.l.google.com."] }]),
    ...Object.entries(FAULTS),
  ]);
  const doh = await startDohStub(answers);
  const capture = await captureServer();
  const worker = await startWorker({
    vars: {
      GENERIC_WEBHOOK_TOKEN: TOKEN,
      DOH_URL: doh.url,
      DOH_LOOKUPS_PER_RUN: "40",
      // Provider sums are made when the objects publish: once a minute here, so the test waits one.
      PUBLISH_MINUTES: "1",
      ALERT_FROM: "alerts@bouncewatch.example",
      ALERT_TO: "ops@bouncewatch.example",
      ALERT_EMAIL_PROVIDER: "resend",
      ALERT_EMAIL_API_KEY: "re_e2e_key",
      ALERT_EMAIL_API_BASE: capture.base,
    },
  });
  try {
    const now = Math.floor(Date.now() / 1000);
    const everyone = [...microsoft, ...googleHosted, ...Object.keys(FAULTS)];
    for (let hoursAgo = 2; hoursAgo <= 5; hoursAgo++) {
      await post(worker, everyone.flatMap((d) => genericEvents(d, 10, { at: now - hoursAgo * 3600 })));
    }
    // 56 domains outside the consumer table, 40 look-ups a run: two runs resolve them all.
    const firstPublish = Date.now();
    const runs = [await cronRun(worker), await cronRun(worker)];
    const lookups = runs.flatMap((run) => run.report.upkeep.map((u) => u.lookups));
    assert.equal(lookups.reduce((n, l) => n + l.looked_up, 0), 56, JSON.stringify(lookups));
    const errors = lookups.flatMap((l) => l.errors ?? []);
    for (const [domain, why] of [["flaky.example", /SERVFAIL/], ["garbled.example", /malformed/], ["bloated.example", /over 65536 bytes|exceeds/], ["slow.example", /within 3 s/]]) {
      assert.ok(errors.some((e) => e.startsWith(`${domain}: `) && why.test(e)), `${domain}: ${errors.join("\n")}`);
    }
    assert.ok(doh.requests.every((r) => r.accept === "application/dns-json" && r.type === "MX"));

    const domains = (await call(worker, "/api/domains?window=24h&limit=1000")).json.domains;
    const provider = (d) => domains.find((row) => row.domain === d)?.provider;
    assert.equal(provider("corp07.example"), "microsoft");
    assert.equal(provider("gcorp03.example"), "google");
    assert.equal(provider("outlook.com"), "microsoft");
    assert.equal(provider("parked.example"), "no_mail");
    for (const d of ["flaky.example", "garbled.example", "bloated.example", "slow.example", "gone.example"]) {
      assert.equal(provider(d), "unknown", d);
    }

    const recent = now - 60;
    await post(worker, [
      ...microsoft.flatMap((d) => [...genericEvents(d, 10, { at: recent }), ...genericEvents(d, 5, { event: "deferred", reply: THROTTLE, at: recent })]),
      ...googleHosted.flatMap((d) => genericEvents(d, 10, { at: recent })),
    ]);
    // The next publish sums these hours per provider with every domain's provider known by now.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstPublish + 61_000 - Date.now())));
    await cronRun(worker);
    await cronRun(worker);

    const alerts = (await call(worker, "/api/alerts")).json;
    assert.equal(alerts.active.length, 1, JSON.stringify(alerts.active));
    const [alert] = alerts.active;
    assert.deepEqual([alert.scope, alert.provider, alert.state, alert.domain_count], ["provider", "microsoft", "firing", 42]);
    assert.equal(alert.smtp_451, 42 * 5);

    assert.equal(await settle(() => capture.requests.length, 1), 1, worker.logs());
    const email = JSON.parse(capture.requests[0].body);
    assert.match(email.subject, /Microsoft \(hotmail\.com, outlook\.com and 40 hosted domains\): 451 deferrals 33 %/);

    const providers = (await call(worker, "/api/providers?window=1h")).json.providers;
    const google = providers.find((p) => p.provider === "google");
    assert.deepEqual([google.status, google.domains, google.smtp_451], ["ok", 10, 0]);
    const page = (await call(worker, "/api/providers/microsoft?window=1h")).json;
    assert.equal(page.domains, 42);
    assert.equal(page.buckets.reduce((n, b) => n + b.smtp_451, 0), 210);
  } finally {
    await worker.stop();
    await doh.stop();
    capture.close();
  }
});
