//! The weekly digest (issue 17, `DIGEST_TO`): one message for the week past, with its alerts, the domains
//! and providers with the most 451s against the week before, the slow drifts, and the replies no rule
//! recognised; and [`DigestSchedule`], which says when it is due (`DIGEST_AT`).
//!
//! The reader looks at it once a week over coffee, not in an incident: every section is there even when
//! empty, so "nothing happened" reads as such, and every change has its sign and its unit.

use std::fmt::Write as _;

use super::compose::{clock, dashboard_link, duration, severity_name};
use super::{cause_name, escape_html, percent, sanitized_sample, AlertSnapshot, Message};
use crate::config::Config;
use crate::counters::Sample;
use crate::detect::{Alert, Phase};
use crate::drift::{Drift, DriftScope};
use crate::error::AppError;
use crate::mime::UtcTime;
use crate::period::{Comparison, Period};

const DAY_SECS: u64 = 86_400;
const WEEK_SECS: u64 = 7 * DAY_SECS;

/// The seven complete UTC days a digest covers: `start` inclusive to `end` exclusive, unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestWeek {
    pub start: u64,
    pub end: u64,
}

/// One row of the top domains or top providers: its week and the comparison with the week before.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestRow {
    /// The domain, or the provider's id (its name is looked up from it).
    pub id: String,
    pub week: Period,
    pub comparison: Comparison,
}

/// Everything one digest says. The lists are shown in the order and number given, so the caller picks
/// the top rows.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestInput {
    pub week: DigestWeek,
    /// The alerts that fired or were open during the week.
    pub alerts: Vec<Alert>,
    /// The domains with the most 451s in the week.
    pub domains: Vec<DigestRow>,
    /// The providers with the most 451s in the week.
    pub providers: Vec<DigestRow>,
    pub drifts: Vec<Drift>,
    /// The week's most frequent replies that only the code-class fallback classified (redacted).
    pub unclassified: Vec<Sample>,
    /// `PUBLIC_URL`, for the dashboard links.
    pub public_url: Option<String>,
}

/// The digest message.
pub fn compose(input: &DigestInput) -> Message {
    let base = input.public_url.as_deref().map(|u| u.trim_end_matches('/'));
    let days = format!("{} to {}", date(input.week.start), date(input.week.end.saturating_sub(1)));
    let mut summary = vec![count(input.alerts.len(), "alert", "alerts")];
    if let Some(top) = input.domains.first().filter(|row| row.week.smtp_451 > 0) {
        summary.push(format!("most 451s {} {}", top.id, percent(top.week.ratio_451)));
    }
    summary.push(count(input.drifts.len(), "slow drift", "slow drifts"));
    let subject = format!("[bouncewatch] weekly digest {days}: {}", summary.join(", "));

    let sections = [
        alerts_section(&input.alerts),
        rows_section("Domains with the most 451s", "No 451s this week.", &input.domains, |id| {
            (id.to_owned(), base.map(|b| dashboard_link(b, "domain", id)))
        }),
        rows_section("Providers with the most 451s", "No 451s from any provider this week.", &input.providers, |id| {
            (provider_name(id), base.map(|b| format!("{b}/#provider={id}")))
        }),
        drifts_section(&input.drifts),
        unclassified_section(&input.unclassified),
    ];

    let title = format!("Weekly digest — {days} (UTC)");
    let mut text = format!("{title}\n");
    let mut html = String::from(
        "<!doctype html>\n<html><body style=\"font-family:-apple-system,Segoe UI,Roboto,sans-serif;\
         font-size:15px;line-height:1.4;color:#222;max-width:720px\">\n",
    );
    let _ = writeln!(html, "<h2 style=\"margin:16px 0 8px\">{}</h2>", escape_html(&title));
    for section in &sections {
        section.write_text(&mut text);
        section.write_html(&mut html);
    }
    if let Some(base) = base {
        let _ = writeln!(text, "\nOpen the dashboard: {base}/");
        let _ = writeln!(html, "<p><a href=\"{}/\">Open the dashboard</a></p>", escape_html(base));
    }
    text.push_str("\n-- \nbouncewatch: the weekly digest, sent to DIGEST_TO at DIGEST_AT (UTC).\n");
    html.push_str("<p style=\"color:#777;font-size:12px\">bouncewatch: the weekly digest.</p>\n</body></html>\n");
    Message { subject, text, html }
}

/// One heading and its lines, or the one line that says it is empty.
struct Section {
    heading: String,
    empty: &'static str,
    lines: Vec<Line>,
}

/// A line: its text, and a link its first words (`label`) lead to in the HTML.
struct Line {
    label: String,
    rest: String,
    link: Option<String>,
}

impl Section {
    fn write_text(&self, out: &mut String) {
        let _ = writeln!(out, "\n{}\n", self.heading);
        if self.lines.is_empty() {
            let _ = writeln!(out, "  {}", self.empty);
        }
        for line in &self.lines {
            let _ = writeln!(out, "  - {}{}", line.label, line.rest);
        }
    }

    fn write_html(&self, out: &mut String) {
        let _ = writeln!(out, "<h3 style=\"margin:16px 0 4px\">{}</h3>", escape_html(&self.heading));
        if self.lines.is_empty() {
            let _ = writeln!(out, "<p style=\"color:#555\">{}</p>", escape_html(self.empty));
            return;
        }
        out.push_str("<ul>\n");
        for line in &self.lines {
            let label = match &line.link {
                Some(url) => format!("<a href=\"{}\">{}</a>", escape_html(url), escape_html(&line.label)),
                None => format!("<b>{}</b>", escape_html(&line.label)),
            };
            let _ = writeln!(out, "<li>{label}{}</li>", escape_html(&line.rest));
        }
        out.push_str("</ul>\n");
    }
}

/// `gmail.com (critical): firing since 2026-11-28 03:37 UTC, 451 ratio 18 % (baseline 0.4 %) — local
/// policy`, the most severe first.
fn alerts_section(alerts: &[Alert]) -> Section {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    crate::sort::sort_by(&mut sorted, |a, b| b.severity.cmp(&a.severity).then(a.since.cmp(&b.since)));
    let lines = sorted
        .into_iter()
        .map(|alert| {
            // For its label and dominant cause, worded as in the alert emails; the window length is not shown.
            let snapshot = AlertSnapshot::from_alert(alert, 0);
            let when = match (alert.state, alert.resolved_at) {
                (Phase::Ok, Some(at)) => {
                    format!("resolved {} after {}", clock(at), duration(at.saturating_sub(alert.since)))
                }
                (Phase::Pending, _) => format!("pending since {}", clock(alert.since)),
                _ => format!("firing since {}", clock(alert.since)),
            };
            let mut rest = format!(
                " ({}): {when}, 451 ratio {} (baseline {})",
                severity_name(alert.severity),
                percent(alert.ratio_451),
                percent(alert.baseline_ratio)
            );
            if let Some(cause) = snapshot.dominant_cause() {
                let _ = write!(rest, " — {}", cause_name(cause));
            }
            Line { label: snapshot.label(), rest, link: None }
        })
        .collect();
    Section { heading: format!("Alerts ({})", alerts.len()), empty: "No alerts this week.", lines }
}

/// `gmail.com: 412 451s in 13300 attempts, 451 ratio 3.1 % (+1.2 pp on the week before), volume +12 %`.
fn rows_section(
    heading: &str,
    empty: &'static str,
    rows: &[DigestRow],
    name: impl Fn(&str) -> (String, Option<String>),
) -> Section {
    let lines = rows
        .iter()
        .map(|row| {
            let (label, link) = name(&row.id);
            let week = &row.week;
            let mut rest = format!(
                ": {} 451s in {} attempts, 451 ratio {}",
                week.smtp_451,
                week.attempts,
                percent(week.ratio_451)
            );
            match (&row.comparison.previous, &row.comparison.change) {
                (Some(previous), Some(change)) => {
                    let _ = write!(
                        rest,
                        " ({} on the week before), volume {}",
                        points(change.ratio_451),
                        volume_change(week.attempts, previous.attempts)
                    );
                }
                _ => rest.push_str(" (the week before is not kept)"),
            }
            Line { label, rest, link }
        })
        .collect();
    Section { heading: heading.to_owned(), empty, lines }
}

/// `gmail.com (domain): 451 ratio up three weeks running, 1 % → 1.2 % → 1.4 % → 1.7 % (+0.7 pp), at
/// least 2000 attempts a week`.
fn drifts_section(drifts: &[Drift]) -> Section {
    let lines = drifts
        .iter()
        .map(|drift| {
            let (label, scope) = match drift.scope {
                DriftScope::Domain => (drift.id.clone(), "domain"),
                DriftScope::Provider => (provider_name(&drift.id), "provider"),
            };
            let ratios: Vec<String> = drift.weeks.iter().map(|w| percent(w.ratio)).collect();
            let least = drift.weeks.iter().map(|w| w.attempts).min().unwrap_or(0);
            let rest = format!(
                " ({scope}): {} up three weeks running, {} ({}), at least {least} attempts a week",
                drift.signal.noun(),
                ratios.join(" → "),
                points(drift.rise)
            );
            Line { label, rest, link: None }
        })
        .collect();
    Section { heading: "Slow drifts (info)".to_owned(), empty: "No slow drift this week.", lines }
}

/// `37× 550 Transaction failed [fallback.basic.550]`.
fn unclassified_section(samples: &[Sample]) -> Section {
    let lines = samples
        .iter()
        .map(|sample| {
            let rule = sample.rule.as_deref().map(|r| format!(" [{r}]")).unwrap_or_default();
            Line {
                label: format!("{}×", sample.count),
                rest: format!(" {}{rule}", sanitized_sample(&sample.reply)),
                link: None,
            }
        })
        .collect();
    Section { heading: "Replies no rule recognised".to_owned(), empty: "No unrecognised replies this week.", lines }
}

/// A provider's name as a person reads it (`Google`), or its id when it names none we know.
fn provider_name(id: &str) -> String {
    crate::provider::Provider::from_id(id).map_or_else(|| id.to_owned(), |p| p.name().into_owned())
}

fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// A difference of two ratios in percentage points, with its sign: `+1.2 pp`, `-0.4 pp`, `+12 pp`, `0 pp`.
pub fn points(delta: f64) -> String {
    signed(delta * 100.0, "pp")
}

/// The change of a volume in percent of the earlier one: `+12 %`, `-40 %`; `new` when there was none.
pub fn volume_change(now: u64, before: u64) -> String {
    if before == 0 {
        return if now == 0 { signed(0.0, "%") } else { "new".to_owned() };
    }
    signed((now as f64 - before as f64) / before as f64 * 100.0, "%")
}

/// `value` with a sign and a unit, to the precision [`percent`] uses: one decimal under 10, none above.
fn signed(value: f64, unit: &str) -> String {
    let shown = if value.abs() >= 10.0 { format!("{value:.0}") } else { format!("{value:.1}") };
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    match shown {
        "0" | "-0" => format!("0 {unit}"),
        negative if negative.starts_with('-') => format!("{negative} {unit}"),
        positive => format!("+{positive} {unit}"),
    }
}

/// `2026-11-23`.
fn date(unix: u64) -> String {
    let t = UtcTime::from_unix(unix);
    format!("{}-{:02}-{:02}", t.year, t.month, t.day)
}

/// When the digest goes out (`DIGEST_AT`, `monday 08:00` by default): a weekday and a time, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestSchedule {
    /// 0 = Sunday, as [`UtcTime::weekday`].
    pub weekday: u64,
    /// Seconds after the day's midnight.
    pub time_secs: u64,
}

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

impl Default for DigestSchedule {
    fn default() -> Self {
        // Monday morning in Europe and before the US wakes: the week is over everywhere and the sender's
        // week is starting.
        DigestSchedule { weekday: 1, time_secs: 8 * 3600 }
    }
}

impl DigestSchedule {
    /// Reads `DIGEST_AT`, or the default when unset.
    pub fn from_config(config: &Config) -> Result<DigestSchedule, AppError> {
        config.get("DIGEST_AT").map_or(Ok(DigestSchedule::default()), DigestSchedule::parse)
    }

    /// `<weekday> HH:MM` in UTC: `monday 08:00`, `Fri 16:30` (a full name or its first three letters).
    pub fn parse(text: &str) -> Result<DigestSchedule, AppError> {
        let bad = || {
            AppError::Internal(format!(
                "configuration var DIGEST_AT must be a weekday and a UTC time, like `monday 08:00`: {text:?}"
            ))
        };
        let mut words = text.split_whitespace();
        let (Some(day), Some(time), None) = (words.next(), words.next(), words.next()) else { return Err(bad()) };
        let day = day.to_ascii_lowercase();
        let weekday = WEEKDAYS
            .iter()
            .position(|name| *name == day || (day.len() == 3 && name.starts_with(day.as_str())))
            .ok_or_else(bad)? as u64;
        let (hour, minute) = time.split_once(':').ok_or_else(bad)?;
        let two_digits = |s: &str, max: u64| -> Option<u64> {
            let n: u64 = s.parse().ok().filter(|_| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))?;
            (n <= max).then_some(n)
        };
        let (Some(hour), Some(minute)) = (two_digits(hour, 23), two_digits(minute, 59)) else { return Err(bad()) };
        Ok(DigestSchedule { weekday, time_secs: hour * 3600 + minute * 60 })
    }

    /// The latest scheduled moment at or before `now`, unix seconds.
    fn latest_slot(&self, now: u64) -> u64 {
        let today = now / DAY_SECS;
        let weekday = (today + 4) % 7; // 1970-01-01 was a Thursday
        let days_back = (weekday + 7 - self.weekday) % 7;
        let slot = (today.saturating_sub(days_back)) * DAY_SECS + self.time_secs;
        if slot > now {
            slot.saturating_sub(WEEK_SECS)
        } else {
            slot
        }
    }

    /// The week whose digest is due at `now`, if one is: the seven complete days before the latest
    /// scheduled moment, unless `last_sent` (the start of the last week sent) is already that week. The
    /// cron runs every minute, so a Worker that was down at the moment sends it at its next run; after a
    /// longer outage only the latest week is sent, not each one missed.
    pub fn due(&self, now: u64, last_sent: Option<u64>) -> Option<DigestWeek> {
        let end = self.latest_slot(now) / DAY_SECS * DAY_SECS;
        let week = DigestWeek { start: end.checked_sub(WEEK_SECS)?, end };
        match last_sent {
            Some(sent) if sent >= week.start => None,
            _ => Some(week),
        }
    }
}

#[cfg(test)]
mod tests;
