//! The words of an alert message: one section per notice, written once as text and once as HTML, and
//! the subject that summarizes them.

use std::fmt::Write as _;

use super::{
    cause_advice, cause_name, Message, Notice, NoticeKind, Scope, Severity, MAX_LISTED_DOMAINS, MAX_SUBJECT_ALERTS,
};
use crate::breakdown::{Dimension, Sources};
use crate::mime::UtcTime;

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
    text.push_str(
        "\n-- \nbouncewatch: 451 deferral alerts. Reminders follow every ALERT_REPEAT while an alert fires.\n",
    );
    html.push_str("<p style=\"color:#777;font-size:12px\">bouncewatch: 451 deferral alerts.</p>\n</body></html>\n");
    Message { subject, text, html }
}

/// The facts of one notice, worded once and written as text and as HTML.
struct Section<'a> {
    notice: &'a Notice,
    title: String,
    facts: Vec<(&'static str, String)>,
    /// The top values per dimension, one line each: `sending IPs: 198.51.100.7 90 % of the 451s …`.
    streams: Vec<String>,
    links: Vec<(String, String)>,
}

impl<'a> Section<'a> {
    fn new(notice: &'a Notice, now: u64, base: Option<&str>) -> Section<'a> {
        let alert = &notice.alert;
        let title = match notice.kind {
            NoticeKind::Firing => format!("FIRING — {} ({})", alert.label(), severity_name(alert.severity)),
            NoticeKind::Reminder => format!(
                "STILL FIRING — {} ({}), for {}",
                alert.label(),
                severity_name(alert.severity),
                duration(now.saturating_sub(alert.since))
            ),
            NoticeKind::Resolved => format!("RESOLVED — {}", alert.label()),
        };
        let mut ratio = format!("{} (baseline {}", percent(alert.ratio_451), percent(alert.baseline_ratio));
        if alert.baseline_ratio > 0.0 && notice.kind != NoticeKind::Resolved {
            let _ = write!(ratio, ", {} the usual", times(alert.ratio_451 / alert.baseline_ratio));
        }
        ratio.push(')');
        let mut facts = vec![
            ("Window", format!("last {} min", alert.window_minutes)),
            ("451 deferrals", format!("{} of {} attempts", alert.smtp_451, alert.attempts)),
            ("451 ratio", ratio),
        ];
        let since = format!("{} ({} ago)", clock(alert.since), duration(now.saturating_sub(alert.since)));
        facts.push((if notice.kind == NoticeKind::Resolved { "Was firing since" } else { "Since" }, since));
        let mut links = Vec::new();
        if let Scope::SenderWide { domains } = &alert.scope {
            let mut listed: Vec<&str> = domains.iter().take(MAX_LISTED_DOMAINS).map(String::as_str).collect();
            let more = domains.len().saturating_sub(MAX_LISTED_DOMAINS);
            let extra = if more > 0 { format!(" and {more} more") } else { String::new() };
            listed.sort_unstable();
            facts.push(("Domains", format!("{}{extra}", listed.join(", "))));
        }
        if let Some(base) = base {
            match &alert.scope {
                Scope::Domain(domain) => {
                    links.push((format!("Open {domain} in the dashboard"), dashboard_link(base, "domain", domain)))
                }
                Scope::Provider { provider, .. } => links
                    .push(("Open this provider in the dashboard".to_owned(), format!("{base}/#provider={provider}"))),
                Scope::SenderWide { .. } => links.push(("Open the dashboard".to_owned(), format!("{base}/"))),
            }
        }
        Section { notice, title, facts, streams: stream_lines(&alert.sources), links }
    }

    fn firing(&self) -> bool {
        self.notice.kind != NoticeKind::Resolved
    }

    fn causes(&self) -> impl Iterator<Item = (String, Option<&'static str>)> + '_ {
        let mut causes = self.notice.alert.causes.clone();
        crate::sort::sort_by(&mut causes, |a, b| b.share.total_cmp(&a.share));
        causes
            .into_iter()
            .map(|c| (format!("{}: {}", cause_name(c.category), percent(c.share)), cause_advice(c.category)))
    }

    fn write_text(&self, out: &mut String) {
        let alert = &self.notice.alert;
        let _ = writeln!(out, "{}\n", self.title);
        if self.firing() {
            let _ = writeln!(out, "What to do: {}\n", alert.overall_advice());
        } else {
            let _ = writeln!(out, "The 451 ratio is back under the threshold; no action needed.\n");
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
        if !self.streams.is_empty() || alert.sources.concentration.is_some() {
            out.push_str("\nWhere the 451s came from:\n");
            if let Some(sentence) = &alert.sources.concentration {
                let _ = writeln!(out, "  {sentence}");
            }
            for line in &self.streams {
                let _ = writeln!(out, "  - {line}");
            }
        }
        if !alert.samples.is_empty() {
            out.push_str("\nSample replies (redacted):\n");
            for sample in &alert.samples {
                let _ = writeln!(out, "  > {sample}");
                if let Some(note) = entity_note(sample) {
                    let _ = writeln!(out, "    {note}");
                }
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
        let _ = writeln!(out, "<h2 style=\"color:{colour};margin:16px 0 8px\">{}</h2>", escape_html(&self.title));
        if self.firing() {
            let _ = writeln!(out, "<p><b>What to do:</b> {}</p>", escape_html(alert.overall_advice()));
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
        if !self.streams.is_empty() || alert.sources.concentration.is_some() {
            out.push_str("<h3 style=\"margin:12px 0 4px\">Where the 451s came from</h3>\n");
            if let Some(sentence) = &alert.sources.concentration {
                let _ = writeln!(out, "<p><b>{}</b></p>", escape_html(sentence));
            }
            out.push_str("<ul>\n");
            for line in &self.streams {
                let _ = writeln!(out, "<li>{}</li>", escape_html(line));
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
                if let Some(note) = entity_note(sample) {
                    let _ = writeln!(out, "<p style=\"margin:0 0 8px;color:#555\">{}</p>", escape_html(&note));
                }
            }
        }
        for (label, url) in &self.links {
            let _ = writeln!(out, "<p><a href=\"{}\">{}</a></p>", escape_html(url), escape_html(label));
        }
    }
}

/// Values listed per dimension in a message: a phone shows three lines, not five.
const STREAM_VALUES: usize = 3;

/// One line per dimension with values: `sending IPs: 198.51.100.7 (90 % of the 451s, 451 ratio 90 %), …`.
fn stream_lines(sources: &Sources) -> Vec<String> {
    let Some(breakdown) = &sources.breakdown else { return Vec::new() };
    Dimension::ALL
        .iter()
        .filter_map(|&dimension| {
            let values = breakdown.dimension(dimension);
            if values.is_empty() {
                return None;
            }
            let listed: Vec<String> = values
                .iter()
                .take(STREAM_VALUES)
                .map(|v| format!("{} ({} of the 451s, 451 ratio {})", v.value, percent(v.share), percent(v.ratio_451)))
                .collect();
            Some(format!("{}: {}", dimension.noun().1, listed.join(", ")))
        })
        .collect()
}

/// `{PUBLIC_URL}/#/domain/{domain}`, the domain percent-encoded so data cannot bend the link.
pub(super) fn dashboard_link(base: &str, page: &str, name: &str) -> String {
    let mut link = format!("{base}/#/{page}/");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_') {
            link.push(char::from(byte));
        } else {
            let _ = write!(link, "%{byte:02X}");
        }
    }
    link
}

pub(super) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Benign => "benign",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// A ratio as a percentage an operator reads at a glance: `18 %`, `0.4 %`, `5 %`.
pub fn percent(ratio: f64) -> String {
    let pct = ratio * 100.0;
    let shown = if pct >= 10.0 { format!("{pct:.0}") } else { format!("{pct:.1}") };
    format!("{} %", shown.strip_suffix(".0").unwrap_or(&shown))
}

fn times(factor: f64) -> String {
    let shown = if factor >= 10.0 { format!("{factor:.0}") } else { format!("{factor:.1}") };
    format!("{}×", shown.strip_suffix(".0").unwrap_or(&shown))
}

pub(super) fn duration(seconds: u64) -> String {
    let minutes = seconds / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

pub(super) fn clock(unix: u64) -> String {
    let t = UtcTime::from_unix(unix);
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year, t.month, t.day, t.hour, t.minute)
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

/// Who the sample says produced the verdict, and where to look the sender up (issue 15, `entity`):
/// "Named by spamhaus (blocklist): https://check.spamhaus.org/".
fn entity_note(sample: &str) -> Option<String> {
    let entity = crate::classify::classify(sample).entity?;
    let kind = match entity.kind {
        crate::classify::entity::EntityKind::Blocklist => "blocklist",
        crate::classify::entity::EntityKind::Filter => "filter",
        crate::classify::entity::EntityKind::MailboxProvider => "mailbox provider",
    };
    Some(match entity.lookup {
        Some(url) => format!("Named by {} ({kind}): {url}", entity.name),
        None => format!("Named by {} ({kind})", entity.name),
    })
}
