//! `POST /webhooks/{esp}` through the router with a [`MemoryStore`]: every status the route can answer,
//! redelivery, Mailgun replay, storage failure, and the log line.

mod common;

use base64::Engine;
use bouncewatch::config::Config;
use bouncewatch::http::{HttpRequest, HttpResponse, Method, ECHOED_EVENTS_MAX, MAX_BODY_BYTES};
use bouncewatch::store::{Faults, MemoryStore};
use common::{fixture, post, sample, send, vectors, FakeFetcher};
use serde_json::Value;

const GENERIC_TOKEN: &str = "generic-test-token";

fn config() -> Config {
    let sg = vectors("sendgrid_vectors.json");
    Config::from_pairs([
        ("SENDGRID_WEBHOOK_PUBLIC_KEY", sg["production_capture_issue_1193"]["public_key"].as_str().unwrap()),
        ("MAILGUN_WEBHOOK_SIGNING_KEY", "TEST_WEBHOOK_SIGNING_KEY"),
        ("GENERIC_WEBHOOK_TOKEN", GENERIC_TOKEN),
        ("MANDRILL_WEBHOOK_KEY", "TEST_WEBHOOK_KEY"),
        ("MANDRILL_WEBHOOK_URL", "https://example.com/webhooks/mandrill"),
        ("SES_TOPIC_ARNS", "arn:aws:sns:us-west-2:123456789012:SES_Notifications"),
    ])
}

fn run(req: &HttpRequest, store: &MemoryStore, now: u64) -> HttpResponse {
    let response = send(req, store, &config(), now, &FakeFetcher::default());
    assert_log_is_clean(&response);
    response
}

/// Every webhook response carries one log line that is JSON and holds no address or secret.
fn assert_log_is_clean(response: &HttpResponse) {
    let line = response.log.as_deref().expect("every webhook request is logged");
    let value: Value = serde_json::from_str(line).expect("log line is JSON");
    assert_eq!(value["status"], response.status);
    assert!(!line.contains('\n'));
    assert!(!line.contains('@'), "address in log: {line}");
    for secret in ["TEST_WEBHOOK_SIGNING_KEY", GENERIC_TOKEN, "TEST_WEBHOOK_KEY", "MEYCIQCxfnpz"] {
        assert!(!line.contains(secret), "secret or signature in log: {line}");
    }
}

fn generic(body: &str) -> HttpRequest {
    post("generic", body, &[("Authorization", &format!("Bearer {GENERIC_TOKEN}"))])
}

const GENERIC_EVENT: &str = r#"{"id":"e1","event":"deferred","recipient":"jane@Example.ORG","reply":"451 4.7.1 <jane@example.org> try later","timestamp":"2026-11-28T04:00:00Z"}"#;

fn signed_sendgrid() -> (HttpRequest, u64) {
    let case = &vectors("sendgrid_vectors.json")["production_capture_issue_1193"];
    let ts = case["timestamp"].as_str().unwrap();
    let body = fixture(case["body_file"].as_str().unwrap());
    let headers = [
        ("X-Twilio-Email-Event-Webhook-Signature", case["signature"].as_str().unwrap()),
        ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
    ];
    (post("sendgrid", body, &headers), ts.parse().unwrap())
}

#[test]
fn signed_sendgrid_processed_event_is_acknowledged_but_not_counted() {
    let store = MemoryStore::new();
    let (req, now) = signed_sendgrid();
    let response = run(&req, &store, now);
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let body = response.json_body();
    assert_eq!(
        (body["accepted"].as_u64(), body["stale"].as_u64(), body["ignored"].as_u64()),
        (Some(0), Some(0), Some(1))
    );
    assert_eq!(body["events"][0]["recipient_domain"], "stack-labs.com");
    assert_eq!(body["events"][0]["kind"], "other");
    let log: Value = serde_json::from_str(response.log.as_deref().unwrap()).unwrap();
    assert_eq!(
        (log["esp"].as_str(), log["accepted"].as_u64(), log["storage_writes"].as_u64()),
        (Some("sendgrid"), Some(0), Some(0))
    );
    assert_eq!(log["domains"][0], "stack-labs.com");
    assert!(store.is_empty(), "nothing to count, nothing written");
}

#[test]
fn redelivery_of_the_same_bytes_overwrites_its_own_write() {
    let store = MemoryStore::new();
    assert_eq!(run(&generic(GENERIC_EVENT), &store, 0).json_body()["accepted"], 1);
    assert_eq!(store.len(), 1);
    assert_eq!(run(&generic(GENERIC_EVENT), &store, 0).status, 200);
    assert_eq!(store.len(), 1, "a redelivery of the same bytes overwrites its own write");
}

#[test]
fn generic_event_is_accepted_with_a_redacted_reply() {
    let store = MemoryStore::new();
    let response = run(&generic(GENERIC_EVENT), &store, 0);
    assert_eq!(response.status, 200);
    let event = &response.json_body()["events"][0];
    assert_eq!(event["recipient_domain"], "example.org");
    assert_eq!(event["kind"], "deferred");
    assert_eq!(event["smtp_code"], 451);
    assert_eq!(event["enhanced_code"], "4.7.1");
    assert_eq!(event["reply"], "451 4.7.1 <…@example.org> try later");
    assert_eq!(event["occurred_at"], 1_795_838_400);
    assert!(!String::from_utf8_lossy(&response.body).contains("jane"));
    let batch = format!("[{GENERIC_EVENT},{}]", GENERIC_EVENT.replace("\"e1\"", "\"e2\""));
    assert_eq!(run(&generic(&batch), &store, 0).json_body()["accepted"], 2);
}

#[test]
fn normalized_events_are_echoed_for_small_batches_only() {
    let batch = |n: usize| {
        let events: Vec<String> = (0..n).map(|i| GENERIC_EVENT.replace("\"e1\"", &format!("\"e{i}\""))).collect();
        format!("[{}]", events.join(","))
    };
    let store = MemoryStore::new();
    let small = run(&generic(&batch(ECHOED_EVENTS_MAX)), &store, 0).json_body();
    assert_eq!(small["events"].as_array().map(Vec::len), Some(ECHOED_EVENTS_MAX));
    let large = run(&generic(&batch(ECHOED_EVENTS_MAX + 1)), &store, 0).json_body();
    assert_eq!(large["accepted"], ECHOED_EVENTS_MAX + 1);
    assert!(large.get("events").is_none(), "{large}");
}

#[test]
fn wrong_or_missing_credentials_are_401() {
    let store = MemoryStore::new();
    let wrong = post("generic", GENERIC_EVENT, &[("Authorization", "Bearer nope")]);
    assert_eq!(run(&wrong, &store, 0).status, 401);
    assert_eq!(run(&post("generic", GENERIC_EVENT, &[]), &store, 0).status, 401);
    let (mut tampered, now) = signed_sendgrid();
    tampered.body.insert(1, b' ');
    let response = run(&tampered, &store, now);
    assert_eq!(response.status, 401);
    assert_eq!(response.json_body()["error"], "unauthorized");
    let log: Value = serde_json::from_str(response.log.as_deref().unwrap()).unwrap();
    assert!(log["rejection"].as_str().unwrap().contains("signature does not match"));
    assert!(store.is_empty(), "nothing stored for a refused request");
}

#[test]
fn unconfigured_esp_is_401_naming_the_secret() {
    let response = run(&post("postmark", sample("postmark_bounce_docs.json"), &[]), &MemoryStore::new(), 0);
    assert_eq!(response.status, 401);
    assert!(response.json_body()["message"].as_str().unwrap().contains("POSTMARK_WEBHOOK_CREDENTIALS"));
}

#[test]
fn malformed_bodies_are_400_naming_what_was_wrong() {
    let store = MemoryStore::new();
    for (body, needle) in [
        ("{not json", "not valid JSON"),
        ("42", "object or an array"),
        ("[1]", "index 0"),
        (r#"{"event":"exploded","domain":"x.org","timestamp":1}"#, "`event` must be"),
        (r#"{"event":"bounced","timestamp":1}"#, "`recipient` or `domain`"),
        (r#"{"event":"bounced","domain":"x.org","timestamp":"yesterday"}"#, "`timestamp`"),
    ] {
        let response = run(&generic(body), &store, 0);
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(response.json_body()["error"], "bad_request");
        assert!(
            response.json_body()["message"].as_str().unwrap().contains(needle),
            "{body}: {:?}",
            response.json_body()
        );
    }
    let mandrill = post("mandrill", "a=1", &[("X-Mandrill-Signature", "x")]);
    assert_eq!(run(&mandrill, &store, 0).status, 401, "signature is checked before the form is read");
}

#[test]
fn oversized_body_is_413_before_anything_else() {
    let big = vec![b'['; MAX_BODY_BYTES + 1];
    for esp in ["generic", "sendgrid", "no-such-esp"] {
        let response = run(&post(esp, big.clone(), &[]), &MemoryStore::new(), 0);
        assert_eq!(response.status, 413, "{esp}");
    }
}

#[test]
fn unknown_esp_is_404_and_wrong_method_is_405() {
    let store = MemoryStore::new();
    assert_eq!(run(&post("mailpro", "{}", &[]), &store, 0).status, 404);
    let get = HttpRequest::new(Method::Get, "https://bw.example/webhooks/sendgrid");
    assert_eq!(run(&get, &store, 0).status, 405);
    let get_mandrill = HttpRequest::new(Method::Get, "https://bw.example/webhooks/mandrill");
    assert_eq!(run(&get_mandrill, &store, 0).status, 405);
}

#[test]
fn mandrill_unsigned_head_check_is_200() {
    let head = HttpRequest::new(Method::Head, "https://example.com/webhooks/mandrill");
    assert_eq!(run(&head, &MemoryStore::new(), 0).status, 200);
}

#[test]
fn signed_mandrill_form_is_accepted() {
    let v = vectors("mandrill_vectors.json");
    let req = post(
        "mandrill",
        fixture("vectors/mandrill_hard_bounce_form_body.txt"),
        &[("X-Mandrill-Signature", v["x-mandrill-signature"].as_str().unwrap())],
    );
    let response = run(&req, &MemoryStore::new(), 0);
    assert_eq!((response.status, response.json_body()["accepted"].as_u64()), (200, Some(1)));
}

#[test]
fn storage_failure_is_503_so_the_esp_retries() {
    let store = MemoryStore::new();
    store.set_faults(Faults { fail_puts: true, ..Faults::default() });
    let response = run(&generic(GENERIC_EVENT), &store, 0);
    assert_eq!(response.status, 503);
    assert_eq!(response.json_body()["error"], "storage_unavailable");
}

fn mailgun(name: &str) -> (HttpRequest, u64) {
    let body = sample(name);
    let now =
        serde_json::from_slice::<Value>(&body).unwrap()["signature"]["timestamp"].as_str().unwrap().parse().unwrap();
    (post("mailgun", body, &[]), now)
}

#[test]
fn mailgun_token_replay_is_refused() {
    let store = MemoryStore::new();
    // Both samples carry the same signature block: the second is a replay on a different body.
    let (first, now) = mailgun("mailgun_failed_greylisted_anymail.json");
    let (replay, _) = mailgun("mailgun_failed_temporary_anymail.json");
    let response = run(&first, &store, now);
    assert_eq!(response.status, 200);
    let log: Value = serde_json::from_str(response.log.as_deref().unwrap()).unwrap();
    assert_eq!(log["storage_writes"], 2, "events + the token marker");
    let response = run(&replay, &store, now);
    assert_eq!(response.status, 401);
    assert!(response.json_body()["message"].as_str().unwrap().contains("replay"));
    let marker = store.keys().into_iter().find(|k| k.starts_with("mailgun-token:")).unwrap();
    assert_eq!(store.ttl_of(&marker), Some(600));
}

#[test]
fn mailgun_request_that_failed_to_store_can_be_retried() {
    let store = MemoryStore::new();
    let (req, now) = mailgun("mailgun_failed_permanent_anymail.json");
    store.set_faults(Faults { fail_puts: true, ..Faults::default() });
    assert_eq!(run(&req, &store, now).status, 503);
    store.set_faults(Faults::default());
    assert_eq!(run(&req, &store, now).status, 200, "the token is only remembered once the events are stored");
    let failing_gets = MemoryStore::new();
    failing_gets.set_faults(Faults { fail_gets: true, ..Faults::default() });
    assert_eq!(run(&req, &failing_gets, now).status, 503, "the replay check needs storage too");
}

#[test]
fn a_write_that_landed_but_reported_failure_is_503_and_the_retry_overwrites_it() {
    let store = MemoryStore::new();
    let (req, now) = mailgun("mailgun_failed_permanent_anymail.json");
    store.set_faults(Faults { fail_puts_after_write: true, ..Faults::default() });
    let failed = run(&req, &store, now);
    assert_eq!((failed.status, failed.json_body()["error"].as_str()), (503, Some("storage_unavailable")));
    store.set_faults(Faults::default());
    assert_eq!(run(&req, &store, now).status, 200);
    let shards = store.keys().into_iter().filter(|k| k.starts_with("shard:")).count();
    assert_eq!(shards, 1, "the retry rewrote the shard the failed request left");
}

#[test]
fn ses_subscription_confirmation_through_the_route() {
    let body = fixture("selfgen/sns_subscription_confirmation_signed.json");
    let now = bouncewatch::esp::parse_rfc3339("2024-04-26T20:45:04.751Z").unwrap();
    let fetcher = FakeFetcher::default();
    let response = send(&post("ses", body, &[]), &MemoryStore::new(), &config(), now, &fetcher);
    assert_eq!(response.status, 200);
    assert_eq!(response.json_body()["subscription_confirmed"], true);
    assert_eq!(fetcher.fetched.get(), 2, "certificate + SubscribeURL");
}

#[test]
fn basic_auth_esp_through_the_route() {
    let config = Config::from_pairs([("BREVO_WEBHOOK_CREDENTIALS", "u:p")]);
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("u:p"));
    let req = post("brevo", sample("brevo_deferred_anymail.json"), &[("Authorization", &auth)]);
    let response = send(&req, &MemoryStore::new(), &config, 0, &FakeFetcher::default());
    assert_eq!(response.status, 200);
    assert_eq!(response.json_body()["events"][0]["kind"], "deferred");
}
