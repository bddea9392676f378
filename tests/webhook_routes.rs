//! `POST /webhooks/{esp}` through the router, over KV and the counting objects of [`World`]: every status
//! the route can answer, redelivery, Mailgun replay, an unreachable object, a commit whose answer was
//! lost, a KV outage, and the log line.

mod common;

use base64::Engine;
use bouncewatch::config::Config;
use bouncewatch::counting::{Answer, Counter};
use bouncewatch::http::{handle, Context, HttpRequest, HttpResponse, Method, ECHOED_EVENTS_MAX, MAX_BODY_BYTES};
use bouncewatch::store::{Faults, StoreError};
use common::{fixture, post, sample, vectors, FakeFetcher, World};
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

/// The time of [`GENERIC_EVENT`], and a minute later, when it is received.
const GENERIC_AT: u64 = 1_795_838_400;
const NOW: u64 = GENERIC_AT + 60;

fn run(req: &HttpRequest, world: &World, now: u64) -> HttpResponse {
    let response = world.send(req, now, &FakeFetcher::default());
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

fn log(response: &HttpResponse) -> Value {
    serde_json::from_str(response.log.as_deref().unwrap()).unwrap()
}

/// `(accepted, duplicates)` of a 200 answer.
fn counted(response: &HttpResponse) -> (u64, u64) {
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let body = response.json_body();
    (body["accepted"].as_u64().unwrap(), body["duplicates"].as_u64().unwrap())
}

/// `(domain, attempts, smtp_451)` of every domain of the last day, as `/api/domains` reports them.
fn totals(world: &World, now: u64) -> Vec<(String, u64, u64)> {
    let list = world.get("/api/domains?window=24h", now).json_body();
    let domains = list["domains"].as_array().unwrap_or_else(|| panic!("{list}"));
    domains
        .iter()
        .map(|d| {
            (d["domain"].as_str().unwrap().to_owned(), d["attempts"].as_u64().unwrap(), d["smtp_451"].as_u64().unwrap())
        })
        .collect()
}

fn generic(body: &str) -> HttpRequest {
    post("generic", body, &[("Authorization", &format!("Bearer {GENERIC_TOKEN}"))])
}

const GENERIC_EVENT: &str = r#"{"id":"e1","event":"deferred","recipient":"jane@Example.ORG","reply":"451 4.7.1 <jane@example.org> try later","timestamp":"2026-11-28T04:00:00Z"}"#;

/// `n` copies of [`GENERIC_EVENT`] with the ids `e0`…, as one batch.
fn generic_batch(n: usize) -> String {
    generic_ids(0..n)
}

/// Copies of [`GENERIC_EVENT`] with the ids `e<i>` for each `i` of `ids`, as one batch.
fn generic_ids(ids: impl IntoIterator<Item = usize>) -> String {
    let events: Vec<String> = ids.into_iter().map(|i| GENERIC_EVENT.replace("\"e1\"", &format!("\"e{i}\""))).collect();
    format!("[{}]", events.join(","))
}

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
    let world = World::new(config());
    let (req, now) = signed_sendgrid();
    let response = run(&req, &world, now);
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let body = response.json_body();
    assert_eq!(
        (body["accepted"].as_u64(), body["stale"].as_u64(), body["ignored"].as_u64(), body["duplicates"].as_u64()),
        (Some(0), Some(0), Some(1), Some(0))
    );
    assert_eq!(body["events"][0]["recipient_domain"], "stack-labs.com");
    assert_eq!(body["events"][0]["kind"], "other");
    let log = log(&response);
    assert_eq!(
        (log["esp"].as_str(), log["accepted"].as_u64(), log["rows_written"].as_u64()),
        (Some("sendgrid"), Some(0), Some(0))
    );
    assert_eq!(log["domains"][0], "stack-labs.com");
    assert_eq!(world.requests(), 0, "nothing to count: no counting object is called");
    assert!(world.kv.is_empty());
}

#[test]
fn a_redelivery_counts_nothing_twice_and_writes_nothing() {
    let world = World::new(config());
    let batch = generic_batch(3);
    let first = run(&generic(&batch), &world, NOW);
    assert_eq!(counted(&first), (3, 0));
    assert!(log(&first)["rows_written"].as_u64() >= Some(1));
    let counts = totals(&world, NOW);
    assert_eq!(counts, [("example.org".to_owned(), 3, 3)]);
    let again = run(&generic(&batch), &world, NOW + 60);
    assert_eq!(counted(&again), (0, 3));
    assert_eq!((log(&again)["duplicates"].as_u64(), log(&again)["rows_written"].as_u64()), (Some(3), Some(0)));
    assert_eq!(totals(&world, NOW + 60), counts, "a redelivery of the same bytes counts nothing");
}

#[test]
fn a_busy_domains_hour_is_split_in_bounded_parts_and_still_counts_each_event_once() {
    let world = World::new(config());
    for batch in 0..10 {
        assert_eq!(counted(&run(&generic(&generic_ids(batch * 1_000..(batch + 1) * 1_000)), &world, NOW)), (1_000, 0));
    }
    let object = &world.objects[0];
    assert_eq!(object.count("counts"), 2, "10,000 ids of one (hour, domain) fill one part and open a second");
    assert!(object.largest_value() <= 8_192 * 8 + 1_000, "largest value {}", object.largest_value());
    // Regrouped: ids from both parts, shuffled into one batch with new ones.
    let mixed = generic_ids((0..400).map(|i| if i % 2 == 0 { i * 23 } else { 10_000 + i }));
    assert_eq!(counted(&run(&generic(&mixed), &world, NOW + 60)), (200, 200));
    assert_eq!(totals(&world, NOW + 60), [("example.org".to_owned(), 10_200, 10_200)]);
}

#[test]
fn changing_counter_shards_on_live_counts_is_refused_everywhere_until_set_back() {
    let with_shards = |n: &str| Config::from_pairs([("GENERIC_WEBHOOK_TOKEN", GENERIC_TOKEN), ("COUNTER_SHARDS", n)]);
    // Two objects exist; the deployment starts with one.
    let mut world = World::new(with_shards("2"));
    world.config = with_shards("1");
    // gmail.com stays on object 0 with two shards, outlook.com would move to object 1.
    let batch = |domains: &[&str]| {
        let events: Vec<String> = domains
            .iter()
            .enumerate()
            .map(|(i, d)| GENERIC_EVENT.replace("\"e1\"", &format!("\"s{i}\"")).replace("Example.ORG", d))
            .collect();
        generic(&format!("[{}]", events.join(",")))
    };
    let both = batch(&["gmail.com", "outlook.com"]);
    assert_eq!(counted(&run(&both, &world, NOW)), (2, 0));
    let counts = totals(&world, NOW);

    world.config = with_shards("2");
    for request in [&both, &batch(&["outlook.com"])] {
        let refused = run(request, &world, NOW + 60);
        assert_eq!(refused.status, 503, "{}", String::from_utf8_lossy(&refused.body));
        assert!(refused.json_body()["message"].as_str().unwrap().contains("COUNTER_SHARDS is 2"));
    }
    assert_eq!(world.get("/api/domains?window=24h", NOW + 60).status, 503);

    world.config = with_shards("1");
    assert_eq!(counted(&run(&both, &world, NOW + 120)), (0, 2), "nothing was counted while refused");
    assert_eq!(totals(&world, NOW + 120), counts);
}

#[test]
fn generic_event_is_accepted_with_a_redacted_reply() {
    let world = World::new(config());
    let response = run(&generic(GENERIC_EVENT), &world, NOW);
    assert_eq!(response.status, 200);
    let event = &response.json_body()["events"][0];
    assert_eq!(event["recipient_domain"], "example.org");
    assert_eq!(event["kind"], "deferred");
    assert_eq!(event["smtp_code"], 451);
    assert_eq!(event["enhanced_code"], "4.7.1");
    assert_eq!(event["reply"], "451 4.7.1 <…@example.org> try later");
    assert_eq!(event["occurred_at"], GENERIC_AT);
    assert!(!String::from_utf8_lossy(&response.body).contains("jane"));
    let batch = format!("[{GENERIC_EVENT},{}]", GENERIC_EVENT.replace("\"e1\"", "\"e2\""));
    assert_eq!(counted(&run(&generic(&batch), &world, NOW)), (1, 1), "a regrouped batch counts its new event only");
    assert_eq!(totals(&world, NOW), [("example.org".to_owned(), 2, 2)]);
}

#[test]
fn normalized_events_are_echoed_for_small_batches_only() {
    let small = run(&generic(&generic_batch(ECHOED_EVENTS_MAX)), &World::new(config()), NOW).json_body();
    assert_eq!(small["events"].as_array().map(Vec::len), Some(ECHOED_EVENTS_MAX));
    let large = run(&generic(&generic_batch(ECHOED_EVENTS_MAX + 1)), &World::new(config()), NOW).json_body();
    assert_eq!(large["accepted"], ECHOED_EVENTS_MAX + 1);
    assert!(large.get("events").is_none(), "{large}");
}

#[test]
fn wrong_or_missing_credentials_are_401() {
    let world = World::new(config());
    let wrong = post("generic", GENERIC_EVENT, &[("Authorization", "Bearer nope")]);
    assert_eq!(run(&wrong, &world, NOW).status, 401);
    assert_eq!(run(&post("generic", GENERIC_EVENT, &[]), &world, NOW).status, 401);
    let (mut tampered, now) = signed_sendgrid();
    tampered.body.insert(1, b' ');
    let response = run(&tampered, &world, now);
    assert_eq!(response.status, 401);
    assert_eq!(response.json_body()["error"], "unauthorized");
    assert!(log(&response)["rejection"].as_str().unwrap().contains("signature does not match"));
    assert_eq!(world.requests(), 0, "a refused request never reaches the counting objects");
    assert!(world.kv.is_empty());
}

#[test]
fn unconfigured_esp_is_401_naming_the_secret() {
    let response = run(&post("postmark", sample("postmark_bounce_docs.json"), &[]), &World::new(config()), NOW);
    assert_eq!(response.status, 401);
    assert!(response.json_body()["message"].as_str().unwrap().contains("POSTMARK_WEBHOOK_CREDENTIALS"));
}

#[test]
fn malformed_bodies_are_400_naming_what_was_wrong() {
    let world = World::new(config());
    for (body, needle) in [
        ("{not json", "not valid JSON"),
        ("42", "object or an array"),
        ("[1]", "index 0"),
        (r#"{"event":"exploded","domain":"x.org","timestamp":1}"#, "`event` must be"),
        (r#"{"event":"bounced","timestamp":1}"#, "`recipient` or `domain`"),
        (r#"{"event":"bounced","domain":"x.org","timestamp":"yesterday"}"#, "`timestamp`"),
    ] {
        let response = run(&generic(body), &world, NOW);
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(response.json_body()["error"], "bad_request");
        assert!(
            response.json_body()["message"].as_str().unwrap().contains(needle),
            "{body}: {:?}",
            response.json_body()
        );
    }
    let mandrill = post("mandrill", "a=1", &[("X-Mandrill-Signature", "x")]);
    assert_eq!(run(&mandrill, &world, NOW).status, 401, "signature is checked before the form is read");
    assert_eq!(world.requests(), 0);
}

#[test]
fn oversized_body_is_413_before_anything_else() {
    let big = vec![b'['; MAX_BODY_BYTES + 1];
    for esp in ["generic", "sendgrid", "no-such-esp"] {
        let world = World::new(config());
        let response = run(&post(esp, big.clone(), &[]), &world, NOW);
        assert_eq!(response.status, 413, "{esp}");
        assert_eq!(world.requests(), 0, "{esp}");
    }
}

#[test]
fn unknown_esp_is_404_and_wrong_method_is_405() {
    let world = World::new(config());
    assert_eq!(run(&post("mailpro", "{}", &[]), &world, NOW).status, 404);
    let get = HttpRequest::new(Method::Get, "https://bw.example/webhooks/sendgrid");
    assert_eq!(run(&get, &world, NOW).status, 405);
    let get_mandrill = HttpRequest::new(Method::Get, "https://bw.example/webhooks/mandrill");
    assert_eq!(run(&get_mandrill, &world, NOW).status, 405);
}

#[test]
fn mandrill_unsigned_head_check_is_200() {
    let head = HttpRequest::new(Method::Head, "https://example.com/webhooks/mandrill");
    assert_eq!(run(&head, &World::new(config()), NOW).status, 200);
}

#[test]
fn signed_mandrill_form_is_accepted() {
    let v = vectors("mandrill_vectors.json");
    let req = post(
        "mandrill",
        fixture("vectors/mandrill_hard_bounce_form_body.txt"),
        &[("X-Mandrill-Signature", v["x-mandrill-signature"].as_str().unwrap())],
    );
    // The event's own time: Mandrill signs no time, and an event older than the retention is not counted.
    let response = run(&req, &World::new(config()), 1_461_095_246);
    assert_eq!(counted(&response), (1, 0));
}

#[test]
fn an_unreachable_counting_object_is_503_so_the_esp_retries() {
    let world = World::new(config());
    world.faults.set(Faults { fail_object: true, ..Faults::default() });
    let response = run(&generic(GENERIC_EVENT), &world, NOW);
    assert_eq!(response.status, 503);
    assert_eq!(response.json_body()["error"], "storage_unavailable");
    world.faults.set(Faults::default());
    assert_eq!(totals(&world, NOW), [], "nothing reached the object");
    assert_eq!(counted(&run(&generic(GENERIC_EVENT), &world, NOW + 60)), (1, 0), "the retry counts it");
}

#[test]
fn an_apply_that_committed_but_lost_its_answer_is_503_and_the_retry_counts_nothing_twice() {
    let world = World::new(config());
    let batch = generic_batch(3);
    world.faults.set(Faults { fail_object_after_commit: true, ..Faults::default() });
    let failed = run(&generic(&batch), &world, NOW);
    assert_eq!((failed.status, failed.json_body()["error"].as_str()), (503, Some("storage_unavailable")));
    world.faults.set(Faults::default());
    let retry = run(&generic(&batch), &world, NOW + 60);
    assert_eq!(counted(&retry), (0, 3), "the failed request's commit stands; its retry only recognises it");
    assert_eq!(totals(&world, NOW + 60), [("example.org".to_owned(), 3, 3)]);
}

/// The counting objects with one shard's calls failing before they reach it.
struct ShardDown<'a, C: Counter> {
    objects: &'a C,
    down: u32,
}

impl<C: Counter> Counter for ShardDown<'_, C> {
    async fn send(&self, shard: u32, body: Vec<u8>, answers: &str) -> Result<Answer, StoreError> {
        if shard == self.down {
            return Err(StoreError(format!("counting object {shard} is down")));
        }
        self.objects.send(shard, body, answers).await
    }

    fn with_untold<T>(&self, f: impl FnOnce(&mut bouncewatch::metrics::WebhookTally) -> T) -> T {
        self.objects.with_untold(f)
    }
}

#[test]
fn a_batch_whose_second_shard_failed_is_503_and_the_retry_counts_each_event_once() {
    let world = World::new(Config::from_pairs([("GENERIC_WEBHOOK_TOKEN", GENERIC_TOKEN), ("COUNTER_SHARDS", "2")]));
    // Two domains per shard, so each delta carries more than one row.
    let domains: Vec<String> = (0..40).map(|i| format!("d{i}.example")).collect();
    let on = |shard| domains.iter().filter(move |d| bouncewatch::counting::delta::shard_of(d, 2) == shard).take(2);
    let recipients: Vec<&String> = on(0).chain(on(1)).collect();
    assert_eq!(recipients.len(), 4);
    let events: Vec<Value> = recipients
        .iter()
        .enumerate()
        .map(|(i, domain)| {
            serde_json::json!({"id": format!("e{i}"), "event": "deferred",
            "recipient": format!("x@{domain}"), "reply": "451 4.7.1 try later", "timestamp": GENERIC_AT})
        })
        .collect();
    let req = generic(&serde_json::to_string(&events).unwrap());
    let failed = world.with_counter(NOW, |objects| {
        let counter = ShardDown { objects, down: 1 };
        let ctx = Context {
            store: &world.kv,
            counter: &counter,
            config: &world.config,
            now: NOW,
            fetcher: &FakeFetcher::default(),
        };
        pollster::block_on(handle(&req, &ctx))
    });
    assert_eq!(failed.status, 503);
    let retry = run(&req, &world, NOW + 60);
    assert_eq!(counted(&retry), (2, 2), "shard 0 had counted its two; shard 1 counts its two now");
    let mut expected: Vec<(String, u64, u64)> = recipients.iter().map(|d| (d.to_string(), 1, 1)).collect();
    expected.sort();
    let mut counts = totals(&world, NOW + 60);
    counts.sort();
    assert_eq!(counts, expected);
}

#[test]
fn a_kv_outage_leaves_webhooks_alone_and_the_next_publish_catches_up() {
    let world = World::new(config());
    world.kv.set_faults(Faults { fail_puts: true, ..Faults::default() });
    assert_eq!(counted(&run(&generic(GENERIC_EVENT), &world, NOW)), (1, 0), "a webhook writes no KV");

    let report = world.tick(NOW);
    let publish = &report.upkeep[0].publish;
    assert!(publish.ran && publish.hours == 0 && publish.error.is_some(), "{publish:?}");
    assert!(world.kv.is_empty());
    world.kv.set_faults(Faults::default());
    assert_eq!(
        totals(&world, NOW + 60),
        [("example.org".to_owned(), 1, 1)],
        "the unpublished hour is read from the object"
    );

    assert!(!world.tick(NOW + 60).upkeep[0].publish.ran, "not due until PUBLISH_MINUTES after the failed run");
    let publish = world.tick(NOW + 300).upkeep[0].publish.clone();
    assert_eq!((publish.hours, publish.error), (1, None));
    assert!(world.kv.keys().iter().any(|k| k.starts_with("page:0:")), "{:?}", world.kv.keys());
    let gets = world.kv.ops().gets;
    assert_eq!(totals(&world, NOW + 360), [("example.org".to_owned(), 1, 1)]);
    assert!(world.kv.ops().gets > gets, "and once settled, from its page");
}

fn mailgun(name: &str) -> (HttpRequest, u64) {
    let body = sample(name);
    let now =
        serde_json::from_slice::<Value>(&body).unwrap()["signature"]["timestamp"].as_str().unwrap().parse().unwrap();
    (post("mailgun", body, &[]), now)
}

#[test]
fn mailgun_token_replay_is_refused() {
    let world = World::new(config());
    // Both samples carry the same signature block: the second is a replay on a different body.
    let (first, now) = mailgun("mailgun_failed_greylisted_anymail.json");
    let (replay, _) = mailgun("mailgun_failed_temporary_anymail.json");
    let response = run(&first, &world, now);
    assert_eq!(counted(&response), (1, 0));
    assert_eq!(
        log(&response)["rows_written"],
        5,
        "the counts row, the token's row, the hour marked dirty and the new domain's provider row (unknown until looked up) with its due-time index entry"
    );
    let counts = totals(&world, now);
    // Still refused at the end of the signature's window, after a cron run has expired what it may.
    let later = now + bouncewatch::esp::mailgun_nonce_seconds() / 2;
    world.tick(later);
    let response = run(&replay, &world, later);
    assert_eq!(response.status, 401);
    assert!(response.json_body()["message"].as_str().unwrap().contains("replay"));
    assert_eq!(totals(&world, later), counts, "the replay counted nothing");
    assert!(world.kv.keys().iter().all(|k| k.starts_with("page:")), "the token is the object's, not KV's");
}

#[test]
fn a_mailgun_token_on_the_same_event_with_an_altered_reply_is_a_replay() {
    // The event id is unchanged, so only the body binding can tell this forgery from a retry.
    let world = World::new(config());
    let (first, now) = mailgun("mailgun_failed_temporary_anymail.json");
    assert_eq!(counted(&run(&first, &world, now)), (1, 0));
    let mut forged: Value = serde_json::from_slice(&first.body).unwrap();
    forged["event-data"]["delivery-status"]["code"] = 550.into();
    let forged = post("mailgun", serde_json::to_vec(&forged).unwrap(), &[]);
    assert_eq!(run(&forged, &world, now + 1).status, 401);
    let retry = run(&first, &world, now + 2);
    assert_eq!(
        (retry.status, retry.json_body()["duplicates"].as_u64()),
        (200, Some(1)),
        "the genuine retry still is one"
    );
}

#[test]
fn mailgun_request_that_never_reached_the_object_can_be_retried() {
    let world = World::new(config());
    let (req, now) = mailgun("mailgun_failed_permanent_anymail.json");
    world.faults.set(Faults { fail_object: true, ..Faults::default() });
    assert_eq!(run(&req, &world, now).status, 503, "the replay check is the object's, so it must be reached");
    world.faults.set(Faults::default());
    assert_eq!(counted(&run(&req, &world, now)), (1, 0), "the token is only remembered with the events");
    let failing_kv = World::new(config());
    failing_kv.kv.set_faults(Faults { fail_gets: true, fail_puts: true, ..Faults::default() });
    assert_eq!(counted(&run(&req, &failing_kv, now)), (1, 0), "KV has no part in a Mailgun webhook");
}

#[test]
fn a_mailgun_retry_after_a_lost_commit_is_answered_as_duplicates_and_its_event_stays_counted_once() {
    // The token was committed with the event and the body it came on; the retry carries both again, so it is
    // a redelivery, not a replay.
    let world = World::new(config());
    let (req, now) = mailgun("mailgun_failed_permanent_anymail.json");
    world.faults.set(Faults { fail_object_after_commit: true, ..Faults::default() });
    assert_eq!(run(&req, &world, now).status, 503);
    world.faults.set(Faults::default());
    let counts = totals(&world, now);
    assert_eq!(counts.iter().map(|(_, attempts, _)| attempts).sum::<u64>(), 1);
    let retry = run(&req, &world, now + 60);
    assert_eq!(retry.status, 200, "{}", String::from_utf8_lossy(&retry.body));
    assert_eq!((retry.json_body()["accepted"].as_u64(), retry.json_body()["duplicates"].as_u64()), (Some(0), Some(1)));
    assert_eq!(totals(&world, now + 60), counts);
}

#[test]
fn ses_subscription_confirmation_through_the_route() {
    let body = fixture("selfgen/sns_subscription_confirmation_signed.json");
    let now = bouncewatch::esp::parse_rfc3339("2024-04-26T20:45:04.751Z").unwrap();
    let fetcher = FakeFetcher::default();
    let world = World::new(config());
    let response = world.send(&post("ses", body, &[]), now, &fetcher);
    assert_eq!(response.status, 200);
    assert_eq!(response.json_body()["subscription_confirmed"], true);
    assert_eq!(fetcher.fetched.get(), 2, "certificate + SubscribeURL");
    assert_eq!(world.requests(), 0, "a confirmation counts nothing");
}

#[test]
fn basic_auth_esp_through_the_route() {
    let world = World::new(Config::from_pairs([("BREVO_WEBHOOK_CREDENTIALS", "u:p")]));
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("u:p"));
    let req = post("brevo", sample("brevo_deferred_anymail.json"), &[("Authorization", &auth)]);
    let response = world.send(&req, NOW, &FakeFetcher::default());
    assert_eq!(response.status, 200);
    assert_eq!(response.json_body()["events"][0]["kind"], "deferred");
}
