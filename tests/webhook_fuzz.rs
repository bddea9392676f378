//! Property: any bytes posted to any `/webhooks/{esp}` (with credentials configured and presented, so the
//! parsers are reached) get a JSON 2xx or 4xx, never a 5xx and never a panic; and every adapter's parser
//! survives any bytes. Inputs are random bytes or real samples with random bytes overwritten.

mod common;

use base64::Engine;
use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery};
use bouncewatch::event::Esp;
use common::{post, FakeFetcher, World, FIXTURES};
use proptest::prelude::*;

/// Cases per property; the harness report quotes it.
const CASES: u32 = 4096;

fn samples() -> Vec<Vec<u8>> {
    let mut files: Vec<_> =
        std::fs::read_dir(format!("{FIXTURES}/samples")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().map(|path| std::fs::read(path).unwrap()).collect()
}

/// Random bytes, or a sample with up to 8 bytes overwritten (mostly-valid JSON reaches deeper).
fn body() -> impl Strategy<Value = Vec<u8>> {
    let samples = samples();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (0..samples.len(), proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8)).prop_map(
            move |(index, edits)| {
                let mut body = samples[index].clone();
                for (at, byte) in edits {
                    if !body.is_empty() {
                        let len = body.len();
                        body[at % len] = byte;
                    }
                }
                body
            }
        ),
    ]
}

fn config() -> Config {
    Config::from_pairs([
        ("SENDGRID_WEBHOOK_PUBLIC_KEY", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEc1xJU2qhLFMxcOLdKWQIA2OZdmUTlNRT5xFEipLDnGkO0uhW8aJiIQxJGglBRiKWxNqm3jjRbUpaAaDH9WHkng=="),
        ("MAILGUN_WEBHOOK_SIGNING_KEY", "TEST_WEBHOOK_SIGNING_KEY"),
        ("POSTMARK_WEBHOOK_CREDENTIALS", "u:p"),
        ("SES_TOPIC_ARNS", "arn:aws:sns:us-east-1:1234567890:SES_Events"),
        ("SPARKPOST_WEBHOOK_CREDENTIALS", "u:p"),
        ("MAILJET_WEBHOOK_CREDENTIALS", "u:p"),
        ("BREVO_WEBHOOK_CREDENTIALS", "u:p"),
        ("MANDRILL_WEBHOOK_KEY", "TEST_WEBHOOK_KEY"),
        ("MANDRILL_WEBHOOK_URL", "https://example.com/webhooks/mandrill"),
        ("RESEND_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("POSTAL_WEBHOOK_PUBLIC_KEY", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAutFqueT3XgP13udzxE6UpbdjOtVO5DwoMpSMiDNMnGzF1TYH5/R2LPUOBeTB0SkKnR4kpNcUZhicpGD4aKciz/GEZ6wu65xncfT9H/KBOQwoXYTuClHwp6fYpGzcGFaFoEYMnijL/o4qmTSd+ukglQUgKpsDw4ofw6rUm2CttJo+GQSNQ9NfGR1h/0J+zsApkeSYrXRx5wNlu87z8os1C/6PBrUHwt3xXeafXzfwut8aRRYsS8BySOA9DAgLfNHlfdQCjKPXKrG/ussgReyWD6n/HH+j7Uha3xosTzQqJifcxlTq6MxWdPR6fDaJNvqw6DOE7UjUNxHguXHlVfxhlQIDAQAB"),
        ("GENERIC_WEBHOOK_TOKEN", "u:p"),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_body_to_any_webhook_is_a_json_2xx_or_4xx(esp_index in 0..Esp::ALL.len() + 1, body in body()) {
        let name = Esp::ALL.get(esp_index).map_or("unknown", |e| e.as_str());
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("u:p"));
        let req = post(name, body, &[("Authorization", &basic)]);
        let response = World::new(config()).send(&req, 1_700_000_000, &FakeFetcher::default());
        prop_assert!((200..500).contains(&response.status), "{name}: {}", response.status);
        if !response.body.is_empty() {
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&response.body).is_ok());
        }
        prop_assert!(response.log.is_some());
    }

    #[test]
    fn redaction_never_panics_and_always_hides_the_local_part(text in "\\PC{0,80}", local in "[a-zA-Z0-9._%+-]{1,12}") {
        let _ = bouncewatch::redact::redact_addresses(&text);
        let redacted = bouncewatch::redact::redact_addresses(&format!("{text} <{local}@example.org> {text}"));
        prop_assert!(redacted.contains("<…@example.org>"), "{redacted}");
    }

    #[test]
    fn every_parser_survives_any_bytes(body in body()) {
        for esp in Esp::ALL {
            // Errors are fine; panics are not.
            let _ = esp::parse(esp, &Delivery { body: &body, headers: &[], now: 1_700_000_000 });
        }
    }
}
