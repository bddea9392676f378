//! What the fuzz targets share: the framing that turns libFuzzer's bytes into a request, a configuration
//! whose secrets are the test vectors' (so a signed seed verifies and mutations start from an accepted
//! request), a fetcher that serves the SNS certificates, and the invariants every answer must keep.
//! A broken invariant panics, which libFuzzer reports as a crash with its input. The router runs over the
//! integration tests' [`World`]: KV in memory and the counting objects on rusqlite.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use bouncewatch::classify::{classify, classify_reply};
use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery, FetchError, Fetcher};
use bouncewatch::event::{Esp, NormalizedEvent};
use bouncewatch::http::{HttpRequest, HttpResponse, Method};
use bouncewatch::mime::{self, Email};
use bouncewatch::store::MemoryStore;
use common::World;
use serde_json::Value;

/// The clock unless the input sets one: 2023-11-14, within the retention of nothing in particular.
pub const NOW: u64 = 1_700_000_000;

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!("../../tests/fixtures/webhooks/", $path))
    };
}

const AWS_CERT_URL: &str =
    "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
const SNS_SIGNED: [&str; 5] = [
    fixture!("samples/sns_signed_notification_sigv1.json"),
    fixture!("samples/sns_signed_notification_sigv2.json"),
    fixture!("samples/sns_signed_notification_subject_sigv1.json"),
    fixture!("samples/sns_signed_notification_subject_sigv2.json"),
    fixture!("selfgen/sns_subscription_confirmation_signed.json"),
];
/// The generic credentials of the seeds in `corpus/` (Basic `u:p`, or Bearer `u:p`).
const CREDENTIALS: &str = "u:p";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn field(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Every ESP configured with the secret its test vectors were signed with.
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| config_with(&[]))
}

/// [`config`] plus `READ_TOKEN`, so the read API checks a bearer token.
pub fn config_with_read_token() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| config_with(&[("READ_TOKEN", "read-token")]))
}

fn config_with(extra: &[(&str, &str)]) -> Config {
    let sendgrid = json(fixture!("vectors/sendgrid_vectors.json"));
    let mandrill = json(fixture!("vectors/mandrill_vectors.json"));
    let svix = json(fixture!("vectors/svix_resend_vectors.json"));
    let postal = json(fixture!("vectors/postal_vectors.json"));
    let topics: Vec<String> = SNS_SIGNED.iter().map(|text| field(&json(text), "/TopicArn")).collect();
    let mut config = Config::from_pairs([
        ("SENDGRID_WEBHOOK_PUBLIC_KEY", field(&sendgrid, "/python_sdk/public_key")),
        ("MAILGUN_WEBHOOK_SIGNING_KEY", "TEST_WEBHOOK_SIGNING_KEY".into()),
        ("POSTMARK_WEBHOOK_CREDENTIALS", CREDENTIALS.into()),
        ("SES_TOPIC_ARNS", topics.join(",")),
        ("SPARKPOST_WEBHOOK_CREDENTIALS", CREDENTIALS.into()),
        ("MAILJET_WEBHOOK_CREDENTIALS", CREDENTIALS.into()),
        ("BREVO_WEBHOOK_CREDENTIALS", CREDENTIALS.into()),
        ("MANDRILL_WEBHOOK_KEY", field(&mandrill, "/key")),
        ("MANDRILL_WEBHOOK_URL", field(&mandrill, "/url")),
        ("RESEND_WEBHOOK_SECRET", field(&svix, "/standard_vector/secret")),
        ("POSTAL_WEBHOOK_PUBLIC_KEY", field(&postal, "/public_key_pem")),
        ("GENERIC_WEBHOOK_TOKEN", CREDENTIALS.into()),
    ]);
    for (name, value) in extra {
        config.set(*name, *value);
    }
    config
}

/// Serves the AWS certificate of the SNS vectors, or the self-generated one for the self-generated
/// confirmation, for whatever URL it is asked: the adapter validates URLs before fetching, so every
/// fetch succeeds and a 5xx can never be blamed on the network.
pub struct SnsCertificates;

impl Fetcher for SnsCertificates {
    fn get<'a>(&'a self, url: &'a str) -> Pin<Box<dyn Future<Output = Result<String, FetchError>> + 'a>> {
        let pem = if url == AWS_CERT_URL {
            fixture!("vectors/sns_SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem")
        } else {
            fixture!("selfgen/sns_selfgen_cert.pem")
        };
        Box::pin(async move { Ok(pem.to_owned()) })
    }
}

/// One webhook delivery from fuzz bytes: leading `>name: value` lines are headers (`>now: <unix>` sets the
/// clock instead, so a signed seed is fresh), the rest is the body. No ESP body starts with `>`, so a
/// fixture is a seed as it is.
pub struct Framed<'a> {
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub now: u64,
}

pub fn frame(data: &[u8]) -> Framed<'_> {
    let mut framed = Framed { headers: Vec::new(), body: data, now: NOW };
    while let Some(rest) = framed.body.strip_prefix(b">") {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end]);
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        match (name.as_str(), value.parse()) {
            ("now", Ok(now)) => framed.now = now,
            _ => framed.headers.push((name, value)),
        }
        framed.body = rest.get(end + 1..).unwrap_or_default();
    }
    framed
}

/// One adapter over fuzz bytes: the unverified parse (what the CLI runs, and what verification leads
/// to), then verification and parsing as the webhook route runs them.
pub fn adapter(esp: Esp, data: &[u8]) {
    let framed = frame(data);
    let delivery = Delivery { body: framed.body, headers: &framed.headers, now: framed.now };
    if let Ok(events) = esp::parse(esp, &delivery) {
        check_events(esp, &events);
    }
    let verified =
        pollster::block_on(esp::verify_and_parse(esp, &delivery, config(), &MemoryStore::new(), &SnsCertificates));
    if let Ok(verified) = verified {
        check_events(esp, &verified.events);
    }
}

/// What the counters and the privacy promise rely on: a plausible lower-case domain, never an address,
/// and a basic code that is an SMTP reply code.
fn check_events(esp: Esp, events: &[NormalizedEvent]) {
    for event in events {
        let domain = &event.recipient_domain;
        assert_eq!(event.esp, esp);
        assert!(!domain.is_empty() && domain.len() <= 253, "domain length: {domain:?}");
        assert!(!domain.contains(|c: char| c == '@' || c.is_whitespace()), "domain: {domain:?}");
        assert_eq!(*domain, domain.to_lowercase(), "domain case");
        if let Some(code) = event.smtp_code {
            assert!((200..600).contains(&code), "smtp_code {code}");
        }
        assert!(serde_json::to_vec(event).is_ok());
    }
}

/// The reply parser and the classifier: the classifier's per-thread buffer gives the same verdict as a
/// fresh parse, and the codes it reports are the parser's.
pub fn reply(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = bouncewatch::reply::parse(&text);
    let verdict = classify(&text);
    assert_eq!(verdict, classify_reply(&parsed), "reused buffer changed the verdict");
    assert_eq!(verdict.smtp_code, parsed.basic);
    if let Some(code) = parsed.basic {
        assert!((200..600).contains(&code), "basic code {code}");
    }
    let _ = bouncewatch::redact::redact_addresses(&text);
}

/// An HTTP request from fuzz bytes, laid out like HTTP/1: `METHOD URL`, header lines, a blank line, the
/// body. A URL without a scheme is a path on `https://bw.example`.
pub fn http_request(data: &[u8]) -> HttpRequest {
    let head_end = data.windows(2).position(|w| w == b"\n\n").map_or(data.len(), |i| i + 2);
    let head = String::from_utf8_lossy(&data[..head_end]);
    let mut lines = head.lines();
    let start = lines.next().unwrap_or_default();
    let (method, url) = start.split_once(' ').unwrap_or((start, ""));
    let url = if url.contains("://") { url.to_owned() } else { format!("https://bw.example{url}") };
    let mut req = HttpRequest::new(Method::parse(method), &url).with_body(&data[head_end..]);
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        req = req.with_header(name.trim(), value.trim());
    }
    req
}

/// The generic webhook that gives the read API something to read.
const STORED_EVENTS: &str = r#"[
  {"event":"deferred","recipient":"a@gmail.com","reply":"451 4.7.1 try later","timestamp":1699999000},
  {"event":"bounced","recipient":"b@example.org","reply":"550 5.1.1 user unknown","timestamp":1699999500},
  {"event":"delivered","recipient":"c@gmail.com","timestamp":1699999900}
]"#;

/// The whole router, with and without `READ_TOKEN`: every answer is a 2xx/4xx whose body, if any, is
/// JSON, and every webhook request leaves one JSON log line. A fresh world per input, so that a crash
/// replays from its input alone.
pub fn router(data: &[u8]) {
    let req = http_request(data);
    for config in [config(), config_with_read_token()] {
        let world = World::new(config.clone());
        let seed = HttpRequest::new(Method::Post, "https://bw.example/webhooks/generic")
            .with_header("authorization", &format!("Bearer {CREDENTIALS}"))
            .with_body(STORED_EVENTS);
        assert_eq!(world.send(&seed, NOW, &SnsCertificates).status, 200);
        let response = world.send(&req, NOW, &SnsCertificates);
        check_response(&req, &response);
    }
}

fn check_response(req: &HttpRequest, response: &HttpResponse) {
    let body = String::from_utf8_lossy(&response.body);
    assert!((200..500).contains(&response.status), "{} {}: {} {body}", req.url, req.path, response.status);
    if !response.body.is_empty() {
        assert!(serde_json::from_slice::<Value>(&response.body).is_ok(), "not JSON: {body}");
        assert!(response.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    }
    // `/webhooks/{esp}` answers with a log line; deeper paths are the router's 404.
    if matches!(req.path.trim_matches('/').split('/').collect::<Vec<_>>()[..], ["webhooks", _]) {
        let log = response.log.as_deref().unwrap_or_default();
        assert!(serde_json::from_str::<Value>(log).is_ok(), "log line: {log}");
    }
}

/// The alert email builder over any text (alerts quote domains and replies that came from webhooks):
/// no bare CR or LF, no header but the builder's own, and the body lines quoted-printable keeps short.
pub fn mime(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut next = || parts.next().unwrap_or_default();
    let (from, to, subject, plain, html) = (next(), next(), next(), next(), next());
    let to: Vec<String> = to.split(',').map(str::to_owned).collect();
    let message = mime::build(&Email { from, to: &to, subject, text: plain, html, date: NOW });
    assert!(message.ends_with("\r\n"));
    assert_eq!(message.matches('\n').count(), message.matches("\r\n").count(), "bare LF");
    assert_eq!(message.matches('\r').count(), message.matches("\r\n").count(), "bare CR");
    let (head, body) = message.split_once("\r\n\r\n").unwrap_or_default();
    let names: Vec<&str> =
        head.split("\r\n").filter(|l| !l.starts_with([' ', '\t'])).map(|l| l.split(':').next().unwrap_or(l)).collect();
    let expected = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Auto-Submitted", "Content-Type"];
    assert_eq!(names, expected, "headers");
    assert!(body.split("\r\n").all(|line| line.len() <= 76), "body line over 76 characters");
}
