//! 1,000 events per ESP, natively, each through the Worker's own path and the counting object's: the
//! router, signature check, parsing, classification, the delta per shard (`http::handle` →
//! `esp::verify_and_parse` → `counting::prepare`), its JSON both ways, and the object applying it to its
//! SQLite (`CounterObject::apply`, on rusqlite in memory), over the integration tests' [`World`]. Each
//! timed round starts from a fresh world, so every event is new. (`benches/counting.rs` times the object
//! alone; `benches/wasm` the Worker's part in wasm.)
//!
//! * SendGrid: one signed batch of 1,000 events (~430 KB); also timed without the counting object and
//!   the response, and without the signature check, to see where the time goes, and the counting of its sending IPs and tags
//!   alone.
//! * Mailgun: 1,000 single-event requests, each HMAC-signed with its own token, which the object checks
//!   for a replay and records with the event.
//! * SES: 1,000 SNS notifications of one event each, RSA-SHA256-signed with the test key of the
//!   self-generated certificate, which the fake fetcher serves once and KV caches after.
//! * Mandrill: one signed form batch of 1,000 events.
//!
//! `cargo bench --bench webhooks`; criterion reports each as time per 1,000 events. Under `cargo test`
//! (criterion's test mode: each benchmark once) Mailgun, SES and Mandrill send 8 events, not 1,000:
//! signing 1,000 SNS messages with RSA in a debug build alone takes minutes.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;

use base64::Engine;
use bouncewatch::breakdown::DimensionCounts;
use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery, NoFetch};
use bouncewatch::event::{Esp, EventKind};
use bouncewatch::http::{HttpRequest, HttpResponse};
use bouncewatch::store::MemoryStore;
use common::{post, FakeFetcher, World};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fixtures::{reply, EVENTS_PER_BATCH, NOW};
use hmac::{Hmac, Mac};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::json;

const MAILGUN_KEY: &str = "bench-mailgun-signing-key";
const MANDRILL_KEY: &str = "bench-mandrill-key";
const MANDRILL_URL: &str = "https://bw.example/webhooks/mandrill";
const TOPIC_ARN: &str = "arn:aws:sns:us-west-2:123456789012:ses-events";
/// `NOW` in RFC 3339, as SNS and SES stamp their messages.
const NOW_RFC3339: &str = "2023-11-14T22:13:20.000Z";

/// 1,000 when benchmarking (`cargo bench` passes `--bench`), a few when only testing that each path works.
fn event_count() -> usize {
    if std::env::args().any(|arg| arg == "--bench") {
        EVENTS_PER_BATCH
    } else {
        8
    }
}

fn recipient(i: usize) -> String {
    format!("recipient{i}@domain{}.example.com", i % 37)
}

/// The SMTP code an ESP reports beside the reply: the reply's own first three digits.
fn code(reply: &str) -> u16 {
    reply[..3].parse().expect("every benchmark reply starts with its code")
}

fn mailgun_requests(events: usize) -> Vec<HttpRequest> {
    let timestamp = NOW.to_string();
    (0..events)
        .map(|i| {
            let (kind, reply) = reply(i);
            let token = format!("{i:050x}");
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(MAILGUN_KEY.as_bytes()).expect("any key length");
            mac.update(timestamp.as_bytes());
            mac.update(token.as_bytes());
            let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
            let (event, severity) = match kind {
                EventKind::Delivered => ("delivered", None),
                EventKind::Deferred => ("failed", Some("temporary")),
                _ => ("failed", Some("permanent")),
            };
            let body = json!({
                "signature": { "timestamp": timestamp, "token": token, "signature": signature },
                "event-data": {
                    "id": format!("mg-event-{i}"),
                    "event": event,
                    "severity": severity,
                    "recipient": recipient(i),
                    "timestamp": NOW - 60,
                    "delivery-status": { "code": code(&reply), "message": reply },
                },
            });
            post("mailgun", body.to_string(), &[])
        })
        .collect()
}

/// The SES event record for the `i`-th event: one recipient, in the section its kind uses.
fn ses_record(i: usize) -> serde_json::Value {
    let (kind, reply) = reply(i);
    let address = recipient(i);
    let mail = json!({ "timestamp": NOW_RFC3339, "messageId": format!("ses-message-{i}"), "destination": [address] });
    match kind {
        EventKind::Delivered => json!({
            "eventType": "Delivery", "mail": mail,
            "delivery": { "timestamp": NOW_RFC3339, "recipients": [address], "smtpResponse": reply },
        }),
        EventKind::Deferred => json!({
            "eventType": "DeliveryDelay", "mail": mail,
            "deliveryDelay": {
                "timestamp": NOW_RFC3339, "delayType": "TransientCommunicationFailure",
                "delayedRecipients": [{ "emailAddress": address, "status": "4.4.1", "diagnosticCode": reply }],
            },
        }),
        _ => json!({
            "eventType": "Bounce", "mail": mail,
            "bounce": {
                "timestamp": NOW_RFC3339, "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{ "emailAddress": address, "status": "5.1.1", "diagnosticCode": reply }],
            },
        }),
    }
}

/// The RSA key the self-generated SNS certificate was made from (kept with the Postal vectors).
fn sns_signing_key() -> rsa::pkcs1v15::SigningKey<sha2::Sha256> {
    let pem = common::vectors("postal_vectors.json")["private_key_pem_for_regenerating"].as_str().map(str::to_owned);
    let pem = pem.expect("the vectors keep the test key");
    let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(base64).expect("PEM body is base64");
    rsa::pkcs1v15::SigningKey::new(rsa::RsaPrivateKey::from_pkcs8_der(&der).expect("a PKCS#8 RSA key"))
}

fn ses_requests(events: usize) -> Vec<HttpRequest> {
    let key = sns_signing_key();
    (0..events)
        .map(|i| {
            let message = ses_record(i).to_string();
            let message_id = format!("00000000-0000-4000-8000-{i:012}");
            // SNS's canonical string for a Notification without Subject, SignatureVersion 2.
            let signed = format!(
                "Message\n{message}\nMessageId\n{message_id}\n\
                 Timestamp\n{NOW_RFC3339}\nTopicArn\n{TOPIC_ARN}\nType\nNotification\n"
            );
            let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(signed.as_bytes()).to_bytes());
            let envelope = json!({
                "Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC_ARN, "Message": message,
                "Timestamp": NOW_RFC3339, "SignatureVersion": "2", "Signature": signature,
                "SigningCertURL": common::SELFGEN_CERT_URL,
            });
            post("ses", envelope.to_string(), &[("x-amz-sns-message-type", "Notification")])
        })
        .collect()
}

/// `application/x-www-form-urlencoded` value encoding: unreserved bytes as they are, the rest `%XX`.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn mandrill_request(events: usize) -> HttpRequest {
    let events: Vec<serde_json::Value> = (0..events)
        .map(|i| {
            let (kind, reply) = reply(i);
            let event = match kind {
                EventKind::Delivered => "send",
                EventKind::Deferred => "deferral",
                _ => "hard_bounce",
            };
            // Deferrals carry their reply in the latest SMTP event, bounces in `diag`.
            let msg = match kind {
                EventKind::Deferred => json!({ "email": recipient(i), "smtp_events": [{ "diag": reply }] }),
                _ => json!({ "email": recipient(i), "diag": reply }),
            };
            json!({ "event": event, "_id": format!("md-{i}"), "ts": NOW - 60, "msg": msg })
        })
        .collect();
    let events = serde_json::Value::from(events).to_string();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(MANDRILL_KEY.as_bytes()).expect("any key length");
    mac.update(MANDRILL_URL.as_bytes());
    mac.update(b"mandrill_events");
    mac.update(events.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let body = format!("mandrill_events={}", form_encode(&events));
    post("mandrill", body, &[("x-mandrill-signature", &signature)])
}

fn config() -> Config {
    let mut config = fixtures::sendgrid_config();
    config.set("MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_KEY);
    config.set("MANDRILL_WEBHOOK_KEY", MANDRILL_KEY);
    config.set("MANDRILL_WEBHOOK_URL", MANDRILL_URL);
    config.set("SES_TOPIC_ARNS", TOPIC_ARN);
    config
}

/// Sends `requests` to `world` and returns their responses, so that dropping them is not timed.
fn ingest(requests: &[HttpRequest], world: &World, fetcher: &FakeFetcher) -> Vec<HttpResponse> {
    requests.iter().map(|request| world.send(black_box(request), NOW, fetcher)).collect()
}

fn bench_esp(c: &mut Criterion, name: &str, requests: &[HttpRequest], events: usize) {
    let config = config();
    let fetcher = FakeFetcher::default();
    let responses = ingest(requests, &World::new(config.clone()), &fetcher);
    let accepted: u64 = responses.iter().map(|r| r.json_body()["accepted"].as_u64().unwrap_or(0)).sum();
    assert_eq!(accepted, events as u64, "{name}: every event must be verified and counted");
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(events as u64));
    if requests.len() > 1 {
        // A thousand requests take long enough that criterion's default 100 samples would take minutes.
        group.sample_size(10);
    }
    let label = format!("{} request(s), verify+parse+classify+count {events} events", requests.len());
    // The world is made outside the timing and dropped outside it too (criterion drops the output after).
    group.bench_function(label, |b| {
        b.iter_batched(
            || World::new(config.clone()),
            |world| {
                let responses = ingest(requests, &world, &fetcher);
                (world, responses)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn sendgrid(c: &mut Criterion) {
    let request = fixtures::sendgrid_request(0, NOW);
    bench_esp(c, "sendgrid", std::slice::from_ref(&request), EVENTS_PER_BATCH);
    // Where the time goes: the same batch without the counting object and the response, then without the
    // signature.
    let config = config();
    let delivery = Delivery { body: &request.body, headers: &request.headers, now: NOW };
    let store = MemoryStore::new();
    let mut group = c.benchmark_group("sendgrid");
    group.throughput(Throughput::Elements(EVENTS_PER_BATCH as u64));
    group.bench_function("verify+parse+classify only", |b| {
        b.iter(|| {
            let verify = esp::verify_and_parse(Esp::Sendgrid, black_box(&delivery), &config, &store, &NoFetch);
            black_box(pollster::block_on(verify))
        })
    });
    group.bench_function("parse+classify only", |b| {
        b.iter(|| black_box(esp::parse(Esp::Sendgrid, black_box(&delivery))))
    });
    // What counting the batch's sending IPs and tags costs (src/breakdown.rs), apart from parsing.
    let events = esp::parse(Esp::Sendgrid, &delivery).expect("the benchmark batch parses");
    group.bench_function("count sending dimensions only", |b| {
        b.iter(|| {
            let mut counts = DimensionCounts::default();
            for event in black_box(&events) {
                counts.add_event(event);
            }
            black_box(counts)
        })
    });
    group.finish();
}

fn other_esps(c: &mut Criterion) {
    let events = event_count();
    bench_esp(c, "mailgun", &mailgun_requests(events), events);
    bench_esp(c, "ses", &ses_requests(events), events);
    bench_esp(c, "mandrill", std::slice::from_ref(&mandrill_request(events)), events);
}

criterion_group!(benches, sendgrid, other_esps);
criterion_main!(benches);
