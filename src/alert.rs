//! What an alert says: the situation of one alert ([`AlertSnapshot`]), and the subject, text and HTML of
//! the one message that carries every notification of a cron run ([`compose`]). No sending here.
//!
//! The reader is an operator on a phone, so the subject alone names the domain, how bad it is and the
//! dominant cause, and the body answers "what do I do" before it shows evidence.

use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::classify::Category;
use crate::mime::UtcTime;

/// What the alert is about: one receiving domain, or the sender as a whole (a spike on many domains at
/// once, reported once rather than once per domain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Domain(String),
    SenderWide { domains: Vec<String> },
}

/// How bad a spike is. `Benign` is a greylisting spike: shown, not emailed by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Benign,
    Warning,
    Critical,
}

/// The detector's state for the alert. Only `Firing` and `Resolving` (still firing, waiting out the
/// resolve hold) are notified; `Pending` has not yet been confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Ok,
    Pending,
    Firing,
    Resolving,
}

/// One cause of the 451s and its share of them (0.0–1.0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CauseShare {
    pub category: Category,
    pub share: f64,
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
}

/// The key under which sent notifications are remembered: the domain, or `sender-wide`.
pub const SENDER_WIDE_KEY: &str = "sender-wide";

/// How many sample replies an alert shows, and how long each may be.
const MAX_SAMPLES: usize = 3;
const MAX_SAMPLE_CHARS: usize = 300;
/// A sender-wide alert names this many domains, then says how many more.
const MAX_LISTED_DOMAINS: usize = 10;
/// A grouped subject names this many alerts, then says how many more.
const MAX_SUBJECT_ALERTS: usize = 3;

impl AlertSnapshot {
    /// The alert identity notifications are deduplicated on.
    pub fn key(&self) -> &str {
        match &self.scope {
            Scope::Domain(domain) => domain,
            Scope::SenderWide { .. } => SENDER_WIDE_KEY,
        }
    }

    /// Whether the detector considers the alert firing (including the resolve hold).
    pub fn is_firing(&self) -> bool {
        matches!(self.state, AlertState::Firing | AlertState::Resolving)
    }

    /// The same snapshot with samples capped, shortened, stripped of line breaks and of addresses, so
    /// what is stored and sent never carries a recipient address or a header-breaking newline.
    pub fn sanitized(&self) -> AlertSnapshot {
        let samples = self
            .samples
            .iter()
            .take(MAX_SAMPLES)
            .map(|s| {
                let one_line: String = s
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                let redacted = redact_addresses(one_line.trim());
                match redacted.char_indices().nth(MAX_SAMPLE_CHARS) {
                    Some((cut, _)) => format!("{}…", &redacted[..cut]),
                    None => redacted,
                }
            })
            .collect();
        AlertSnapshot {
            samples,
            ..self.clone()
        }
    }

    fn label(&self) -> String {
        match &self.scope {
            Scope::Domain(domain) => domain.clone(),
            Scope::SenderWide { domains } => format!("sender-wide ({} domains)", domains.len()),
        }
    }

    fn dominant_cause(&self) -> Option<Category> {
        self.causes
            .iter()
            .max_by(|a, b| a.share.total_cmp(&b.share))
            .map(|c| c.category)
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
            "Check IP reputation, authentication and content — and don't resend manually until the cause is \
             identified."
        }
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

/// A cause as an operator says it.
pub fn cause_name(category: Category) -> &'static str {
    match category {
        Category::Greylisted => "greylisting",
        Category::RateLimited => "rate limiting",
        Category::ReputationBlocked => "IP/domain reputation",
        Category::AuthFailed => "SPF/DKIM/DMARC",
        Category::ReverseDnsFailed => "reverse DNS",
        Category::TlsRequired => "TLS required",
        Category::PolicyRejected => "local policy",
        Category::SpamContent => "spam content",
        Category::ContentInvalid => "invalid content",
        Category::MessageTooLarge => "message too large",
        Category::MailboxUnknown => "unknown mailbox",
        Category::MailboxDisabled => "disabled mailbox",
        Category::MailboxFull => "mailbox full",
        Category::MailboxNameInvalid => "invalid mailbox name",
        Category::DomainNotFound => "domain not found",
        Category::RelayDenied => "relay denied",
        Category::SenderRejected => "sender rejected",
        Category::NetworkError => "network error",
        Category::Expired => "expired in queue",
        Category::SystemError => "receiver system error",
        Category::ProtocolError => "protocol error",
        Category::Unclassified => "unclassified",
    }
}

const GREYLISTING_ADVICE: &str =
    "Nothing to do — the automatic retry succeeds; don't resend faster.";

/// What to do about a cause, in the seed's words where it has them; `None` where the overall advice is all
/// there is to say.
pub fn cause_advice(category: Category) -> Option<&'static str> {
    match category {
        Category::Greylisted => Some(GREYLISTING_ADVICE),
        Category::PolicyRejected | Category::SpamContent | Category::ContentInvalid => {
            Some("Lighten content, drop suspicious links, check IP and domain reputation.")
        }
        Category::RateLimited => Some("Slow the send, segment the campaign."),
        Category::AuthFailed => Some("Check SPF, DKIM and DMARC alignment."),
        Category::ReputationBlocked => {
            Some("Check IP and domain reputation (blocklists, Postmaster Tools, SNDS).")
        }
        Category::ReverseDnsFailed => {
            Some("Give the sending IP a PTR record that resolves back to it.")
        }
        Category::TlsRequired => Some("Enable STARTTLS on the sending MTA."),
        _ => None,
    }
}

/// The message for every notice of one cron run. `now` (unix seconds) dates the durations; `public_url`
/// (`PUBLIC_URL`) makes the dashboard links.
pub fn compose(notices: &[Notice], now: u64, public_url: Option<&str>) -> Message {
    let subject = match notices {
        [one] => match one.kind {
            NoticeKind::Firing => format!("[bouncewatch] {}", one.alert.headline()),
            NoticeKind::Reminder => format!("[bouncewatch] still firing: {}", one.alert.headline()),
            NoticeKind::Resolved => format!("[bouncewatch] resolved: {}", one.alert.headline()),
        },
        many => {
            let mut names: Vec<String> = many
                .iter()
                .take(MAX_SUBJECT_ALERTS)
                .map(|n| format!("{} {}", n.alert.label(), n.kind.word()))
                .collect();
            if many.len() > MAX_SUBJECT_ALERTS {
                names.push(format!("+{} more", many.len() - MAX_SUBJECT_ALERTS));
            }
            format!("[bouncewatch] {} alerts: {}", many.len(), names.join(", "))
        }
    };
    let base = public_url.map(|u| u.trim_end_matches('/'));
    let mut text = String::new();
    let mut html = String::from(
        "<!doctype html>\n<html><body style=\"font-family:-apple-system,Segoe UI,Roboto,sans-serif;\
         font-size:15px;line-height:1.4;color:#222;max-width:640px\">\n",
    );
    for (index, notice) in notices.iter().enumerate() {
        if index > 0 {
            text.push_str("\n----------------------------------------\n\n");
            html.push_str("<hr>\n");
        }
        let section = Section::new(notice, now, base);
        section.write_text(&mut text);
        section.write_html(&mut html);
    }
    text.push_str("\n-- \nbouncewatch: 451 deferral alerts. Reminders follow every ALERT_REPEAT while an alert fires.\n");
    html.push_str("<p style=\"color:#777;font-size:12px\">bouncewatch: 451 deferral alerts.</p>\n</body></html>\n");
    Message {
        subject,
        text,
        html,
    }
}

/// The facts of one notice, worded once and written as text and as HTML.
struct Section<'a> {
    notice: &'a Notice,
    title: String,
    facts: Vec<(&'static str, String)>,
    links: Vec<(String, String)>,
}

impl<'a> Section<'a> {
    fn new(notice: &'a Notice, now: u64, base: Option<&str>) -> Section<'a> {
        let alert = &notice.alert;
        let title = match notice.kind {
            NoticeKind::Firing => format!(
                "FIRING — {} ({})",
                alert.label(),
                severity_name(alert.severity)
            ),
            NoticeKind::Reminder => format!(
                "STILL FIRING — {} ({}), for {}",
                alert.label(),
                severity_name(alert.severity),
                duration(now.saturating_sub(alert.since))
            ),
            NoticeKind::Resolved => format!("RESOLVED — {}", alert.label()),
        };
        let mut ratio = format!(
            "{} (baseline {}",
            percent(alert.ratio_451),
            percent(alert.baseline_ratio)
        );
        if alert.baseline_ratio > 0.0 && notice.kind != NoticeKind::Resolved {
            let _ = write!(
                ratio,
                ", {} the usual",
                times(alert.ratio_451 / alert.baseline_ratio)
            );
        }
        ratio.push(')');
        let mut facts = vec![
            ("Window", format!("last {} min", alert.window_minutes)),
            (
                "451 deferrals",
                format!("{} of {} attempts", alert.smtp_451, alert.attempts),
            ),
            ("451 ratio", ratio),
        ];
        let since = format!(
            "{} ({} ago)",
            clock(alert.since),
            duration(now.saturating_sub(alert.since))
        );
        facts.push((
            if notice.kind == NoticeKind::Resolved {
                "Was firing since"
            } else {
                "Since"
            },
            since,
        ));
        let mut links = Vec::new();
        if let Scope::SenderWide { domains } = &alert.scope {
            let mut listed: Vec<&str> = domains
                .iter()
                .take(MAX_LISTED_DOMAINS)
                .map(String::as_str)
                .collect();
            let more = domains.len().saturating_sub(MAX_LISTED_DOMAINS);
            let extra = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            listed.sort_unstable();
            facts.push(("Domains", format!("{}{extra}", listed.join(", "))));
        }
        if let Some(base) = base {
            match &alert.scope {
                Scope::Domain(domain) => links.push((
                    format!("Open {domain} in the dashboard"),
                    dashboard_link(base, domain),
                )),
                Scope::SenderWide { .. } => {
                    links.push(("Open the dashboard".to_owned(), format!("{base}/")))
                }
            }
        }
        Section {
            notice,
            title,
            facts,
            links,
        }
    }

    fn firing(&self) -> bool {
        self.notice.kind != NoticeKind::Resolved
    }

    fn causes(&self) -> impl Iterator<Item = (String, Option<&'static str>)> + '_ {
        let mut causes = self.notice.alert.causes.clone();
        causes.sort_by(|a, b| b.share.total_cmp(&a.share));
        causes.into_iter().map(|c| {
            (
                format!("{}: {}", cause_name(c.category), percent(c.share)),
                cause_advice(c.category),
            )
        })
    }

    fn write_text(&self, out: &mut String) {
        let alert = &self.notice.alert;
        let _ = writeln!(out, "{}\n", self.title);
        if self.firing() {
            let _ = writeln!(out, "What to do: {}\n", alert.overall_advice());
        } else {
            let _ = writeln!(
                out,
                "The 451 ratio is back under the threshold; no action needed.\n"
            );
        }
        for (name, value) in &self.facts {
            let _ = writeln!(out, "{name}: {value}");
        }
        if !alert.causes.is_empty() {
            out.push_str("\nCauses:\n");
            for (cause, advice) in self.causes() {
                match advice.filter(|_| self.firing()) {
                    Some(advice) => {
                        let _ = writeln!(out, "  - {cause} — {advice}");
                    }
                    None => {
                        let _ = writeln!(out, "  - {cause}");
                    }
                }
            }
        }
        if !alert.samples.is_empty() {
            out.push_str("\nSample replies (redacted):\n");
            for sample in &alert.samples {
                let _ = writeln!(out, "  > {sample}");
            }
        }
        for (label, url) in &self.links {
            let _ = writeln!(out, "\n{label}: {url}");
        }
    }

    fn write_html(&self, out: &mut String) {
        let alert = &self.notice.alert;
        let colour = match (self.notice.kind, alert.severity) {
            (NoticeKind::Resolved, _) => "#1a7f37",
            (_, Severity::Critical) => "#b42318",
            (_, Severity::Warning) => "#b54708",
            (_, Severity::Benign) => "#475467",
        };
        let _ = writeln!(
            out,
            "<h2 style=\"color:{colour};margin:16px 0 8px\">{}</h2>",
            escape_html(&self.title)
        );
        if self.firing() {
            let _ = writeln!(
                out,
                "<p><b>What to do:</b> {}</p>",
                escape_html(alert.overall_advice())
            );
        } else {
            out.push_str("<p>The 451 ratio is back under the threshold; no action needed.</p>\n");
        }
        out.push_str("<table style=\"border-collapse:collapse\">\n");
        for (name, value) in &self.facts {
            let _ = writeln!(
                out,
                "<tr><td style=\"padding:2px 12px 2px 0;color:#555\">{}</td><td>{}</td></tr>",
                escape_html(name),
                escape_html(value)
            );
        }
        out.push_str("</table>\n");
        if !alert.causes.is_empty() {
            out.push_str("<h3 style=\"margin:12px 0 4px\">Causes</h3>\n<ul>\n");
            for (cause, advice) in self.causes() {
                let _ = write!(out, "<li><b>{}</b>", escape_html(&cause));
                if let Some(advice) = advice.filter(|_| self.firing()) {
                    let _ = write!(out, " — {}", escape_html(advice));
                }
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
        if !alert.samples.is_empty() {
            out.push_str("<h3 style=\"margin:12px 0 4px\">Sample replies (redacted)</h3>\n");
            for sample in &alert.samples {
                let _ = writeln!(
                    out,
                    "<pre style=\"white-space:pre-wrap;background:#f4f4f4;padding:6px;margin:4px 0\">{}</pre>",
                    escape_html(sample)
                );
            }
        }
        for (label, url) in &self.links {
            let _ = writeln!(
                out,
                "<p><a href=\"{}\">{}</a></p>",
                escape_html(url),
                escape_html(label)
            );
        }
    }
}

/// `{PUBLIC_URL}/#/domain/{domain}`, the domain percent-encoded so data cannot bend the link.
fn dashboard_link(base: &str, domain: &str) -> String {
    let mut link = format!("{base}/#/domain/");
    for byte in domain.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_') {
            link.push(char::from(byte));
        } else {
            let _ = write!(link, "%{byte:02X}");
        }
    }
    link
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Benign => "benign",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// A ratio as a percentage an operator reads at a glance: `18 %`, `0.4 %`, `5 %`.
pub fn percent(ratio: f64) -> String {
    let pct = ratio * 100.0;
    let shown = if pct >= 10.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct:.1}")
    };
    format!("{} %", shown.strip_suffix(".0").unwrap_or(&shown))
}

fn times(factor: f64) -> String {
    let shown = if factor >= 10.0 {
        format!("{factor:.0}")
    } else {
        format!("{factor:.1}")
    };
    format!("{}×", shown.strip_suffix(".0").unwrap_or(&shown))
}

fn duration(seconds: u64) -> String {
    let minutes = seconds / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn clock(unix: u64) -> String {
    let t = UtcTime::from_unix(unix);
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Replaces the local part of every email address with `…`: `<jane@example.org>` → `<…@example.org>`.
///
/// Defence in depth: the detector's samples are already redacted, but an alert must never carry a
/// recipient address, so everything shown goes through this too. A twin of `src/redact.rs` (written in
/// another branch); keep one of them when the branches merge.
pub fn redact_addresses(text: &str) -> String {
    static ADDRESS: OnceLock<regex_lite::Regex> = OnceLock::new();
    let pattern = ADDRESS.get_or_init(|| {
        regex_lite::Regex::new(
            r"(?i)[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)",
        )
        .expect("a constant pattern, compiled by every test run")
    });
    pattern.replace_all(text, "…@$1").into_owned()
}

#[cfg(test)]
mod tests;
