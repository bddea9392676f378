use super::*;
use crate::breakdown::Sources;
use crate::classify::Category;
use crate::counters::Counts;
use crate::detect::{AlertScope, Cause, Severity};
use crate::drift::{DriftSeverity, DriftWeek, Signal};

/// Monday 2026-11-30 00:00 UTC: the end of the week the digest covers.
const MON: u64 = 1_795_996_800;
const HOUR: u64 = 3600;
const WEEK: DigestWeek = DigestWeek { start: MON - WEEK_SECS, end: MON };

fn alert(domain: &str, severity: Severity, state: Phase, since: u64, resolved_at: Option<u64>) -> Alert {
    Alert {
        domain: domain.into(),
        scope: AlertScope::Domain,
        provider: None,
        domain_count: None,
        state,
        severity,
        since,
        smtp_451: 180,
        deferrals_watched: 180,
        attempts: 1000,
        ratio_451: 0.18,
        ratio_watched: 0.18,
        baseline_ratio: 0.004,
        causes: vec![Cause { category: Category::PolicyRejected, share: 0.75 }],
        advice: Vec::new(),
        samples: Vec::new(),
        sources: Sources::default(),
        domains: Vec::new(),
        resolved_at,
    }
}

fn counts(attempts: u64, smtp_451: u64) -> Counts {
    Counts { delivered: attempts - smtp_451, deferred: smtp_451, smtp_451, ..Counts::default() }
}

fn row(id: &str, now: (u64, u64), before: Option<(u64, u64)>) -> DigestRow {
    let current = counts(now.0, now.1);
    let previous = before.map(|(a, s)| counts(a, s));
    DigestRow { id: id.into(), week: Period::of(&current), comparison: Comparison::of(&current, previous.as_ref()) }
}

fn drift() -> Drift {
    let week = |i: u64, ratio: f64| DriftWeek { start: MON - (4 - i) * WEEK_SECS, attempts: 2000 + i * 100, ratio };
    Drift {
        scope: DriftScope::Provider,
        id: "yahoo".into(),
        signal: Signal::Smtp451,
        severity: DriftSeverity::Info,
        weeks: [week(0, 0.01), week(1, 0.012), week(2, 0.014), week(3, 0.017)],
        rise: 0.017 - 0.01,
    }
}

fn full() -> DigestInput {
    DigestInput {
        week: WEEK,
        alerts: vec![
            alert("yahoo.com", Severity::Warning, Phase::Ok, MON - 6 * 24 * HOUR, Some(MON - 6 * 24 * HOUR + 4 * HOUR)),
            alert("gmail.com", Severity::Critical, Phase::Firing, MON - 2 * 24 * HOUR + 1200, None),
        ],
        domains: vec![
            row("gmail.com", (13_300, 412), Some((11_875, 221))),
            row("outlook.com", (5_000, 40), Some((10_000, 100))),
            row("new.example", (1_000, 10), None),
        ],
        providers: vec![
            row("att", (800, 80), Some((0, 0))),
            row("other:example-hosting.net", (2_000, 20), Some((2_000, 20))),
        ],
        drifts: vec![drift()],
        unclassified: vec![
            Sample {
                reply: "550 <script>alert(1)</script> rejected".into(),
                category: Category::Unclassified,
                count: 37,
                rule: Some("fallback.unclassified".into()),
            },
            Sample { reply: "452 try later".into(), category: Category::Unclassified, count: 5, rule: None },
        ],
        public_url: Some("https://bw.example/".into()),
    }
}

#[test]
fn the_text_reads_section_by_section() {
    let expected = "\
Weekly digest — 2026-11-23 to 2026-11-29 (UTC)

Alerts (2)

  - gmail.com (critical): firing since 2026-11-28 00:20 UTC, 451 ratio 18 % (baseline 0.4 %) — local policy
  - yahoo.com (warning): resolved 2026-11-24 04:00 UTC after 4 h, 451 ratio 18 % (baseline 0.4 %) — local policy

Domains with the most 451s

  - gmail.com: 412 451s in 13300 attempts, 451 ratio 3.1 % (+1.2 pp on the week before), volume +12 %
  - outlook.com: 40 451s in 5000 attempts, 451 ratio 0.8 % (-0.2 pp on the week before), volume -50 %
  - new.example: 10 451s in 1000 attempts, 451 ratio 1 % (the week before is not kept)

Providers with the most 451s

  - AT&T: 80 451s in 800 attempts, 451 ratio 10 % (+10 pp on the week before), volume new
  - example-hosting.net: 20 451s in 2000 attempts, 451 ratio 1 % (0 pp on the week before), volume 0 %

Slow drifts (info)

  - Yahoo (provider): 451 ratio up three weeks running, 1 % → 1.2 % → 1.4 % → 1.7 % (+0.7 pp), at least 2000 attempts a week

Replies no rule recognised

  - 37× 550 <script>alert(1)</script> rejected [fallback.unclassified]
  - 5× 452 try later

Open the dashboard: https://bw.example/

-- 
bouncewatch: the weekly digest, sent to DIGEST_TO at DIGEST_AT (UTC).
";
    assert_eq!(compose(&full()).text, expected);
}

#[test]
fn the_subject_counts_alerts_and_drifts_and_names_the_domain_with_most_451s() {
    assert_eq!(
        compose(&full()).subject,
        "[bouncewatch] weekly digest 2026-11-23 to 2026-11-29: 2 alerts, most 451s gmail.com 3.1 %, 1 slow drift"
    );
}

#[test]
fn the_html_has_every_section_escaped_with_dashboard_links() {
    let html = compose(&full()).html;
    for expected in [
        "<h3 style=\"margin:16px 0 4px\">Alerts (2)</h3>",
        "<h3 style=\"margin:16px 0 4px\">Domains with the most 451s</h3>",
        "<h3 style=\"margin:16px 0 4px\">Providers with the most 451s</h3>",
        "<h3 style=\"margin:16px 0 4px\">Slow drifts (info)</h3>",
        "<h3 style=\"margin:16px 0 4px\">Replies no rule recognised</h3>",
        "<li><a href=\"https://bw.example/#/domain/gmail.com\">gmail.com</a>: 412 451s in 13300 attempts, 451 ratio 3.1 % (+1.2 pp on the week before), volume +12 %</li>",
        "<a href=\"https://bw.example/#provider=att\">AT&amp;T</a>",
        "<li><b>37×</b> 550 &lt;script&gt;alert(1)&lt;/script&gt; rejected [fallback.unclassified]</li>",
        "<p><a href=\"https://bw.example/\">Open the dashboard</a></p>",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
    assert!(!html.contains("<script>"), "{html}");
}

#[test]
fn an_empty_week_says_so_in_each_section() {
    let empty = DigestInput {
        week: WEEK,
        alerts: Vec::new(),
        domains: Vec::new(),
        providers: Vec::new(),
        drifts: Vec::new(),
        unclassified: Vec::new(),
        public_url: None,
    };
    let message = compose(&empty);
    assert_eq!(message.subject, "[bouncewatch] weekly digest 2026-11-23 to 2026-11-29: no alerts, no slow drifts");
    for line in [
        "Alerts (0)\n\n  No alerts this week.\n",
        "  No 451s this week.\n",
        "  No 451s from any provider this week.\n",
        "  No slow drift this week.\n",
        "  No unrecognised replies this week.\n",
    ] {
        assert!(message.text.contains(line), "missing {line:?} in\n{}", message.text);
    }
    assert!(!message.text.contains("dashboard"), "{}", message.text);
    assert!(message.html.contains("<p style=\"color:#555\">No alerts this week.</p>"), "{}", message.html);
}

#[test]
fn a_sample_is_shown_on_one_line_without_addresses() {
    let input = DigestInput {
        unclassified: vec![Sample {
            reply: "550 no such user jane.doe@example.org\r\nBcc: x".into(),
            category: Category::Unclassified,
            count: 2,
            rule: None,
        }],
        ..full()
    };
    let text = compose(&input).text;
    assert!(text.contains("  - 2× 550 no such user <…@example.org>  Bcc: x\n"), "{text}");
}

#[test]
fn changes_have_a_sign_and_a_unit() {
    for (delta, shown) in
        [(0.012, "+1.2 pp"), (-0.004, "-0.4 pp"), (0.1234, "+12 pp"), (0.00004, "0 pp"), (-0.00004, "0 pp")]
    {
        assert_eq!(points(delta), shown, "{delta}");
    }
    for (now, before, shown) in [
        (112, 100, "+12 %"),
        (50, 100, "-50 %"),
        (100, 100, "0 %"),
        (5, 0, "new"),
        (0, 0, "0 %"),
        (1_005, 1_000, "+0.5 %"),
    ] {
        assert_eq!(volume_change(now, before), shown, "{now} vs {before}");
    }
}

#[test]
fn digest_at_is_a_weekday_and_a_utc_time() {
    let at = |weekday, hour: u64, minute: u64| Ok(DigestSchedule { weekday, time_secs: hour * HOUR + minute * 60 });
    for (text, parsed) in
        [("monday 08:00", at(1, 8, 0)), ("Fri 16:30", at(5, 16, 30)), ("  SUNDAY   23:59 ", at(0, 23, 59))]
    {
        assert_eq!(DigestSchedule::parse(text), parsed, "{text}");
    }
    for bad in [
        "monday",
        "monday 8:00",
        "monday 24:00",
        "monday 08:60",
        "mo 08:00",
        "funday 08:00",
        "monday 08:00 utc",
        "monday +8:00",
    ] {
        let err = DigestSchedule::parse(bad).unwrap_err();
        assert!(err.message().contains("DIGEST_AT"), "{bad}: {err:?}");
    }
    assert_eq!(DigestSchedule::from_config(&Config::new()), Ok(DigestSchedule::default()));
    assert_eq!(DigestSchedule::from_config(&Config::from_pairs([("DIGEST_AT", "tue 09:15")])), at(2, 9, 15));
    assert!(DigestSchedule::from_config(&Config::from_pairs([("DIGEST_AT", "9am")])).is_err());
}

#[test]
fn a_digest_is_due_once_the_moment_has_passed_until_it_is_sent() {
    let monday_8 = DigestSchedule::default();
    let before = WEEK.start - WEEK_SECS; // the week before WEEK, sent a week ago
    let cases = [
        ("Monday 07:59, last week's sent", MON + 8 * HOUR - 60, Some(before), None),
        ("Monday 08:00", MON + 8 * HOUR, Some(before), Some(WEEK)),
        ("Monday 08:01, already sent", MON + 8 * HOUR + 60, Some(WEEK.start), None),
        ("missed slot, down until Tuesday", MON + 26 * HOUR, Some(before), Some(WEEK)),
        ("never sent", MON + 9 * HOUR, None, Some(WEEK)),
        ("Sunday 23:59, sent last Monday", MON - 60, Some(before), None),
        ("Monday 00:00, a new day but before the time", MON, Some(before), None),
        ("down for three weeks: only the latest week", MON + 8 * HOUR, Some(before - 2 * WEEK_SECS), Some(WEEK)),
    ];
    for (name, now, last_sent, due) in cases {
        assert_eq!(monday_8.due(now, last_sent), due, "{name}");
    }
}

#[test]
fn a_sunday_evening_digest_covers_the_week_to_that_sunday_midnight() {
    let sunday = DigestSchedule::parse("sunday 23:30").unwrap();
    let sun = MON - 24 * HOUR;
    let week = DigestWeek { start: sun - WEEK_SECS, end: sun };
    assert_eq!(sunday.due(sun + 23 * HOUR + 30 * 60, Some(week.start - WEEK_SECS)), Some(week));
    // Just past midnight into Monday: still that Sunday's slot, not yet sent.
    assert_eq!(sunday.due(MON + 60, Some(week.start - WEEK_SECS)), Some(week));
    assert_eq!(sunday.due(MON + 60, Some(week.start)), None);
    assert_eq!(sunday.due(sun + 23 * HOUR, Some(week.start - WEEK_SECS)), None);
}
