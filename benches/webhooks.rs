//! A 1,000-event SendGrid batch (~400 KB), signed with a P-256 key derived from a fixed seed, verified +
//! parsed + classified natively through `esp::verify_and_parse`. Target: under 2 ms.

use std::hint::black_box;

use base64::Engine;
use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery, NoFetch};
use bouncewatch::event::Esp;
use bouncewatch::store::MemoryStore;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

const TIMESTAMP: &str = "1700000000";
/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, uncompressed point follows).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A deterministic mix of SendGrid events as SendGrid sends them: one per line, each followed by CRLF.
fn batch() -> Vec<u8> {
    let replies = [
        ("deferred", "response", "451 4.7.1 <user{i}@example.org>: Recipient address rejected: try again later"),
        (
            "bounce",
            "reason",
            "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking",
        ),
        (
            "deferred",
            "response",
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume",
        ),
        ("delivered", "response", "250 2.0.0 OK 1700000000 a1si123456qkb.99 - gsmtp"),
    ];
    let mut body = b"[".to_vec();
    for i in 0..1000 {
        let (event, field, reply) = replies[i % replies.len()];
        let reply = reply.replace("{i}", &i.to_string());
        let line = format!(
            r#"{{"email":"recipient{i}@domain{d}.example.com","timestamp":{ts},"smtp-id":"<14c5d75ce93.dfd.64b469.{i}@ismtpd-555>","event":"{event}","category":["newsletter","cat facts"],"sg_event_id":"sg-event-{i:08}-aGVsbG8gd29ybGQ","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.{i}","{field}":"{reply}","attempt":"1","tls":1,"ip":"192.0.2.{o}"}}"#,
            d = i % 37,
            ts = 1_699_999_000 + i,
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

fn bench(c: &mut Criterion) {
    let body = batch();
    let key = SigningKey::from_slice(&[7u8; 32]).expect("a fixed valid scalar");
    let mut signed = TIMESTAMP.as_bytes().to_vec();
    signed.extend_from_slice(&body);
    let signature: Signature = key.sign(&signed);
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = b64.encode(signature.to_der().as_bytes());
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(key.verifying_key().to_encoded_point(false).as_bytes());
    let config = Config::from_pairs([("SENDGRID_WEBHOOK_PUBLIC_KEY", b64.encode(spki))]);
    let headers = vec![
        ("x-twilio-email-event-webhook-signature".to_owned(), signature),
        ("x-twilio-email-event-webhook-timestamp".to_owned(), TIMESTAMP.to_owned()),
    ];
    let store = MemoryStore::new();
    let delivery = Delivery { body: &body, headers: &headers, now: 1_700_000_000 };
    let verified = pollster::block_on(esp::verify_and_parse(Esp::Sendgrid, &delivery, &config, &store, &NoFetch));
    assert_eq!(verified.map(|v| v.events.len()).ok(), Some(1000), "the batch must verify and parse");

    let mut group = c.benchmark_group("sendgrid");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(format!("verify+parse+classify 1000 events ({} bytes)", body.len()), |b| {
        b.iter(|| {
            let verified = pollster::block_on(esp::verify_and_parse(
                Esp::Sendgrid,
                black_box(&delivery),
                &config,
                &store,
                &NoFetch,
            ));
            black_box(verified)
        })
    });
    // Without the signature check, to see where the time goes.
    group.bench_function("parse+classify only", |b| {
        b.iter(|| black_box(esp::parse(Esp::Sendgrid, black_box(&delivery))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
