use super::*;

fn counts(delivered: u64, deferred_451: u64) -> Counts {
    Counts { delivered, deferred: deferred_451, smtp_451: deferred_451, ..Counts::default() }
}

/// The value of the one sample line that starts with `prefix`.
fn value(text: &str, prefix: &str) -> f64 {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(lines.len(), 1, "{prefix}: {lines:?}");
    lines[0].rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn the_top_n_domains_are_named_and_the_rest_summed_as_other() {
    let window: BTreeMap<String, Counts> = (0..10u64).map(|i| (format!("d{i}.example"), counts(100 + i, i))).collect();
    let text = render(&Scrape { window, window_minutes: 15, ..Scrape::default() }, 3);
    for named in ["d9.example", "d8.example", "d7.example"] {
        assert!(
            text.contains(&format!("bouncewatch_window_smtp_451{{scope=\"domain\",domain=\"{named}\"}}")),
            "{named}"
        );
    }
    assert!(!text.contains("d6.example"));
    assert_eq!(
        value(&text, r#"bouncewatch_window_smtp_451{scope="domain",domain="other"}"#),
        (0..7).sum::<u64>() as f64
    );
    let other_delivered = (100..107).sum::<u64>() as f64;
    assert_eq!(
        value(&text, r#"bouncewatch_window_events{scope="domain",domain="other",kind="delivered"}"#),
        other_delivered
    );
    assert_eq!(value(&text, r#"bouncewatch_domains{scope="domain"}"#), 10.0);
    let ratio = value(&text, r#"bouncewatch_ratio_451{scope="domain",domain="d9.example"}"#);
    assert!((ratio - 9.0 / 118.0).abs() < 1e-12, "{ratio}");
}

#[test]
fn a_hundred_thousand_domains_give_a_bounded_scrape() {
    let window: BTreeMap<String, Counts> =
        (0..100_000u64).map(|i| (format!("d{i}.example"), counts(i % 97, i % 5))).collect();
    let text = render(&Scrape { window, window_minutes: 15, ..Scrape::default() }, DEFAULT_TOP_N);
    let samples = text.lines().filter(|l| !l.starts_with('#')).count();
    // Six series per named domain and "other", a few more for the Worker.
    assert!(samples <= (DEFAULT_TOP_N + 1) * 6 + 10, "{samples} samples");
    assert!(text.len() < 64 * 1024, "{} bytes", text.len());
    assert_eq!(value(&text, r#"bouncewatch_domains{scope="domain"}"#), 100_000.0);
}

#[test]
fn alert_state_severity_and_silence_are_one_hot_series_for_named_domains() {
    let window = BTreeMap::from([("gmail.com".to_owned(), counts(100, 60))]);
    let alerts = BTreeMap::from([
        (
            "gmail.com".to_owned(),
            DomainAlert {
                phase: Phase::Firing,
                severity: Some(Severity::Critical),
                baseline_ratio: 0.01,
                silenced: true,
            },
        ),
        // Tracked but outside the window: not named, so no series.
        (
            "quiet.example".to_owned(),
            DomainAlert { phase: Phase::Ok, severity: None, baseline_ratio: 0.0, silenced: false },
        ),
    ]);
    let text = render(&Scrape { window, alerts, window_minutes: 15, ..Scrape::default() }, 10);
    assert_eq!(value(&text, r#"bouncewatch_alert_state{scope="domain",domain="gmail.com",state="firing"}"#), 1.0);
    assert_eq!(value(&text, r#"bouncewatch_alert_state{scope="domain",domain="gmail.com",state="ok"}"#), 0.0);
    assert_eq!(
        value(&text, r#"bouncewatch_alert_severity{scope="domain",domain="gmail.com",severity="critical"}"#),
        1.0
    );
    assert_eq!(value(&text, r#"bouncewatch_alert_silenced{scope="domain",domain="gmail.com"}"#), 1.0);
    assert_eq!(value(&text, r#"bouncewatch_baseline_ratio_451{scope="domain",domain="gmail.com"}"#), 0.01);
    assert!(!text.contains("quiet.example"));
}

#[test]
fn the_workers_counters_are_totals_per_shard_with_publish_lag_and_last_cron_run() {
    let mut stats = ObjectStats {
        started_at: 900,
        rows_read: 12,
        rows_written: 3,
        kv_puts: 2,
        last_tick_at: Some(990),
        ..ObjectStats::default()
    };
    stats.requests.insert("apply".into(), 5);
    stats.webhook_events.entry("sendgrid".into()).or_default().insert("accepted".into(), 40);
    stats.webhook_requests.entry("sendgrid".into()).or_default().insert("200".into(), 5);
    let scrape =
        Scrape { now: 1000, shards: vec![ShardMetrics { shard: 0, stats, last_publish_at: 940 }], ..Scrape::default() };
    let text = render(&scrape, 10);
    assert!(text.contains("# TYPE bouncewatch_webhook_events_total counter"));
    assert_eq!(value(&text, r#"bouncewatch_webhook_events_total{shard="0",esp="sendgrid",outcome="accepted"}"#), 40.0);
    assert_eq!(value(&text, r#"bouncewatch_webhook_requests_total{shard="0",esp="sendgrid",status="200"}"#), 5.0);
    assert_eq!(value(&text, r#"bouncewatch_do_requests_total{shard="0",op="apply"}"#), 5.0);
    assert_eq!(value(&text, r#"bouncewatch_do_rows_written_total{shard="0"}"#), 3.0);
    assert_eq!(value(&text, r#"bouncewatch_publish_lag_seconds{shard="0"}"#), 60.0);
    assert_eq!(value(&text, "bouncewatch_last_cron_run_timestamp_seconds "), 990.0);
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

#[test]
fn a_webhook_tally_survives_its_header_and_a_malformed_header_costs_nothing() {
    let mut tally = WebhookTally::default();
    tally.add("generic", 200, 19, 1000);
    tally.add("unknown", 404, 1, 1010);
    tally.add("generic", 401, 2, 1020);
    assert_eq!(tally.since, 1000);
    let header = tally.encode();
    assert_eq!(header, "generic 200 19,generic 401 2,unknown 404 1");
    assert_eq!(WebhookTally::decode(&header), tally.counts);
    let hostile = "generic 200 1,Evil\"} 200 5,generic 99 1,generic 200 x,a b c d,,generic 200 2";
    assert_eq!(WebhookTally::decode(hostile), BTreeMap::from([(("generic".to_owned(), 200), 3)]));
    assert!(WebhookTally::decode(&"generic 200 1,".repeat(10_000)).values().all(|&n| n <= 128));
}

#[test]
fn a_tally_put_back_keeps_its_older_answers_time() {
    let mut untold = WebhookTally::default();
    untold.add("sendgrid", 401, 1, 2000);
    let mut sent = WebhookTally::default();
    sent.add("sendgrid", 401, 3, 1500);
    untold.merge(sent);
    assert_eq!(untold.since, 1500);
    assert_eq!(untold.counts, BTreeMap::from([(("sendgrid".to_owned(), 401), 4)]));
}

#[test]
fn answers_handed_to_an_object_are_webhook_requests_by_esp_and_status() {
    let mut stats = ObjectStats::default();
    stats.record_answers("mailgun 200 4,mailgun 413 1");
    stats.record_answers("mailgun 200 1");
    let scrape = Scrape { shards: vec![ShardMetrics { shard: 1, stats, last_publish_at: 0 }], ..Scrape::default() };
    let text = render(&scrape, 10);
    assert_eq!(value(&text, r#"bouncewatch_webhook_requests_total{shard="1",esp="mailgun",status="200"}"#), 5.0);
    assert_eq!(value(&text, r#"bouncewatch_webhook_requests_total{shard="1",esp="mailgun",status="413"}"#), 1.0);
}

#[test]
fn providers_have_their_own_series_beside_the_domains_top_n_and_other_alike() {
    let providers = BTreeMap::from([
        ("microsoft".to_owned(), counts(100, 40)),
        ("google".to_owned(), counts(300, 2)),
        ("other:hosting.example".to_owned(), counts(5, 0)),
    ]);
    let firing =
        DomainAlert { phase: Phase::Firing, severity: Some(Severity::Warning), baseline_ratio: 0.02, silenced: false };
    let provider_alerts = BTreeMap::from([("microsoft".to_owned(), firing)]);
    let scrape = Scrape { providers, provider_alerts, window_minutes: 15, ..Scrape::default() };
    let text = render(&scrape, 2);
    assert_eq!(value(&text, r#"bouncewatch_window_smtp_451{scope="provider",provider="microsoft"}"#), 40.0);
    assert_eq!(value(&text, r#"bouncewatch_window_events{scope="provider",provider="other",kind="delivered"}"#), 5.0);
    assert_eq!(value(&text, r#"bouncewatch_alert_state{scope="provider",provider="microsoft",state="firing"}"#), 1.0);
    assert_eq!(value(&text, r#"bouncewatch_baseline_ratio_451{scope="provider",provider="microsoft"}"#), 0.02);
    assert_eq!(value(&text, r#"bouncewatch_providers{scope="provider"}"#), 3.0);
    // One HELP and TYPE per family, its domain and provider samples together (the format requires it).
    assert_eq!(text.matches("# TYPE bouncewatch_window_smtp_451 ").count(), 1);
}
