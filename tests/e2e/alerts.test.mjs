// End to end: a 451 spike makes the cron send exactly one alert, through the send_email binding (written
// as an .eml by the local runtime) or through the Resend API (a capture server on 127.0.0.1 stands in for
// it); a failed send is retried on a later run and succeeds exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { startWorker, triggerCron, seedSpike, sleep, settle, NOTHING_NEW, captureServer } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const POLICY = "451 4.7.1 <someone@gmail.com>: local policy violation";
const ALERT_VARS = {
  GENERIC_WEBHOOK_TOKEN: TOKEN,
  ALERT_FROM: "alerts@bouncewatch.example",
  ALERT_TO: "ops@bouncewatch.example",
  PUBLIC_URL: "https://bouncewatch.example",
};

function emlFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .filter((name) => String(name).endsWith(".eml"))
    .map((name) => join(dir, String(name)));
}

/** Decodes RFC 2047 encoded-words (B and Q) in a header value, unfolding it first. */
function decodeHeader(value) {
  return value
    .replace(/\r?\n[ \t]+/g, " ")
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, kind, text) =>
      kind.toLowerCase() === "b"
        ? Buffer.from(text, "base64").toString("utf8")
        : decodeQuotedPrintable(text.replace(/_/g, " ")),
    );
}

function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, "");
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === "=" && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function readEml(path) {
  const raw = readFileSync(path, "utf8");
  const [head] = raw.split(/\r?\n\r?\n/);
  const subjectLine = head.match(/^Subject:(.*(?:\r?\n[ \t].*)*)/im);
  return { subject: decodeHeader(subjectLine ? subjectLine[1].trim() : ""), body: decodeQuotedPrintable(raw), raw };
}

test("the send_email binding carries one firing alert with subject, advice and dashboard link", async () => {
  const worker = await startWorker({ vars: ALERT_VARS });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: POLICY });
    const mailDir = join(worker.cwd, ".wrangler/tmp/email");
    assert.equal(await settle(() => emlFiles(mailDir).length, 1), 1, `expected one .eml under ${mailDir}:\n${worker.logs()}`);
    const files = emlFiles(mailDir);
    const { subject, body, raw } = readEml(files[0]);
    assert.match(subject, /^\[bouncewatch\] gmail\.com: 451 deferrals \d+(\.\d)? % \(baseline \d+(\.\d)? %\) — local policy/);
    assert.match(raw, /^Content-Type: multipart\/alternative/im);
    assert.match(body, /don't resend manually until the cause is identified/);
    assert.match(body, /https:\/\/bouncewatch\.example\/#\/domain\/gmail\.com/);
    assert.match(body, /local policy violation/, "a sample reply is quoted");
    assert.doesNotMatch(body, /someone@/, "no recipient address in an alert");
    assert.doesNotMatch(body, /outlook\.com/, "the steady domain is not alerted");

    assert.equal(await triggerCron(worker), 200);
    assert.equal(await settle(() => emlFiles(mailDir).length, 2, NOTHING_NEW), 1, "a second run sends nothing new");
  } finally {
    await worker.stop();
  }
});

function resendVars(base) {
  return { ...ALERT_VARS, ALERT_EMAIL_PROVIDER: "resend", ALERT_EMAIL_API_KEY: "re_e2e_key", ALERT_EMAIL_API_BASE: base };
}

test("the Resend API receives exactly one correct request, and a second run sends nothing", async () => {
  const capture = await captureServer();
  const worker = await startWorker({ vars: resendVars(capture.base) });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: POLICY });
    assert.equal(await settle(() => capture.requests.length, 1), 1, worker.logs());
    const [request] = capture.requests;
    assert.equal(request.method, "POST");
    assert.equal(request.url, "/emails");
    assert.equal(request.headers.authorization, "Bearer re_e2e_key");
    const email = JSON.parse(request.body);
    assert.equal(email.from, "alerts@bouncewatch.example");
    assert.deepEqual([email.to].flat(), ["ops@bouncewatch.example"]);
    assert.match(email.subject, /^\[bouncewatch\] gmail\.com: 451 deferrals/);
    assert.match(email.text, /don't resend manually/);
    assert.match(email.html, /<html|<body|<p/i);
    assert.doesNotMatch(request.body, /someone@/);

    assert.equal(await triggerCron(worker), 200);
    assert.equal(await settle(() => capture.requests.length, 2, NOTHING_NEW), 1, "a second run sends nothing new");
  } finally {
    await worker.stop();
    capture.close();
  }
});

test("a send answered 500 is retried once on a later run, and the success is not repeated", async () => {
  const capture = await captureServer([500]);
  const worker = await startWorker({ vars: resendVars(capture.base) });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: POLICY });
    assert.equal(await settle(() => capture.requests.length, 1), 1, "the first attempt was made and failed");
    assert.equal(await triggerCron(worker), 200);
    assert.equal(await settle(() => capture.requests.length, 2, NOTHING_NEW), 1, "a retry waits for its backoff");
    // The first retry waits a minute (the next scheduled run in production).
    await sleep(50_000);
    assert.equal(await triggerCron(worker), 200);
    assert.equal(await settle(() => capture.requests.length, 2), 2, worker.logs());
    assert.equal(capture.requests[1].body, capture.requests[0].body, "the retry sends the same message");
    assert.equal(capture.requests[1].headers["idempotency-key"], capture.requests[0].headers["idempotency-key"]);
    assert.equal(await triggerCron(worker), 200);
    assert.equal(await settle(() => capture.requests.length, 3, NOTHING_NEW), 2, "a delivered alert is never sent again");
  } finally {
    await worker.stop();
    capture.close();
  }
});
