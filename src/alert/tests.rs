use super::*;

const NOW: u64 = 1_795_838_230;

fn gmail() -> AlertSnapshot {
    AlertSnapshot {
        scope: Scope::Domain("gmail.com".into()),
        severity: Severity::Critical,
        state: AlertState::Firing,
        since: NOW - 20 * 60,
        window_minutes: 15,
        smtp_451: 180,
        attempts: 1000,
        ratio_451: 0.18,
        baseline_ratio: 0.004,
        causes: vec![
            CauseShare { category: Category::RateLimited, share: 0.25 },
            CauseShare { category: Category::PolicyRejected, share: 0.75 },
        ],
        samples: vec![
            "451 4.7.1 <jane.doe@example.org> temporarily deferred due to local policy".into(),
            "421-4.7.28 Our system has detected an unusual rate of unsolicited mail".into(),
        ],
        sources: Default::default(),
    }
}

/// gmail() with 90 % of its 451s from one of three sending IPs.
fn from_one_ip() -> AlertSnapshot {
    use crate::breakdown::Dimension;
    use crate::counters::{Counted, Counts};
    use crate::event::EventKind;
    let mut window = Counts::default();
    for (ip, attempts, deferred) in [("198.51.100.7", 300, 162), ("198.51.100.8", 350, 9), ("198.51.100.9", 350, 9)] {
        for i in 0..attempts {
            let (kind, code) =
                if i < deferred { (EventKind::Deferred, Some(451)) } else { (EventKind::Delivered, None) };
            let streams = [(Dimension::SendingIp, ip), (Dimension::Tag, "newsletter")];
            window.add(Counted { kind, smtp_code: code, category: None, rule: None, sample: None, streams: &streams });
        }
    }
    AlertSnapshot { sources: Sources::of(&window.dimensions()), ..gmail() }
}

fn domain(name: &str) -> AlertSnapshot {
    AlertSnapshot { scope: Scope::Domain(name.into()), ..gmail() }
}

fn notice(kind: NoticeKind, alert: AlertSnapshot) -> Notice {
    Notice { kind, alert: alert.sanitized() }
}

fn one(kind: NoticeKind, alert: AlertSnapshot) -> Message {
    compose(&[notice(kind, alert)], NOW, Some("https://bw.example/"))
}

#[test]
fn firing_subject_names_domain_ratio_baseline_and_dominant_cause() {
    assert_eq!(
        one(NoticeKind::Firing, gmail()).subject,
        "[bouncewatch] gmail.com: 451 deferrals 18 % (baseline 0.4 %) — local policy"
    );
}

#[test]
fn firing_text_says_what_to_do_then_shows_the_evidence() {
    let text = one(NoticeKind::Firing, gmail()).text;
    for expected in [
        "FIRING — gmail.com (critical)",
        "What to do: Check IP reputation, authentication and content — and don't resend manually until the cause is identified.",
        "Window: last 15 min",
        "451 deferrals: 180 of 1000 attempts",
        "451 ratio: 18 % (baseline 0.4 %, 45× the usual)",
        "Since: 2026-11-28 03:37 UTC (20 min ago)",
        "  - local policy: 75 % — Lighten content, drop suspicious links, check IP and domain reputation.",
        "  - rate limiting: 25 % — Slow the send, segment the campaign.",
        "  > 451 4.7.1 <…@example.org> temporarily deferred due to local policy",
        "Open gmail.com in the dashboard: https://bw.example/#/domain/gmail.com",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(text.find("local policy: 75 %") < text.find("rate limiting: 25 %"), "causes by share");
}

#[test]
fn firing_html_has_the_same_facts_and_the_link() {
    let html = one(NoticeKind::Firing, gmail()).html;
    for expected in [
        "FIRING — gmail.com (critical)",
        "<b>local policy: 75 %</b> — Lighten content",
        "&lt;…@example.org&gt; temporarily deferred",
        "<a href=\"https://bw.example/#/domain/gmail.com\">Open gmail.com in the dashboard</a>",
        "don&#39;t resend manually",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
}

#[test]
fn html_escapes_everything_that_came_from_data() {
    let mut alert = domain("evil.example\"><script>x</script>");
    alert.samples = vec!["451 <b>bold</b> & \"quoted\" 'single'".into()];
    let html = one(NoticeKind::Firing, alert).html;
    assert!(!html.contains("<script>"));
    assert!(!html.contains("<b>bold</b>"));
    assert!(html.contains("451 &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; &#39;single&#39;"));
    // The link percent-encodes the domain, so it cannot close the attribute either.
    assert!(html.contains("href=\"https://bw.example/#/domain/evil.example%22%3E%3Cscript%3Ex%3C%2Fscript%3E\""));
}

#[test]
fn no_recipient_address_survives_in_any_part() {
    let mut alert = gmail();
    alert.samples = vec![
        "550 5.1.1 user john.smith+tag@corp.example.co.uk unknown".into(),
        "451 RCPT TO:<a_b@x.io> deferred\r\nBcc: c@d.example".into(),
        "451 4.7.0 try later, ref 9@".into(),
    ];
    let message = one(NoticeKind::Firing, alert);
    let local_part = regex_lite::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.").expect("pattern");
    for part in [&message.subject, &message.text, &message.html] {
        assert!(!local_part.is_match(part), "an address in:\n{part}");
    }
    assert!(message.text.contains("user <…@corp.example.co.uk> unknown"), "{}", message.text);
    assert!(message.text.contains("RCPT TO:<…@x.io> deferred  Bcc: <…@d.example>"), "newlines flattened");
}

#[test]
fn samples_are_capped_at_three_and_shortened() {
    let mut alert = gmail();
    alert.samples = vec!["x".repeat(1000), "b".into(), "c".into(), "d".into()];
    let sanitized = alert.sanitized();
    assert_eq!(sanitized.samples.len(), 3);
    assert_eq!(sanitized.samples[0].chars().count(), MAX_SAMPLE_CHARS + 1);
    assert!(sanitized.samples[0].ends_with('…'));
}

#[test]
fn reminder_says_still_firing_and_for_how_long() {
    let mut alert = gmail();
    alert.since = NOW - (4 * 3600 + 5 * 60);
    let message = one(NoticeKind::Reminder, alert);
    assert!(message.subject.starts_with("[bouncewatch] still firing: gmail.com: 451 deferrals 18 %"));
    assert!(message.text.starts_with("STILL FIRING — gmail.com (critical), for 4 h 5 min"));
}

#[test]
fn resolved_says_so_without_advice() {
    let mut alert = gmail();
    alert.state = AlertState::Ok;
    alert.ratio_451 = 0.006;
    let message = one(NoticeKind::Resolved, alert);
    assert_eq!(
        message.subject,
        "[bouncewatch] resolved: gmail.com: 451 deferrals 0.6 % (baseline 0.4 %) — local policy"
    );
    assert!(message.text.starts_with("RESOLVED — gmail.com"));
    assert!(message.text.contains("back under the threshold; no action needed"));
    assert!(message.text.contains("Was firing since: 2026-11-28 03:37 UTC (20 min ago)"));
    assert!(!message.text.contains("What to do"));
    assert!(!message.text.contains("Slow the send"));
    assert!(message.html.contains("#1a7f37"), "green");
}

#[test]
fn benign_alert_advises_nothing_to_do() {
    let mut alert = gmail();
    alert.severity = Severity::Benign;
    alert.causes = vec![CauseShare { category: Category::Greylisted, share: 0.9 }];
    let message = one(NoticeKind::Firing, alert);
    assert!(message.subject.ends_with("— greylisting"));
    assert!(message.text.contains("What to do: Nothing to do — the automatic retry succeeds; don't resend faster."));
}

#[test]
fn grouped_message_has_a_summarizing_subject_and_every_section() {
    let mut outlook = domain("outlook.com");
    outlook.state = AlertState::Ok;
    let notices = [
        notice(NoticeKind::Firing, gmail()),
        notice(NoticeKind::Resolved, outlook),
        notice(NoticeKind::Reminder, domain("yahoo.com")),
    ];
    let message = compose(&notices, NOW, None);
    assert_eq!(
        message.subject,
        "[bouncewatch] 3 alerts: gmail.com firing, outlook.com resolved, yahoo.com still firing"
    );
    for title in ["FIRING — gmail.com", "RESOLVED — outlook.com", "STILL FIRING — yahoo.com"] {
        assert!(message.text.contains(title), "{title}");
        assert!(message.html.contains(title), "{title}");
    }
    assert!(!message.text.contains("dashboard"), "no link without PUBLIC_URL");
}

#[test]
fn grouped_subject_stays_short_with_many_alerts() {
    let notices: Vec<Notice> = ["a.example", "b.example", "c.example", "d.example", "e.example"]
        .map(|d| notice(NoticeKind::Firing, domain(d)))
        .into();
    assert_eq!(
        compose(&notices, NOW, None).subject,
        "[bouncewatch] 5 alerts: a.example firing, b.example firing, c.example firing, +2 more"
    );
}

#[test]
fn sender_wide_spike_is_one_section_listing_its_domains() {
    let domains: Vec<String> = (0..12).map(|i| format!("d{i:02}.example")).collect();
    let alert = AlertSnapshot { scope: Scope::SenderWide { domains }, ..gmail() };
    assert_eq!(alert.key(), SENDER_WIDE_KEY);
    let message = one(NoticeKind::Firing, alert);
    assert!(message.subject.starts_with("[bouncewatch] sender-wide (12 domains): 451 deferrals 18 %"));
    assert!(message.text.contains("Domains: d00.example, d01.example,"));
    assert!(message.text.contains("d09.example and 2 more"));
    assert!(message.text.contains("Open the dashboard: https://bw.example/"));
}

#[test]
fn percentages_read_at_a_glance() {
    for (ratio, expected) in
        [(0.18, "18 %"), (0.004, "0.4 %"), (0.05, "5 %"), (0.0, "0 %"), (1.0, "100 %"), (0.0123, "1.2 %")]
    {
        assert_eq!(percent(ratio), expected, "{ratio}");
    }
}

#[test]
fn every_category_has_a_distinct_human_name() {
    let names: std::collections::BTreeSet<&str> = Category::ALL.iter().map(|&c| cause_name(c)).collect();
    assert_eq!(names.len(), Category::ALL.len());
}

#[test]
fn snapshot_round_trips_through_json() {
    let alert = AlertSnapshot { scope: Scope::SenderWide { domains: vec!["a.example".into()] }, ..gmail() };
    let json = serde_json::to_string(&alert).expect("serializes");
    assert!(json.contains("\"policy_rejected\""));
    assert_eq!(serde_json::from_str::<AlertSnapshot>(&json).ok(), Some(alert));
}

#[test]
fn a_sample_naming_a_blocklist_says_who_and_where_to_look_the_sender_up() {
    let mut alert = gmail();
    alert.samples =
        vec!["554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org".into()];
    let message = one(NoticeKind::Firing, alert);
    let note = "Named by spamhaus (blocklist): https://check.spamhaus.org/";
    assert!(message.text.contains(&format!("    {note}")), "{}", message.text);
    assert!(message.html.contains(note), "{}", message.html);
    assert!(!one(NoticeKind::Firing, gmail()).text.contains("Named by"), "no entity, no note");
}

#[test]
fn the_message_says_which_sending_ip_the_451s_came_from_and_lists_the_top_values() {
    let message = compose(&[Notice { kind: NoticeKind::Firing, alert: from_one_ip() }], NOW, None);
    assert!(
        message.text.contains(
            "Where the 451s came from:\n  90 % of the 451s came from sending IP 198.51.100.7 (30 % of the attempts): \
             check that IP's reputation"
        ),
        "{}",
        message.text
    );
    assert!(message.text.contains(
        "  - sending IPs: 198.51.100.7 (90 % of the 451s, 451 ratio 54 %), 198.51.100.8 (5 % of the 451s, 451 ratio 2.6 %)"
    ));
    assert!(message.text.contains("  - tags: newsletter (100 % of the 451s, 451 ratio 18 %)"));
    assert!(message.html.contains("<b>90 % of the 451s came from sending IP 198.51.100.7"));
}

#[test]
fn without_dimensions_the_message_has_no_source_section() {
    let message = compose(&[Notice { kind: NoticeKind::Firing, alert: gmail() }], NOW, None);
    assert!(!message.text.contains("Where the 451s came from"));
    assert!(!message.html.contains("Where the 451s came from"));
}
