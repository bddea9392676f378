//! The read API through `http::handle`, over counts written by `ingest::record` and the cron.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::cron::run_cron;
use bouncewatch::event::{Esp, EventKind, NormalizedEvent};
use bouncewatch::http::{handle, Context, HttpRequest, HttpResponse, Method};
use bouncewatch::ingest::record;
use bouncewatch::store::{MemoryStore, Put, Store};
use pollster::block_on;
use serde_json::Value;

const NOW: u64 = 1_700_000_000;

/// `delivered` deliveries and `deferred` 451 deferrals of `category` to `domain` at `at`.
fn traffic(domain: &str, at: u64, delivered: usize, deferred: usize, category: Category) -> Vec<NormalizedEvent> {
    let mut events = vec![common::synthetic_event(domain, EventKind::Delivered, at, None); delivered];
    events.extend(vec![common::synthetic_event(domain, EventKind::Deferred, at, Some(category)); deferred]);
    events
}

fn post(store: &MemoryStore, key: &str, events: &[NormalizedEvent], now: u64) {
    block_on(record(store, &Config::new(), key, events, now)).expect("record");
}

fn get_with(store: &MemoryStore, config: &Config, url: &str, now: u64, token: Option<&str>) -> HttpResponse {
    let mut req = HttpRequest::new(Method::Get, &format!("http://h{url}"));
    if let Some(token) = token {
        req = req.with_header("authorization", &format!("Bearer {token}"));
    }
    block_on(handle(&req, &Context { store, config, now, fetcher: &bouncewatch::esp::NoFetch }))
}

fn get(store: &MemoryStore, url: &str, now: u64) -> Value {
    let response = get_with(store, &Config::new(), url, now, None);
    assert_eq!(response.status, 200, "{url}: {}", String::from_utf8_lossy(&response.body));
    response.json_body()
}

/// Six quiet hours for gmail.com and outlook.com, then a policy spike on gmail.com in the last ten minutes.
fn spike_scenario() -> MemoryStore {
    let store = MemoryStore::new();
    for i in 4..72 {
        let at = NOW - i * 300;
        let mut events = traffic("gmail.com", at, 20, 0, Category::PolicyRejected);
        events.extend(traffic("outlook.com", at, 20, 0, Category::PolicyRejected));
        post(&store, &format!("baseline-{i}"), &events, NOW);
    }
    for minute in 0..10 {
        let at = NOW - 600 + minute * 60;
        let mut events = traffic("gmail.com", at, 10, 6, Category::PolicyRejected);
        events.extend(traffic("outlook.com", at, 10, 0, Category::PolicyRejected));
        post(&store, &format!("spike-{minute}"), &events, NOW);
    }
    store
}

#[test]
fn a_spike_on_gmail_shows_in_domains_detail_and_alerts() {
    let store = spike_scenario();
    block_on(run_cron(&store, &Config::new(), NOW)).unwrap();
    block_on(run_cron(&store, &Config::new(), NOW + 60)).unwrap();
    let now = NOW + 60;

    let list = get(&store, "/api/domains?window=15m", now);
    assert_eq!(list["window"], "15m");
    let first = &list["domains"][0];
    assert_eq!((first["domain"].as_str(), first["smtp_451"].as_u64()), (Some("gmail.com"), Some(60)));
    assert_eq!((first["attempts"].as_u64(), first["status"].as_str()), (Some(160), Some("firing")));
    assert_eq!(first["categories"]["policy_rejected"], 60);
    assert_eq!(list["domains"][1]["status"], "ok");

    let detail = get(&store, "/api/domains/gmail.com?window=1h", now);
    assert_eq!(detail["status"], "firing");
    let buckets = detail["buckets"].as_array().unwrap();
    assert_eq!(buckets.iter().map(|b| b["smtp_451"].as_u64().unwrap()).sum::<u64>(), 60);
    assert!(buckets.windows(2).all(|w| w[0]["start"].as_u64() < w[1]["start"].as_u64()));
    assert_eq!(detail["samples"][0]["category"], "policy_rejected");
    assert_eq!(detail["samples"][0]["count"], 60);
    let policy_advice = bouncewatch::advice::cause_advice(bouncewatch::classify::Category::PolicyRejected);
    assert_eq!(detail["advice"]["policy_rejected"].as_str(), policy_advice);
    assert_eq!(detail["spike_advice"], bouncewatch::advice::SPIKE_ADVICE);

    let alerts = get(&store, "/api/alerts", now);
    let active = alerts["active"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{alerts}");
    assert_eq!((active[0]["domain"].as_str(), active[0]["state"].as_str()), (Some("gmail.com"), Some("firing")));
    assert_eq!(active[0]["severity"], "critical", "37.5 % is over the 20 % critical ratio");
    assert_eq!(active[0]["causes"][0]["category"], "policy_rejected");
    assert!(active[0]["advice"][0].as_str().unwrap().contains("don't resend manually"));
    assert_eq!(alerts["recent"], serde_json::json!([]));
}

#[test]
fn counts_are_served_before_the_cron_has_run() {
    let store = spike_scenario();
    let list = get(&store, "/api/domains?window=24h&limit=1", NOW);
    let domains = list["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!((domains[0]["domain"].as_str(), domains[0]["smtp_451"].as_u64()), (Some("gmail.com"), Some(60)));
    assert_eq!(domains[0]["delivered"], 68 * 20 + 100);
}

#[test]
fn an_unknown_domain_is_empty_not_missing() {
    let detail = get(&MemoryStore::new(), "/api/domains/example.org", NOW);
    let expected = serde_json::json!({
        "domain": "example.org", "buckets": [], "samples": [], "status": "ok",
        "advice": {}, "spike_advice": bouncewatch::advice::SPIKE_ADVICE,
    });
    assert_eq!(detail, expected);
}

#[test]
fn bad_parameters_are_400s_naming_the_parameter() {
    let store = MemoryStore::new();
    for (url, name) in [
        ("/api/domains?window=2h", "window"),
        ("/api/domains?limit=0", "limit"),
        ("/api/domains?limit=ten", "limit"),
        ("/api/domains/gmail.com?window=", "window"),
        ("/api/domains/not%20a%20domain", "domain"),
    ] {
        let response = get_with(&store, &Config::new(), url, NOW, None);
        assert_eq!(response.status, 400, "{url}");
        let body = response.json_body();
        assert_eq!(body["error"], "bad_request");
        assert!(body["message"].as_str().unwrap().contains(&format!("`{name}`")), "{url}: {body}");
    }
}

#[test]
fn read_token_guards_the_api_but_not_health_or_preflight() {
    let store = MemoryStore::new();
    let config = Config::from_pairs([("READ_TOKEN", "s3cret")]);
    for url in ["/api/domains", "/api/domains/gmail.com", "/api/alerts", "/api/openapi.json"] {
        let denied = get_with(&store, &config, url, NOW, None);
        assert_eq!((denied.status, denied.json_body()["error"].as_str()), (401, Some("unauthorized")), "{url}");
        assert_eq!(denied.header("access-control-allow-origin"), Some("*"));
        assert_eq!(get_with(&store, &config, url, NOW, Some("wrong")).status, 401, "{url}");
        assert_eq!(get_with(&store, &config, url, NOW, Some("s3cret")).status, 200, "{url}");
    }
    assert_eq!(get_with(&store, &config, "/api/health", NOW, None).status, 200);
    let preflight = HttpRequest::new(Method::Options, "http://h/api/domains");
    let response = block_on(handle(
        &preflight,
        &Context { store: &store, config: &config, now: NOW, fetcher: &bouncewatch::esp::NoFetch },
    ));
    assert_eq!(response.status, 204);
}

#[test]
fn the_read_routes_accept_only_get() {
    let store = MemoryStore::new();
    let config = Config::new();
    for url in ["/api/domains", "/api/domains/gmail.com", "/api/alerts", "/api/openapi.json"] {
        let req = HttpRequest::new(Method::Post, &format!("http://h{url}"));
        assert_eq!(
            block_on(handle(
                &req,
                &Context { store: &store, config: &config, now: NOW, fetcher: &bouncewatch::esp::NoFetch }
            ))
            .status,
            405
        );
    }
}

#[test]
fn corrupt_stored_state_is_a_503_not_a_panic() {
    let store = MemoryStore::new();
    block_on(store.put(Put { key: "state", value: "[", ttl_seconds: 60, metadata: None })).unwrap();
    let response = get_with(&store, &Config::new(), "/api/alerts", NOW, None);
    assert_eq!((response.status, response.json_body()["error"].as_str()), (503, Some("storage_unavailable")));
}

#[test]
fn openapi_describes_every_route() {
    let doc = get(&MemoryStore::new(), "/api/openapi.json", NOW);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/health",
        "/api/classify",
        "/api/domains",
        "/api/domains/{domain}",
        "/api/alerts",
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
