//! Silences through the router and the counting object: who may write them, what a bad body gets, and
//! that a silenced firing alert is shown silenced and sends nothing until the silence goes.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::http::{HttpRequest, HttpResponse, Method};
use common::World;
use serde_json::{json, Value};

const NOW: u64 = 1_700_000_000;
const ADMIN: &str = "admin-secret";

fn alerting_config(extra: &[(&'static str, &'static str)]) -> Config {
    common::resend_alerting(extra)
}

fn request(world: &World, method: Method, path: &str, token: Option<&str>, body: &str, now: u64) -> HttpResponse {
    let mut req = HttpRequest::new(method, &format!("http://h{path}")).with_body(body.as_bytes().to_vec());
    if let Some(token) = token {
        req = req.with_header("authorization", &format!("Bearer {token}"));
    }
    world.send(&req, now, &bouncewatch::esp::NoFetch)
}

fn silence_body(matcher: Value, until: u64) -> String {
    json!({ "match": matcher, "until": until, "comment": "working on it with the postmaster", "created_by": "ana" })
        .to_string()
}

fn emails_sent(world: &World) -> usize {
    world.notifier.requests.borrow().len()
}

#[test]
fn writes_are_forbidden_without_admin_token_and_need_it_not_the_read_token() {
    let body = silence_body(json!("*"), NOW + 3600);
    let unset = World::new(Config::from_pairs([("READ_TOKEN", "reader")]));
    for (method, path) in [(Method::Post, "/api/silences"), (Method::Delete, "/api/silences/s1")] {
        let response = request(&unset, method, path, Some("reader"), &body, NOW);
        assert_eq!(response.status, 403, "{path}");
        assert!(response.json_body()["message"].as_str().unwrap().contains("ADMIN_TOKEN"), "{path}");
    }
    let set = World::new(Config::from_pairs([("READ_TOKEN", "reader"), ("ADMIN_TOKEN", ADMIN)]));
    assert_eq!(request(&set, Method::Post, "/api/silences", Some("reader"), &body, NOW).status, 401);
    assert_eq!(request(&set, Method::Post, "/api/silences", None, &body, NOW).status, 401);
    let created = request(&set, Method::Post, "/api/silences", Some(ADMIN), &body, NOW);
    assert_eq!(created.status, 201, "{:?}", created.json_body());
    assert_eq!(request(&set, Method::Get, "/api/silences", None, "", NOW).status, 401, "reads need READ_TOKEN");
    let listed = request(&set, Method::Get, "/api/silences", Some("reader"), "", NOW).json_body();
    assert_eq!(listed["silences"], json!([created.json_body()]));
}

#[test]
fn bad_silence_requests_get_clear_4xx_answers() {
    let world = World::new(Config::from_pairs([("ADMIN_TOKEN", ADMIN)]));
    let cases: [(Method, &str, String, u16, &str); 6] = [
        (Method::Post, "/api/silences", "{".into(), 400, "the body must be"),
        (
            Method::Post,
            "/api/silences",
            silence_body(json!({"domain": "gmail.com"}), NOW - 60),
            400,
            "not in the future",
        ),
        (Method::Post, "/api/silences", silence_body(json!({}), NOW + 60), 400, "match nothing"),
        (Method::Delete, "/api/silences/s999", String::new(), 404, "no active silence"),
        (Method::Delete, "/api/silences/drop%20table", String::new(), 400, "silence id"),
        (Method::Delete, "/api/silences", String::new(), 405, "GET, HEAD, POST, OPTIONS"),
    ];
    for (method, path, body, status, message) in cases {
        let response = request(&world, method, path, Some(ADMIN), &body, NOW);
        assert_eq!(response.status, status, "{path} {body}: {:?}", response.json_body());
        assert!(
            response.json_body()["message"].as_str().unwrap().contains(message),
            "{path}: {:?}",
            response.json_body()
        );
    }
    assert_eq!(
        request(&world, Method::Delete, "/api/silences", Some(ADMIN), "", NOW).header("allow"),
        Some("GET, HEAD, POST, OPTIONS")
    );
}

#[test]
fn past_the_active_limit_a_well_formed_silence_is_a_409_conflict_and_deleting_one_makes_room() {
    let world = World::new(Config::from_pairs([("ADMIN_TOKEN", ADMIN)]));
    let body = silence_body(json!("*"), NOW + 3600);
    let mut ids = Vec::new();
    loop {
        let response = request(&world, Method::Post, "/api/silences", Some(ADMIN), &body, NOW);
        if response.status != 201 {
            assert_eq!(response.status, 409, "{:?}", response.json_body());
            assert_eq!(response.json_body()["error"], "conflict");
            assert!(response.json_body()["message"].as_str().unwrap().contains("delete one first"));
            break;
        }
        ids.push(response.json_body()["id"].as_str().unwrap().to_owned());
        assert!(ids.len() <= 1000, "no limit was reached");
    }
    assert_eq!(ids.len(), bouncewatch::silence::MAX_ACTIVE);
    let deleted = request(&world, Method::Delete, &format!("/api/silences/{}", ids[0]), Some(ADMIN), "", NOW);
    assert_eq!(deleted.status, 200);
    assert_eq!(request(&world, Method::Post, "/api/silences", Some(ADMIN), &body, NOW).status, 201);
}

#[test]
fn a_silenced_firing_alert_is_shown_silenced_sends_nothing_and_notifies_once_the_silence_is_deleted() {
    let world = World::new(alerting_config(&[("ADMIN_TOKEN", ADMIN)]));
    let body = silence_body(json!({"domain": "gmail.com"}), NOW + 4 * 3600);
    let created = request(&world, Method::Post, "/api/silences", Some(ADMIN), &body, NOW - 3600);
    assert_eq!(created.status, 201);
    let now = common::seed_spike(&world, "gmail.com", Category::PolicyRejected, NOW);
    assert_eq!(emails_sent(&world), 0, "the alert fired under the silence");

    let alerts = request(&world, Method::Get, "/api/alerts", None, "", now).json_body();
    let active = &alerts["active"][0];
    assert_eq!((active["domain"].as_str(), active["state"].as_str()), (Some("gmail.com"), Some("firing")));
    let silenced = &active["silenced"];
    assert_eq!(silenced["id"], created.json_body()["id"]);
    assert_eq!(
        (silenced["comment"].as_str(), silenced["created_by"].as_str()),
        (Some("working on it with the postmaster"), Some("ana"))
    );
    assert_eq!(silenced["until"], NOW + 4 * 3600);

    let id = created.json_body()["id"].as_str().unwrap().to_owned();
    let deleted = request(&world, Method::Delete, &format!("/api/silences/{id}"), Some(ADMIN), "", now);
    assert_eq!(deleted.status, 200);
    let alerts = request(&world, Method::Get, "/api/alerts", None, "", now).json_body();
    assert!(alerts["active"][0].get("silenced").is_none(), "{alerts}");
    world.tick(now + 60);
    assert_eq!(emails_sent(&world), 1, "the alert is announced once the silence has gone");
    world.tick(now + 120);
    assert_eq!(emails_sent(&world), 1);
}
