// End to end: the RSA signatures of Amazon SES (through SNS, SignatureVersion 1 and 2) and Postal (SHA-256,
// and SHA-1 from older servers). In the Worker the runtime's WebCrypto checks them (src/esp/rsa_pkcs1v15.rs);
// these hold it to what the native `rsa` check is held to by tests/esp_signatures.rs: good signatures are
// accepted, tampered, misdirected and foreign ones refused with 401.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startWorker, call, kvPut } from "./harness.mjs";

const fixtures = join(ROOT, "tests/fixtures/webhooks");
// The self-generated SNS certificate and the key it was made from (kept with the Postal vectors), as in
// tests/common/mod.rs.
const postalVectors = JSON.parse(readFileSync(join(fixtures, "vectors/postal_vectors.json"), "utf8"));
const snsKey = createPrivateKey(postalVectors.private_key_pem_for_regenerating);
const snsCertificate = readFileSync(join(fixtures, "selfgen/sns_selfgen_cert.pem"), "utf8");
const CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";
const TOPIC = "arn:aws:sns:us-west-2:123456789012:bouncewatch-e2e";

const postalKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const spkiBase64 = (publicKey) => publicKey.export({ type: "spki", format: "der" }).toString("base64");

let worker;
let persistDir;

before(async () => {
  // The certificate is where the Worker caches it once fetched (`signing_key` in src/esp/ses.rs): there is
  // no network here to fetch it from.
  persistDir = mkdtempSync(join(tmpdir(), "bouncewatch-e2e-rsa-"));
  await kvPut(persistDir, `sns-cert:${stableId([CERT_URL])}`, snsCertificate);
  worker = await startWorker({
    persistDir,
    vars: { SES_TOPIC_ARNS: TOPIC, POSTAL_WEBHOOK_PUBLIC_KEY: spkiBase64(postalKey.publicKey) },
  });
});

after(async () => {
  await worker?.stop();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

/** `stable_id` of src/esp/common.rs: SHA-256 over each field's length (u64, big-endian) and bytes. */
function stableId(fields) {
  const hash = createHash("sha256");
  for (const field of fields) {
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(Buffer.byteLength(field)));
    hash.update(length).update(field);
  }
  return hash.digest("hex");
}

/** A 401 for the signature itself: not for a missing header, a malformed body or an unusable key. */
function assertMismatch(response, what) {
  assert.equal(response.status, 401, `${what}: ${response.text}`);
  assert.match(response.json.message, /signature does not match/, what);
}

// ---- SES / SNS ----------------------------------------------------------------------------------------

/** An SES DeliveryDelay record to `address`, published now. */
function sesRecord(address) {
  const at = new Date().toISOString();
  return JSON.stringify({
    eventType: "DeliveryDelay",
    mail: { timestamp: at, source: "sender@example.com", messageId: randomUUID(), destination: [address] },
    deliveryDelay: {
      timestamp: at, delayType: "TransientCommunicationFailure",
      delayedRecipients: [{ emailAddress: address, status: "4.7.1", diagnosticCode: "smtp; 451 4.7.1 Try again later" }],
    },
  });
}

/** An SNS Notification carrying `message`, signed as SNS signs it (the canonical string, SHA1 for v1). */
function snsNotification(message, { version = "2", key = snsKey } = {}) {
  const envelope = {
    Type: "Notification", MessageId: randomUUID(), TopicArn: TOPIC, Message: message,
    Timestamp: new Date().toISOString(), SignatureVersion: version, SigningCertURL: CERT_URL,
  };
  const signed = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"].map((k) => `${k}\n${envelope[k]}\n`).join("");
  envelope.Signature = sign(version === "1" ? "sha1" : "sha256", Buffer.from(signed), key).toString("base64");
  return envelope;
}

const postSes = (envelope) => call(worker, "/webhooks/ses", {
  method: "POST", headers: { "content-type": "text/plain; charset=UTF-8" }, body: JSON.stringify(envelope),
});

test("SNS notifications signed with SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA) are accepted", async () => {
  for (const version of ["1", "2"]) {
    const { status, json, text } = await postSes(snsNotification(sesRecord(`v${version}@gmail.com`), { version }));
    assert.equal(status, 200, `SignatureVersion ${version}: ${text}`);
    assert.equal(json.accepted, 1);
    assert.equal(json.events[0].recipient_domain, "gmail.com");
    assert.equal(json.events[0].kind, "deferred");
  }
});

test("an SNS notification whose Message was changed, or signed by another key, is refused with 401", async () => {
  for (const version of ["1", "2"]) {
    const tampered = snsNotification(sesRecord("someone@gmail.com"), { version });
    tampered.Message = tampered.Message.replace("451 4.7.1", "250 2.0.0");
    assertMismatch(await postSes(tampered), `tampered, SignatureVersion ${version}`);
    const foreign = snsNotification(sesRecord("someone@gmail.com"), { version, key: otherKey });
    assertMismatch(await postSes(foreign), `another key, SignatureVersion ${version}`);
  }
  // Signed with SHA-1 but labelled SignatureVersion 2.
  const relabelled = snsNotification(sesRecord("someone@gmail.com"), { version: "1" });
  relabelled.SignatureVersion = "2";
  assertMismatch(await postSes(relabelled), "the other hash");
});

// ---- Postal ---------------------------------------------------------------------------------------------

function postalBody(address) {
  return JSON.stringify({
    event: "MessageDelayed", timestamp: Date.now() / 1000, uuid: randomUUID(),
    payload: {
      message: { direction: "outgoing", to: address, from: "sender@example.com", message_id: randomUUID() },
      status: "SoftFail", details: "Delayed", output: "451 4.7.1 Try again later", timestamp: Date.now() / 1000,
    },
  });
}

const postalSignature = (body, hash, key = postalKey.privateKey) => sign(hash, Buffer.from(body), key).toString("base64");

const postPostal = (body, headers) => call(worker, "/webhooks/postal", {
  method: "POST", headers: { "content-type": "application/json", ...headers }, body,
});

test("a Postal event signed with SHA-256, or by an older server with SHA-1 only, is accepted", async () => {
  const body = postalBody("someone@outlook.com");
  const both = { "x-postal-signature-256": postalSignature(body, "sha256"), "x-postal-signature": postalSignature(body, "sha1") };
  for (const headers of [both, { "x-postal-signature": both["x-postal-signature"] }]) {
    const { status, json, text } = await postPostal(body, headers);
    assert.equal(status, 200, `${Object.keys(headers)}: ${text}`);
    assert.equal(json.events[0].recipient_domain, "outlook.com");
  }
});

test("a Postal event changed after signing, signed by another key or under the other hash is refused with 401", async () => {
  const body = postalBody("someone@outlook.com");
  const sha256 = postalSignature(body, "sha256");
  const tampered = body.replace("451 4.7.1", "250 2.0.0");
  assertMismatch(await postPostal(tampered, { "x-postal-signature-256": sha256 }), "tampered");
  const foreign = postalSignature(body, "sha256", otherKey);
  assertMismatch(await postPostal(body, { "x-postal-signature-256": foreign }), "another key");
  const sha1 = postalSignature(body, "sha1");
  assertMismatch(await postPostal(body, { "x-postal-signature-256": sha1 }), "SHA-1 as SHA-256");
  // The SHA-256 header decides when present: a good SHA-1 signature beside a bad one does not help.
  const bad = { "x-postal-signature-256": foreign, "x-postal-signature": sha1 };
  assertMismatch(await postPostal(body, bad), "bad SHA-256 beside good SHA-1");
});

test("a Postal key with exponent 3 is one workerd imports: its signatures are checked like any other", async () => {
  const key = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 });
  const small = await startWorker({ vars: { POSTAL_WEBHOOK_PUBLIC_KEY: spkiBase64(key.publicKey) } });
  try {
    const body = postalBody("someone@outlook.com");
    const signature = (hash) => ({ "x-postal-signature-256": postalSignature(body, hash, key.privateKey) });
    const post = (headers) => call(small, "/webhooks/postal", { method: "POST", headers, body });
    const accepted = await post(signature("sha256"));
    assert.equal(accepted.status, 200, accepted.text);
    assertMismatch(await post(signature("sha1")), "SHA-1 as SHA-256");
  } finally {
    await small.stop();
  }
});
