//! docs/grafana-dashboard.json queries only metric families `GET /metrics` exposes, so the dashboard
//! cannot drift from the renderer.

use std::collections::BTreeMap;

use bouncewatch::counters::Counts;
use bouncewatch::detect::{Phase, Severity};
use bouncewatch::metrics::{render, DomainAlert, ObjectStats, Scrape, ShardMetrics};

#[test]
fn every_metric_the_grafana_dashboard_queries_is_exposed() {
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana-dashboard.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    assert_eq!(json["title"], "bouncewatch");
    let mut stats = ObjectStats { last_tick_at: Some(1), ..ObjectStats::default() };
    stats.requests.insert("apply".into(), 1);
    stats.webhook_events.entry("generic".into()).or_default().insert("accepted".into(), 1);
    stats.webhook_requests.entry("generic".into()).or_default().insert("200".into(), 1);
    let alert =
        DomainAlert { phase: Phase::Firing, severity: Some(Severity::Warning), baseline_ratio: 0.0, silenced: false };
    let scrape = Scrape {
        now: 10,
        window_minutes: 15,
        window: BTreeMap::from([("gmail.com".to_owned(), Counts { delivered: 1, ..Counts::default() })]),
        alerts: BTreeMap::from([("gmail.com".to_owned(), alert.clone())]),
        providers: BTreeMap::from([("google".to_owned(), Counts { delivered: 1, ..Counts::default() })]),
        provider_alerts: BTreeMap::from([("google".to_owned(), alert)]),
        shards: vec![ShardMetrics { shard: 0, stats, last_publish_at: 0 }],
    };
    let exposed: Vec<String> = render(&scrape, 10)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect();
    let names = regex_lite::Regex::new(r"bouncewatch_[a-z0-9_]+").unwrap();
    let mut queried = 0;
    for found in names.find_iter(&dashboard) {
        queried += 1;
        assert!(exposed.iter().any(|e| e == found.as_str()), "{} is not exposed", found.as_str());
    }
    assert!(queried >= 12, "{queried}");
}
