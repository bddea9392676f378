//! Webhook traffic shared by the native benchmarks (`benches/webhooks.rs`) and the wasm one
//! (`benches/wasm`), so both time the same bytes: one mix of replies, and a signed 1,000-event SendGrid
//! batch (~430 KB) whose event ids depend on a request number (a batch sent again is all duplicates, which
//! the counting object does not count again, so every distinct request number is a batch of new events).
//! Needs nothing but the core, so the wasm build, which has no rusqlite, can include it.

use base64::Engine;
use bouncewatch::config::Config;
use bouncewatch::event::EventKind;
use bouncewatch::http::{HttpRequest, Method};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

/// The clock the benchmarks run at: every signature and event time is near it.
pub const NOW: u64 = 1_700_000_000;
pub const EVENTS_PER_BATCH: usize = 1000;

/// What every ESP's events say, in turn: two deferrals, a hard bounce and a delivery.
pub const REPLIES: [(EventKind, &str); 4] = [
    (EventKind::Deferred, "451 4.7.1 <user{i}@example.org>: Recipient address rejected: try again later"),
    (
        EventKind::Bounced,
        "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking",
    ),
    (EventKind::Deferred, "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume"),
    (EventKind::Delivered, "250 2.0.0 OK 1700000000 a1si123456qkb.99 - gsmtp"),
];

/// The `i`-th event's kind and reply (with its recipient in it where the reply quotes one).
pub fn reply(i: usize) -> (EventKind, String) {
    let (kind, text) = REPLIES[i % REPLIES.len()];
    (kind, text.replace("{i}", &i.to_string()))
}

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, uncompressed point follows).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn sendgrid_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).expect("a fixed valid scalar")
}

/// The public half of the benchmarks' SendGrid key, base64 SPKI as SendGrid's settings page shows it.
pub fn sendgrid_public_key() -> String {
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(sendgrid_key().verifying_key().to_encoded_point(false).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(spki)
}

/// A config that accepts [`sendgrid_request`]s.
pub fn sendgrid_config() -> Config {
    Config::from_pairs([("SENDGRID_WEBHOOK_PUBLIC_KEY", sendgrid_public_key())])
}

/// SendGrid's signature header: base64 DER ECDSA over timestamp + body.
pub fn sendgrid_signature(body: &[u8], timestamp: &str) -> String {
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body);
    let signature: Signature = sendgrid_key().sign(&signed);
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

/// A deterministic mix of SendGrid events as SendGrid sends them: one per line, each followed by CRLF,
/// stamped in the ~17 minutes before `now`.
pub fn sendgrid_batch(request: u32, now: u64) -> Vec<u8> {
    let mut body = b"[".to_vec();
    for i in 0..EVENTS_PER_BATCH {
        let (kind, reply) = reply(i);
        let (event, field) = match kind {
            EventKind::Bounced => ("bounce", "reason"),
            EventKind::Deferred => ("deferred", "response"),
            _ => ("delivered", "response"),
        };
        let line = format!(
            r#"{{"email":"recipient{i}@domain{d}.example.com","timestamp":{ts},"smtp-id":"<14c5d75ce93.dfd.64b469.{i}@ismtpd-555>","event":"{event}","category":["newsletter","cat facts"],"sg_event_id":"sg-event-{request}-{i:08}-aGVsbG8gd29ybGQ","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.{i}","{field}":"{reply}","attempt":"1","tls":1,"ip":"192.0.2.{o}"}}"#,
            d = i % 37,
            ts = now - EVENTS_PER_BATCH as u64 + i as u64,
            o = i % 250,
        );
        if i > 0 {
            body.extend_from_slice(b",\r\n");
        }
        body.extend_from_slice(line.as_bytes());
    }
    body.extend_from_slice(b"]\r\n");
    body
}

/// `POST /webhooks/sendgrid` with a signed batch, as the Worker's router receives it.
pub fn sendgrid_request(request: u32, now: u64) -> HttpRequest {
    let body = sendgrid_batch(request, now);
    let timestamp = now.to_string();
    let signature = sendgrid_signature(&body, &timestamp);
    HttpRequest::new(Method::Post, "https://bw.example/webhooks/sendgrid")
        .with_header("x-twilio-email-event-webhook-signature", &signature)
        .with_header("x-twilio-email-event-webhook-timestamp", &timestamp)
        .with_body(body)
}
