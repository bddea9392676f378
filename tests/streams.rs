//! Sending dimensions through the storage path (issue 14): counted per bucket by the counting objects,
//! summed over buckets, pages and shards, and shown in `/api/alerts`, `/api/domains/{domain}` and
//! `/api/streams`.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::event::{EventKind, NormalizedEvent, Sending};
use common::World;
use serde_json::Value;

const NOW: u64 = 1_700_000_000;
const IPS: [&str; 3] = ["198.51.100.7", "198.51.100.8", "198.51.100.9"];

fn sent(ip: Option<&str>, tag: Option<&str>) -> Sending {
    Sending {
        sending_ip: ip.map(|ip| ip.parse().expect("a test IP")),
        tags: tag.into_iter().collect(),
        ..Sending::default()
    }
}

/// `delivered` deliveries and `deferred` 451s to `domain` at `at`, all sent with `sending`.
fn traffic(domain: &str, at: u64, delivered: usize, deferred: usize, sending: &Sending) -> Vec<NormalizedEvent> {
    let kinds = std::iter::repeat_n((EventKind::Delivered, None), delivered)
        .chain(std::iter::repeat_n((EventKind::Deferred, Some(Category::PolicyRejected)), deferred));
    kinds
        .enumerate()
        .map(|(i, (kind, category))| {
            let mut event = common::synthetic_event(domain, kind, at, category);
            let ip = sending.sending_ip.map(|ip| ip.to_string()).unwrap_or_default();
            let tags: Vec<&str> = sending.tags.iter().collect();
            event.event_id = format!("{}-{i}-{ip}-{}", event.event_id, tags.join(","));
            event.sending = sending.clone();
            event
        })
        .collect()
}

/// Alerts go to a webhook, so that the tests can read what the message says.
fn alerting() -> Config {
    Config::from_pairs([("ALERT_WEBHOOK_URL", "https://hooks.example/alerts")])
}

/// The body of the last alert message posted (JSON: the message's text in it, escaped).
fn last_message(world: &World) -> String {
    world.notifier.requests.borrow().last().expect("an alert was sent").body.clone()
}

fn get(world: &World, url: &str, now: u64) -> Value {
    let response = world.get(url, now);
    assert_eq!(response.status, 200, "{url}: {}", String::from_utf8_lossy(&response.body));
    response.json_body()
}

/// Six quiet hours on gmail.com and outlook.com over three IPs, then ten minutes of a gmail.com spike:
/// each minute 20 attempts from each IP, `per_ip(ip)` of them 451s, with `tag_of(ip)` as its tag.
fn scenario(config: Config, per_ip: impl Fn(usize) -> usize, tag_of: impl Fn(usize) -> Option<&'static str>) -> World {
    let world = World::new(config);
    for i in 4..72 {
        let at = NOW - i * 300;
        let mut events = Vec::new();
        for (n, ip) in IPS.iter().enumerate() {
            events.extend(traffic("gmail.com", at, 10, 0, &sent(Some(ip), tag_of(n))));
            events.extend(traffic("outlook.com", at, 10, 0, &sent(Some(ip), tag_of(n))));
        }
        world.apply(&events, NOW);
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        let mut events = Vec::new();
        for (n, ip) in IPS.iter().enumerate() {
            // Every IP sends the same mail; only where the 451s fall differs.
            events.extend(traffic("gmail.com", at, 20 - per_ip(n), per_ip(n), &sent(Some(ip), tag_of(n))));
            events.extend(traffic("outlook.com", at, 4, 0, &sent(Some(ip), tag_of(n))));
        }
        world.apply(&events, NOW);
    }
    world
}

fn alert_on<'a>(alerts: &'a Value, domain: &str) -> &'a Value {
    alerts["active"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["domain"] == domain))
        .unwrap_or_else(|| panic!("{alerts}"))
}

#[test]
fn ninety_percent_of_the_451s_from_one_of_three_ips_the_alert_detail_and_streams_name_it() {
    // 9 of every 10 451s from the first IP.
    let world = scenario(alerting(), |n| [18, 1, 1][n], |_| Some("newsletter"));
    world.tick(NOW);
    world.tick(NOW + 60);
    let now = NOW + 60;

    let alerts = get(&world, "/api/alerts", now);
    let alert = alert_on(&alerts, "gmail.com");
    let top = &alert["breakdown"]["sending_ip"][0];
    assert_eq!(
        (top["value"].as_str(), top["smtp_451"].as_u64(), top["share"].as_f64()),
        (Some(IPS[0]), Some(180), Some(0.9)),
        "{alert}"
    );
    assert_eq!(alert["breakdown"]["sending_ip"].as_array().map(Vec::len), Some(3));
    let sentence = alert["concentration"].as_str().expect("a concentration sentence");
    assert!(sentence.starts_with("90 % of the 451s came from sending IP 198.51.100.7"), "{sentence}");
    assert!(sentence.contains("check that IP's reputation"), "{sentence}");
    let message = last_message(&world);
    assert!(message.contains("90 % of the 451s came from sending IP 198.51.100.7 (33 % of the attempts)"), "{message}");

    let detail = get(&world, "/api/domains/gmail.com?window=15m", now);
    assert_eq!(detail["breakdown"]["sending_ip"][0]["value"], IPS[0]);
    assert_eq!(detail["concentration"], alert["concentration"], "the same window, the same words");
    assert_eq!(detail["breakdown"]["tag"][0]["value"], "newsletter");

    let streams = get(&world, "/api/streams?window=15m", now);
    assert_eq!(streams["window"], "15m");
    assert_eq!((streams["smtp_451"].as_u64(), streams["attempts"].as_u64()), (Some(200), Some(720)), "{streams}");
    let first = &streams["sending_ip"][0];
    assert_eq!(
        (first["value"].as_str(), first["smtp_451"].as_u64(), first["attempts"].as_u64()),
        (Some(IPS[0]), Some(180), Some(240))
    );
    assert_eq!(streams["tag"][0]["attempts"], 720, "every attempt of both domains carried the tag");
    assert_eq!(streams["other"], serde_json::json!({}));
}

#[test]
fn a_spike_spread_over_the_ips_but_on_one_tag_names_the_tag() {
    // Each IP sends half its mail tagged campaign:spring and every one of its 451s comes from that half:
    // the IPs are even, the tag stands out.
    let world = World::new(Config::new());
    for i in 4..72 {
        let at = NOW - i * 300;
        for ip in IPS {
            world.apply(&traffic("gmail.com", at, 10, 0, &sent(Some(ip), Some("campaign:autumn"))), NOW);
        }
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        for ip in IPS {
            world.apply(&traffic("gmail.com", at, 2, 6, &sent(Some(ip), Some("campaign:spring"))), NOW);
            world.apply(&traffic("gmail.com", at, 8, 0, &sent(Some(ip), Some("campaign:autumn"))), NOW);
        }
    }
    world.tick(NOW);
    world.tick(NOW + 60);
    let alerts = get(&world, "/api/alerts", NOW + 60);
    let alert = alert_on(&alerts, "gmail.com");
    let sentence = alert["concentration"].as_str().expect("a sentence");
    assert!(
        sentence.starts_with("100 % of the 451s came from tag campaign:spring (50 % of the attempts)"),
        "{sentence}"
    );
    assert!(sentence.contains("check that campaign's content and list"), "{sentence}");
    let shares: Vec<f64> =
        alert["breakdown"]["sending_ip"].as_array().unwrap().iter().map(|v| v["share"].as_f64().unwrap()).collect();
    assert_eq!(shares, [0.3333, 0.3333, 0.3333], "{alert}");
}

#[test]
fn a_spike_without_dimensions_has_no_breakdown_and_no_error() {
    let world = World::new(alerting());
    for i in 4..72 {
        world.apply(&traffic("gmail.com", NOW - i * 300, 20, 0, &Sending::default()), NOW);
    }
    for minute in 0..10 {
        world.apply(&traffic("gmail.com", NOW - 600 + minute * 60, 10, 6, &Sending::default()), NOW);
    }
    world.tick(NOW);
    world.tick(NOW + 60);
    let alerts = get(&world, "/api/alerts", NOW + 60);
    let alert = alert_on(&alerts, "gmail.com");
    assert_eq!(alert["state"], "firing");
    assert!(alert.get("breakdown").is_none() && alert.get("concentration").is_none(), "{alert}");
    let detail = get(&world, "/api/domains/gmail.com?window=1h", NOW + 60);
    assert!(detail.get("breakdown").is_none(), "{detail}");
    let streams = get(&world, "/api/streams?window=1h", NOW + 60);
    assert_eq!(streams["smtp_451"], 60);
    assert_eq!(streams["sending_ip"], serde_json::json!([]));
    assert!(!last_message(&world).contains("Where the 451s came from"));
}

#[test]
fn pages_shards_and_objects_sum_the_streams_alike() {
    let config = Config::from_pairs([("COUNTER_SHARDS", "2")]);
    let world = scenario(config, |n| [6, 3, 1][n], |n| Some(["a", "b", "c"][n]));
    let from_objects = get(&world, "/api/streams?window=24h", NOW);
    world.tick(NOW);
    world.tick(NOW + 60);
    let gets = world.kv.ops().gets;
    let from_pages = get(&world, "/api/streams?window=24h", NOW + 60);
    assert!(world.kv.ops().gets > gets, "settled hours are read from KV");
    assert_eq!(from_pages, from_objects);
    // 68 quiet points of 3 IPs × 20 attempts, then 10 minutes of 3 IPs × (20 on gmail.com + 4 on outlook.com).
    assert_eq!(from_pages["attempts"], 68 * 60 + 10 * 3 * 24);
    let tags: Vec<(&str, u64)> = from_pages["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["value"].as_str().unwrap(), v["smtp_451"].as_u64().unwrap()))
        .collect();
    assert_eq!(tags, [("a", 60), ("b", 30), ("c", 10)]);
}

#[test]
fn thousands_of_tags_on_one_domain_keep_each_bucket_bounded_and_the_totals_exact() {
    let world = World::new(Config::new());
    let events: Vec<NormalizedEvent> = (0..2_000)
        .flat_map(|i| {
            traffic("gmail.com", NOW - 60, 0, 1, &sent(None, Some(&format!("t{i}")))).into_iter().map(move |mut e| {
                e.event_id = format!("tag-{i}");
                e
            })
        })
        .collect();
    assert_eq!(world.apply(&events, NOW).accepted, 2_000);
    let streams = get(&world, "/api/streams?window=15m", NOW);
    assert_eq!(streams["tag"].as_array().map(Vec::len), Some(bouncewatch::breakdown::MAX_VALUES));
    let named: u64 = streams["tag"].as_array().unwrap().iter().map(|v| v["smtp_451"].as_u64().unwrap()).sum();
    assert_eq!(named + streams["other"]["tag"]["smtp_451"].as_u64().unwrap(), 2_000);
}

#[test]
fn hour_pages_sum_the_dimensions_per_bucket_and_a_domain_reads_its_own_from_its_object() {
    use bouncewatch::store::Store;
    let world = scenario(Config::new(), |n| [18, 1, 1][n], |n| Some(["a", "b", "c"][n]));
    let from_objects = get(&world, "/api/domains/gmail.com?window=24h", NOW);
    world.tick(NOW);
    world.tick(NOW + 60);

    let pages: Vec<Value> = world
        .kv
        .keys()
        .iter()
        .filter(|k| k.starts_with("page:"))
        .map(|k| serde_json::from_str(&pollster::block_on(world.kv.get(k)).unwrap().unwrap()).unwrap())
        .collect();
    assert!(!pages.is_empty());
    for page in &pages {
        for domains in page["buckets"].as_object().unwrap().values() {
            assert!(domains.as_object().unwrap().values().all(|c| c.get("st").is_none()), "{page}");
        }
        for (bucket, streams) in page["st"].as_object().expect("the head part sums each bucket's dimensions") {
            // Both domains' mail from the same three IPs: three values, not six.
            assert_eq!(streams["ip"].as_object().map(|ips| ips.len()), Some(3), "{bucket}: {streams}");
        }
    }

    let gets = world.kv.ops().gets;
    let from_rows = get(&world, "/api/domains/gmail.com?window=24h", NOW + 60);
    assert_eq!(world.kv.ops().gets, gets, "a domain's hours come from its rows, settled or not");
    assert_eq!(from_rows["breakdown"], from_objects["breakdown"]);
    assert_eq!(from_rows["concentration"], from_objects["concentration"]);
    assert_eq!(from_rows["breakdown"]["sending_ip"][0]["value"], IPS[0]);
}

#[test]
fn the_dimensions_of_a_group_of_domains_are_their_sum() {
    use bouncewatch::counters::Window;
    use bouncewatch::counting::read::counts_of_domains;
    use bouncewatch::settings::Settings;
    let config = Config::from_pairs([("COUNTER_SHARDS", "2")]);
    let world = scenario(config.clone(), |n| [6, 3, 1][n], |n| Some(["a", "b", "c"][n]));
    world.tick(NOW);
    world.tick(NOW + 60);
    let settings = Settings::from_config(&config).unwrap();
    let group = world
        .with_counter(NOW + 60, |counter| {
            pollster::block_on(counts_of_domains(
                counter,
                &settings,
                Window::Hours24,
                NOW + 60,
                ["gmail.com", "outlook.com"],
            ))
        })
        .unwrap()
        .dimensions();
    let streams = get(&world, "/api/streams?window=24h", NOW + 60);
    assert_eq!((group.attempts, group.smtp_451), (streams["attempts"].as_u64().unwrap(), 100));
    let tag_a = group.streams.tag.values().find(|(v, _)| *v == "a").map(|(_, t)| t.smtp_451);
    assert_eq!(tag_a, Some(60));
    let gmail = world
        .with_counter(NOW + 60, |counter| {
            pollster::block_on(counts_of_domains(counter, &settings, Window::Hours24, NOW + 60, ["gmail.com"]))
        })
        .unwrap()
        .dimensions();
    assert_eq!(gmail.smtp_451, 100);
    assert!(gmail.attempts < group.attempts, "outlook.com's attempts are in the group's only");
}
