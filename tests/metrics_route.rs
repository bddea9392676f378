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
        r#"bouncewatch_window_minutes{scope="domain"} 15"#,
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
