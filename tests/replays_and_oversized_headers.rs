//! Replays and oversized headers, through the router, for every ESP that signs its webhooks (the stale,
//! tampered, truncated and wrong-algorithm cases are in `esp_signatures.rs`; Mailgun's token replay in
//! `webhook_routes.rs`):
//! - the same signed request again within the window is accepted and counted once (the counting object
//!   knows its events' ids, and writes nothing for them);
//! - a captured signature with a fresh timestamp or a new id is refused, since both are signed;
//! - Mandrill and Postal sign no time, so a late replay verifies: it is still counted once;
//! - a header of a mebibyte, or ten thousand headers, is a 401, never a panic.

mod common;

use bouncewatch::config::Config;
use bouncewatch::http::{HttpRequest, HttpResponse};
use common::{fixture, post, sample, vectors, FakeFetcher, World};
use serde_json::Value;

const SNS_SAMPLE: &str = "sns_signed_notification_sigv2.json";

fn config() -> Config {
    let text = |value: &Value, pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap().to_owned();
    let sns: Value = serde_json::from_slice(&sample(SNS_SAMPLE)).unwrap();
    Config::from_pairs([
        ("SENDGRID_WEBHOOK_PUBLIC_KEY", text(&vectors("sendgrid_vectors.json"), "/python_sdk/public_key")),
        ("RESEND_WEBHOOK_SECRET", text(&vectors("svix_resend_vectors.json"), "/selfgen_resend_bounce/secret")),
        ("SES_TOPIC_ARNS", text(&sns, "/TopicArn")),
        ("MANDRILL_WEBHOOK_KEY", text(&vectors("mandrill_vectors.json"), "/key")),
        ("MANDRILL_WEBHOOK_URL", text(&vectors("mandrill_vectors.json"), "/url")),
        ("POSTAL_WEBHOOK_PUBLIC_KEY", text(&vectors("postal_vectors.json"), "/public_key_pem")),
        ("MAILGUN_WEBHOOK_SIGNING_KEY", "TEST_WEBHOOK_SIGNING_KEY".into()),
        ("POSTMARK_WEBHOOK_CREDENTIALS", "u:p".into()),
        ("GENERIC_WEBHOOK_TOKEN", "u:p".into()),
        // The vectors' events are up to two months older than their signatures.
        ("RETENTION_DAYS", "365".into()),
    ])
}

fn run(req: &HttpRequest, world: &World, now: u64) -> HttpResponse {
    world.send(req, now, &FakeFetcher::default())
}

/// One validly signed request per ESP, with the time at which it is fresh.
struct Signed {
    esp: &'static str,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    now: u64,
}

impl Signed {
    fn request(&self) -> HttpRequest {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        post(self.esp, self.body.clone(), &headers)
    }

    /// The request with one header's value replaced.
    fn with_header(&self, name: &str, value: &str) -> HttpRequest {
        let mut req = self.request();
        req.headers.iter_mut().filter(|(n, _)| n == name).for_each(|(_, v)| *v = value.to_owned());
        req
    }
}

/// Headers whose values are fields of a vector: (header name, field name).
fn header_pairs(vector: &Value, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, field)| (name.to_string(), vector[field].as_str().unwrap().to_owned())).collect()
}

/// A vector that names its body file and its signed timestamp.
fn signed_vector(esp: &'static str, vector: &Value, headers: &[(&str, &str)], timestamp: &str) -> Signed {
    Signed {
        esp,
        body: fixture(vector["body_file"].as_str().unwrap()),
        headers: header_pairs(vector, headers),
        now: vector[timestamp].as_str().unwrap().parse().unwrap(),
    }
}

fn sendgrid() -> Signed {
    let headers = [
        ("x-twilio-email-event-webhook-signature", "signature"),
        ("x-twilio-email-event-webhook-timestamp", "timestamp"),
    ];
    signed_vector("sendgrid", &vectors("sendgrid_vectors.json")["python_sdk"], &headers, "timestamp")
}

fn resend() -> Signed {
    let headers = [("svix-id", "svix-id"), ("svix-timestamp", "svix-timestamp"), ("svix-signature", "svix-signature")];
    signed_vector("resend", &vectors("svix_resend_vectors.json")["selfgen_resend_bounce"], &headers, "svix-timestamp")
}

fn ses() -> Signed {
    let body = sample(SNS_SAMPLE);
    let envelope: Value = serde_json::from_slice(&body).unwrap();
    let now = bouncewatch::esp::parse_rfc3339(envelope["Timestamp"].as_str().unwrap()).unwrap();
    Signed { esp: "ses", body, headers: Vec::new(), now }
}

fn mandrill() -> Signed {
    let v = vectors("mandrill_vectors.json");
    Signed {
        esp: "mandrill",
        body: fixture("vectors/mandrill_hard_bounce_form_body.txt"),
        headers: header_pairs(&v, &[("x-mandrill-signature", "x-mandrill-signature")]),
        // The event's own time.
        now: 1_461_095_246,
    }
}

fn postal() -> Signed {
    let v = vectors("postal_vectors.json");
    Signed {
        esp: "postal",
        body: fixture(v["body_file"].as_str().unwrap()),
        headers: header_pairs(&v, &[("x-postal-signature-256", "X-Postal-Signature-256")]),
        // The event's own time.
        now: 1_606_753_101,
    }
}

/// Sends the request twice (the second time `later` seconds on) and checks that both were accepted, that
/// the second found every event already counted, and that it wrote nothing.
fn assert_counted_once(signed: &Signed, later: u64) {
    let world = World::new(config());
    let first = run(&signed.request(), &world, signed.now);
    assert_eq!(first.status, 200, "{}: {}", signed.esp, String::from_utf8_lossy(&first.body));
    let accepted = first.json_body()["accepted"].as_u64().unwrap();
    assert!(accepted >= 1, "{}: nothing counted", signed.esp);
    let written = world.sql_ops().rows_written;
    let replay = run(&signed.request(), &world, signed.now + later);
    assert_eq!(replay.status, 200, "{}", signed.esp);
    let body = replay.json_body();
    assert_eq!((body["accepted"].as_u64(), body["duplicates"].as_u64()), (Some(0), Some(accepted)), "{}", signed.esp);
    assert_eq!(world.sql_ops().rows_written, written, "{}: the replay wrote to the counting object", signed.esp);
}

#[test]
fn a_signed_request_replayed_within_the_window_is_counted_once() {
    // Not SES: its signed vectors carry "Hello world!", no SES record, so there is nothing to count.
    for signed in [sendgrid(), resend(), mandrill(), postal()] {
        assert_counted_once(&signed, 60);
    }
}

#[test]
fn mandrill_and_postal_sign_no_time_so_a_late_replay_verifies_but_is_counted_once() {
    for signed in [mandrill(), postal()] {
        assert_counted_once(&signed, 86_400);
    }
}

/// A 401 for the signature itself: the request was fresh, so the clock check cannot be what refused it.
fn assert_signature_refused(response: &HttpResponse, what: &str) {
    let message = response.json_body()["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(response.status, 401, "{what}");
    assert!(message.contains("signature") && !message.contains("from now"), "{what}: {message}");
}

#[test]
fn a_captured_signature_with_a_fresh_timestamp_or_a_new_id_is_refused() {
    let world = World::new(config());
    let later = 3_600;
    let sendgrid = sendgrid();
    let restamped = (sendgrid.now + later).to_string();
    let req = sendgrid.with_header("x-twilio-email-event-webhook-timestamp", &restamped);
    assert_signature_refused(&run(&req, &world, sendgrid.now + later), "sendgrid restamped");

    let resend = resend();
    let restamped = (resend.now + later).to_string();
    let req = resend.with_header("svix-timestamp", &restamped);
    assert_signature_refused(&run(&req, &world, resend.now + later), "resend restamped");
    let new_id = resend.with_header("svix-id", "msg_replayed_under_a_new_id");
    assert_signature_refused(&run(&new_id, &world, resend.now), "resend new id");

    let ses = ses();
    let mut envelope: Value = serde_json::from_slice(&ses.body).unwrap();
    envelope["Timestamp"] = "2022-07-28T22:24:08.324Z".into();
    let req = post("ses", serde_json::to_vec(&envelope).unwrap(), &[]);
    assert_signature_refused(&run(&req, &world, ses.now + later), "ses restamped");
    let keys = world.kv.keys();
    assert!(keys.iter().all(|k| k.starts_with("sns-cert:")), "only the SNS certificate is stored: {keys:?}");
    // The fixtures' times are far apart, so the refusals' tally is handed to shard 0 once, on its own
    // (crate::metrics::tally); nothing else reaches the counting objects.
    assert_eq!(world.requests(), 1, "only the tally of the refusals reached the counting objects");
}

#[test]
fn oversized_headers_are_refused_not_panicked_on() {
    let mebibyte = "A".repeat(1 << 20);
    let many_signatures = "v1,AAAA ".repeat(100_000);
    let digits = "9".repeat(10_000);
    let cases: Vec<(Signed, &str, &str)> = vec![
        (sendgrid(), "x-twilio-email-event-webhook-signature", &mebibyte),
        (sendgrid(), "x-twilio-email-event-webhook-timestamp", &digits),
        (resend(), "svix-signature", &many_signatures),
        (resend(), "svix-id", &mebibyte),
        (resend(), "svix-timestamp", &digits),
        (mandrill(), "x-mandrill-signature", &mebibyte),
        (postal(), "x-postal-signature-256", &mebibyte),
    ];
    for (signed, name, value) in cases {
        let response = run(&signed.with_header(name, value), &World::new(config()), signed.now);
        assert_eq!(response.status, 401, "{} {name}", signed.esp);
        assert!(response.json_body()["message"].is_string());
    }
    let basic = format!("Basic {mebibyte}");
    for (esp, authorization) in [("postmark", basic.as_str()), ("generic", &format!("Bearer {mebibyte}"))] {
        let req = post(esp, sample("postmark_bounce_docs.json"), &[("Authorization", authorization)]);
        assert_eq!(run(&req, &World::new(config()), 0).status, 401, "{esp}");
    }
    // Ten thousand headers before the real one: still found, still verified.
    let sendgrid = sendgrid();
    let mut req = sendgrid.request();
    let padding: Vec<(String, String)> =
        (0..10_000).map(|i| (format!("x-pad-{i}"), mebibyte[..64].to_owned())).collect();
    req.headers.splice(0..0, padding);
    assert_eq!(run(&req, &World::new(config()), sendgrid.now).status, 200);
    // A Mailgun token of a mebibyte is refused before any HMAC or replay check.
    let mut body: Value = serde_json::from_slice(&sample("mailgun_failed_permanent_anymail.json")).unwrap();
    body["signature"]["token"] = mebibyte.as_str().into();
    let now = body["signature"]["timestamp"].as_str().unwrap().parse().unwrap();
    let world = World::new(config());
    let response = run(&post("mailgun", serde_json::to_vec(&body).unwrap(), &[]), &world, now);
    assert_eq!(response.status, 401);
    assert!(response.json_body()["message"].as_str().unwrap().contains("too long"));
    assert_eq!((world.requests(), world.kv.ops().gets), (0, 0));
}
