//! Property: any request to any route — any method, path, query, `Authorization` and body, with and without
//! `READ_TOKEN` — gets a 2xx or 4xx whose body, if any, is JSON; never a 5xx, never a panic. The counting
//! objects hold counted events, and KV their published pages, so the read routes have something to
//! aggregate from both. (`webhook_fuzz.rs` covers the
//! webhook bodies; this covers the rest of the router and what reaches it besides a body.)

mod common;

use bouncewatch::config::Config;
use bouncewatch::http::{handle, Context, HttpRequest, HttpResponse, Method};
use common::{FakeFetcher, World};
use proptest::prelude::*;

const CASES: u32 = 4096;
const NOW: u64 = 1_700_000_000;
/// When the events were sent and published: a minute before the cases, so their pages are settled.
const SEEDED: u64 = NOW - 60;
const READ_TOKEN: &str = "read-token";
const GENERIC_TOKEN: &str = "generic-token";

fn config(read_token: bool) -> Config {
    let mut config = Config::from_pairs([("GENERIC_WEBHOOK_TOKEN", GENERIC_TOKEN)]);
    if read_token {
        config.set("READ_TOKEN", READ_TOKEN);
    }
    config
}

/// Known routes with anything after them, or any path at all.
fn path() -> impl Strategy<Value = String> {
    let route = prop::sample::select(vec![
        "/",
        "/api/health",
        "/api/classify",
        "/api/domains",
        "/api/domains/",
        "/api/alerts",
        "/api/rules",
        "/api/openapi.json",
        "/webhooks/",
        "/webhooks/generic",
        "/webhooks/mandrill",
    ]);
    prop_oneof![
        route.clone().prop_map(str::to_owned),
        (route, "[^?#]{0,24}").prop_map(|(route, tail)| format!("{route}{tail}")),
        "/[^?#]{0,64}",
    ]
}

/// Parameters the routes read, with values that are empty, huge, negative, escaped or not UTF-8.
fn query() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["reply", "window", "limit", "domain", ""]);
    let value = prop_oneof![
        prop::sample::select(vec!["1h", "15m", "24h", "7d", "0", "-1", "18446744073709551616", "%ff%fe", "%", "+"])
            .prop_map(str::to_owned),
        "[^#&]{0,40}",
        proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(|bytes| bytes.iter().map(|b| format!("%{b:02x}")).collect()),
    ];
    proptest::collection::vec((name, value), 0..4)
        .prop_map(|pairs| pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&"))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec("\\PC{0,40}", 0..8).prop_map(|replies| serde_json::to_vec(&replies).unwrap()),
    ]
}

fn authorization() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(format!("Bearer {READ_TOKEN}"))),
        Just(Some(format!("Bearer {READ_TOKEN}x"))),
        Just(Some("Basic dTpw".to_owned())),
        "\\PC{0,40}".prop_map(Some),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![Method::Get, Method::Head, Method::Post, Method::Options, Method::Other])
}

/// Runs `req` through the router of `world` under `config` (the objects keep the world's own).
fn send(world: &World, req: &HttpRequest, config: &Config, now: u64) -> HttpResponse {
    world.with_counter(now, |counter| {
        let fetcher = FakeFetcher::default();
        let ctx = Context { store: &world.kv, counter, config, now, fetcher: &fetcher };
        pollster::block_on(handle(req, &ctx))
    })
}

/// A day of counted events on two domains, written through the generic webhook a minute before `NOW` and
/// published by a cron run then, so that at `NOW` reads take them from KV.
fn world_with_events() -> World {
    let world = World::new(config(false));
    let events: Vec<_> = (0..24u64)
        .map(|hour| {
            let domain = if hour % 2 == 0 { "gmail.com" } else { "example.org" };
            serde_json::json!({"event": "deferred", "recipient": format!("x@{domain}"),
                "reply": "451 4.7.1 try later", "timestamp": SEEDED - hour * 3600})
        })
        .collect();
    let authorization = format!("Bearer {GENERIC_TOKEN}");
    let seed = common::post("generic", serde_json::to_vec(&events).unwrap(), &[("Authorization", &authorization)]);
    assert_eq!(send(&world, &seed, &config(false), SEEDED).status, 200);
    world.tick(SEEDED);
    assert!(world.kv.keys().iter().any(|k| k.starts_with("page:")), "the cron published pages");
    world
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_request_to_any_route_is_a_json_2xx_or_4xx(
        method in method(),
        path in path(),
        query in query(),
        authorization in authorization(),
        body in body(),
        read_token in any::<bool>(),
    ) {
        // One world for every case: the read routes never write, and what a webhook case writes only
        // gives later cases more to read.
        thread_local! {
            static WORLD: World = world_with_events();
        }
        let mut req = HttpRequest::new(method, &format!("https://bw.example{path}?{query}")).with_body(body);
        if let Some(value) = &authorization {
            req = req.with_header("Authorization", value);
        }
        let response = WORLD.with(|world| send(world, &req, &config(read_token), NOW));
        prop_assert!((200..500).contains(&response.status), "{method:?} {path}?{query}: {}", response.status);
        if !response.body.is_empty() {
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&response.body).is_ok());
            prop_assert!(response.header("content-type").is_some_and(|t| t.starts_with("application/json")));
        }
        if req.path.starts_with("/api/") {
            prop_assert_eq!(response.header("access-control-allow-origin"), Some("*"));
        }
    }
}
