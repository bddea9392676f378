//! The read API through `http::handle`, over counts applied by the counting objects and published by the
//! cron: the hours the objects hold and the hour pages in KV must read alike.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::counting::publish::page_key;
use bouncewatch::counting::{self, schema};
use bouncewatch::event::{Esp, EventKind, NormalizedEvent};
use bouncewatch::http::{HttpRequest, HttpResponse, Method};
use bouncewatch::settings::Settings;
use bouncewatch::store::{Put, Store};
use common::World;
use pollster::block_on;
use serde_json::Value;

const NOW: u64 = 1_700_000_000;

/// `delivered` deliveries and `deferred` 451 deferrals of `category` to `domain` at `at`, each with an id
/// of its own (the objects count an id once).
fn traffic(domain: &str, at: u64, delivered: usize, deferred: usize, category: Category) -> Vec<NormalizedEvent> {
    let kinds = std::iter::repeat_n((EventKind::Delivered, None), delivered)
        .chain(std::iter::repeat_n((EventKind::Deferred, Some(category)), deferred));
    kinds
        .enumerate()
        .map(|(i, (kind, category))| {
            let mut event = common::synthetic_event(domain, kind, at, category);
            event.event_id = format!("{}-{i}", event.event_id);
            event
        })
        .collect()
}

fn post(world: &World, events: &[NormalizedEvent], now: u64) {
    assert_eq!(world.apply(events, now).duplicates, 0, "every event of the scenario is new");
}

fn get_with(world: &World, url: &str, now: u64, token: Option<&str>) -> HttpResponse {
    let mut req = HttpRequest::new(Method::Get, &format!("http://h{url}"));
    if let Some(token) = token {
        req = req.with_header("authorization", &format!("Bearer {token}"));
    }
    world.send(&req, now, &bouncewatch::esp::NoFetch)
}

fn get(world: &World, url: &str, now: u64) -> Value {
    let response = world.get(url, now);
    assert_eq!(response.status, 200, "{url}: {}", String::from_utf8_lossy(&response.body));
    response.json_body()
}

/// Six quiet hours for gmail.com and outlook.com, then a policy spike on gmail.com in the last ten minutes.
fn spike_scenario() -> World {
    let world = World::new(Config::new());
    for i in 4..72 {
        let at = NOW - i * 300;
        let mut events = traffic("gmail.com", at, 20, 0, Category::PolicyRejected);
        events.extend(traffic("outlook.com", at, 20, 0, Category::PolicyRejected));
        post(&world, &events, NOW);
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        let mut events = traffic("gmail.com", at, 10, 6, Category::PolicyRejected);
        events.extend(traffic("outlook.com", at, 10, 0, Category::PolicyRejected));
        post(&world, &events, NOW);
    }
    world
}

#[test]
fn a_spike_split_across_an_hour_boundary_still_alerts_and_a_sub_floor_one_does_not() {
    // 11 + 11 policy 451s around the top of an hour: neither hour alone has SPIKE_MIN_451 (20), the
    // 15-minute window does. 9 + 9 on another domain stays under the floor in the window too.
    let world = World::new(Config::new());
    let top = NOW - NOW % 3600 + 3600;
    for (domain, per_side) in [("split.example", 11), ("under.example", 9)] {
        for at in [top - 300, top + 60] {
            post(&world, &traffic(domain, at, 4, per_side, Category::PolicyRejected), top + 360);
        }
    }
    world.tick(top + 360);
    world.tick(top + 420);
    let alerts = get(&world, "/api/alerts", top + 420);
    let domains: Vec<&str> = alerts["active"].as_array().unwrap().iter().filter_map(|a| a["domain"].as_str()).collect();
    assert_eq!(domains, ["split.example"], "{alerts}");
}

/// The numbers of `/api/domains`, without the alert status (which the cron changes).
fn domain_counts(list: &Value) -> Vec<Value> {
    let mut domains = list["domains"].as_array().cloned().unwrap_or_default();
    for domain in &mut domains {
        domain.as_object_mut().map(|d| d.remove("status"));
    }
    domains
}

#[test]
fn a_spike_on_gmail_shows_in_domains_detail_and_alerts() {
    let world = spike_scenario();
    let from_objects = get(&world, "/api/domains?window=24h", NOW);
    world.tick(NOW);
    world.tick(NOW + 60);
    let now = NOW + 60;

    // The first run published every hour; a minute on they are settled, and read from their pages.
    assert!(world.kv.keys().iter().any(|k| k.starts_with("page:0:")), "{:?}", world.kv.keys());
    let gets = world.kv.ops().gets;
    let from_pages = get(&world, "/api/domains?window=24h", now);
    assert!(world.kv.ops().gets > gets, "settled hours are read from KV");
    assert_eq!(domain_counts(&from_pages), domain_counts(&from_objects), "pages and objects count alike");

    let list = get(&world, "/api/domains?window=15m", now);
    assert_eq!(list["window"], "15m");
    let first = &list["domains"][0];
    assert_eq!((first["domain"].as_str(), first["smtp_451"].as_u64()), (Some("gmail.com"), Some(60)));
    assert_eq!((first["attempts"].as_u64(), first["status"].as_str()), (Some(160), Some("firing")));
    assert_eq!(first["categories"]["policy_rejected"], 60);
    assert_eq!(list["domains"][1]["status"], "ok");

    let detail = get(&world, "/api/domains/gmail.com?window=1h", now);
    assert_eq!(detail["status"], "firing");
    let buckets = detail["buckets"].as_array().unwrap();
    assert_eq!(buckets.iter().map(|b| b["smtp_451"].as_u64().unwrap()).sum::<u64>(), 60);
    assert!(buckets.windows(2).all(|w| w[0]["start"].as_u64() < w[1]["start"].as_u64()));
    assert_eq!(detail["samples"][0]["category"], "policy_rejected");
    assert_eq!(detail["samples"][0]["count"], 60);
    let policy_advice = bouncewatch::advice::cause_advice(bouncewatch::classify::Category::PolicyRejected);
    assert_eq!(detail["advice"]["policy_rejected"].as_str(), policy_advice);
    assert_eq!(detail["spike_advice"], bouncewatch::advice::SPIKE_ADVICE);

    let alerts = get(&world, "/api/alerts", now);
    let active = alerts["active"].as_array().unwrap();
    // Google's 451s are all gmail.com's: that is the domain's alert, not a provider alert besides it.
    assert_eq!(active.len(), 1, "{alerts}");
    assert_eq!((active[0]["domain"].as_str(), active[0]["state"].as_str()), (Some("gmail.com"), Some("firing")));
    assert_eq!(active[0]["scope"], "domain");
    assert_eq!(active[0]["severity"], "critical", "37.5 % is over the 20 % critical ratio");
    assert_eq!(active[0]["causes"][0]["category"], "policy_rejected");
    assert!(active[0]["advice"][0].as_str().unwrap().contains("don't resend manually"));
    assert_eq!(alerts["recent"], serde_json::json!([]));
}

#[test]
fn counts_are_served_before_the_cron_has_run() {
    let world = spike_scenario();
    let list = get(&world, "/api/domains?window=24h&limit=1", NOW);
    let domains = list["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!((domains[0]["domain"].as_str(), domains[0]["smtp_451"].as_u64()), (Some("gmail.com"), Some(60)));
    assert_eq!(domains[0]["delivered"], 68 * 20 + 100);
    assert!(world.kv.is_empty(), "nothing published yet: every count came from the objects");
}

#[test]
fn an_unknown_domain_is_empty_not_missing() {
    let detail = get(&World::new(Config::new()), "/api/domains/example.org", NOW);
    let expected = serde_json::json!({
        "domain": "example.org", "provider": "unknown", "buckets": [], "samples": [], "status": "ok",
        "advice": {}, "spike_advice": bouncewatch::advice::SPIKE_ADVICE,
        // The day before is kept, and empty: a real zero to compare with.
        "previous": { "attempts": 0, "delivered": 0, "deferred": 0, "bounced": 0, "smtp_451": 0,
                      "ratio_451": 0.0, "ratio_bounced": 0.0 },
        "change": { "attempts": 0, "smtp_451": 0, "ratio_451": 0.0, "ratio_bounced": 0.0 },
        "previous_buckets": [],
    });
    assert_eq!(detail, expected);
}

#[test]
fn bad_parameters_are_400s_naming_the_parameter() {
    let world = World::new(Config::new());
    for (url, name) in [
        ("/api/domains?window=2h", "window"),
        ("/api/domains?limit=0", "limit"),
        ("/api/domains?limit=ten", "limit"),
        ("/api/domains/gmail.com?window=", "window"),
        ("/api/domains/not%20a%20domain", "domain"),
    ] {
        let response = world.get(url, NOW);
        assert_eq!(response.status, 400, "{url}");
        let body = response.json_body();
        assert_eq!(body["error"], "bad_request");
        assert!(body["message"].as_str().unwrap().contains(&format!("`{name}`")), "{url}: {body}");
    }
}

#[test]
fn read_token_guards_the_api_but_not_health_or_preflight() {
    let world = World::new(Config::from_pairs([("READ_TOKEN", "s3cret")]));
    for url in ["/api/domains", "/api/domains/gmail.com", "/api/alerts", "/api/rules", "/api/openapi.json"] {
        let denied = get_with(&world, url, NOW, None);
        assert_eq!((denied.status, denied.json_body()["error"].as_str()), (401, Some("unauthorized")), "{url}");
        assert_eq!(denied.header("access-control-allow-origin"), Some("*"));
        assert_eq!(get_with(&world, url, NOW, Some("wrong")).status, 401, "{url}");
        assert_eq!(get_with(&world, url, NOW, Some("s3cret")).status, 200, "{url}");
    }
    assert_eq!(get_with(&world, "/api/health", NOW, None).status, 200);
    let preflight = HttpRequest::new(Method::Options, "http://h/api/domains");
    assert_eq!(world.send(&preflight, NOW, &bouncewatch::esp::NoFetch).status, 204);
}

#[test]
fn the_read_routes_accept_only_get() {
    let world = World::new(Config::new());
    for url in ["/api/domains", "/api/domains/gmail.com", "/api/alerts", "/api/rules", "/api/openapi.json"] {
        let req = HttpRequest::new(Method::Post, &format!("http://h{url}"));
        assert_eq!(world.send(&req, NOW, &bouncewatch::esp::NoFetch).status, 405, "{url}");
    }
}

fn assert_storage_unavailable(response: &HttpResponse, what: &str) {
    assert_eq!((response.status, response.json_body()["error"].as_str()), (503, Some("storage_unavailable")), "{what}");
}

#[test]
fn corrupt_stored_state_is_a_503_not_a_panic() {
    // The detector's state, in shard 0's SQLite.
    let world = World::new(Config::new());
    schema::migrate(&world.objects[0]).unwrap();
    schema::put_meta(&world.objects[0], "detector", "[").unwrap();
    assert_storage_unavailable(&world.get("/api/alerts", NOW), "corrupt detector state");

    // An hour page in KV, read once its hour is settled.
    let world = World::new(Config::new());
    let at = NOW - 600;
    post(&world, &traffic("gmail.com", at, 1, 0, Category::PolicyRejected), NOW);
    world.tick(NOW);
    let hour = counting::object::hour_of(Settings::default().bucket_of(at));
    let key = page_key(0, hour, 0);
    assert!(world.kv.keys().contains(&key), "{key} published: {:?}", world.kv.keys());
    block_on(world.kv.put(Put { key: &key, value: "[", ttl_seconds: 3600, metadata: None })).unwrap();
    assert_storage_unavailable(&world.get("/api/domains", NOW + 60), "corrupt page");
}

#[test]
fn openapi_describes_every_route() {
    let doc = get(&World::new(Config::new()), "/api/openapi.json", NOW);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/health",
        "/api/classify",
        "/api/domains",
        "/api/domains/{domain}",
        "/api/providers",
        "/api/providers/{provider}",
        "/api/alerts",
        "/api/rules",
        "/api/openapi.json",
        "/webhooks/{esp}",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(paths["/api/classify"]["get"].is_object() && paths["/api/classify"]["post"].is_object());
    let esps = &paths["/webhooks/{esp}"]["post"]["parameters"][0]["schema"]["enum"];
    let expected: Vec<&str> = Esp::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(esps, &serde_json::json!(expected));
    assert_eq!(expected.len(), 11);
}

/// Issue 15, rule statistics: each counted event keeps the id of the rule that classified it, so
/// `/api/rules` sums hits per rule from the same counts, fallbacks first, each with a sample reply.
#[test]
fn rules_lists_hits_per_rule_with_fallbacks_first_and_operator_rules_by_their_id() {
    let config = Config::from_pairs([
        ("GENERIC_WEBHOOK_TOKEN", "t0k"),
        ("CLASSIFY_RULES", r#"[{"id": "acme", "match": "acme quota", "category": "mailbox_full"}]"#),
    ]);
    let world = World::new(config);
    let replies = [
        ("550 5.1.1 <a@x.example>: user unknown", 3),
        ("550 Requested action not taken", 1),
        ("452 acme quota reached", 2),
    ];
    let mut events = Vec::new();
    for (reply, times) in replies {
        for i in 0..times {
            events.push(serde_json::json!({"id": format!("{reply}-{i}"), "event": "bounced",
                "recipient": "someone@gmail.com", "reply": reply, "timestamp": NOW - 60}));
        }
    }
    let req = common::post("generic", serde_json::to_vec(&events).unwrap(), &[("authorization", "Bearer t0k")]);
    let response = world.send(&req, NOW, &bouncewatch::esp::NoFetch);
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let body = get(&world, "/api/rules?window=1h", NOW);
    let rules: Vec<(String, String, u64)> = body["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            (r["rule"].as_str().unwrap().into(), r["category"].as_str().unwrap().into(), r["hits"].as_u64().unwrap())
        })
        .collect();
    let expect = |rule: &str, category: &str, hits| (rule.to_owned(), category.to_owned(), hits);
    assert_eq!(
        rules,
        [
            expect("fallback.basic.550", "mailbox_unknown", 1),
            expect("code.x.1.1", "mailbox_unknown", 3),
            expect("custom.acme", "mailbox_full", 2),
        ]
    );
    assert_eq!(body["rules"][0]["sample"], "550 Requested action not taken");
    assert_eq!(body["rules"][0]["fallback"], true);
    let unknown = body["rules"][1]["sample"].as_str().expect("a sample");
    assert!(unknown.starts_with("550 5.1.1") && !unknown.contains("a@x"), "redacted: {unknown}");
    let bad = world.get("/api/rules?window=2h", NOW);
    assert_eq!(bad.status, 400);
}
