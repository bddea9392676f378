//! `GET /metrics` through the router over a spike counted by the objects: the token, the media type, and
//! the series a Prometheus scrape would find.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::http::{HttpRequest, Method};
use common::World;

const NOW: u64 = 1_700_000_000;

#[test]
fn metrics_need_the_read_token_and_show_the_firing_domain_and_the_objects_work() {
    let world = World::new(Config::from_pairs([("READ_TOKEN", "reader"), ("METRICS_TOP_N", "5")]));
    let now = common::seed_spike(&world, "gmail.com", Category::RateLimited, NOW);
    assert_eq!(world.get("/metrics", now).status, 401);
    let req = HttpRequest::new(Method::Get, "http://h/metrics").with_header("authorization", "Bearer reader");
    let response = world.send(&req, now, &bouncewatch::esp::NoFetch);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = String::from_utf8(response.body).unwrap();
    for line in [
        r#"bouncewatch_window_smtp_451{scope="domain",domain="gmail.com"} 60"#,
        r#"bouncewatch_alert_state{scope="domain",domain="gmail.com",state="firing"} 1"#,
        r#"bouncewatch_alert_severity{scope="domain",domain="gmail.com",severity="critical"} 1"#,
        r#"bouncewatch_alert_silenced{scope="domain",domain="gmail.com"} 0"#,
        r#"bouncewatch_window_minutes 15"#,
        // gmail.com is Google's, by the consumer table: the provider's series sum its domains.
        r#"bouncewatch_window_smtp_451{scope="provider",provider="google"} 60"#,
        r#"bouncewatch_providers{scope="provider"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
    }
    // Each `World` request meets a fresh object instance, as after a restart: its counters hold only the
    // scrape's own read so far, and no cron run is known yet (tests/e2e/metrics.test.mjs sees them grow).
    assert!(text.lines().any(|l| l == r#"bouncewatch_do_requests_total{shard="0",op="read"} 1"#), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("bouncewatch_last_cron_run_timestamp_seconds ")), "{text}");
    let head = world.send(
        &HttpRequest::new(Method::Head, "http://h/metrics").with_header("authorization", "Bearer reader"),
        now,
        &bouncewatch::esp::NoFetch,
    );
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(
        world.send(&HttpRequest::new(Method::Post, "http://h/metrics"), now, &bouncewatch::esp::NoFetch).status,
        401
    );
}

const TOKEN: &str = "generic-token";

fn generic(body: &str, token: Option<&str>) -> HttpRequest {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    common::post("generic", body, &headers)
}

fn event(id: &str, domain: &str) -> String {
    format!(r#"{{"id":"{id}","event":"delivered","recipient":"jane@{domain}","timestamp":"2023-11-14T22:13:00Z"}}"#)
}

/// Every `bouncewatch_webhook_requests_total` sample, summed over shards, as `esp status` → count.
fn webhook_requests(text: &str) -> std::collections::BTreeMap<String, u64> {
    let mut found = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("bouncewatch_webhook_requests_total{")) {
        let label = |name: &str| line.split(&format!("{name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap();
        let value: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        *found.entry(format!("{} {}", label("esp"), label("status"))).or_default() += value;
    }
    found
}

fn scrape(world: &World, now: u64) -> String {
    let response = world.get("/metrics", now);
    assert_eq!(response.status, 200);
    String::from_utf8(response.body).unwrap()
}

#[test]
fn refused_webhooks_are_counted_by_esp_and_status_without_an_object_request_or_a_row() {
    let now = NOW;
    let world = World::new(Config::from_pairs([("GENERIC_WEBHOOK_TOKEN", TOKEN)]));
    let too_large = "x".repeat(bouncewatch::http::MAX_BODY_BYTES + 1);
    for (req, status) in [
        (generic(&event("e1", "example.org"), None), 401),
        (generic(&event("e1", "example.org"), Some("wrong")), 401),
        (generic("{not json", Some(TOKEN)), 400),
        (generic(&too_large, Some(TOKEN)), 413),
        (common::post("nosuchesp", "{}", &[]), 404),
    ] {
        assert_eq!(world.send(&req, now, &bouncewatch::esp::NoFetch).status, status);
    }
    assert_eq!(world.requests(), 0, "no counting object was asked");
    assert_eq!(world.sql_ops().rows_written, 0);
    // The scrape's first call carries them.
    let expected: Vec<(String, u64)> = [("generic 400", 1), ("generic 401", 2), ("generic 413", 1), ("unknown 404", 1)]
        .map(|(k, n)| (k.to_owned(), n))
        .into();
    assert_eq!(webhook_requests(&scrape(&world, now)).into_iter().collect::<Vec<_>>(), expected);
}

#[test]
fn a_misconfigured_worker_counts_its_503s() {
    let config = Config::from_pairs([
        ("GENERIC_WEBHOOK_TOKEN", TOKEN),
        ("CLASSIFY_RULES", r#"[{"id": "acme", "regex": "(", "category": "spam_content"}]"#),
    ]);
    let world = World::new(config);
    let response = world.send(&generic(&event("e1", "example.org"), Some(TOKEN)), NOW, &bouncewatch::esp::NoFetch);
    assert_eq!(response.status, 503);
    assert_eq!(world.requests(), 0);
    assert_eq!(webhook_requests(&scrape(&world, NOW)).get("generic 503"), Some(&1));
}

#[test]
fn a_webhook_counted_on_two_shards_is_one_request() {
    let world = World::new(Config::from_pairs([("GENERIC_WEBHOOK_TOKEN", TOKEN), ("COUNTER_SHARDS", "2")]));
    let domains: Vec<String> = (0..20).map(|i| format!("d{i}.example")).collect();
    let first_of = |shard| domains.iter().find(|d| bouncewatch::counting::delta::shard_of(d, 2) == shard).unwrap();
    let body = format!("[{},{}]", event("a", first_of(0)), event("b", first_of(1)));
    assert_eq!(world.send(&generic(&body, Some(TOKEN)), NOW, &bouncewatch::esp::NoFetch).status, 200);
    let text = scrape(&world, NOW);
    assert_eq!(webhook_requests(&text).get("generic 200"), Some(&1), "{text}");
}

#[test]
fn an_isolate_that_only_refuses_hands_its_tally_over_once_a_minute() {
    let world = World::new(Config::from_pairs([("GENERIC_WEBHOOK_TOKEN", TOKEN)]));
    let refuse = |at: u64| world.send(&generic("[]", None), at, &bouncewatch::esp::NoFetch).status;
    for (at, requests) in
        [(NOW, 0), (NOW + 30, 0), (NOW + 59, 0), (NOW + 60, 1), (NOW + 61, 1), (NOW + 119, 1), (NOW + 125, 2)]
    {
        assert_eq!(refuse(at), 401);
        assert_eq!(world.requests(), requests, "after the refusal at +{}", at - NOW);
    }
    // The handed-over tally reaches the object's counters (one object instance for these calls).
    world.with_counter(NOW + 200, |counter| {
        pollster::block_on(bouncewatch::http::tally_webhook_answer(counter, "/webhooks/generic", 401, NOW + 200));
        pollster::block_on(bouncewatch::http::tally_webhook_answer(counter, "/webhooks/generic", 401, NOW + 300));
        let answer: bouncewatch::counting::protocol::MetricsAnswer =
            pollster::block_on(bouncewatch::counting::call(counter, 0, &bouncewatch::counting::Request::Metrics))
                .unwrap();
        assert_eq!(answer.shard.stats.requests.get("tally"), Some(&1));
        assert_eq!(answer.shard.stats.webhook_requests["generic"]["401"], 2);
    });
}

#[test]
fn a_tally_whose_call_failed_is_carried_by_the_next() {
    let world = World::new(Config::from_pairs([("GENERIC_WEBHOOK_TOKEN", TOKEN)]));
    world.faults.set(bouncewatch::store::Faults { fail_object: true, ..Default::default() });
    let body = event("e1", "example.org");
    assert_eq!(world.send(&generic(&body, Some(TOKEN)), NOW, &bouncewatch::esp::NoFetch).status, 503);
    assert_eq!(world.send(&generic(&body, None), NOW, &bouncewatch::esp::NoFetch).status, 401);
    world.faults.set(Default::default());
    let text = scrape(&world, NOW);
    let found = webhook_requests(&text);
    assert_eq!((found.get("generic 503"), found.get("generic 401")), (Some(&1), Some(&1)), "{text}");
}
