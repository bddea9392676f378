//! Authenticity, with every vector in `tests/fixtures/webhooks/vectors` (and the signed samples): each
//! good vector verifies; a tampered body, a wrong key, a stale timestamp, a missing header, a truncated
//! signature and a wrong algorithm are refused; SNS certificate URLs off the SNS host are never fetched.

mod common;

use base64::Engine;
use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery, EspError, Verified};
use bouncewatch::event::Esp;
use bouncewatch::store::MemoryStore;
use common::{fixture, sample, vectors, FakeFetcher, SELFGEN_CERT_URL, SNS_CERT_URL};
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn verify_with(
    esp: Esp,
    body: &[u8],
    headers: &[(&str, &str)],
    config: &Config,
    now: u64,
    store: &MemoryStore,
    fetcher: &FakeFetcher,
) -> Result<Verified, EspError> {
    let headers: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect();
    let delivery = Delivery { body, headers: &headers, now };
    pollster::block_on(esp::verify_and_parse(esp, &delivery, config, store, fetcher))
}

fn verify(esp: Esp, body: &[u8], headers: &[(&str, &str)], config: &Config, now: u64) -> Result<Verified, EspError> {
    verify_with(esp, body, headers, config, now, &MemoryStore::new(), &FakeFetcher::default())
}

fn is_unauthorized<T: std::fmt::Debug>(result: Result<T, EspError>) -> bool {
    matches!(result, Err(EspError::Unauthorized(_)))
}

/// Drops the last quarter of a base64 signature.
fn truncated(signature: &str) -> String {
    signature[..signature.len() * 3 / 4].to_owned()
}

// ---- SendGrid -------------------------------------------------------------------------------------------

const SG_SIG: &str = "X-Twilio-Email-Event-Webhook-Signature";
const SG_TS: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

fn sendgrid_vectors() -> Vec<(Config, Vec<u8>, String, String)> {
    let v = vectors("sendgrid_vectors.json");
    ["python_sdk", "node_sdk", "production_capture_issue_1193"]
        .iter()
        .map(|name| {
            let case = &v[name];
            let config = Config::from_pairs([("SENDGRID_WEBHOOK_PUBLIC_KEY", case["public_key"].as_str().unwrap())]);
            let body = fixture(case["body_file"].as_str().unwrap());
            (
                config,
                body,
                case["signature"].as_str().unwrap().to_owned(),
                case["timestamp"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn sendgrid_every_vector_verifies_over_the_raw_bytes() {
    for (config, body, sig, ts) in sendgrid_vectors() {
        let now = ts.parse().unwrap();
        assert!(verify(Esp::Sendgrid, &body, &[(SG_SIG, &sig), (SG_TS, &ts)], &config, now).is_ok(), "{ts}");
    }
}

#[test]
fn sendgrid_refusals() {
    let v = vectors("sendgrid_vectors.json");
    for (config, body, sig, ts) in sendgrid_vectors() {
        let now: u64 = ts.parse().unwrap();
        let run = |body: &[u8], headers: &[(&str, &str)], config: &Config, now| {
            is_unauthorized(verify(Esp::Sendgrid, body, headers, config, now))
        };
        // Re-serializing loses SendGrid's trailing CRLF: the signature no longer matches.
        let mut tampered = body.clone();
        tampered.push(b' ');
        assert!(run(&tampered, &[(SG_SIG, &sig), (SG_TS, &ts)], &config, now), "tampered body");
        let wrong_key =
            Config::from_pairs([("SENDGRID_WEBHOOK_PUBLIC_KEY", v["negative_cases"]["wrong_key"].as_str().unwrap())]);
        assert!(run(&body, &[(SG_SIG, &sig), (SG_TS, &ts)], &wrong_key, now), "wrong key");
        assert!(run(&body, &[(SG_SIG, &sig), (SG_TS, &ts)], &config, now + 301), "stale");
        assert!(run(&body, &[(SG_SIG, &sig), (SG_TS, &ts)], &config, now - 301), "from the future");
        assert!(run(&body, &[(SG_TS, &ts)], &config, now), "missing signature");
        assert!(run(&body, &[(SG_SIG, &sig)], &config, now), "missing timestamp");
        assert!(run(&body, &[(SG_SIG, &truncated(&sig)), (SG_TS, &ts)], &config, now), "truncated");
        assert!(run(&body, &[(SG_SIG, &sig), (SG_TS, "timestamp")], &config, now), "timestamp not a number");
        // Wrong encoding of the right signature: raw r||s (IEEE P1363, what WebCrypto wants) instead of DER.
        let der = B64.decode(&sig).unwrap();
        let p1363 = B64.encode(p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes());
        assert!(run(&body, &[(SG_SIG, &p1363), (SG_TS, &ts)], &config, now), "wrong algorithm/encoding");
    }
    let (config, body, _, ts) = sendgrid_vectors().remove(1);
    let tampered_sig = v["negative_cases"]["tampered_signature"].as_str().unwrap();
    assert!(is_unauthorized(verify(
        Esp::Sendgrid,
        &body,
        &[(SG_SIG, tampered_sig), (SG_TS, &ts)],
        &config,
        ts.parse().unwrap()
    )));
}

#[test]
fn unconfigured_secret_is_refused_naming_the_secret() {
    let cases = [
        (Esp::Sendgrid, "SENDGRID_WEBHOOK_PUBLIC_KEY"),
        (Esp::Mailgun, "MAILGUN_WEBHOOK_SIGNING_KEY"),
        (Esp::Postmark, "POSTMARK_WEBHOOK_CREDENTIALS"),
        (Esp::Ses, "SES_TOPIC_ARNS"),
        (Esp::Sparkpost, "SPARKPOST_WEBHOOK_CREDENTIALS"),
        (Esp::Mailjet, "MAILJET_WEBHOOK_CREDENTIALS"),
        (Esp::Brevo, "BREVO_WEBHOOK_CREDENTIALS"),
        (Esp::Mandrill, "MANDRILL_WEBHOOK_KEY"),
        (Esp::Resend, "RESEND_WEBHOOK_SECRET"),
        (Esp::Postal, "POSTAL_WEBHOOK_PUBLIC_KEY"),
        (Esp::Generic, "GENERIC_WEBHOOK_TOKEN"),
    ];
    for (esp, secret) in cases {
        let err = verify(esp, b"{}", &[], &Config::new(), 0).unwrap_err();
        assert_eq!(err, EspError::SecretNotConfigured(secret), "{esp:?}");
        assert!(err.to_string().contains(secret));
    }
}

// ---- Mailgun --------------------------------------------------------------------------------------------

fn mailgun_config(key: &str) -> Config {
    Config::from_pairs([("MAILGUN_WEBHOOK_SIGNING_KEY", key)])
}

const MAILGUN_SIGNED: [&str; 5] = [
    "mailgun_delivered_anymail.json",
    "mailgun_failed_greylisted_anymail.json",
    "mailgun_failed_permanent_anymail.json",
    "mailgun_failed_temporary_anymail.json",
    "mailgun_webhook_failed_temporary_signed_selfgen.json",
];

fn signed_at(body: &[u8]) -> u64 {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["signature"]["timestamp"].as_str().unwrap().parse().unwrap()
}

/// Rewrites one field of the signature block.
fn with_signature_field(body: &[u8], field: &str, value: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    v["signature"][field] = Value::String(value.to_owned());
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn mailgun_every_signed_sample_verifies_and_tampering_is_refused() {
    let config = mailgun_config("TEST_WEBHOOK_SIGNING_KEY");
    for name in MAILGUN_SIGNED {
        let body = sample(name);
        let now = signed_at(&body);
        assert!(verify(Esp::Mailgun, &body, &[], &config, now).is_ok(), "{name}");
        assert!(
            is_unauthorized(verify(Esp::Mailgun, &body, &[], &mailgun_config("other key"), now)),
            "{name} wrong key"
        );
        assert!(is_unauthorized(verify(Esp::Mailgun, &body, &[], &config, now + 301)), "{name} stale");
        let signature =
            serde_json::from_slice::<Value>(&body).unwrap()["signature"]["signature"].as_str().unwrap().to_owned();
        for (field, value) in [
            ("token", "0000000000000000000000000000000000"),
            ("timestamp", "1534111900"),
            ("signature", &signature[..40]),
            ("signature", "not hex at all"),
        ] {
            let tampered = with_signature_field(&body, field, value);
            assert!(is_unauthorized(verify(Esp::Mailgun, &tampered, &[], &config, now)), "{name} {field}={value}");
        }
    }
}

#[test]
fn mailgun_wrong_algorithm_and_missing_signature_are_refused() {
    use hmac::{Hmac, Mac};
    let body = sample("mailgun_failed_permanent_anymail.json");
    let now = signed_at(&body);
    let mut sha1 = Hmac::<sha1::Sha1>::new_from_slice(b"TEST_WEBHOOK_SIGNING_KEY").unwrap();
    sha1.update(b"15341104221234567890abcdef1234567890abcdef");
    let hex: String = sha1.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let config = mailgun_config("TEST_WEBHOOK_SIGNING_KEY");
    assert!(is_unauthorized(verify(Esp::Mailgun, &with_signature_field(&body, "signature", &hex), &[], &config, now)));
    let unsigned = sample("mailgun_eventdata_failed_temporary_docs.json");
    assert!(is_unauthorized(verify(Esp::Mailgun, &unsigned, &[], &config, now)));
}

// ---- Mandrill -------------------------------------------------------------------------------------------

#[test]
fn mandrill_vector_verifies_over_url_and_sorted_fields() {
    let v = vectors("mandrill_vectors.json");
    let body = fixture("vectors/mandrill_hard_bounce_form_body.txt");
    let sig = v["x-mandrill-signature"].as_str().unwrap();
    let config = Config::from_pairs([
        ("MANDRILL_WEBHOOK_KEY", "TEST_WEBHOOK_KEY"),
        ("MANDRILL_WEBHOOK_URL", v["url"].as_str().unwrap()),
    ]);
    let header = "X-Mandrill-Signature";
    let verified = verify(Esp::Mandrill, &body, &[(header, sig)], &config, 0).unwrap();
    assert_eq!(verified.events.len(), 1);
    assert_eq!(verified.events[0].recipient_domain, "example.com");

    let mut tampered = body.clone();
    tampered.extend_from_slice(b"&extra=1");
    assert!(is_unauthorized(verify(Esp::Mandrill, &tampered, &[(header, sig)], &config, 0)), "tampered body");
    let wrong_key =
        Config::from_pairs([("MANDRILL_WEBHOOK_KEY", "OTHER"), ("MANDRILL_WEBHOOK_URL", v["url"].as_str().unwrap())]);
    assert!(is_unauthorized(verify(Esp::Mandrill, &body, &[(header, sig)], &wrong_key, 0)), "wrong key");
    let wrong_url = Config::from_pairs([
        ("MANDRILL_WEBHOOK_KEY", "TEST_WEBHOOK_KEY"),
        ("MANDRILL_WEBHOOK_URL", "https://example.com/other"),
    ]);
    assert!(is_unauthorized(verify(Esp::Mandrill, &body, &[(header, sig)], &wrong_url, 0)), "wrong URL");
    assert!(is_unauthorized(verify(Esp::Mandrill, &body, &[], &config, 0)), "missing header");
    assert!(is_unauthorized(verify(Esp::Mandrill, &body, &[(header, &truncated(sig))], &config, 0)), "truncated");
    // HMAC-SHA256 where Mandrill uses HMAC-SHA1.
    use hmac::{Hmac, Mac};
    let mut sha256 = Hmac::<sha2::Sha256>::new_from_slice(b"TEST_WEBHOOK_KEY").unwrap();
    sha256.update(v["url"].as_str().unwrap().as_bytes());
    sha256.update(b"mandrill_events");
    sha256.update(v["decoded_param_mandrill_events"].as_str().unwrap().as_bytes());
    let wrong_alg = B64.encode(sha256.finalize().into_bytes());
    assert!(is_unauthorized(verify(Esp::Mandrill, &body, &[(header, &wrong_alg)], &config, 0)), "wrong algorithm");
    let url_missing = Config::from_pairs([("MANDRILL_WEBHOOK_KEY", "TEST_WEBHOOK_KEY")]);
    assert_eq!(
        verify(Esp::Mandrill, &body, &[(header, sig)], &url_missing, 0).unwrap_err(),
        EspError::SecretNotConfigured("MANDRILL_WEBHOOK_URL")
    );
}

// ---- Resend (svix) --------------------------------------------------------------------------------------

fn svix_case(name: &str) -> (Config, Vec<u8>, String, String, String) {
    let v = &vectors("svix_resend_vectors.json")[name];
    let config = Config::from_pairs([("RESEND_WEBHOOK_SECRET", v["secret"].as_str().unwrap())]);
    let text = |k: &str| v[k].as_str().unwrap().to_owned();
    (config, fixture(v["body_file"].as_str().unwrap()), text("svix-id"), text("svix-timestamp"), text("svix-signature"))
}

#[test]
fn resend_svix_vectors_verify_and_refusals() {
    for name in ["standard_vector", "selfgen_resend_bounce"] {
        let (config, body, id, ts, sig) = svix_case(name);
        let now: u64 = ts.parse().unwrap();
        let headers = |sig: &str| {
            vec![("svix-id", id.clone()), ("svix-timestamp", ts.clone()), ("svix-signature", sig.to_owned())]
        };
        let run = |body: &[u8], headers: Vec<(&str, String)>, config: &Config, now: u64| {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            verify(Esp::Resend, body, &headers, config, now)
        };
        assert!(run(&body, headers(&sig), &config, now).is_ok(), "{name}");
        // Several signatures during a secret rotation: any match is enough.
        assert!(run(&body, headers(&format!("v1,AAAA v1,bm90IGl0 {sig}")), &config, now).is_ok(), "{name} rotation");
        let mut tampered = body.clone();
        tampered.push(b' ');
        assert!(is_unauthorized(run(&tampered, headers(&sig), &config, now)), "{name} tampered");
        let wrong = Config::from_pairs([("RESEND_WEBHOOK_SECRET", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]);
        assert!(is_unauthorized(run(&body, headers(&sig), &wrong, now)), "{name} wrong key");
        assert!(is_unauthorized(run(&body, headers(&sig), &config, now + 301)), "{name} stale");
        for missing in 0..3 {
            let mut h = headers(&sig);
            h.remove(missing);
            assert!(is_unauthorized(run(&body, h, &config, now)), "{name} missing header {missing}");
        }
        assert!(is_unauthorized(run(&body, headers(&truncated(&sig)), &config, now)), "{name} truncated");
        let v2 = sig.replacen("v1,", "v2,", 1);
        assert!(is_unauthorized(run(&body, headers(&v2), &config, now)), "{name} unknown version");
    }
}

#[test]
fn resend_event_id_is_the_svix_id() {
    let (config, body, id, ts, sig) = svix_case("selfgen_resend_bounce");
    let headers = [("svix-id", id.as_str()), ("svix-timestamp", ts.as_str()), ("svix-signature", sig.as_str())];
    let verified = verify(Esp::Resend, &body, &headers, &config, ts.parse().unwrap()).unwrap();
    assert_eq!(verified.events[0].event_id, id);
}

// ---- Postal ---------------------------------------------------------------------------------------------

/// The SNS certificate's key: a valid RSA key that did not sign the Postal vector.
const OTHER_RSA_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAutFqueT3XgP13udzxE6UpbdjOtVO5DwoMpSMiDNMnGzF1TYH5/R2LPUOBeTB0SkKnR4kpNcUZhicpGD4aKciz/GEZ6wu65xncfT9H/KBOQwoXYTuClHwp6fYpGzcGFaFoEYMnijL/o4qmTSd+ukglQUgKpsDw4ofw6rUm2CttJo+GQSNQ9NfGR1h/0J+zsApkeSYrXRx5wNlu87z8os1C/6PBrUHwt3xXeafXzfwut8aRRYsS8BySOA9DAgLfNHlfdQCjKPXKrG/ussgReyWD6n/HH+j7Uha3xosTzQqJifcxlTq6MxWdPR6fDaJNvqw6DOE7UjUNxHguXHlVfxhlQIDAQAB";

#[test]
fn postal_vectors_verify_with_either_key_format_and_refusals() {
    let v = vectors("postal_vectors.json");
    let body = fixture(v["body_file"].as_str().unwrap());
    let sha256 = v["X-Postal-Signature-256"].as_str().unwrap();
    let sha1 = v["X-Postal-Signature"].as_str().unwrap();
    for key in ["public_key_dns_style", "public_key_pem"] {
        let config = Config::from_pairs([("POSTAL_WEBHOOK_PUBLIC_KEY", v[key].as_str().unwrap())]);
        let run =
            |body: &[u8], headers: &[(&str, &str)], config: &Config| verify(Esp::Postal, body, headers, config, 0);
        assert!(
            run(&body, &[("X-Postal-Signature-256", sha256), ("X-Postal-Signature", sha1)], &config).is_ok(),
            "{key}"
        );
        assert!(run(&body, &[("X-Postal-Signature", sha1)], &config).is_ok(), "{key} legacy SHA-1 only");
        let mut tampered = body.clone();
        tampered.push(b'\n');
        assert!(is_unauthorized(run(&tampered, &[("X-Postal-Signature-256", sha256)], &config)), "tampered");
        assert!(is_unauthorized(run(&tampered, &[("X-Postal-Signature", sha1)], &config)), "tampered legacy");
        let other = Config::from_pairs([("POSTAL_WEBHOOK_PUBLIC_KEY", OTHER_RSA_KEY)]);
        assert!(is_unauthorized(run(&body, &[("X-Postal-Signature-256", sha256)], &other)), "wrong key");
        assert!(is_unauthorized(run(&body, &[], &config)), "missing header");
        assert!(is_unauthorized(run(&body, &[("X-Postal-Signature-256", &truncated(sha256))], &config)), "truncated");
        // The SHA-1 signature presented as SHA-256; and a bad -256 is not rescued by a good legacy one.
        assert!(is_unauthorized(run(&body, &[("X-Postal-Signature-256", sha1)], &config)), "wrong algorithm");
        assert!(is_unauthorized(run(
            &body,
            &[("X-Postal-Signature-256", &truncated(sha256)), ("X-Postal-Signature", sha1)],
            &config
        )));
    }
}

// ---- SES / SNS ------------------------------------------------------------------------------------------

const SNS_VECTORS: [&str; 4] = [
    "sns_signed_notification_sigv1.json",
    "sns_signed_notification_sigv2.json",
    "sns_signed_notification_subject_sigv1.json",
    "sns_signed_notification_subject_sigv2.json",
];

fn sns_config(extra: &[&str]) -> Config {
    let mut topics: Vec<String> = SNS_VECTORS
        .iter()
        .map(|name| serde_json::from_slice::<Value>(&sample(name)).unwrap()["TopicArn"].as_str().unwrap().to_owned())
        .collect();
    topics.extend(extra.iter().map(|t| t.to_string()));
    Config::from_pairs([("SES_TOPIC_ARNS", topics.join(", "))])
}

fn sns_time(envelope: &Value) -> u64 {
    esp::parse_rfc3339(envelope["Timestamp"].as_str().unwrap()).unwrap()
}

fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> (Vec<u8>, u64) {
    let mut envelope: Value = serde_json::from_slice(&sample(name)).unwrap();
    let now = sns_time(&envelope);
    edit(&mut envelope);
    (serde_json::to_vec(&envelope).unwrap(), now)
}

#[test]
fn sns_v1_and_v2_vectors_verify_and_the_certificate_is_fetched_once_then_cached() {
    let (store, fetcher, config) = (MemoryStore::new(), FakeFetcher::default(), sns_config(&[]));
    for name in SNS_VECTORS {
        let (body, now) = edited(name, |_| {});
        let verified = verify_with(Esp::Ses, &body, &[], &config, now, &store, &fetcher);
        assert!(verified.is_ok(), "{name}: {verified:?}");
    }
    assert_eq!(fetcher.fetched.get(), 1, "one fetch for four messages");
    let cached: Vec<String> = store.keys().into_iter().filter(|k| k.starts_with("sns-cert:")).collect();
    assert_eq!(cached.len(), 1);
    assert_eq!(store.ttl_of(&cached[0]), Some(86_400));
}

#[test]
fn sns_refusals() {
    let config = sns_config(&[]);
    for name in SNS_VECTORS {
        let run = |edit: &dyn Fn(&mut Value), now_shift: i64| {
            let (body, now) = edited(name, |v| edit(v));
            is_unauthorized(verify(Esp::Ses, &body, &[], &config, now.saturating_add_signed(now_shift)))
        };
        assert!(run(&|v| v["Message"] = "Hello world!".into(), 0), "{name} tampered");
        assert!(run(&|_| {}, 301), "{name} stale");
        assert!(run(&|v| v["Signature"] = OTHER_RSA_KEY.into(), 0), "{name} wrong signature");
        let sig = serde_json::from_slice::<Value>(&sample(name)).unwrap()["Signature"].as_str().unwrap().to_owned();
        assert!(run(&|v| v["Signature"] = truncated(&sig).into(), 0), "{name} truncated");
        // v1 signature checked as v2 and vice versa; unknown versions refused.
        let flipped = if name.contains("v1") { "2" } else { "1" };
        assert!(run(&|v| v["SignatureVersion"] = flipped.into(), 0), "{name} wrong algorithm");
        assert!(run(&|v| v["SignatureVersion"] = "3".into(), 0), "{name} unknown version");
    }
    // A message whose topic is not allow-listed is refused before any fetch.
    let fetcher = FakeFetcher::default();
    let (body, now) = edited(SNS_VECTORS[0], |_| {});
    let other_topic = Config::from_pairs([("SES_TOPIC_ARNS", "arn:aws:sns:us-east-2:295079676684:other")]);
    assert!(is_unauthorized(verify_with(Esp::Ses, &body, &[], &other_topic, now, &MemoryStore::new(), &fetcher)));
    assert_eq!(fetcher.fetched.get(), 0);
    // Raw message delivery drops the signature.
    assert!(is_unauthorized(verify(Esp::Ses, &body, &[("x-amz-sns-rawdelivery", "true")], &config, now)));
    // A missing signature field is a malformed envelope.
    let (body, now) = edited(SNS_VECTORS[0], |v| drop(v.as_object_mut().unwrap().remove("Signature")));
    assert!(matches!(verify(Esp::Ses, &body, &[], &config, now), Err(EspError::Malformed(_))));
}

#[test]
fn sns_certificate_urls_off_the_sns_host_are_refused_before_any_fetch() {
    let attacks = [
        "https://sns.evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.us-east-2.amazonaws.com.evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://amazonaws.com.evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.us-east-2.amazonaws.com@evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://evil.com@sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://evil.com#@sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.us-east-2.amazonaws.com:8443/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://sns.us-east-2.amazonaws.com\\@evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        "https://SNS.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        // Another region than the topic's.
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
        // The right host, but not a signing certificate.
        "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5.pem/../../evil",
        "https://sns..amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
    ];
    let config = sns_config(&[]);
    for url in attacks {
        let fetcher = FakeFetcher::default();
        let (body, now) = edited(SNS_VECTORS[1], |v| v["SigningCertURL"] = url.into());
        let result = verify_with(Esp::Ses, &body, &[], &config, now, &MemoryStore::new(), &fetcher);
        assert!(is_unauthorized(result), "{url}");
        assert_eq!(fetcher.fetched.get(), 0, "{url} was fetched");
    }
    assert!(esp::validate_sns_url(SNS_CERT_URL, "us-east-2").is_ok());
    assert!(esp::validate_sns_url(
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-ab.pem",
        "cn-north-1"
    )
    .is_ok());
}

#[test]
fn sns_subscription_confirmation_for_an_allowed_topic_is_confirmed_on_the_sns_host_only() {
    let body = fixture("selfgen/sns_subscription_confirmation_signed.json");
    let envelope: Value = serde_json::from_slice(&body).unwrap();
    let now = sns_time(&envelope);
    let topic = envelope["TopicArn"].as_str().unwrap();
    let fetcher = FakeFetcher::default();
    let store = MemoryStore::new();
    let verified = verify_with(Esp::Ses, &body, &[], &sns_config(&[topic]), now, &store, &fetcher).unwrap();
    assert_eq!(verified.subscription_confirmed.as_deref(), Some(topic));
    assert!(verified.events.is_empty());
    assert_eq!(*fetcher.urls.borrow(), [SELFGEN_CERT_URL, envelope["SubscribeURL"].as_str().unwrap()]);

    // Any other topic: refused, nothing fetched.
    let fetcher = FakeFetcher::default();
    assert!(is_unauthorized(verify_with(Esp::Ses, &body, &[], &sns_config(&[]), now, &store, &fetcher)));
    assert_eq!(fetcher.fetched.get(), 0);

    // A SubscribeURL off the SNS host is never visited (the signature check fails first, and the URL
    // check stands on its own).
    let mut evil = envelope.clone();
    evil["SubscribeURL"] = "https://evil.com/?Action=ConfirmSubscription".into();
    let fetcher = FakeFetcher::default();
    let result =
        verify_with(Esp::Ses, &serde_json::to_vec(&evil).unwrap(), &[], &sns_config(&[topic]), now, &store, &fetcher);
    assert!(is_unauthorized(result));
    assert!(fetcher.urls.borrow().iter().all(|u| u.starts_with("https://sns.us-west-2.amazonaws.com/")));
    assert!(esp::validate_sns_url("https://evil.com/?Action=ConfirmSubscription", "us-west-2").is_err());

    // The anymail sample has a placeholder signature: refused.
    let placeholder = sample("ses_sns_subscription_confirmation_anymail.json");
    let result = verify(
        Esp::Ses,
        &placeholder,
        &[],
        &sns_config(&[topic]),
        esp::parse_rfc3339("2012-04-26T20:45:04.751Z").unwrap(),
    );
    assert!(result.is_err());
}

// ---- Basic / Bearer -------------------------------------------------------------------------------------

#[test]
fn basic_and_bearer_credentials() {
    let basic = |s: &str| format!("Basic {}", B64.encode(s));
    let cases = [
        (Esp::Postmark, "POSTMARK_WEBHOOK_CREDENTIALS", "postmark_bounce_docs.json"),
        (Esp::Sparkpost, "SPARKPOST_WEBHOOK_CREDENTIALS", "sparkpost_bounce_anymail.json"),
        (Esp::Mailjet, "MAILJET_WEBHOOK_CREDENTIALS", "mailjet_bounce_docs.json"),
        (Esp::Brevo, "BREVO_WEBHOOK_CREDENTIALS", "brevo_hard_bounce_anymail.json"),
    ];
    for (esp, secret, name) in cases {
        let body = sample(name);
        let config = Config::from_pairs([(secret, "hook:s3cret")]);
        assert!(verify(esp, &body, &[("Authorization", &basic("hook:s3cret"))], &config, 0).is_ok(), "{esp:?}");
        assert!(verify(esp, &body, &[("Authorization", "Bearer hook:s3cret")], &config, 0).is_ok(), "{esp:?} bearer");
        for wrong in [
            basic("hook:wrong"),
            basic("hook:s3cre"),
            "Bearer nope".into(),
            "Digest x".into(),
            "Basic !!".into(),
            String::new(),
        ] {
            assert!(is_unauthorized(verify(esp, &body, &[("Authorization", &wrong)], &config, 0)), "{esp:?} {wrong}");
        }
        assert!(is_unauthorized(verify(esp, &body, &[], &config, 0)), "{esp:?} missing");
    }
}
