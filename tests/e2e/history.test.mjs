// End to end (issue 17): twelve days of traffic at event times in the past, some within the hourly
// retention (folded day by day by the cron runs), some beyond it (backfilled into their days), read back
// over window=30d in daily buckets and over 7d with the seven whole days before; the weekly digest,
// scheduled for today's midnight, is written as an .eml by the local send_email binding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { startWorker, call, cronRun, genericEvents, postGeneric, settle } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const DAY = 86_400;
const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const DAYS_AGO = Array.from({ length: 12 }, (_, i) => i + 2); // 2..13: yesterday may not be folded before 01:00

function emlFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).filter((n) => String(n).endsWith(".eml")).map((n) => join(dir, String(n)));
}

async function json(worker, path) {
  const response = await call(worker, path);
  assert.equal(response.status, 200, `${path}: ${response.text}`);
  return response.json;
}

test("days of past traffic read back in daily buckets with the period before, and the digest is mailed", async () => {
  const now = Math.floor(Date.now() / 1000);
  const today = now - (now % DAY);
  const worker = await startWorker({
    vars: {
      GENERIC_WEBHOOK_TOKEN: TOKEN,
      ALERT_FROM: "alerts@bouncewatch.example",
      ALERT_TO: "ops@bouncewatch.example",
      DIGEST_TO: "digest@bouncewatch.example",
      DIGEST_AT: `${WEEKDAYS[new Date(today * 1000).getUTCDay()]} 00:00`,
    },
  });
  try {
    // Day d ago at 00:10 UTC: 10 + d deliveries and d 451s to gmail.com.
    for (const d of DAYS_AGO) {
      const at = today - d * DAY + 600;
      const batch = [
        ...genericEvents("gmail.com", 10 + d, { at }),
        ...genericEvents("gmail.com", d, { event: "deferred", reply: "451 4.7.1 please try again later", at }),
      ];
      const response = await postGeneric(worker, TOKEN, batch);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.json.accepted, 10 + 2 * d, JSON.stringify(response.json));
    }
    // A fresh install folds one closed day a run, from the first one whole in the retention.
    for (let run = 0; run < 9; run++) await cronRun(worker);

    const list = await json(worker, "/api/domains?window=30d");
    const gmail = list.domains.find((row) => row.domain === "gmail.com");
    const attempts = DAYS_AGO.reduce((sum, d) => sum + 10 + 2 * d, 0);
    const deferrals = DAYS_AGO.reduce((sum, d) => sum + d, 0);
    assert.equal(gmail.attempts, attempts, JSON.stringify(gmail));
    assert.equal(gmail.smtp_451, deferrals);
    assert.deepEqual(gmail.previous, { attempts: 0, delivered: 0, deferred: 0, bounced: 0, smtp_451: 0, ratio_451: 0, ratio_bounced: 0 });
    assert.equal(gmail.change.attempts, attempts);

    const detail = await json(worker, "/api/domains/gmail.com?window=30d");
    assert.equal(detail.buckets.length, DAYS_AGO.length, JSON.stringify(detail.buckets));
    for (const bucket of detail.buckets) {
      assert.equal(bucket.start % DAY, 0, "a bucket a day, at its midnight");
      const d = (today - bucket.start) / DAY;
      assert.deepEqual([bucket.delivered, bucket.deferred, bucket.smtp_451], [10 + d, d, d], `day ${d} ago`);
    }
    assert.equal(detail.previous_buckets.length, 0);

    // 7d ends now, from the hourly counts; the week before is the history's seven whole days before it.
    const asked = Math.floor(Date.now() / 1000);
    const week = (await json(worker, "/api/domains?window=7d")).domains.find((row) => row.domain === "gmail.com");
    // The window's first bucket is 7 days less one bucket before the current one; its day, and the seven
    // days before that, as the API computes them (the seven days before day 7 ago, but for a request in
    // the last 5 minutes of a UTC day).
    const first = asked - (asked % 300) - (7 * DAY - 300);
    const firstDaysAgo = (today - (first - (first % DAY))) / DAY;
    const before = DAYS_AGO.filter((d) => d > firstDaysAgo && d <= firstDaysAgo + 7).reduce((sum, d) => sum + 10 + 2 * d, 0);
    assert.equal(week.previous.attempts, before, JSON.stringify(week));

    const google = (await json(worker, "/api/providers?window=30d")).providers.find((p) => p.provider === "google");
    assert.equal(google.attempts, attempts);

    const mailDir = join(worker.cwd, ".wrangler/tmp/email");
    assert.equal(await settle(() => emlFiles(mailDir).length, 1), 1, `one .eml under ${mailDir}:\n${worker.logs()}`);
    const raw = readFileSync(emlFiles(mailDir)[0], "utf8");
    assert.match(raw, /^Subject: .*weekly digest/im);
    assert.match(raw, /^To: .*digest@bouncewatch\.example/im);
    assert.match(raw.replace(/=\r?\n/g, ""), /gmail\.com/);
  } finally {
    await worker.stop();
  }
});
