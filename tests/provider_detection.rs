//! Issue 13 end to end in process: webhooks counted by the counting objects, MX looked up by the cron
//! over a [`MemoryResolver`], providers detected from their domains' counts, alerts and the API.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::event::{EventKind, NormalizedEvent};
use bouncewatch::provider::{DohError, Mx, MxAnswer, MxRecord};
use common::World;
use serde_json::Value;

const NOW: u64 = 1_700_000_000;

fn traffic(domain: &str, at: u64, delivered: usize, deferred: usize) -> Vec<NormalizedEvent> {
    let kinds = std::iter::repeat_n((EventKind::Delivered, None), delivered)
        .chain(std::iter::repeat_n((EventKind::Deferred, Some(Category::RateLimited)), deferred));
    kinds
        .enumerate()
        .map(|(i, (kind, category))| {
            let mut event = common::synthetic_event(domain, kind, at, category);
            event.event_id = format!("{}-{i}", event.event_id);
            event
        })
        .collect()
}

fn mx(domain: &str, exchange: &str) -> Result<MxAnswer, DohError> {
    let records = vec![MxRecord { preference: 0, exchange: exchange.into() }];
    Ok(MxAnswer { domain: domain.into(), mx: Mx::Exchanges(records), ttl: 3600 })
}

fn microsoft_hosted() -> Vec<String> {
    (0..40).map(|n| format!("corp{n:02}.example")).collect()
}

fn google_hosted() -> Vec<String> {
    (0..10).map(|n| format!("gcorp{n:02}.example")).collect()
}

fn get(world: &World, url: &str, now: u64) -> Value {
    let response = world.get(url, now);
    assert_eq!(response.status, 200, "{url}: {}", String::from_utf8_lossy(&response.body));
    response.json_body()
}

/// Two quiet hours, the cron resolving every hosted domain, then ten minutes in which Microsoft defers
/// a third of the mail on 40 hosted domains, outlook.com and hotmail.com: 5 451s each, a quarter of the
/// 20-451 floor.
fn microsoft_throttle() -> World {
    let world = World::new(Config::from_pairs([
        ("DOH_LOOKUPS_PER_RUN", "40"),
        ("ALERT_WEBHOOK_URL", "https://hooks.example/alerts"),
    ]));
    let mut microsoft = microsoft_hosted();
    for domain in &microsoft {
        world.resolver.set(domain, mx(domain, &format!("{}.mail.protection.outlook.com", domain.replace('.', "-"))));
    }
    for domain in google_hosted() {
        world.resolver.set(&domain, mx(&domain, "aspmx.l.google.com"));
    }
    microsoft.extend(["outlook.com".to_owned(), "hotmail.com".to_owned()]);
    let everyone: Vec<String> = microsoft.iter().cloned().chain(google_hosted()).collect();
    for i in (4..24).rev() {
        let at = NOW - i * 300;
        let events: Vec<NormalizedEvent> = everyone.iter().flat_map(|d| traffic(d, at, 10, 0)).collect();
        world.apply(&events, at);
        world.tick(at + 60);
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        let mut events: Vec<NormalizedEvent> = Vec::new();
        for domain in &microsoft {
            // 5 451s per domain over the ten minutes, among 10 deliveries.
            events.extend(traffic(domain, at, 1, usize::from(minute % 2 == 0)));
        }
        for domain in google_hosted() {
            events.extend(traffic(&domain, at, 2, 0));
        }
        world.apply(&events, at);
    }
    world
}

#[test]
fn forty_hosted_domains_and_two_consumer_ones_each_below_the_floor_are_one_microsoft_alert() {
    let world = microsoft_throttle();
    let before = world.notifier.requests.borrow().len();
    world.tick(NOW);
    world.tick(NOW + 60);
    let alerts = get(&world, "/api/alerts", NOW + 60);
    let active = alerts["active"].as_array().unwrap();
    assert_eq!(active.len(), 1, "one provider alert and no domain alert: {alerts}");
    let alert = &active[0];
    assert_eq!((alert["scope"].as_str(), alert["provider"].as_str()), (Some("provider"), Some("microsoft")));
    assert_eq!((alert["state"].as_str(), alert["domain_count"].as_u64()), (Some("firing"), Some(42)));
    assert_eq!(alert["smtp_451"], 42 * 5);
    let named: Vec<&str> = alert["domains"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert!(named.contains(&"outlook.com") && named.contains(&"hotmail.com") && named.len() == 42, "{named:?}");

    let sent = world.notifier.requests.borrow();
    assert_eq!(sent.len() - before, 1, "one notification");
    let body = sent[before].body.clone();
    assert!(body.contains("Microsoft (hotmail.com, outlook.com and 40 hosted domains): 451 deferrals 33 %"), "{body}");

    let providers = get(&world, "/api/providers?window=1h", NOW + 60);
    let by_id = |id: &str| providers["providers"].as_array().unwrap().iter().find(|p| p["provider"] == id).cloned();
    let ms = by_id("microsoft").expect("microsoft listed");
    assert_eq!((ms["domains"].as_u64(), ms["status"].as_str()), (Some(42), Some("firing")));
    let google = by_id("google").expect("google listed");
    assert_eq!(
        (google["domains"].as_u64(), google["status"].as_str(), google["smtp_451"].as_u64()),
        (Some(10), Some("ok"), Some(0))
    );

    let domains = get(&world, "/api/domains?window=1h&limit=1000", NOW + 60);
    let row = domains["domains"].as_array().unwrap().iter().find(|d| d["domain"] == "corp07.example").cloned().unwrap();
    assert_eq!(row["provider"], "microsoft");

    let metrics = String::from_utf8(world.get("/metrics", NOW + 60).body).unwrap();
    for line in [
        r#"bouncewatch_alert_state{scope="provider",provider="microsoft",state="firing"} 1"#,
        r#"bouncewatch_window_smtp_451{scope="provider",provider="microsoft"} 210"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing from\n{metrics}");
    }

    let page = get(&world, "/api/providers/microsoft?window=1h", NOW + 60);
    assert_eq!(page["provider"], "microsoft");
    assert_eq!(page["buckets"].as_array().unwrap().iter().map(|b| b["smtp_451"].as_u64().unwrap()).sum::<u64>(), 210);
    assert_eq!(page["top_domains"].as_array().unwrap()[0]["provider"], Value::Null, "rows name domains only");
}

#[test]
fn failing_and_null_mx_look_ups_keep_domains_out_of_any_provider_and_are_retried_later() {
    let world = World::new(Config::from_pairs([("DOH_LOOKUPS_PER_RUN", "40")]));
    world.resolver.set("flaky.example", Err(DohError::ServFail));
    world.resolver.set("slow.example", Err(DohError::Fetch("no whole answer within 3 s".into())));
    world.resolver.set("huge.example", Err(DohError::TooLarge(70_000)));
    world.resolver.set("parked.example", Ok(MxAnswer { domain: "parked.example".into(), mx: Mx::Null, ttl: 3600 }));
    let events: Vec<NormalizedEvent> =
        ["flaky.example", "slow.example", "huge.example", "parked.example", "gone.example"]
            .iter()
            .flat_map(|d| traffic(d, NOW - 60, 3, 1))
            .collect();
    world.apply(&events, NOW);
    let report = world.tick(NOW);
    let lookups = &report.upkeep[0].lookups;
    assert_eq!((lookups.looked_up, lookups.failed), (5, 3), "{report:?}");
    assert!(
        lookups.errors.iter().any(|e| e.starts_with("flaky.example: ") && e.contains("SERVFAIL")),
        "{:?}",
        lookups.errors
    );
    // Backing off: nothing is due a minute later.
    assert_eq!(world.tick(NOW + 60).upkeep[0].lookups.looked_up, 0);
    assert_eq!(world.tick(NOW + 301).upkeep[0].lookups.looked_up, 3, "the three failures, retried after 5 minutes");

    let domains = get(&world, "/api/domains?window=1h", NOW + 301);
    let provider = |d: &str| {
        domains["domains"].as_array().unwrap().iter().find(|r| r["domain"] == d).map(|r| r["provider"].clone()).unwrap()
    };
    assert_eq!(provider("parked.example"), "no_mail");
    assert_eq!(provider("gone.example"), "unknown", "NXDOMAIN names no provider");
    assert_eq!(provider("flaky.example"), "unknown");
}

#[test]
fn a_provider_page_takes_only_provider_ids_and_only_get() {
    let world = World::new(Config::new());
    for id in ["Microsoft", "other:", "other:Example.com", "microsoft%20"] {
        let response = world.get(&format!("/api/providers/{id}"), NOW);
        assert_eq!(response.status, 400, "{id}");
        assert!(String::from_utf8_lossy(&response.body).contains("`provider`"), "{id}");
    }
    for id in ["microsoft", "unknown", "no_mail", "other:example-hosting.net", "other%3Aexample-hosting.net"] {
        let page = get(&world, &format!("/api/providers/{id}"), NOW);
        assert_eq!((page["domains"].as_u64(), page["buckets"].clone()), (Some(0), serde_json::json!([])), "{id}");
    }
    for path in ["/api/providers", "/api/providers/google"] {
        let req = bouncewatch::http::HttpRequest::new(bouncewatch::http::Method::Post, &format!("http://h{path}"));
        let response = world.send(&req, NOW, &bouncewatch::esp::NoFetch);
        assert_eq!((response.status, response.header("allow")), (405, Some("GET, HEAD, OPTIONS")), "{path}");
        let head = bouncewatch::http::HttpRequest::new(bouncewatch::http::Method::Head, &format!("http://h{path}"));
        let response = world.send(&head, NOW, &bouncewatch::esp::NoFetch);
        assert_eq!((response.status, response.body.len()), (200, 0), "{path}");
    }
}

/// Microsoft's own deferral, as Exchange Online words it (`provider_replies.tsv`, Outlook.com rows).
const MICROSOFT_451: &str =
    "451 4.7.500 Server busy. Please try again later from [192.0.2.2]. (S77714) [AM4PEPF00027A5F.eurprd04.prod.protection.outlook.com]";

#[test]
fn hosted_domains_whose_deferrals_carry_microsoft_s_signature_are_one_microsoft_alert_with_no_mx_look_up() {
    // No look-up at all: the replies alone must file the domains under Microsoft.
    let world = World::new(Config::from_pairs([("DOH_LOOKUPS_PER_RUN", "0")]));
    let hosted = microsoft_hosted();
    for i in (4..24).rev() {
        let at = NOW - i * 300;
        world.apply(&hosted.iter().flat_map(|d| traffic(d, at, 10, 0)).collect::<Vec<_>>(), at);
        world.tick(at + 60);
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        let mut events = Vec::new();
        for domain in &hosted {
            let mut batch = traffic(domain, at, 1, usize::from(minute % 2 == 0));
            for event in batch.iter_mut().filter(|e| e.kind == EventKind::Deferred) {
                let verdict = bouncewatch::classify::classify(MICROSOFT_451);
                (event.reply, event.category, event.rule) =
                    (Some(MICROSOFT_451.into()), Some(verdict.category), Some(verdict.rule));
            }
            events.extend(batch);
        }
        world.apply(&events, at);
    }
    world.tick(NOW);
    let alerts = get(&world, "/api/alerts", NOW);
    let active = alerts["active"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{alerts}");
    assert_eq!((active[0]["provider"].as_str(), active[0]["domain_count"].as_u64()), (Some("microsoft"), Some(40)));

    let domains = get(&world, "/api/domains?window=1h&limit=1000", NOW);
    assert!(domains["domains"].as_array().unwrap().iter().all(|d| d["provider"] == "microsoft"), "{domains}");
    use bouncewatch::sql::Sql;
    let reasons: Vec<String> = world
        .objects
        .iter()
        .flat_map(|o| o.exec("SELECT DISTINCT reason FROM providers", &[]).unwrap())
        .map(|row| row[0].as_text().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, [r#"{"kind":"reply_signature"}"#], "the reason is kept with the provider");
}

/// Gmail's throttle (`421-4.7.28`), which no 451 detector sees: ten quiet hours, then 30 of them in ten
/// minutes among 100 deliveries on gmail.com.
fn gmail_421_throttle(spike_codes: Option<&str>) -> World {
    let config = Config::from_pairs(spike_codes.map(|codes| ("SPIKE_CODES", codes)));
    let world = World::new(config);
    for i in (4..24).rev() {
        let at = NOW - i * 300;
        world.apply(&traffic("gmail.com", at, 10, 0), at);
        world.tick(at + 60);
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        let mut events = traffic("gmail.com", at, 10, 3);
        for event in events.iter_mut().filter(|e| e.kind == EventKind::Deferred) {
            event.smtp_code = Some(421);
        }
        world.apply(&events, at);
    }
    world.tick(NOW);
    world.tick(NOW + 60);
    world
}

#[test]
fn gmail_s_421_throttle_alerts_only_when_spike_codes_watches_421() {
    let quiet = get(&gmail_421_throttle(None), "/api/alerts", NOW + 60);
    assert_eq!(quiet["active"], serde_json::json!([]), "451 alone by default");

    for codes in ["451,421", "deferrals"] {
        let world = gmail_421_throttle(Some(codes));
        let alerts = get(&world, "/api/alerts", NOW + 60);
        let alert = &alerts["active"][0];
        assert_eq!(
            (alert["domain"].as_str(), alert["state"].as_str()),
            (Some("gmail.com"), Some("firing")),
            "{codes}: {alerts}"
        );
        assert_eq!((alert["smtp_451"].as_u64(), alert["deferrals_watched"].as_u64()), (Some(0), Some(30)), "{codes}");
        let row = get(&world, "/api/domains?window=1h", NOW + 60)["domains"][0].clone();
        assert_eq!((row["smtp_451"].as_u64(), row["deferrals_watched"].as_u64()), (Some(0), Some(30)), "{codes}");
        let google = get(&world, "/api/providers?window=1h", NOW + 60)["providers"][0].clone();
        assert_eq!((google["provider"].as_str(), google["deferrals_watched"].as_u64()), (Some("google"), Some(30)));
    }
}

#[test]
fn the_domains_table_reads_the_providers_of_the_rows_it_shows_only() {
    let world = microsoft_throttle();
    let rows_read = |url: &str| {
        let before = world.sql_ops().rows_read;
        get(&world, url, NOW);
        world.sql_ops().rows_read - before
    };
    let (one, all) = (rows_read("/api/domains?window=1h&limit=1"), rows_read("/api/domains?window=1h&limit=1000"));
    // 52 domains, 50 of them stored (the consumer ones are not): one provider row per hosted domain shown.
    assert_eq!(all - one, 49, "one row: {one}, all: {all}");
}

#[test]
fn a_provider_page_says_which_sending_ip_its_domains_451s_came_from() {
    let world = World::new(Config::from_pairs([("DOH_LOOKUPS_PER_RUN", "40")]));
    let hosted = ["corp01.example", "corp02.example"];
    for domain in hosted {
        world.resolver.set(domain, mx(domain, "corp-example.mail.protection.outlook.com"));
    }
    world.apply(&hosted.iter().flat_map(|d| traffic(d, NOW - 900, 1, 0)).collect::<Vec<_>>(), NOW - 900);
    world.tick(NOW - 840);
    let mut events = Vec::new();
    for (domain, ip) in [(hosted[0], "198.51.100.7"), (hosted[1], "198.51.100.7"), ("outlook.com", "203.0.113.9")] {
        for mut event in traffic(domain, NOW - 60, 2, 3) {
            event.sending.sending_ip =
                Some(if event.kind == EventKind::Deferred { ip } else { "203.0.113.9" }.parse().unwrap());
            events.push(event);
        }
    }
    world.apply(&events, NOW);
    let page = get(&world, "/api/providers/microsoft?window=1h", NOW);
    let ips = &page["breakdown"]["sending_ip"];
    assert_eq!((ips[0]["value"].as_str(), ips[0]["smtp_451"].as_u64()), (Some("198.51.100.7"), Some(6)), "{page}");
    assert_eq!((ips[1]["value"].as_str(), ips[1]["smtp_451"].as_u64()), (Some("203.0.113.9"), Some(3)), "{page}");
}

/// Microsoft deferring `hosted` domains (5 451s each in ten minutes, among 10 deliveries) after two
/// quiet hours, as in [`microsoft_throttle`], with no cron run before `NOW`; `signed`, with Microsoft's
/// reply (which files them without a look-up).
fn throttle_unseen(world: &World, hosted: &[String], signed: bool) {
    for domain in hosted {
        world.resolver.set(domain, mx(domain, &format!("{}.mail.protection.outlook.com", domain.replace('.', "-"))));
    }
    for i in (4..24).rev() {
        let at = NOW - i * 300;
        world.apply(&hosted.iter().flat_map(|d| traffic(d, at, 10, 0)).collect::<Vec<_>>(), at);
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        let mut events: Vec<NormalizedEvent> =
            hosted.iter().flat_map(|d| traffic(d, at, 1, usize::from(minute % 2 == 0))).collect();
        for event in events.iter_mut().filter(|e| signed && e.kind == EventKind::Deferred) {
            let verdict = bouncewatch::classify::classify(MICROSOFT_451);
            (event.reply, event.category, event.rule) =
                (Some(MICROSOFT_451.into()), Some(verdict.category), Some(verdict.rule));
        }
        world.apply(&events, at);
    }
}

#[test]
fn domains_first_seen_this_hour_and_resolved_by_the_run_alert_in_that_same_run() {
    // The run publishes first (they are `unknown` then, so no provider holds them), then looks them up:
    // their recent hours are folded into Microsoft's sums before the detector reads them.
    let world = World::new(Config::from_pairs([("DOH_LOOKUPS_PER_RUN", "40")]));
    throttle_unseen(&world, &microsoft_hosted(), false);
    let report = world.tick(NOW);
    assert_eq!(report.upkeep.iter().map(|u| u.lookups.looked_up).sum::<u32>(), 40);
    let alerts = get(&world, "/api/alerts", NOW);
    let active = alerts["active"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{alerts}");
    assert_eq!((active[0]["provider"].as_str(), active[0]["domain_count"].as_u64()), (Some("microsoft"), Some(40)));
    assert_eq!(active[0]["smtp_451"], 40 * 5);
}

#[test]
fn a_cron_run_reads_the_same_rows_for_a_provider_of_40_domains_as_for_one_of_400() {
    // Between publishes, a run reads a provider's sums (a row per hour), never its domains' rows.
    let rows_read = |count: usize| {
        let world = World::new(Config::from_pairs([("DOH_LOOKUPS_PER_RUN", "0")]));
        let hosted: Vec<String> = (0..count).map(|n| format!("corp{n:03}.example")).collect();
        throttle_unseen(&world, &hosted, true);
        world.tick(NOW);
        assert_eq!(get(&world, "/api/alerts", NOW)["active"][0]["domain_count"].as_u64(), Some(count as u64));
        // A minute on: no publish is due, the provider is tracked with its alert open.
        let before = world.sql_ops().rows_read;
        let report = world.tick(NOW + 60);
        assert!(report.upkeep.iter().all(|u| !u.publish.ran), "{report:?}");
        assert_eq!(report.active_alerts, 1, "{report:?}");
        world.sql_ops().rows_read - before
    };
    let (small, large) = (rows_read(40), rows_read(400));
    eprintln!("rows read by a run between publishes: 40 domains {small}, 400 domains {large}");
    assert!(large <= small + 20, "40 domains: {small} rows read, 400 domains: {large}");
}

#[test]
fn a_domain_that_moves_to_another_provider_is_summed_under_the_new_one_only_once_its_hours_are_published() {
    use bouncewatch::sql::Sql;
    let world = World::new(Config::from_pairs([("DOH_LOOKUPS_PER_RUN", "40")]));
    world.resolver.set("moving.example", mx("moving.example", "aspmx.l.google.com"));
    world.apply(&traffic("moving.example", NOW - 120, 4, 0), NOW - 120);
    world.tick(NOW - 60);
    let sums = |world: &World| -> Vec<(String, String)> {
        world
            .objects
            .iter()
            .flat_map(|o| o.exec("SELECT provider, sum FROM provider_sums", &[]).unwrap())
            .map(|row| (row[0].as_text().unwrap().to_owned(), row[1].as_text().unwrap().to_owned()))
            .collect()
    };
    let google = sums(&world);
    assert_eq!(google.len(), 1, "{google:?}");
    assert_eq!(google[0].0, "google");
    assert!(google[0].1.contains("moving.example"), "{google:?}");

    // A deferral signed by Microsoft files it there: its hours are published again.
    let mut signed = traffic("moving.example", NOW - 30, 0, 1);
    let verdict = bouncewatch::classify::classify(MICROSOFT_451);
    (signed[0].reply, signed[0].category, signed[0].rule) =
        (Some(MICROSOFT_451.into()), Some(verdict.category), Some(verdict.rule));
    world.apply(&signed, NOW);
    let moved = sums(&world);
    assert!(moved.iter().any(|(p, s)| p == "microsoft" && s.contains("moving.example")), "{moved:?}");
    world.tick(NOW + 301);
    let after = sums(&world);
    assert_eq!(after.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["microsoft"], "{after:?}");
}

#[test]
fn a_domain_with_no_counts_left_in_the_retention_is_forgotten_when_due_and_a_busy_one_looked_up_again() {
    use bouncewatch::sql::Sql;
    // The default retention, 8 days: 193 hours to ask about, more than one statement binds.
    let world = World::new(Config::from_pairs([("DOH_LOOKUPS_PER_RUN", "40")]));
    for domain in ["quiet.example", "busy.example"] {
        world.resolver.set(domain, mx(domain, "aspmx.l.google.com"));
        world.apply(&traffic(domain, NOW, 2, 0), NOW);
    }
    assert_eq!(world.tick(NOW + 60).upkeep.iter().map(|u| u.lookups.looked_up).sum::<u32>(), 2);
    // Only busy.example is mailed again, 150 hours before the run of day nine (so its counts are in the
    // second statement's hours); both answers (kept a day) are due by then, and quiet.example's counts
    // have left the retention.
    let later = NOW + 9 * 86_400 - 150 * 3600;
    world.apply(&traffic("busy.example", later, 2, 0), later);
    let report = world.tick(NOW + 9 * 86_400 + 120);
    let lookups: Vec<_> = report.upkeep.iter().map(|u| &u.lookups).collect();
    assert_eq!(lookups.iter().map(|l| l.looked_up).sum::<u32>(), 1, "{lookups:?}");
    assert_eq!(lookups.iter().map(|l| l.forgotten).sum::<u32>(), 1, "{lookups:?}");
    let stored: Vec<String> = world
        .objects
        .iter()
        .flat_map(|o| o.exec("SELECT domain FROM providers", &[]).unwrap())
        .map(|row| row[0].as_text().unwrap().to_owned())
        .collect();
    assert_eq!(stored, ["busy.example"]);
}
