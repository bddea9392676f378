//! The HTTP contract schemathesis checks against the running Worker (tests/e2e/contract.test.mjs), pinned
//! natively: `Allow` on every 405 and OPTIONS, HEAD wherever GET is, the bearer scheme in any case,
//! repeated parameters refused, and an OpenAPI document that states the security in force and the very
//! constraints the server applies.

mod common;

use bouncewatch::config::Config;
use bouncewatch::esp::NoFetch;
use bouncewatch::http::{HttpRequest, HttpResponse, Method};
use bouncewatch::store::Faults;
use common::World;
use proptest::prelude::*;
use serde_json::Value;

const NOW: u64 = 1_700_000_000;
const TOKEN: &str = "s3cret";
const ADMIN: &str = "adm1n";

fn config(secured: bool) -> Config {
    if secured {
        Config::from_pairs([("READ_TOKEN", TOKEN)])
    } else {
        Config::new()
    }
}

/// One request to a Worker of its own, with nothing stored.
fn send(req: HttpRequest, config: &Config) -> HttpResponse {
    World::new(config.clone()).send(&req, NOW, &NoFetch)
}

fn request(method: Method, path: &str) -> HttpRequest {
    HttpRequest::new(method, &format!("http://h{path}"))
}

fn document(secured: bool) -> Value {
    let req = request(Method::Get, "/api/openapi.json").with_header("authorization", &format!("Bearer {TOKEN}"));
    let response = send(req, &config(secured));
    assert_eq!(response.status, 200);
    response.json_body()
}

/// Each route and the methods it answers, as `Allow` lists them.
const ROUTES: &[(&str, &str)] = &[
    ("/api/health", "GET, HEAD, OPTIONS"),
    ("/api/classify", "GET, HEAD, POST, OPTIONS"),
    ("/api/domains", "GET, HEAD, OPTIONS"),
    ("/api/domains/gmail.com", "GET, HEAD, OPTIONS"),
    ("/api/streams", "GET, HEAD, OPTIONS"),
    ("/api/alerts", "GET, HEAD, OPTIONS"),
    ("/api/rules", "GET, HEAD, OPTIONS"),
    ("/api/openapi.json", "GET, HEAD, OPTIONS"),
    ("/api/silences", "GET, HEAD, POST, OPTIONS"),
    ("/api/silences/s1", "DELETE, OPTIONS"),
    ("/webhooks/sendgrid", "POST"),
    ("/webhooks/mandrill", "HEAD, POST"),
];

#[test]
fn every_405_says_what_the_route_allows() {
    for (path, allow) in ROUTES {
        for method in [Method::Get, Method::Post, Method::Other] {
            if allow.split(", ").any(|m| Method::parse(m) == method) {
                continue;
            }
            let response = send(request(method, path), &config(false));
            assert_eq!(response.status, 405, "{method:?} {path}");
            assert_eq!(response.header("allow"), Some(*allow), "{method:?} {path}");
            assert_eq!(response.json_body()["error"], "method_not_allowed");
        }
    }
}

#[test]
fn options_is_answered_without_a_token_and_lists_the_methods() {
    for (path, allow) in ROUTES.iter().filter(|(path, _)| path.starts_with("/api/")) {
        let response = send(request(Method::Options, path), &config(true));
        assert_eq!((response.status, response.header("allow")), (204, Some(*allow)), "{path}");
    }
    assert_eq!(send(request(Method::Options, "/api/nope"), &config(false)).status, 404);
}

#[test]
fn head_answers_as_get_does_without_the_body() {
    let paths = [
        "/api/health",
        "/api/classify?reply=451+4.7.1+try+later",
        "/api/classify",
        "/api/domains?window=1h",
        "/api/domains?format=csv",
        "/api/domains?window=2h",
        "/api/domains/gmail.com",
        "/api/domains/gmail.com?format=csv",
        "/api/streams",
        "/api/streams?window=15m",
        "/api/streams?window=2h",
        "/api/alerts",
        "/api/rules?window=7d",
        "/api/openapi.json",
        "/api/silences",
    ];
    for secured in [false, true] {
        for path in paths {
            for token in [None, Some(TOKEN)] {
                let with_token = |req: HttpRequest| match token {
                    Some(token) => req.with_header("authorization", &format!("Bearer {token}")),
                    None => req,
                };
                let get = send(with_token(request(Method::Get, path)), &config(secured));
                let head = send(with_token(request(Method::Head, path)), &config(secured));
                assert_eq!((head.status, &head.headers), (get.status, &get.headers), "HEAD {path}");
                assert!(head.body.is_empty() && !get.body.is_empty(), "HEAD {path}");
            }
        }
    }
}

#[test]
fn the_bearer_scheme_is_accepted_in_any_case() {
    for header in ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR   s3cret ", " Bearer s3cret"] {
        let req = request(Method::Get, "/api/alerts").with_header("authorization", header);
        assert_eq!(send(req, &config(true)).status, 200, "{header:?}");
    }
    for header in ["Bearers3cret", "Basic s3cret", "Bearer", "Token s3cret", "bearer s3cre"] {
        let req = request(Method::Get, "/api/alerts").with_header("authorization", header);
        assert_eq!(send(req, &config(true)).status, 401, "{header:?}");
    }
}

#[test]
fn a_repeated_query_parameter_is_a_400_naming_it() {
    for (path, name) in [
        ("/api/domains?window=1h&window=7d", "window"),
        ("/api/domains?window=1h&window=1h", "window"),
        ("/api/domains?limit=5&window=1h&limit=5", "limit"),
        ("/api/domains/gmail.com?format=csv&format=csv", "format"),
        ("/api/streams?window=24h&window=7d", "window"),
        ("/api/classify?reply=a&reply=b", "reply"),
        ("/api/health?probe&probe", "probe"),
    ] {
        let response = send(request(Method::Get, path), &config(false));
        assert_eq!(response.status, 400, "{path}");
        let message = response.json_body()["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(&format!("`{name}`")), "{path}: {message}");
    }
    assert_eq!(send(request(Method::Get, "/api/domains?window=1h&limit=5"), &config(false)).status, 200);
}

/// Every (path, method, operation) of the document's `/api` paths.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path.starts_with("/api/") {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_states_the_security_in_force() {
    let open = document(false);
    assert!(open["components"].get("securitySchemes").is_none());
    for (path, method, op) in operations(&open) {
        assert!(op.get("security").is_none(), "{method} {path}");
        assert!(op["responses"].get("401").is_none(), "{method} {path}");
    }
    let secured = document(true);
    assert_eq!(secured["components"]["securitySchemes"]["readToken"]["scheme"], "bearer");
    for (path, method, op) in operations(&secured) {
        // Without ADMIN_TOKEN the write routes take no token at all: they answer 403 whatever is sent.
        let open = path == "/api/health" || is_write(&method, &path);
        assert_eq!(op.get("security").is_none(), open, "{method} {path}");
        assert_eq!(op["responses"].get("401").is_none(), open, "{method} {path}");
    }
    for (path, method, op) in operations(&secured).into_iter().filter(|(p, m, _)| is_write(m, p)) {
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["403"], "{method} {path}");
    }
    for read_token in [false, true] {
        let doc = admin_document(read_token);
        assert_eq!(doc["components"]["securitySchemes"]["adminToken"]["scheme"], "bearer");
        for (path, method, op) in operations(&doc) {
            let expected = match (is_write(&method, &path), read_token && path != "/api/health") {
                (true, _) => Some(serde_json::json!([{ "adminToken": [] }])),
                (false, true) => Some(serde_json::json!([{ "readToken": [] }])),
                (false, false) => None,
            };
            assert_eq!(op.get("security").cloned(), expected, "{method} {path}");
        }
    }
}

fn is_write(method: &str, path: &str) -> bool {
    matches!((method, path), ("post", "/api/silences") | ("delete", "/api/silences/{id}"))
}

fn admin_config(read_token: bool) -> Config {
    let mut config = config(read_token);
    config.set("ADMIN_TOKEN", ADMIN);
    config
}

fn admin_document(read_token: bool) -> Value {
    let req = request(Method::Get, "/api/openapi.json").with_header("authorization", &format!("Bearer {TOKEN}"));
    let response = send(req, &admin_config(read_token));
    assert_eq!(response.status, 200);
    response.json_body()
}

#[test]
fn every_status_the_write_routes_answer_is_declared() {
    let until = NOW + 3600;
    let valid = format!(r#"{{"match": {{"domain": "gmail.com"}}, "until": {until}, "comment": "on it"}}"#);
    // (method, template, path, body, token, status)
    let cases: &[(&str, &str, &str, &str, &str, u16)] = &[
        ("post", "/api/silences", "/api/silences", &valid, ADMIN, 201),
        ("post", "/api/silences", "/api/silences", "{}", ADMIN, 400),
        ("post", "/api/silences", "/api/silences", &valid, TOKEN, 401),
        ("delete", "/api/silences/{id}", "/api/silences/s1", "", ADMIN, 404),
        ("delete", "/api/silences/{id}", "/api/silences/1", "", ADMIN, 400),
        ("delete", "/api/silences/{id}", "/api/silences/s1", "", TOKEN, 401),
    ];
    for read_token in [false, true] {
        let doc = admin_document(read_token);
        for (method, template, path, body, token, status) in cases {
            let req = request(Method::parse(method), path)
                .with_header("authorization", &format!("Bearer {token}"))
                .with_body(body.as_bytes().to_vec());
            assert_eq!(send(req, &admin_config(read_token)).status, *status, "{method} {path} {body}");
            let declared = &doc["paths"][template][method]["responses"];
            assert!(declared.get(status.to_string()).is_some(), "{method} {template} does not declare {status}");
        }
    }
}

#[test]
fn head_is_documented_wherever_get_is_and_without_a_body() {
    let doc = document(true);
    for (path, item) in doc["paths"].as_object().unwrap() {
        let (Some(get), Some(head)) = (item.get("get"), item.get("head")) else {
            assert!(item.get("get").is_none(), "{path} has GET without HEAD");
            continue;
        };
        let statuses = |op: &Value| op["responses"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(statuses(head), statuses(get), "{path}");
        assert_eq!(head["parameters"], get["parameters"], "{path}");
        assert!(head["responses"].as_object().unwrap().values().all(|r| r.get("content").is_none()), "{path}");
    }
}

/// The operation's method and path template, the request's path and body, whether the counting objects
/// are unreachable, and the status it gets, which the document must declare for that operation.
type StatusCase<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, bool, u16);

#[test]
fn every_status_the_routes_answer_is_declared() {
    let too_many = serde_json::to_string(&vec!["451 4.7.1 x"; 1001]).unwrap();
    let cases: &[StatusCase] = &[
        ("get", "/api/classify", "/api/classify?reply=451", None, false, 200),
        ("get", "/api/classify", "/api/classify", None, false, 400),
        ("post", "/api/classify", "/api/classify", Some("[\"451\"]"), false, 200),
        ("post", "/api/classify", "/api/classify", Some("[]"), false, 400),
        ("post", "/api/classify", "/api/classify", Some(too_many.as_str()), false, 413),
        ("get", "/api/domains", "/api/domains?limit=0", None, false, 400),
        ("get", "/api/domains/{domain}", "/api/domains/a_b", None, false, 400),
        ("get", "/api/domains", "/api/domains", None, true, 503),
        ("get", "/api/domains/{domain}", "/api/domains/gmail.com", None, true, 503),
        ("get", "/api/streams", "/api/streams?window=2h", None, false, 400),
        ("get", "/api/streams", "/api/streams", None, true, 503),
        ("head", "/api/streams", "/api/streams?window=1h", None, false, 200),
        ("get", "/api/alerts", "/api/alerts", None, true, 503),
        ("head", "/api/alerts", "/api/alerts", None, true, 503),
        ("get", "/api/health", "/api/health?x&x", None, false, 400),
        ("get", "/api/silences", "/api/silences", None, false, 200),
        ("get", "/api/silences", "/api/silences", None, true, 503),
        ("post", "/api/silences", "/api/silences", Some("{}"), false, 403),
        ("delete", "/api/silences/{id}", "/api/silences/s1", None, false, 403),
    ];
    for secured in [false, true] {
        let doc = document(secured);
        let config = config(secured);
        for (method, template, path, body, unreachable, status) in cases {
            let mut req = request(Method::parse(method), path).with_header("authorization", &format!("Bearer {TOKEN}"));
            if let Some(body) = body {
                req = req.with_body(body.as_bytes().to_vec());
            }
            let world = World::new(config.clone());
            world.faults.set(Faults { fail_object: *unreachable, ..Faults::default() });
            let response = world.send(&req, NOW, &NoFetch);
            assert_eq!(response.status, *status, "{method} {path}");
            let declared = &doc["paths"][template][method]["responses"];
            assert!(declared.get(status.to_string()).is_some(), "{method} {template} does not declare {status}");
        }
    }
}

/// The `domain` path parameter as the document declares it.
fn domain_schema() -> Value {
    let doc = document(false);
    let parameters = doc["paths"]["/api/domains/{domain}"]["get"]["parameters"].as_array().unwrap().clone();
    parameters.into_iter().find(|p| p["name"] == "domain").unwrap()["schema"].clone()
}

/// Names to try on `GET /api/domains/{domain}`: any characters a client sends unescaped in a path segment;
/// name-shaped ones (hyphens and digits anywhere, a trailing dot); and long ones around the limits of 63
/// per label and 253 in all.
fn path_names() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9.\\-_~!$&'()*+,;=:@%]{1,12}",
        "([A-Za-z0-9-]{1,8}\\.){1,3}[A-Za-z0-9-]{1,8}\\.?",
        "[a-z.]{250,256}",
        "([a-z0-9]{60,64}\\.){3}[a-z][a-z0-9]{58,63}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// What the document's pattern and length admit is exactly what the route answers 200 (and the rest
    /// 400), but for what the document says no pattern can: an `xn--` label that is not valid punycode.
    #[test]
    fn the_domain_pattern_is_what_the_route_accepts(name in path_names()) {
        let schema = domain_schema();
        let pattern = regex_lite::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        let max = schema["maxLength"].as_u64().unwrap() as usize;
        let declared_valid = pattern.is_match(&name) && name.len() <= max;
        let punycode = name.split('.').any(|label| label.to_ascii_lowercase().starts_with("xn--"));
        let status = send(request(Method::Get, &format!("/api/domains/{name}")), &config(false)).status;
        if !(punycode && status == 400) {
            prop_assert_eq!(status, if declared_valid { 200 } else { 400 }, "{:?}", name);
        }
    }
}

#[test]
fn the_domain_route_takes_names_as_listed_in_any_case_and_refuses_other_spellings() {
    let status = |name: &str| send(request(Method::Get, &format!("/api/domains/{name}")), &config(false)).status;
    for listed in ["gmail.com", "GMail.COM", "xn--bcher-kva.de", "XN--BCHER-KVA.DE", "mx-1.a0.example"] {
        assert_eq!(status(listed), 200, "{listed}");
    }
    // Each is a name the adapters would store, but spelled otherwise than /api/domains lists it.
    for other in ["gmail.com.", "b\u{fc}cher.de", "b%C3%BCcher.de", "gmail\u{3002}com"] {
        assert_eq!(status(other), 400, "{other}");
    }
    // The pattern admits it; the parameter's description says why it is refused all the same.
    assert_eq!(status("xn--a.example"), 400);
}

#[test]
fn the_declared_windows_limits_and_formats_are_what_the_routes_accept() {
    let doc = document(false);
    let params = doc["paths"]["/api/domains"]["get"]["parameters"].as_array().unwrap().clone();
    let schema = |name: &str| params.iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
    let status = |query: String| send(request(Method::Get, &format!("/api/domains?{query}")), &config(false)).status;
    for window in schema("window")["enum"].as_array().unwrap() {
        assert_eq!(status(format!("window={}", window.as_str().unwrap())), 200);
    }
    for format in schema("format")["enum"].as_array().unwrap() {
        assert_eq!(status(format!("format={}", format.as_str().unwrap())), 200);
    }
    let (min, max) = (schema("limit")["minimum"].as_u64().unwrap(), schema("limit")["maximum"].as_u64().unwrap());
    assert_eq!((status(format!("limit={min}")), status(format!("limit={max}"))), (200, 200));
    assert_eq!((status(format!("limit={}", min - 1)), status(format!("limit={}", max + 1))), (400, 400));
    assert_eq!((status("window=2h".into()), status("format=xml".into())), (400, 400));
    let streams = doc["paths"]["/api/streams"]["get"]["parameters"].as_array().unwrap().clone();
    assert_eq!(streams.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), ["window"]);
    let stream_status =
        |query: &str| send(request(Method::Get, &format!("/api/streams?{query}")), &config(false)).status;
    for window in streams[0]["schema"]["enum"].as_array().unwrap() {
        assert_eq!(stream_status(&format!("window={}", window.as_str().unwrap())), 200);
    }
    assert_eq!((stream_status("window=2h"), stream_status("window=")), (400, 400));
}
