// End to end: a silence created through the API mutes a firing alert (shown silenced, nothing sent), and
// once it ends the one reminder that fell due goes out; the action hook and the KumoMTA target (stubs on
// 127.0.0.1) each get exactly one throttle when an alert fires and one resume when it resolves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { call, captureServer, cronRun, genericEvents, postGeneric, seedSpike, settle, sleep, startWorker, NOTHING_NEW } from "./harness.mjs";

const TOKEN = "e2e-generic-token";
const ADMIN = "e2e-admin-token";
const POLICY = "451 4.7.1 <someone@gmail.com>: local policy violation";

function resendVars(base) {
  return {
    GENERIC_WEBHOOK_TOKEN: TOKEN,
    ADMIN_TOKEN: ADMIN,
    ALERT_FROM: "alerts@bouncewatch.example",
    ALERT_TO: "ops@bouncewatch.example",
    ALERT_EMAIL_PROVIDER: "resend",
    ALERT_EMAIL_API_KEY: "re_e2e_key",
    ALERT_EMAIL_API_BASE: base,
  };
}

const subjects = (capture) => capture.requests.map((r) => JSON.parse(r.body).subject);

test("a silenced firing alert sends nothing and shows silenced; after the silence ends one reminder goes out", async () => {
  const mail = await captureServer();
  const worker = await startWorker({ vars: { ...resendVars(mail.base), ALERT_REPEAT: "1m" } });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: POLICY });
    assert.equal(await settle(() => mail.requests.length, 1), 1, worker.logs());
    const firedAt = Date.now();

    const refused = await call(worker, "/api/silences", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ match: "*", until: 1, comment: "x" }),
    });
    assert.equal(refused.status, 401, "writes need ADMIN_TOKEN");
    // Long enough to cover the reminder due a minute after the first email, short enough to outlive.
    const until = Math.floor(firedAt / 1000) + 75;
    const created = await call(worker, "/api/silences", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ match: { domain: "gmail.com" }, until, comment: "talking to the postmaster", created_by: "ana" }),
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.until, until);

    await sleep(Math.max(0, firedAt + 62_000 - Date.now()));
    await cronRun(worker);
    assert.equal(await settle(() => mail.requests.length, 2, NOTHING_NEW), 1, "the due reminder is muted");
    const alerts = await call(worker, "/api/alerts");
    const active = alerts.json.active.find((a) => a.domain === "gmail.com");
    assert.equal(active.state, "firing");
    assert.deepEqual(
      { id: active.silenced.id, until: active.silenced.until, by: active.silenced.created_by, why: active.silenced.comment },
      { id: created.json.id, until, by: "ana", why: "talking to the postmaster" },
    );
    const listed = await call(worker, "/api/silences");
    assert.deepEqual(listed.json.silences.map((s) => s.id), [created.json.id]);

    await sleep(Math.max(0, until * 1000 + 1_500 - Date.now()));
    await cronRun(worker);
    assert.equal(await settle(() => mail.requests.length, 2), 2, worker.logs());
    assert.match(subjects(mail)[1], /^\[bouncewatch\] still firing: gmail\.com/);
    await cronRun(worker);
    assert.equal(await settle(() => mail.requests.length, 3, NOTHING_NEW), 2, "one reminder, not two");
    assert.equal((await call(worker, "/api/alerts")).json.active[0].silenced, undefined, "no longer silenced");
  } finally {
    await worker.stop();
    mail.close();
  }
});

/** Enough deliveries to gmail.com in the last minute that its 451 ratio falls under half the threshold. */
async function calmDown(worker) {
  const at = Math.floor(Date.now() / 1000) - 30;
  for (let batch = 0; batch < 4; batch++) {
    const response = await postGeneric(worker, TOKEN, genericEvents("gmail.com", 1000, { at }));
    assert.equal(response.status, 200, response.text);
  }
}

test("the action hook and KumoMTA each get one throttle on firing and one resume on resolve", async () => {
  const hook = await captureServer();
  const kumo = await captureServer();
  const worker = await startWorker({
    vars: {
      GENERIC_WEBHOOK_TOKEN: TOKEN,
      ACTION_WEBHOOK_URL: `${hook.base}/bouncewatch`,
      ACTION_KUMOMTA_URL: kumo.base,
      ACTION_KUMOMTA_TOKEN: "bouncewatch:kumo-pass",
      ACTION_KUMOMTA_DURATION: "30m",
      RESOLVE_HOLD_MINUTES: "1",
    },
  });
  try {
    await seedSpike(worker, TOKEN, { domain: "gmail.com", steadyDomain: "outlook.com", reply: POLICY });
    assert.equal(await settle(() => hook.requests.length + kumo.requests.length, 2), 2, worker.logs());
    const [throttle] = hook.requests;
    assert.equal(throttle.method, "POST");
    assert.equal(throttle.url, "/bouncewatch");
    const message = JSON.parse(throttle.body);
    assert.equal(throttle.headers["idempotency-key"], `bouncewatch/${message.id}`);
    assert.deepEqual(
      { action: message.action, scope: message.scope, domain: message.domain, cause: message.cause, kind: message.suggestion.kind },
      { action: "throttle", scope: "domain", domain: "gmail.com", cause: "policy_rejected", kind: "pause_stream" },
    );
    assert.ok(message.ratio_451 > message.baseline_ratio, throttle.body);
    assert.match(message.suggestion.text, /don't retry by hand/);

    const [suspend] = kumo.requests;
    assert.equal(suspend.method, "POST");
    assert.equal(suspend.url, "/api/admin/suspend/v1");
    assert.equal(suspend.headers.authorization, `Basic ${Buffer.from("bouncewatch:kumo-pass").toString("base64")}`);
    const suspension = JSON.parse(suspend.body);
    assert.deepEqual({ domain: suspension.domain, duration: suspension.duration }, { domain: "gmail.com", duration: "1800s" });
    assert.match(suspension.reason, /local policy/);

    await cronRun(worker);
    assert.equal(await settle(() => hook.requests.length + kumo.requests.length, 3, NOTHING_NEW), 2, "once per alert");

    await calmDown(worker);
    await cronRun(worker); // firing → resolving
    assert.equal(await settle(() => hook.requests.length + kumo.requests.length, 3, NOTHING_NEW), 2, "no resume while resolving");
    await sleep(61_000); // the shortest resolve hold, a minute
    await cronRun(worker); // resolved
    assert.equal(await settle(() => hook.requests.length + kumo.requests.length, 4), 4, worker.logs());
    const resume = JSON.parse(hook.requests[1].body);
    assert.deepEqual({ action: resume.action, domain: resume.domain, kind: resume.suggestion.kind }, { action: "resume", domain: "gmail.com", kind: "resume" });
    const lift = kumo.requests[1];
    assert.equal(lift.method, "DELETE");
    assert.equal(lift.url, "/api/admin/suspend/v1");
    // The capture server answered the suspension with {"id": "captured-1"}.
    assert.deepEqual(JSON.parse(lift.body), { id: "captured-1" });

    await cronRun(worker);
    assert.equal(await settle(() => hook.requests.length + kumo.requests.length, 5, NOTHING_NEW), 4, "one resume each");
  } finally {
    await worker.stop();
    hook.close();
    kumo.close();
  }
});
