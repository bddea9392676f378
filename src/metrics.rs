//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4) of what the dashboard shows and
//! of the Worker's own work, pure so that its output is tested natively and, in
//! `tests/e2e/metrics.test.mjs`, by the `prometheus_client` parser.
//!
//! Per recipient domain (`scope="domain",domain="…"`) and per mailbox provider (`scope="provider",
//! provider="…"`, the domains summed with each one's provider as known now), over the detector's window
//! (`SPIKE_WINDOW_MINUTES`): events by kind, 451s, the 451 ratio, the baseline ratio (tracked ones), the
//! alert phase and severity, whether it is silenced. Only the `METRICS_TOP_N` domains and providers with
//! the most events are named; the rest are summed as `domain="other"` (`provider="other"`), so the output
//! is bounded however many domains are mailed (N ≤ [`MAX_TOP_N`]).
//!
//! The Worker's own figures are counters kept in each counting object's memory ([`ObjectStats`]): the
//! Durable Object requests it served, rows read and written, KV puts, webhook events by ESP and outcome,
//! and webhook answers by ESP and status — every one, the refused included, tallied by the isolate that
//! gave it and handed over with its next object call ([`tally`]). Kept in memory, they cost no storage
//! at all — not one row written per webhook — and reset when an object restarts, which Prometheus'
//! `rate()` and `increase()` expect of a counter. Publish lag comes from each object's stored publish
//! state, read anyway by the request that asks.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::counters::Counts;
use crate::detect::{Phase, Severity};

pub mod tally;
pub use tally::WebhookTally;

/// `METRICS_TOP_N` when unset.
pub const DEFAULT_TOP_N: usize = 50;
/// The most domains named: 1,000 domains are about 20,000 series, as much as a scrape should carry.
pub const MAX_TOP_N: usize = 1000;
/// The domain label of everything outside the top N.
pub const OTHER: &str = "other";

/// One counting object's counters since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectStats {
    /// Unix seconds when this instance started counting.
    pub started_at: u64,
    /// Durable Object requests served, by operation (`apply`, `read`, `tick`…).
    pub requests: BTreeMap<String, u64>,
    pub rows_read: u64,
    pub rows_written: u64,
    pub kv_puts: u64,
    /// Webhook events by ESP then outcome (`accepted`, `duplicate`).
    pub webhook_events: BTreeMap<String, BTreeMap<String, u64>>,
    /// Webhook answers by ESP (or `unknown`) then status, as the Worker's isolates handed them over.
    pub webhook_requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// The last cron run, on shard 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tick_at: Option<u64>,
}

impl ObjectStats {
    /// One webhook delta's events, counted or found counted before.
    pub fn record_events(&mut self, esp: &str, applied: &crate::counting::Applied) {
        let events = self.webhook_events.entry(esp.to_owned()).or_default();
        *events.entry("accepted".to_owned()).or_default() += applied.accepted as u64;
        *events.entry("duplicate".to_owned()).or_default() += applied.duplicates as u64;
    }

    /// Webhook answers an isolate handed over ([`WebhookTally::encode`]).
    pub fn record_answers(&mut self, header: &str) {
        for ((esp, status), n) in WebhookTally::decode(header) {
            *self.webhook_requests.entry(esp).or_default().entry(status.to_string()).or_default() += n;
        }
    }
}

/// One object's part of a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMetrics {
    pub shard: u32,
    pub stats: ObjectStats,
    /// When it last published its hour pages to KV.
    pub last_publish_at: u64,
}

/// What shard 0 knows about one tracked domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainAlert {
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub baseline_ratio: f64,
    pub silenced: bool,
}

/// Everything one scrape renders.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub now: u64,
    pub window_minutes: u64,
    /// Every domain's counts over the detector's window.
    pub window: BTreeMap<String, Counts>,
    pub alerts: BTreeMap<String, DomainAlert>,
    /// Every provider's (by id), its domains summed.
    pub providers: BTreeMap<String, Counts>,
    pub provider_alerts: BTreeMap<String, DomainAlert>,
    pub shards: Vec<ShardMetrics>,
}

/// A label value escaped as the exposition format requires: backslash, double quote and line feed.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let braces = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
        let _ = writeln!(self.0, "{name}{braces} {}", number(value));
    }
}

/// Integers without a fraction, other values as Rust prints them (the format takes both, and NaN).
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The `top_n` domains by attempts (then 451s, then name), and the rest summed as [`OTHER`].
pub fn top_domains(window: &BTreeMap<String, Counts>, top_n: usize) -> Vec<(String, Counts)> {
    let mut ranked: Vec<(&String, &Counts)> = window.iter().collect();
    crate::sort::sort_by(&mut ranked, |a, b| {
        (b.1.attempts(), b.1.smtp_451).cmp(&(a.1.attempts(), a.1.smtp_451)).then(a.0.cmp(b.0))
    });
    let mut top: Vec<(String, Counts)> = ranked.iter().take(top_n).map(|(d, c)| ((*d).clone(), (*c).clone())).collect();
    if ranked.len() > top_n {
        let mut other = Counts::default();
        for (_, counts) in &ranked[top_n..] {
            other.merge(counts);
        }
        other.samples.clear();
        top.push((OTHER.to_owned(), other));
    }
    top
}

const PHASES: [(Phase, &str); 4] =
    [(Phase::Ok, "ok"), (Phase::Pending, "pending"), (Phase::Firing, "firing"), (Phase::Resolving, "resolving")];

/// One scope's series: its label and its named rows (the top N and `other`) with what shard 0 tracks.
struct Scoped<'a> {
    scope: &'static str,
    rows: Vec<(String, Counts)>,
    alerts: &'a BTreeMap<String, DomainAlert>,
}

impl Scoped<'_> {
    fn labels<'l>(&self, name: &'l str) -> [(&'static str, &'l str); 2] {
        [("scope", self.scope), (self.scope, name)]
    }

    /// The tracked ones among the named rows.
    fn tracked(&self) -> Vec<(&String, &DomainAlert)> {
        self.alerts.iter().filter(|(d, _)| self.rows.iter().any(|(n, _)| n == *d)).collect()
    }
}

/// The exposition text of a scrape.
pub fn render(scrape: &Scrape, top_n: usize) -> String {
    let mut out = Out(String::new());
    let scopes = [
        Scoped { scope: "domain", rows: top_domains(&scrape.window, top_n), alerts: &scrape.alerts },
        Scoped { scope: "provider", rows: top_domains(&scrape.providers, top_n), alerts: &scrape.provider_alerts },
    ];

    out.family(
        "bouncewatch_window_events",
        "gauge",
        "Events in the detector's window, by recipient domain or provider and kind.",
    );
    for s in &scopes {
        for (name, c) in &s.rows {
            for (kind, n) in
                [("delivered", c.delivered), ("deferred", c.deferred), ("bounced", c.bounced), ("dropped", c.dropped)]
            {
                let [scope, named] = s.labels(name);
                out.sample("bouncewatch_window_events", &[scope, named, ("kind", kind)], n as f64);
            }
        }
    }
    out.family("bouncewatch_window_smtp_451", "gauge", "Replies with SMTP code 451 in the detector's window.");
    for s in &scopes {
        for (name, c) in &s.rows {
            out.sample("bouncewatch_window_smtp_451", &s.labels(name), c.smtp_451 as f64);
        }
    }
    out.family(
        "bouncewatch_ratio_451",
        "gauge",
        "451s per attempt (delivered + deferred + bounced) in the detector's window.",
    );
    for s in &scopes {
        for (name, c) in &s.rows {
            out.sample("bouncewatch_ratio_451", &s.labels(name), c.ratio_451());
        }
    }
    out.family(
        "bouncewatch_baseline_ratio_451",
        "gauge",
        "The baseline 451 ratio (domains and providers the detector tracks).",
    );
    for s in &scopes {
        for (name, alert) in s.tracked() {
            out.sample("bouncewatch_baseline_ratio_451", &s.labels(name), alert.baseline_ratio);
        }
    }
    out.family(
        "bouncewatch_alert_state",
        "gauge",
        "1 for the alert phase (tracked domains and providers; others are ok).",
    );
    for s in &scopes {
        for (name, alert) in s.tracked() {
            for (phase, state) in PHASES {
                let [scope, named] = s.labels(name);
                out.sample(
                    "bouncewatch_alert_state",
                    &[scope, named, ("state", state)],
                    f64::from(u8::from(alert.phase == phase)),
                );
            }
        }
    }
    out.family("bouncewatch_alert_severity", "gauge", "1 for the severity of an open alert.");
    for s in &scopes {
        for (name, alert) in s.tracked() {
            if let Some(severity) = alert.severity {
                let severity = match severity {
                    Severity::Benign => "benign",
                    Severity::Warning => "warning",
                    Severity::Critical => "critical",
                };
                let [scope, named] = s.labels(name);
                out.sample("bouncewatch_alert_severity", &[scope, named, ("severity", severity)], 1.0);
            }
        }
    }
    out.family("bouncewatch_alert_silenced", "gauge", "1 when a silence mutes the open alert.");
    for s in &scopes {
        for (name, alert) in s.tracked().into_iter().filter(|(_, a)| a.severity.is_some()) {
            out.sample("bouncewatch_alert_silenced", &s.labels(name), f64::from(u8::from(alert.silenced)));
        }
    }
    out.family("bouncewatch_domains", "gauge", "Recipient domains with events in the detector's window.");
    out.sample("bouncewatch_domains", &[("scope", "domain")], scrape.window.len() as f64);
    out.family("bouncewatch_providers", "gauge", "Mailbox providers with events in the detector's window.");
    out.sample("bouncewatch_providers", &[("scope", "provider")], scrape.providers.len() as f64);
    out.family("bouncewatch_window_minutes", "gauge", "The detector's window the window_* figures cover.");
    out.sample("bouncewatch_window_minutes", &[], scrape.window_minutes as f64);

    render_shards(&mut out, scrape);
    out.0
}

/// A per-shard counter family by ESP: its name, help text, second label and the field it shows.
type ByEsp = (&'static str, &'static str, &'static str, fn(&ObjectStats) -> &BTreeMap<String, BTreeMap<String, u64>>);

/// A per-shard counter family: its name, help text and the field it shows.
type Counter = (&'static str, &'static str, fn(&ObjectStats) -> u64);

fn render_shards(out: &mut Out, scrape: &Scrape) {
    let shard_label = |s: &ShardMetrics| s.shard.to_string();
    let by_esp: [ByEsp; 2] = [
        (
            "bouncewatch_webhook_events_total",
            "Webhook events the counting objects took, by ESP and outcome.",
            "outcome",
            |s| &s.webhook_events,
        ),
        (
            "bouncewatch_webhook_requests_total",
            "Webhook requests the Worker answered, by ESP and status (the shard label is the object that was told; sum over it).",
            "status",
            |s| &s.webhook_requests,
        ),
    ];
    for (name, help, label, pick) in by_esp {
        out.family(name, "counter", help);
        for s in &scrape.shards {
            for (esp, values) in pick(&s.stats) {
                for (value, n) in values {
                    out.sample(name, &[("shard", &shard_label(s)), ("esp", esp), (label, value)], *n as f64);
                }
            }
        }
    }
    out.family("bouncewatch_do_requests_total", "counter", "Durable Object requests served, by shard and operation.");
    for s in &scrape.shards {
        for (op, n) in &s.stats.requests {
            out.sample("bouncewatch_do_requests_total", &[("shard", &shard_label(s)), ("op", op)], *n as f64);
        }
    }
    let picks: [Counter; 3] = [
        ("bouncewatch_do_rows_read_total", "SQLite rows read by the counting object (billed).", |s| s.rows_read),
        ("bouncewatch_do_rows_written_total", "SQLite rows written by the counting object (billed).", |s| {
            s.rows_written
        }),
        ("bouncewatch_kv_puts_total", "KV puts of hour pages (billed).", |s| s.kv_puts),
    ];
    for (name, help, pick) in picks {
        out.family(name, "counter", help);
        for s in &scrape.shards {
            out.sample(name, &[("shard", &shard_label(s))], pick(&s.stats) as f64);
        }
    }
    out.family(
        "bouncewatch_object_start_time_seconds",
        "gauge",
        "When each counting object's counters started (unix seconds).",
    );
    for s in &scrape.shards {
        out.sample("bouncewatch_object_start_time_seconds", &[("shard", &shard_label(s))], s.stats.started_at as f64);
    }
    out.family(
        "bouncewatch_publish_lag_seconds",
        "gauge",
        "Seconds since each object last published its hour pages to KV.",
    );
    for s in &scrape.shards {
        out.sample(
            "bouncewatch_publish_lag_seconds",
            &[("shard", &shard_label(s))],
            scrape.now.saturating_sub(s.last_publish_at) as f64,
        );
    }
    out.family(
        "bouncewatch_last_cron_run_timestamp_seconds",
        "gauge",
        "When the cron last ran detection (unix seconds; absent until the first run since shard 0 started).",
    );
    if let Some(at) = scrape.shards.iter().find(|s| s.shard == 0).and_then(|s| s.stats.last_tick_at) {
        out.sample("bouncewatch_last_cron_run_timestamp_seconds", &[], at as f64);
    }
}

#[cfg(test)]
mod tests;
