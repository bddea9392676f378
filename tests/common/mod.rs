//! Helpers shared by the integration tests: reply fixtures and the de-regexer for the classifier's table
//! tests; webhook fixtures, a fake fetcher and a request runner for the webhook tests. Fixtures are copies
//! (see `tests/fixtures/*/SOURCES.md`), so the tests run without `/work/shared`.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;

/// The rows of a TSV fixture, header skipped, split on tabs.
pub fn tsv(name: &str) -> Vec<Vec<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

/// Turns one of KumoMTA's reply regexes into a concrete reply it matches, deterministically: anchors
/// and look-aheads dropped, `.+`/`.*` become a short filler, `\d+` a digit, escapes their character,
/// `(a|b)` its first alternative, and `x?`/`x*` keep `x`.
pub fn deregex(pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '^' | '$' | '?' | '*' | '+' => i += 1,
            '.' if matches!(chars.get(i + 1), Some('+' | '*')) => {
                out.push_str(" x ");
                i += 2;
            }
            '\\' => {
                match chars.get(i + 1) {
                    Some('d') => out.push('1'),
                    Some(&c) => out.push(c),
                    None => {}
                }
                i += 2;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                // A look-around: skip to its closing parenthesis.
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
            }
            '(' => {
                // Keep the first alternative, drop the rest of the group.
                let close = (i..chars.len()).find(|&j| chars[j] == ')').unwrap_or(chars.len());
                let group: String = chars[i + 1..close].iter().collect();
                out.push_str(&deregex(group.split('|').next().unwrap_or("")));
                i = close + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;

use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery, FetchError, Fetcher};
use bouncewatch::event::{Esp, NormalizedEvent};
use bouncewatch::http::{handle, Context, HttpRequest, HttpResponse, Method};
use bouncewatch::store::MemoryStore;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/webhooks");
pub const SNS_CERT_URL: &str =
    "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
/// Where the self-generated confirmation says its certificate is.
pub const SELFGEN_CERT_URL: &str = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";

/// The exact bytes of a fixture, by path under `tests/fixtures/webhooks`.
pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn sample(name: &str) -> Vec<u8> {
    fixture(&format!("samples/{name}"))
}

pub fn vectors(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(&format!("vectors/{name}"))).unwrap()
}

/// Parses a sample without verification, as the CLI does.
pub fn parse_sample(esp: Esp, name: &str) -> Result<Vec<NormalizedEvent>, esp::EspError> {
    let body = sample(name);
    esp::parse(esp, &Delivery { body: &body, headers: &[], now: 1_700_000_000 })
}

/// Serves the SNS certificate from the vectors, and counts fetches.
#[derive(Default)]
pub struct FakeFetcher {
    pub fetched: Cell<u32>,
    pub urls: std::cell::RefCell<Vec<String>>,
}

impl Fetcher for FakeFetcher {
    fn get<'a>(&'a self, url: &'a str) -> Pin<Box<dyn Future<Output = Result<String, FetchError>> + 'a>> {
        self.fetched.set(self.fetched.get() + 1);
        self.urls.borrow_mut().push(url.to_owned());
        Box::pin(async move {
            if url == SNS_CERT_URL {
                let pem = fixture("vectors/sns_SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem");
                Ok(String::from_utf8(pem).unwrap())
            } else if url == SELFGEN_CERT_URL {
                Ok(String::from_utf8(fixture("selfgen/sns_selfgen_cert.pem")).unwrap())
            } else if url.starts_with("https://sns.") {
                Ok("<ConfirmSubscriptionResponse/>".into())
            } else {
                Err(FetchError(format!("fake fetcher has no {url}")))
            }
        })
    }
}

pub fn post(esp: &str, body: impl Into<Vec<u8>>, headers: &[(&str, &str)]) -> HttpRequest {
    let mut req = HttpRequest::new(Method::Post, &format!("https://bw.example/webhooks/{esp}")).with_body(body);
    for (name, value) in headers {
        req = req.with_header(name, value);
    }
    req
}

/// A counted event as the adapters would produce it: a delivery, or a 451 deferral whose reply names its
/// `category` (set for deferrals only). Ids are unique per domain, kind and time.
pub fn synthetic_event(
    domain: &str,
    kind: bouncewatch::event::EventKind,
    at: u64,
    category: Option<bouncewatch::classify::Category>,
) -> NormalizedEvent {
    let deferral = kind == bouncewatch::event::EventKind::Deferred;
    NormalizedEvent {
        esp: Esp::Generic,
        event_id: format!("{domain}-{kind:?}-{at}"),
        kind,
        occurred_at: at,
        recipient_domain: domain.into(),
        smtp_code: deferral.then_some(451),
        enhanced_code: None,
        reply: category.map(|c| format!("451 4.7.1 [redacted] {} from receiver", c.as_str())),
        category,
        permanence: None,
        rule: category.map(|_| "text.synthetic"),
        sending: Default::default(),
    }
}

#[path = "../support/sqlite.rs"]
pub mod sqlite;

use bouncewatch::counting::detection::TickReport;
use bouncewatch::counting::{call, Applied, LocalCounter, Request};
use bouncewatch::notify::{Fetched, Notifier, SendError};
use bouncewatch::outbound::OutboundRequest;
use bouncewatch::store::Faults;

/// Alert emails through Resend's API (to a closed local port: the [`RecordingNotifier`] answers), with
/// `extra` vars.
pub fn resend_alerting(extra: &[(&'static str, &'static str)]) -> Config {
    let mut pairs = vec![
        ("ALERT_FROM", "alerts@bw.example"),
        ("ALERT_TO", "ops@bw.example"),
        ("ALERT_EMAIL_PROVIDER", "resend"),
        ("ALERT_EMAIL_API_KEY", "re_key"),
        ("ALERT_EMAIL_API_BASE", "http://127.0.0.1:9"),
    ];
    pairs.extend_from_slice(extra);
    Config::from_pairs(pairs)
}

/// A notifier that records what it would send and succeeds.
#[derive(Default)]
pub struct RecordingNotifier {
    pub emails: std::cell::RefCell<Vec<(String, String, String)>>,
    pub requests: std::cell::RefCell<Vec<OutboundRequest>>,
}

impl Notifier for RecordingNotifier {
    async fn send_email(&self, envelope_from: &str, to: &str, raw_mime: &str) -> Result<(), SendError> {
        self.emails.borrow_mut().push((envelope_from.into(), to.into(), raw_mime.into()));
        Ok(())
    }

    async fn fetch(&self, request: &OutboundRequest) -> Result<Fetched, SendError> {
        self.requests.borrow_mut().push(request.clone());
        // KumoMTA's answer to a suspension (the only body read); an email API ignores it.
        Ok(Fetched { status: 200, body: r#"{"id": "9511a32e-66f8-42aa-b151-ccb176df47d9"}"#.into() })
    }
}

/// The Worker's storage natively: KV (a [`MemoryStore`]) and the counting objects (rusqlite), one per
/// `COUNTER_SHARDS`, with every Durable Object request counted.
pub struct World {
    pub kv: MemoryStore,
    pub objects: Vec<sqlite::SqliteSql>,
    pub notifier: RecordingNotifier,
    pub config: Config,
    pub faults: Cell<Faults>,
    /// The objects' MX look-ups: NXDOMAIN for every domain not [`MemoryResolver::set`].
    pub resolver: bouncewatch::provider::MemoryResolver,
    requests: Cell<u64>,
    /// The webhook answers no object call has carried yet ([`bouncewatch::metrics::tally`]).
    untold: std::cell::RefCell<bouncewatch::metrics::WebhookTally>,
}

impl World {
    pub fn new(config: Config) -> World {
        let shards = bouncewatch::settings::Settings::from_config(&config).map_or(1, |s| s.counter_shards);
        World {
            kv: MemoryStore::new(),
            objects: (0..shards).map(|_| sqlite::SqliteSql::new()).collect(),
            notifier: RecordingNotifier::default(),
            config,
            faults: Cell::new(Faults::default()),
            resolver: bouncewatch::provider::MemoryResolver::new(),
            requests: Cell::new(0),
            untold: Default::default(),
        }
    }

    /// Runs `f` with the objects reachable at `now`; their requests are added to [`World::requests`].
    pub fn with_counter<T>(
        &self,
        now: u64,
        f: impl FnOnce(&LocalCounter<'_, sqlite::SqliteSql, MemoryStore, RecordingNotifier>) -> T,
    ) -> T {
        let counter = LocalCounter::new(&self.objects, &self.kv, &self.notifier, self.config.clone())
            .with_resolver(&self.resolver);
        counter.now.set(now);
        counter.faults.set(self.faults.get());
        // One isolate for the World's life: what one request's answers leave untold, the next call carries.
        counter.untold.replace(self.untold.take());
        let out = f(&counter);
        self.untold.replace(counter.untold.take());
        self.requests.set(self.requests.get() + counter.requests());
        out
    }

    /// Durable Object requests so far.
    pub fn requests(&self) -> u64 {
        self.requests.get()
    }

    /// Rows read and written by the objects so far.
    pub fn sql_ops(&self) -> bouncewatch::sql::SqlOps {
        use bouncewatch::sql::Sql;
        self.objects.iter().map(|o| o.ops()).fold(Default::default(), |a, b| a + b)
    }

    /// Sends one request's events to the objects as the webhook route does (cut into deltas, one call per
    /// shard); returns what was counted, summed over the shards.
    pub fn apply(&self, events: &[NormalizedEvent], now: u64) -> Applied {
        let settings = bouncewatch::settings::Settings::from_config(&self.config).expect("valid settings");
        let prepared = bouncewatch::counting::prepare(events, now, &settings);
        self.with_counter(now, |counter| {
            let mut total = Applied::default();
            for (shard, delta) in prepared.deltas {
                let applied: Applied =
                    pollster::block_on(call(counter, shard, &Request::Apply { delta })).expect("applied");
                total.accepted += applied.accepted;
                total.duplicates += applied.duplicates;
                total.rows_written += applied.rows_written;
            }
            total
        })
    }

    /// Runs a request through the router, as the Worker's fetch handler does.
    pub fn send(&self, req: &HttpRequest, now: u64, fetcher: &dyn Fetcher) -> HttpResponse {
        self.with_counter(now, |counter| {
            let ctx = Context { store: &self.kv, counter, config: &self.config, now, fetcher };
            pollster::block_on(handle(req, &ctx))
        })
    }

    /// A GET of `url` (path and query) at `now`, with the bearer token if given.
    pub fn get(&self, url: &str, now: u64) -> HttpResponse {
        self.send(&HttpRequest::new(Method::Get, &format!("http://h{url}")), now, &esp::NoFetch)
    }

    /// One cron run at `now`, as the scheduled handler makes it.
    pub fn tick(&self, now: u64) -> TickReport {
        self.with_counter(now, |counter| pollster::block_on(call(counter, 0, &Request::Tick)))
            .unwrap_or_else(|e| panic!("cron run failed: {e}"))
    }
}

/// Six quiet hours of deliveries to `domain`, then 60 451s of `category` among 160 attempts in the ten
/// minutes before `now`, and the two cron runs (at `now` and a minute on) that confirm the alert. Returns
/// the time of the second run.
pub fn seed_spike(world: &World, domain: &str, category: bouncewatch::classify::Category, now: u64) -> u64 {
    use bouncewatch::event::EventKind;
    let event = |kind, at, i: u64| {
        let mut event = synthetic_event(domain, kind, at, (kind == EventKind::Deferred).then_some(category));
        event.event_id = format!("{}-{i}", event.event_id);
        event
    };
    for step in 4..72 {
        let at = now - step * 300;
        world.apply(&(0..20).map(|i| event(EventKind::Delivered, at, i)).collect::<Vec<_>>(), now);
    }
    for minute in 0..10 {
        let at = now - 600 + minute * 60;
        let mut events: Vec<_> = (0..10).map(|i| event(EventKind::Delivered, at, i)).collect();
        events.extend((0..6).map(|i| event(EventKind::Deferred, at, i)));
        world.apply(&events, now);
    }
    world.tick(now);
    world.tick(now + 60);
    now + 60
}
