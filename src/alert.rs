//! What an alert says: the situation of one alert ([`AlertSnapshot`]), and the subject, text and HTML of
//! the one message that carries every notification of a cron run ([`compose`]). No sending here.
//!
//! The reader is an operator on a phone, so the subject alone names the domain, how bad it is and the
//! dominant cause, and the body answers "what do I do" before it shows evidence.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

pub use crate::advice::{cause_advice, cause_name};
use crate::advice::{GREYLISTING_ADVICE, SPIKE_ADVICE};
use crate::breakdown::Sources;
use crate::classify::Category;
/// The detector's types, shared so an alert is described one way. Only `Firing` and `Resolving` (still
/// firing, waiting out the resolve hold) are notified; `Pending` has not yet been confirmed.
pub use crate::detect::{Cause as CauseShare, Phase as AlertState, Severity};
use crate::redact::redact_addresses;

mod compose;
pub mod digest;

pub use compose::{compose, escape_html, percent};

/// What the alert is about: one receiving domain, or the sender as a whole (a spike on many domains at
/// once, reported once rather than once per domain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Domain(String),
    /// A mailbox provider (its id), its busiest domains and how many it spans.
    Provider {
        provider: String,
        domains: Vec<String>,
        domain_count: u64,
    },
    SenderWide {
        domains: Vec<String>,
    },
}

impl Scope {
    /// What one of the detector's alerts is about.
    pub fn of(alert: &crate::detect::Alert) -> Scope {
        match alert.scope {
            crate::detect::AlertScope::Sender => Scope::SenderWide { domains: alert.domains.clone() },
            crate::detect::AlertScope::Provider => Scope::Provider {
                provider: alert.provider.clone().unwrap_or_else(|| alert.domain.clone()),
                domains: alert.domains.clone(),
                domain_count: alert.domain_count.unwrap_or(alert.domains.len() as u64),
            },
            crate::detect::AlertScope::Domain => Scope::Domain(alert.domain.clone()),
        }
    }
}

/// One alert's situation at evaluation time, as the detector reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    pub scope: Scope,
    pub severity: Severity,
    pub state: AlertState,
    /// Unix seconds when the spike started.
    pub since: u64,
    pub window_minutes: u32,
    pub smtp_451: u64,
    pub attempts: u64,
    pub ratio_451: f64,
    pub baseline_ratio: f64,
    pub causes: Vec<CauseShare>,
    /// Sample replies, already redacted by the detector; redacted again here (see [`redact_addresses`]).
    pub samples: Vec<String>,
    /// Which sending IPs, pools, sending domains and tags the 451s came from (absent when the ESP named
    /// none).
    #[serde(default, flatten)]
    pub sources: Sources,
}

/// The key under which sent notifications are remembered: the domain, or `sender-wide`.
pub const SENDER_WIDE_KEY: &str = "sender-wide";

/// A provider alert's key is its id after this (a domain always has a dot and never a colon).
pub const PROVIDER_KEY_PREFIX: &str = "provider:";

/// How many sample replies an alert shows, and how long each may be.
const MAX_SAMPLES: usize = 3;
const MAX_SAMPLE_CHARS: usize = 300;
/// A sender-wide alert names this many domains, then says how many more.
const MAX_LISTED_DOMAINS: usize = 10;
/// A grouped subject names this many alerts, then says how many more.
const MAX_SUBJECT_ALERTS: usize = 3;

impl AlertSnapshot {
    /// The snapshot of one of the detector's alerts, over a detection window of `window_minutes`.
    pub fn from_alert(alert: &crate::detect::Alert, window_minutes: u32) -> AlertSnapshot {
        AlertSnapshot {
            scope: Scope::of(alert),
            severity: alert.severity,
            state: alert.state,
            since: alert.since,
            window_minutes,
            smtp_451: alert.smtp_451,
            attempts: alert.attempts,
            ratio_451: alert.ratio_451,
            baseline_ratio: alert.baseline_ratio,
            causes: alert.causes.clone(),
            samples: alert.samples.iter().map(|s| s.reply.clone()).collect(),
            sources: alert.sources.clone(),
        }
    }

    /// The alert identity notifications are deduplicated on.
    pub fn key(&self) -> std::borrow::Cow<'_, str> {
        match &self.scope {
            Scope::Domain(domain) => domain.into(),
            Scope::Provider { provider, .. } => format!("{PROVIDER_KEY_PREFIX}{provider}").into(),
            Scope::SenderWide { .. } => SENDER_WIDE_KEY.into(),
        }
    }

    /// Whether the detector considers the alert firing (including the resolve hold).
    pub fn is_firing(&self) -> bool {
        matches!(self.state, AlertState::Firing | AlertState::Resolving)
    }

    /// The same snapshot with samples capped, shortened, stripped of line breaks and of addresses, so
    /// what is stored and sent never carries a recipient address or a header-breaking newline.
    pub fn sanitized(&self) -> AlertSnapshot {
        let samples = self.samples.iter().take(MAX_SAMPLES).map(|s| sanitized_sample(s)).collect();
        AlertSnapshot { samples, ..self.clone() }
    }

    fn label(&self) -> String {
        match &self.scope {
            Scope::Domain(domain) => domain.clone(),
            // "Microsoft (outlook.com, hotmail.com and 38 hosted domains)"
            Scope::Provider { provider, domains, domain_count } => {
                let names: Vec<&str> = domains.iter().map(String::as_str).collect();
                match crate::provider::Provider::from_id(provider) {
                    Some(p) => crate::provider::describe(&p, &names, *domain_count as usize),
                    None => provider.clone(),
                }
            }
            Scope::SenderWide { domains } => format!("sender-wide ({} domains)", domains.len()),
        }
    }

    fn dominant_cause(&self) -> Option<Category> {
        self.causes.iter().max_by(|a, b| a.share.total_cmp(&b.share)).map(|c| c.category)
    }

    /// `gmail.com: 451 deferrals 18 % (baseline 0.4 %) — local policy`
    fn headline(&self) -> String {
        let mut line = format!(
            "{}: 451 deferrals {} (baseline {})",
            self.label(),
            percent(self.ratio_451),
            percent(self.baseline_ratio)
        );
        if let Some(cause) = self.dominant_cause() {
            let _ = write!(line, " — {}", cause_name(cause));
        }
        line
    }

    fn overall_advice(&self) -> &'static str {
        if self.severity == Severity::Benign {
            GREYLISTING_ADVICE
        } else {
            SPIKE_ADVICE
        }
    }
}

/// A reply as a message may show it: one line, shortened, without addresses (whatever redaction it had
/// before), so what is stored and sent never carries a recipient address or a header-breaking newline.
fn sanitized_sample(sample: &str) -> String {
    let one_line: String = sample.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let redacted = redact_addresses(one_line.trim());
    match redacted.char_indices().nth(MAX_SAMPLE_CHARS) {
        Some((cut, _)) => format!("{}…", &redacted[..cut]),
        None => redacted,
    }
}

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The alert started firing.
    Firing,
    /// Still firing, `ALERT_REPEAT` after the last notification.
    Reminder,
    /// No longer firing.
    Resolved,
}

impl NoticeKind {
    fn word(self) -> &'static str {
        match self {
            NoticeKind::Firing => "firing",
            NoticeKind::Reminder => "still firing",
            NoticeKind::Resolved => "resolved",
        }
    }
}

/// One notification about one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub alert: AlertSnapshot,
}

/// The content of one alert message, whatever channel carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[cfg(test)]
mod tests;
