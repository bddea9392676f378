//! `GET /api/domains`, `GET /api/providers` and their pages' buckets as `text/csv`, read back with the `csv` crate as a
//! spreadsheet or script would: the same numbers as the JSON, every record as wide as the header, and
//! domain names that no CSV reader can split and no spreadsheet can run as a formula.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::event::{EventKind, NormalizedEvent};
use bouncewatch::http::{HttpRequest, HttpResponse, Method};
use common::World;
use proptest::prelude::*;
use serde_json::Value;

const NOW: u64 = 1_700_000_000;

/// `n` events of one kind, time and category to `domain`, each with an id of its own (the objects count
/// an id once).
fn events(domain: &str, kind: EventKind, at: u64, category: Option<Category>, n: usize) -> Vec<NormalizedEvent> {
    let event = common::synthetic_event(domain, kind, at, category);
    (0..n).map(|i| NormalizedEvent { event_id: format!("{}-{i}", event.event_id), ..event.clone() }).collect()
}

/// A Worker that has counted deliveries and rate-limited deferrals to each domain, more for later ones.
fn world_with(domains: &[&str]) -> World {
    let world = World::new(Config::new());
    for (i, domain) in domains.iter().enumerate() {
        let mut batch = events(domain, EventKind::Delivered, NOW - 600, None, 3 + i);
        batch.extend(events(domain, EventKind::Deferred, NOW - 300, Some(Category::RateLimited), i + 1));
        world.apply(&batch, NOW);
    }
    world
}

fn get(world: &World, url: &str, accept: Option<&str>) -> HttpResponse {
    let mut req = HttpRequest::new(Method::Get, &format!("http://h{url}"));
    if let Some(accept) = accept {
        req = req.with_header("accept", accept);
    }
    world.send(&req, NOW, &bouncewatch::esp::NoFetch)
}

/// The header and the records of a CSV answer, parsed as RFC 4180 says (quotes, doubled quotes, line
/// breaks inside quotes); fails the test on anything a reader would choke on, including uneven records.
fn parse(response: &HttpResponse) -> (Vec<String>, Vec<Vec<String>>) {
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    assert_eq!(response.header("content-type"), Some("text/csv; charset=utf-8; header=present"));
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(response.body.as_slice());
    let header = reader.headers().expect("header record").iter().map(str::to_owned).collect();
    let records = reader
        .records()
        .map(|r| r.expect("a well-formed record as wide as the header").iter().map(str::to_owned).collect())
        .collect();
    (header, records)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// A JSON value as its CSV cell reads.
fn as_cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `url`'s CSV against its JSON's list under `key`: a record per row, every field in its column (the
/// categories spread one column each), and no JSON field without one.
fn assert_table_says_what_the_json_says(world: &World, url: &str, key: &str) {
    let json = get(world, url, None).json_body();
    let (header, records) = parse(&get(world, &format!("{url}&format=csv"), None));
    let rows = json[key].as_array().unwrap();
    assert!(!rows.is_empty(), "{json}");
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(rows) {
        for (name, value) in row.as_object().unwrap() {
            if name == "categories" {
                for category in Category::ALL {
                    let expected = value.get(category.as_str()).map_or("0".into(), as_cell);
                    assert_eq!(record[column(&header, category.as_str())], expected, "{url}: {category:?}");
                }
            } else if let Some(fields) = value.as_object() {
                // The period before and the change: a column per field, `previous_attempts`…
                for (field, value) in fields {
                    assert_eq!(record[column(&header, &format!("{name}_{field}"))], as_cell(value), "{url}: {name}");
                }
            } else {
                assert_eq!(record[column(&header, name)], as_cell(value), "{url}: {name}");
            }
        }
    }
    // Every JSON field has its column: a field added to the JSON and not to the table fails above.
    let width = |value: &Value| value.as_object().map_or(1, |fields| fields.len());
    let fields: usize = rows[0]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| if n == "categories" { Category::ALL.len() } else { width(v) })
        .sum();
    assert_eq!(header.len(), fields, "{url}");
}

#[test]
fn the_domains_and_providers_tables_say_what_the_json_says() {
    let world = world_with(&["gmail.com", "googlemail.com", "outlook.com", "yahoo.com"]);
    assert_table_says_what_the_json_says(&world, "/api/domains?window=1h", "domains");
    assert_table_says_what_the_json_says(&world, "/api/providers?window=1h", "providers");
    let (header, records) = parse(&get(&world, "/api/providers?window=1h&format=csv", None));
    let google = records.iter().find(|r| r[column(&header, "provider")] == "google").expect("google's row");
    assert_eq!(google[column(&header, "domains")], "2", "gmail.com and googlemail.com");
}

#[test]
fn the_buckets_tables_of_a_domain_and_a_provider_say_what_the_json_says() {
    let world = world_with(&["gmail.com"]);
    assert_table_says_what_the_json_says(&world, "/api/domains/gmail.com?window=1h", "buckets");
    assert_table_says_what_the_json_says(&world, "/api/providers/google?window=1h", "buckets");
    let named = get(&world, "/api/providers/other%3Ahosting.example?format=csv", None);
    assert!(
        named.header("content-disposition").is_some_and(|d| d.contains("other-hosting.example-")),
        "{:?}",
        named.header("content-disposition")
    );
}

#[test]
fn accept_text_csv_gets_the_table_and_a_download_name() {
    let world = world_with(&["gmail.com"]);
    let response = get(&world, "/api/domains/gmail.com?window=7d", Some("text/csv"));
    assert_eq!(response.header("content-disposition"), Some("attachment; filename=\"gmail.com-7d.csv\""));
    assert_eq!(response.header("vary"), Some("accept"));
    let (header, _) = parse(&response);
    assert_eq!(header[0], "start");
    let json = get(&world, "/api/domains", Some("application/json, text/csv;q=0.5"));
    assert_eq!(json.header("content-type"), Some("application/json; charset=utf-8"));
}

/// Names as hostile as an ESP payload could make them before the domain validator (`src/domain.rs`), which
/// now refuses them all: the table stays safe without relying on it.
const HOSTILE: &[&str] = &[
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+1+1.example",
    "-2+3.example",
    "@SUM(A1:A9).example",
    "\t=1.example",
    "\r=1.example",
    "quote\"inside.example",
    "comma,inside.example",
    "line\nbreak.example",
    "crlf\r\nbreak.example",
    "\"\"\"",
    ",",
    "trailing-space.example ",
    "bücher.example",
];

#[test]
fn hostile_domain_names_read_back_whole_and_never_as_formulas() {
    let world = world_with(HOSTILE);
    let (header, records) = parse(&get(&world, &format!("/api/domains?format=csv&limit={}", HOSTILE.len()), None));
    assert_eq!(records.len(), HOSTILE.len());
    let mut read: Vec<String> = records.iter().map(|r| r[column(&header, "domain")].clone()).collect();
    let mut expected: Vec<String> = HOSTILE
        .iter()
        .map(|d| if d.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{d}") } else { (*d).to_owned() })
        .collect();
    read.sort();
    expected.sort();
    assert_eq!(read, expected);
    for record in &records {
        assert!(!record.iter().any(|cell| cell.starts_with(['=', '+', '-', '@'])), "{record:?}");
    }
}

#[test]
fn the_table_is_bounded_by_limit_as_the_json_is() {
    let domains: Vec<String> = (0..1_005).map(|i| format!("d{i}.example")).collect();
    let world = World::new(Config::new());
    let events: Vec<NormalizedEvent> =
        domains.iter().map(|d| common::synthetic_event(d, EventKind::Delivered, NOW - 60, None)).collect();
    world.apply(&events, NOW);
    let (_, records) = parse(&get(&world, "/api/domains?format=csv", None));
    assert_eq!(records.len(), 100);
    let (_, records) = parse(&get(&world, "/api/domains?format=csv&limit=1000", None));
    assert_eq!(records.len(), 1000);
    assert_eq!(get(&world, "/api/domains?format=csv&limit=1001", None).status, 400);
}

#[test]
fn an_unknown_format_is_a_400_and_a_repeated_one_too() {
    let world = World::new(Config::new());
    for url in ["/api/domains?format=xml", "/api/domains?format=csv&format=json", "/api/domains/gmail.com?format="] {
        let response = get(&world, url, None);
        assert_eq!((response.status, response.json_body()["error"].as_str()), (400, Some("bad_request")), "{url}");
        assert!(response.json_body()["message"].as_str().unwrap().contains("`format`"), "{url}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any stored name, whatever its characters, is one cell that reads back as itself (behind a `'` when
    /// it would be a formula), and never breaks a record.
    #[test]
    fn any_domain_name_is_one_cell_that_reads_back(name in "[=+\\-@\t\r\n\",; 'a-z.\\PC]{1,40}") {
        let world = world_with(&[name.as_str()]);
        let (header, records) = parse(&get(&world, "/api/domains?format=csv", None));
        prop_assert_eq!(records.len(), 1);
        let expected = if name.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{name}") } else { name.clone() };
        prop_assert_eq!(&records[0][column(&header, "domain")], &expected);
    }
}
