//! What a hostile-input review found (issue 18), each case pinned: recipient domains (one UTS #46
//! validator for the adapters and the read API), impossible dates, redaction of every mailbox form, the
//! order of SNS's checks, and body limits.

mod common;

use base64::Engine;
use bouncewatch::config::Config;
use bouncewatch::domain::{self, InvalidDomain};
use bouncewatch::esp::{self, Delivery, FetchError, Fetcher};
use bouncewatch::event::Esp;
use bouncewatch::http::{HttpRequest, HttpResponse, Method};
use bouncewatch::redact::redact_addresses;
use common::{post, sample, FakeFetcher, World};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

// ---- One recipient-domain validator --------------------------------------------------------------------

/// The rows of `tests/fixtures/domains/recipient_domains.json`: `(test, address, stored domain or the
/// reason none is)`. The end-to-end tests post the same rows through the Worker.
fn domain_table() -> Vec<(String, String, Result<String, String>)> {
    let table: Value = serde_json::from_slice(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/domains/recipient_domains.json")).unwrap(),
    )
    .unwrap();
    let text = |row: &Value, field: &str| row[field].as_str().map(str::to_owned);
    let rows = table["rows"].as_array().unwrap().iter();
    rows.map(|row| {
        let test = text(row, "test").unwrap();
        let expected = match (text(row, "domain"), text(row, "invalid")) {
            (Some(domain), None) => Ok(domain),
            (None, Some(why)) => Err(why),
            _ => panic!("{test}: a row has `domain` or `invalid`"),
        };
        (test, text(row, "address").unwrap(), expected)
    })
    .collect()
}

#[test]
fn every_address_of_the_domain_table_is_stored_as_its_row_says() {
    for (test, address, expected) in domain_table() {
        let stored = domain::of_address(&address).map_err(|why| why.as_str().to_owned());
        assert_eq!(stored, expected, "{test}: {address:?}");
    }
}

#[test]
fn longest_valid_name_of_253_characters_is_accepted() {
    let name = format!("{}.example", vec!["a".repeat(61); 4].join(".").get(2..).unwrap());
    assert_eq!(name.len(), 253);
    assert_eq!(domain::normalize(&name).as_deref(), Ok(name.as_str()));
}

// ---- Through the webhooks and the read API ---------------------------------------------------------------

/// The hostile recipients the review sent, with the reason each is refused.
const HOSTILE: [(&str, InvalidDomain); 11] = [
    ("u@exa\u{0}mple.com", InvalidDomain::NotDnsName),
    ("u@exa\u{7}mple.com", InvalidDomain::NotDnsName),
    ("u@../../etc/passwd", InvalidDomain::NotDnsName),
    ("u@example.com/../x", InvalidDomain::NotDnsName),
    ("u@exa%2fmple.com", InvalidDomain::NotDnsName),
    ("u@<script>.example", InvalidDomain::NotDnsName),
    ("u@[192.0.2.1]", InvalidDomain::AddressLiteral),
    ("u@[IPv6:2001:db8::1]", InvalidDomain::AddressLiteral),
    ("u@gmail\u{202e}.com", InvalidDomain::NotDnsName),
    ("no-at-sign", InvalidDomain::NoAtSign),
    ("a@b", InvalidDomain::SingleLabel),
];

/// Recipients that must still be counted, under the domain UTS #46 gives them.
const LOOKALIKES: [(&str, &str); 4] = [
    ("u@gmail\u{3002}com", "gmail.com"),
    ("u@\u{ff27}\u{ff2d}\u{ff21}\u{ff29}\u{ff2c}.com", "gmail.com"),
    ("u@gm\u{200b}ail.com", "gmail.com"),
    ("u@Example.ORG.", "example.org"),
];

const NOW: u64 = 1_764_302_400;

fn basic(credentials: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials))
}

fn config() -> Config {
    Config::from_pairs([
        ("MAILJET_WEBHOOK_CREDENTIALS", "u:p"),
        ("BREVO_WEBHOOK_CREDENTIALS", "u:p"),
        ("SPARKPOST_WEBHOOK_CREDENTIALS", "u:p"),
        ("GENERIC_WEBHOOK_TOKEN", "generic-token"),
    ])
}

/// One request to a Worker of its own, with nothing stored before it.
fn run(req: &HttpRequest) -> HttpResponse {
    World::new(config()).send(req, NOW, &FakeFetcher::default())
}

/// One deferral per recipient, in each Basic-auth ESP's own shape.
fn batch(esp: Esp, recipients: &[&str]) -> Value {
    let events = recipients.iter().enumerate().map(|(i, to)| match esp {
        Esp::Mailjet => json!({"event": "bounce", "hard_bounce": false, "time": NOW, "MessageID": i, "email": to,
                               "smtp_reply": "451 4.7.1 try later"}),
        Esp::Brevo => json!({"event": "deferred", "ts_event": NOW, "message-id": format!("<m{i}>"), "email": to,
                             "reason": "451 4.7.1 try later"}),
        _ => {
            json!({"msys": {"message_event": {"type": "delay", "timestamp": NOW.to_string(), "event_id": i.to_string(),
                                               "rcpt_to": to, "raw_reason": "451 4.7.1 try later"}}})
        }
    });
    Value::Array(events.collect())
}

#[test]
fn hostile_recipients_are_reported_invalid_and_the_rest_of_the_batch_is_counted() {
    let mut recipients: Vec<&str> = HOSTILE.iter().map(|(address, _)| *address).collect();
    recipients.extend(LOOKALIKES.iter().map(|(address, _)| *address));
    for esp in [Esp::Mailjet, Esp::Brevo, Esp::Sparkpost] {
        let body = serde_json::to_vec(&batch(esp, &recipients)).unwrap();
        let response = run(&post(esp.as_str(), body, &[("Authorization", &basic("u:p"))]));
        let answer = response.json_body();
        assert_eq!(response.status, 200, "{esp:?}: {answer}");
        assert_eq!((answer["accepted"].as_u64(), answer["invalid"].as_u64()), (Some(4), Some(11)), "{esp:?}");
        let stored: Vec<&str> =
            answer["events"].as_array().unwrap().iter().map(|e| e["recipient_domain"].as_str().unwrap()).collect();
        assert_eq!(stored, LOOKALIKES.map(|(_, domain)| domain), "{esp:?}");
        let log: Value = serde_json::from_str(response.log.as_deref().unwrap()).unwrap();
        assert_eq!(
            log["invalid"],
            json!({"address_literal": 2, "no_at_sign": 1, "not_a_dns_name": 7, "single_label": 1})
        );
        assert!(!response.log.unwrap().contains('@'), "the log line names reasons, never the address");
    }
}

#[test]
fn generic_form_answers_400_naming_the_field_of_an_invalid_recipient() {
    for (address, why) in HOSTILE {
        let body = json!({"event": "deferred", "recipient": address, "timestamp": NOW});
        let response = run(&generic(&body));
        let message = response.json_body()["message"].as_str().unwrap().to_owned();
        assert_eq!(response.status, 400, "{address:?}");
        assert!(message.contains("`recipient`") && message.contains(&why.to_string()), "{address:?}: {message}");
    }
    let response = run(&generic(&json!({"event": "deferred", "domain": "enc\u{0}.test", "timestamp": NOW})));
    assert_eq!(response.status, 400);
    assert!(response.json_body()["message"].as_str().unwrap().contains("`domain`"));
}

fn generic(body: &Value) -> HttpRequest {
    post("generic", serde_json::to_vec(body).unwrap(), &[("Authorization", "Bearer generic-token")])
}

fn get(path: &str) -> HttpResponse {
    run(&HttpRequest::new(Method::Get, &format!("https://bw.example{path}")))
}

#[test]
fn read_api_refuses_what_the_adapters_refuse_and_finds_an_idn_by_its_stored_name() {
    for path in ["exa%2fmple.com", "b", "192.0.2.1", "[192.0.2.1]", "example..com", "-x.example"] {
        assert_eq!(get(&format!("/api/domains/{path}")).status, 400, "{path}");
    }
    let found = get("/api/domains/XN--BCHER-KVA.de");
    assert_eq!((found.status, found.json_body()["domain"].as_str()), (200, Some("xn--bcher-kva.de")));
    // The path is the name as listed, not a spelling to map: the answer says which name to ask for.
    let unicode = get("/api/domains/B\u{fc}cher.DE");
    assert_eq!(unicode.status, 400);
    assert!(unicode.json_body()["message"].as_str().unwrap().contains("xn--bcher-kva.de"));
}

/// Pieces of generated domain labels: ASCII in both cases, Unicode letters, and the characters the
/// review tried: lookalike dots, fullwidth forms, `İ`, zero-width and bidi controls, NUL, `/`, `%`; then
/// punycode prefixes (fullwidth too) and labels, characters STD3 alone refuses or that map to them (`=`,
/// `≠`, `⑵`, fullwidth `_`), RTL letters, a combining mark, ZWNJ, a variation selector, the one-dot leader.
fn label_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9]{1,6}",
        1 => Just("-".to_owned()),
        2 => prop::sample::select(vec!["\u{fc}", "\u{e9}", "\u{436}", "\u{4f8b}", "\u{30c6}", "\u{3b1}", "\u{df}", "\u{130}"])
            .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["\u{ff27}", "\u{ff4d}", "\u{ff11}", "\u{200b}", "\u{200d}", "\u{202e}", "\u{0}", "/", "%", "_", " "])
            .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["xn--", "XN--", "\u{ff58}\u{ff4e}\u{ff0d}\u{ff0d}", "bcher-kva", "fa-hia", "a-", "=", "\u{2260}", "\u{2474}", "\u{ff3f}",
                                       "\u{627}", "\u{5d0}", "\u{301}", "\u{200c}", "\u{fe0f}", "\u{2024}"])
            .prop_map(str::to_owned),
    ]
}

fn generated_domain() -> impl Strategy<Value = String> {
    let label = prop::collection::vec(label_piece(), 1..5).prop_map(|pieces| pieces.concat());
    let dot = prop::sample::select(vec![".", "\u{3002}", "\u{ff0e}", "\u{ff61}"]);
    let trailing = prop::sample::select(vec!["", ".", "\u{3002}", ".."]);
    (prop::collection::vec((label, dot), 1..5), trailing).prop_map(|(labels, trailing)| {
        let joined: Vec<String> = labels.iter().map(|(label, dot)| format!("{label}{dot}")).collect();
        let name = joined.concat();
        format!("{}{trailing}", name.trim_end_matches(['.', '\u{3002}', '\u{ff0e}', '\u{ff61}']))
    })
}

proptest! {
    /// Whatever domain an adapter stores, `GET /api/domains/{domain}` answers it, under the same name, and
    /// the OpenAPI document's pattern for that parameter admits it.
    #[test]
    fn every_domain_an_adapter_stores_is_answered_by_the_read_api(name in generated_domain(), esp in 0..3usize) {
        let address = format!("jane@{name}");
        let esp = [Esp::Mailjet, Esp::Brevo, Esp::Sparkpost][esp];
        let body = serde_json::to_vec(&batch(esp, &[&address])).unwrap();
        let parsed = esp::parse(esp, &Delivery { body: &body, headers: &[], now: NOW }).expect("a well-formed batch");
        let pattern = regex_lite::Regex::new(domain::PATTERN).unwrap();
        for event in &parsed {
            let stored = &event.recipient_domain;
            prop_assert!(stored.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
            prop_assert!(pattern.is_match(stored), "{:?} stored as {}", name, stored);
            let response = get(&format!("/api/domains/{stored}"));
            prop_assert_eq!(response.status, 200, "{:?} stored as {}", name, stored);
            prop_assert_eq!(&response.json_body()["domain"], stored.as_str());
        }
        // And the generic form stores exactly what an ESP would.
        let generic_body = serde_json::to_vec(&json!({"event": "deferred", "recipient": address, "timestamp": NOW})).unwrap();
        let generic = esp::parse(Esp::Generic, &Delivery { body: &generic_body, headers: &[], now: NOW }).ok();
        let from_generic = generic.and_then(|events| events.first().map(|e| e.recipient_domain.clone()));
        prop_assert_eq!(from_generic, parsed.first().map(|e| e.recipient_domain.clone()));
    }
}

// ---- Dates ---------------------------------------------------------------------------------------------

macro_rules! dates {
    ($($name:ident: $input:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(esp::parse_rfc3339($input), $expected, "{:?}", $input);
        }
    )*};
}

dates! {
    february_31st_is_refused_not_read_as_march_3rd: "2026-02-31T10:00:00Z" => None;
    february_29th_of_a_common_year_is_refused: "2026-02-29T10:00:00Z" => None;
    february_29th_of_a_leap_year_is_read: "2024-02-29T00:00:00Z" => Some(1_709_164_800);
    april_31st_is_refused: "2026-04-31T00:00:00Z" => None;
    offset_of_99_hours_99_minutes_is_refused: "2026-01-01T10:00:00+99:99" => None;
    offset_of_24_hours_is_refused: "2026-01-01T10:00:00+24:00" => None;
    offset_minute_60_is_refused: "2026-01-01T10:00:00-05:60" => None;
    hour_24_is_refused: "2026-01-01T24:00:00Z" => None;
    minute_60_is_refused: "2026-01-01T10:60:00Z" => None;
    offset_is_applied: "2016-04-27T16:28:50.3963933-04:00" => Some(1_461_788_930);
    lower_case_t_and_z_are_read: "2019-11-05t16:33:54z" => Some(1_572_971_634);
    space_for_the_t_is_read: "2019-11-05 16:33:54Z" => Some(1_572_971_634);
    other_separators_are_refused: "2019-11-05x16:33:54Z" => None;
    missing_offset_is_refused: "2019-11-05T16:33:54" => None;
    leap_second_is_read_as_the_second_before: "2016-12-31T23:59:60Z" => Some(1_483_228_799);
    before_1970_is_refused: "1969-12-31T23:59:59Z" => None;
}

#[test]
fn generic_form_refuses_an_impossible_date_naming_the_field() {
    let response =
        run(&generic(&json!({"event": "deferred", "recipient": "u@example.com", "timestamp": "2026-02-31T10:00:00Z"})));
    assert_eq!(response.status, 400);
    assert!(response.json_body()["message"].as_str().unwrap().contains("`timestamp`"));
}

#[test]
fn esp_event_with_an_impossible_date_is_stamped_at_receipt_not_on_march_3rd() {
    let body =
        json!({"RecordType": "Delivery", "DeliveredAt": "2026-02-31T10:00:00Z", "Email": "u@example.com", "ID": 1});
    let events =
        esp::parse(Esp::Postmark, &Delivery { body: &serde_json::to_vec(&body).unwrap(), headers: &[], now: NOW })
            .unwrap();
    assert_eq!(events[0].occurred_at, NOW);
}

// ---- Redaction -----------------------------------------------------------------------------------------

#[test]
fn a_reply_quoting_an_address_literal_is_stored_without_the_local_part() {
    let body = json!({"event": "bounced", "recipient": "jane@example.com", "timestamp": NOW,
                      "reply": "550 5.1.1 jane@[192.0.2.1]: user unknown"});
    let response = run(&generic(&body));
    assert_eq!(response.json_body()["events"][0]["reply"], "550 5.1.1 <…@[192.0.2.1]>: user unknown");
}

/// An RFC 5321 local part: a dot-atom of any `atext`, a quoted string (spaces, escaped quotes and
/// backslashes, `@`; `<` and `>` are in `src/redact.rs`'s table, as they take the other path), or RFC 6531
/// UTF-8.
fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}){0,2}",
        r#"([ a-zA-Z0-9@.,:;()\[\]]|\\"|\\\\){0,16}"#.prop_map(|inner| format!("\"{inner}\"")),
        "[a-z\u{e9}\u{fc}\u{436}\u{4f8b}]{1,10}",
    ]
}

fn mailbox_domain() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{1,10}(-[a-z0-9]{1,5})?(\\.[a-zA-Z]{2,6}){1,3}",
        "[a-z\u{fc}\u{e9}\u{4f8b}\u{30c6}]{1,8}\\.[a-z\u{30c6}\u{30b9}]{2,4}",
        (0..=255u8, 0..=255u8, 0..=255u8, 0..=255u8).prop_map(|(a, b, c, d)| format!("[{a}.{b}.{c}.{d}]")),
        prop::collection::vec(0..=0xffffu32, 1..8).prop_map(|groups| {
            let hex: Vec<String> = groups.iter().map(|g| format!("{g:x}")).collect();
            format!("[IPv6:{}::1]", hex.join(":"))
        }),
    ]
}

proptest! {
    /// Every mailbox form, bare, in angle brackets or behind `mailto:`, inside reply text: the text around
    /// it is kept, the mailbox becomes `<…@domain>`.
    #[test]
    fn every_rfc_5321_mailbox_form_loses_its_local_part(
        before in "[a-zA-Z0-9 .,;:()]{0,20}",
        local in local_part(),
        domain in mailbox_domain(),
        wrapper in 0..3usize,
        after in prop::sample::select(vec!["", " user unknown", ": mailbox full", ". Try later", ", rejected", "> x"]),
    ) {
        let mailbox = format!("{local}@{domain}");
        let (written, expected) = match wrapper {
            0 => (mailbox.clone(), format!("<…@{domain}>")),
            1 => (format!("<{mailbox}>"), format!("<…@{domain}>")),
            _ => (format!("mailto:{mailbox}"), format!("mailto:<…@{domain}>")),
        };
        let before = format!("550 5.1.1 {before} ");
        let text = format!("{before}{written}{after}");
        prop_assert_eq!(redact_addresses(&text), format!("{before}{expected}{after}"));
    }
}

// ---- Order of checks: nothing is fetched for a request the cheap checks refuse ----------------------------

const SNS_VECTOR: &str = "sns_signed_notification_sigv2.json";

fn sns_envelope() -> Value {
    serde_json::from_slice(&sample(SNS_VECTOR)).unwrap()
}

fn sns_config(envelope: &Value) -> Config {
    Config::from_pairs([("SES_TOPIC_ARNS", envelope["TopicArn"].as_str().unwrap())])
}

fn sns_now(envelope: &Value) -> u64 {
    esp::parse_rfc3339(envelope["Timestamp"].as_str().unwrap()).unwrap()
}

/// Posts an edited copy of the signed SNS vector; the answer and how many fetches it cost.
fn sns(edit: impl FnOnce(&mut Value), now_shift: u64, fetcher: &dyn Fetcher) -> HttpResponse {
    let mut envelope = sns_envelope();
    let (config, now) = (sns_config(&envelope), sns_now(&envelope) + now_shift);
    edit(&mut envelope);
    World::new(config).send(&post("ses", serde_json::to_vec(&envelope).unwrap(), &[]), now, fetcher)
}

macro_rules! refused_before_any_fetch {
    ($($name:ident: ($edit:expr, $shift:expr) => $status:expr;)*) => {$(
        #[test]
        fn $name() {
            let fetcher = FakeFetcher::default();
            let response = sns($edit, $shift, &fetcher);
            assert_eq!(response.status, $status, "{}", String::from_utf8_lossy(&response.body));
            assert_eq!(fetcher.fetched.get(), 0, "fetched {:?}", fetcher.urls.borrow());
        }
    )*};
}

refused_before_any_fetch! {
    sns_signature_version_3_is_401_before_the_certificate_is_fetched:
        (|v: &mut Value| v["SignatureVersion"] = "3".into(), 0) => 401;
    sns_stale_timestamp_is_401_before_any_fetch: (|_: &mut Value| {}, 301) => 401;
    sns_impossible_timestamp_is_401_before_any_fetch:
        (|v: &mut Value| v["Timestamp"] = "2026-02-31T10:00:00.000Z".into(), 0) => 401;
    sns_unknown_type_is_400_before_any_fetch: (|v: &mut Value| v["Type"] = "Surprise".into(), 0) => 400;
    sns_signature_that_is_not_base64_is_401_before_any_fetch:
        (|v: &mut Value| v["Signature"] = "not base64!".into(), 0) => 401;
    sns_subscription_without_a_token_is_400_before_any_fetch: (|v: &mut Value| {
        v["Type"] = "SubscriptionConfirmation".into();
        v["SubscribeURL"] = "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription".into();
    }, 0) => 400;
    sns_subscribe_url_off_the_sns_host_is_401_before_any_fetch: (|v: &mut Value| {
        v["Type"] = "SubscriptionConfirmation".into();
        v["Token"] = "t".into();
        v["SubscribeURL"] = "https://evil.example/confirm".into();
    }, 0) => 401;
}

/// A fetcher whose every request fails, as when the SNS host is unreachable.
struct Unreachable;

impl Fetcher for Unreachable {
    fn get<'a>(&'a self, _url: &'a str) -> Pin<Box<dyn Future<Output = Result<String, FetchError>> + 'a>> {
        Box::pin(async { Err(FetchError("connection refused".into())) })
    }
}

#[test]
fn certificate_that_cannot_be_fetched_is_503_upstream_unavailable_not_storage() {
    let response = sns(|_| {}, 0, &Unreachable);
    assert_eq!((response.status, response.json_body()["error"].as_str()), (503, Some("upstream_unavailable")));
}

#[test]
fn signed_mailgun_body_that_is_malformed_is_400_before_the_counting_object_checks_its_token() {
    let mut body: Value = serde_json::from_slice(&sample("mailgun_failed_permanent_anymail.json")).unwrap();
    let now = body["signature"]["timestamp"].as_str().unwrap().parse().unwrap();
    body["event-data"] = "not an event".into();
    let world = World::new(Config::from_pairs([("MAILGUN_WEBHOOK_SIGNING_KEY", "TEST_WEBHOOK_SIGNING_KEY")]));
    let response = world.send(&post("mailgun", serde_json::to_vec(&body).unwrap(), &[]), now, &FakeFetcher::default());
    assert_eq!(response.status, 400, "{}", String::from_utf8_lossy(&response.body));
    assert_eq!(world.requests(), 0, "the token is never recorded for a body that is not counted");
}

// ---- Bodies bounded ------------------------------------------------------------------------------------

#[test]
fn classify_body_over_its_limit_is_413_through_the_router() {
    let oversized = serde_json::to_vec(&vec!["451 4.7.1 try later ".repeat(60); 1000]).unwrap();
    assert!(oversized.len() > 1024 * 1024 && oversized.len() < bouncewatch::http::MAX_BODY_BYTES);
    let req = HttpRequest::new(Method::Post, "https://bw.example/api/classify").with_body(oversized);
    assert_eq!(run(&req).status, 413);
}
