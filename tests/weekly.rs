//! Issue 17's weekly work over simulated weeks: the slow-drift check (a ratio rising three weeks running,
//! with and without the volume to mean it) and the weekly digest email, through the cron runs and
//! `/api/alerts`, on two counting objects.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::event::{EventKind, NormalizedEvent};
use common::{synthetic_event, World};
use serde_json::Value;

const DAY: u64 = 86_400;
/// A Monday, 00:00 UTC (2026-10-05).
const MONDAY: u64 = 1_795_996_800 - 8 * 7 * DAY;

fn events(domain: &str, kind: EventKind, at: u64, n: u64, rule: &'static str) -> Vec<NormalizedEvent> {
    let category = (kind == EventKind::Deferred).then_some(Category::RateLimited);
    (0..n)
        .map(|i| {
            let mut event = synthetic_event(domain, kind, at, category);
            event.event_id = format!("{}-{i}", event.event_id);
            if category.is_some() {
                event.rule = Some(rule);
            }
            if rule.starts_with("fallback.") {
                event.reply = Some("451 4.3.0 unexpected condition, come back".into());
            }
            event
        })
        .collect()
}

/// Day `d`: rising.example and thin.example defer a share growing each week (1 %, 2 %, 3 %, 4 %…),
/// flat.example a steady 1 %; thin.example sends a quarter as much, under DRIFT_MIN_ATTEMPTS a week.
fn day(world: &World, d: u64) {
    let noon = MONDAY + d * DAY + 12 * 3600;
    let week = d / 7 + 1;
    let mut batch = Vec::new();
    for (domain, attempts, deferred) in
        [("rising.example", 400, 4 * week), ("thin.example", 100, week), ("flat.example", 400, 4)]
    {
        batch.extend(events(domain, EventKind::Delivered, noon, attempts - deferred, "text.synthetic"));
        batch.extend(events(domain, EventKind::Deferred, noon, deferred, "text.synthetic"));
    }
    if d == 30 {
        // A reply only the code-class fallback understood: the digest lists it to write a rule for.
        batch.extend(events("flat.example", EventKind::Deferred, noon + 60, 2, "fallback.4xx"));
    }
    world.apply(&batch, noon + 120);
}

fn simulate(world: &World, days: std::ops::Range<u64>) {
    for d in days {
        world.tick(MONDAY + d * DAY + 90 * 60);
        day(world, d);
        world.tick(MONDAY + d * DAY + 12 * 3600 + 300);
    }
}

fn config(extra: &[(&'static str, &'static str)]) -> Config {
    let mut pairs = vec![("COUNTER_SHARDS", "2")];
    pairs.extend_from_slice(extra);
    common::resend_alerting(&pairs)
}

fn drifts(world: &World, now: u64) -> Vec<Value> {
    let response = world.get("/api/alerts", now);
    assert_eq!(response.status, 200);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    body["drifts"].as_array().unwrap().clone()
}

#[test]
fn a_ratio_rising_three_weeks_running_with_volume_is_an_info_drift_and_without_it_is_not() {
    let world = World::new(config(&[]));
    simulate(&world, 0..28);
    let monday = MONDAY + 28 * DAY;
    assert!(drifts(&world, monday).is_empty(), "the fourth week has not closed yet");
    let report = world.tick(monday + 90 * 60);
    assert_eq!(report.weekly.drifts, Some(1));
    let found = drifts(&world, monday + 100 * 60);
    assert_eq!(found.len(), 1, "{found:?}");
    let drift = &found[0];
    assert_eq!((drift["scope"].as_str(), drift["id"].as_str()), (Some("domain"), Some("rising.example")));
    assert_eq!((drift["signal"].as_str(), drift["severity"].as_str()), (Some("smtp_451"), Some("info")));
    let ratios: Vec<f64> = drift["weeks"].as_array().unwrap().iter().map(|w| w["ratio"].as_f64().unwrap()).collect();
    assert_eq!(ratios, [0.01, 0.02, 0.03, 0.04]);
    assert_eq!(drift["weeks"][0]["start"].as_u64(), Some(MONDAY));
    // Checked once a week: the next run finds the check done.
    assert_eq!(world.tick(monday + 91 * 60).weekly.drifts, None);
}

#[test]
fn the_weekly_digest_is_sent_once_at_its_hour_with_the_week_its_changes_its_drifts_and_unclassified_replies() {
    let world = World::new(config(&[("DIGEST_TO", "weekly@bw.example")]));
    simulate(&world, 0..35);
    let monday = MONDAY + 35 * DAY;
    world.tick(monday + 90 * 60);
    let before = world.notifier.requests.borrow().len();
    assert!(!world.tick(monday + 7 * 3600 + 59 * 60).weekly.digest_sent, "not before 08:00");
    let report = world.tick(monday + 8 * 3600);
    assert!(report.weekly.digest_sent, "{report:?}");
    assert!(!world.tick(monday + 8 * 3600 + 60).weekly.digest_sent, "once a week");
    let requests = world.notifier.requests.borrow();
    assert_eq!(requests.len(), before + 1);
    let body: Value = serde_json::from_str(&requests[before].body).unwrap();
    assert_eq!(body["to"], serde_json::json!(["weekly@bw.example"]));
    let subject = body["subject"].as_str().unwrap();
    assert!(subject.starts_with("[bouncewatch] weekly digest 2026-11-02 to 2026-11-08"), "{subject}");
    let text = body["text"].as_str().unwrap();
    // The fifth week: rising.example at 5 % against 4 % the week before, drifting since four weeks.
    for expected in [
        "rising.example: 140 451s in 2800 attempts, 451 ratio 5 % (+1 pp",
        "flat.example",
        "unexpected condition",
        "2 % → 3 % → 4 % → 5 %",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
}
