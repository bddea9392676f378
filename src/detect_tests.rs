//! The detector on synthetic series: a day of baseline buckets, then one evaluation a minute.

use super::*;

const DAY_START: u64 = 1_700_000_000 - 1_700_000_000 % 86_400;

/// A bucket or window of traffic to one domain: deliveries, and 451 deferrals by cause.
fn traffic(delivered: u64, causes: &[(Category, u64)]) -> Counts {
    let mut counts = Counts { delivered, ..Counts::default() };
    for (category, n) in causes {
        counts.deferred += n;
        counts.smtp_451 += n;
        *counts.categories.entry(*category).or_default() += n;
        *counts.causes_451.entry(*category).or_default() += n;
        counts.samples.push(Sample {
            reply: format!("451 {} sample", category.as_str()),
            category: *category,
            count: *n,
            rule: None,
        });
    }
    counts
}

fn per_domain(entries: &[(&str, Counts)]) -> BTreeMap<String, Counts> {
    entries.iter().map(|(d, c)| (d.to_string(), c.clone())).collect()
}

/// The detector and what the counting object would fold for it: each domain's baseline from its stored
/// buckets (here, a day of the same bucket).
#[derive(Default)]
struct Series {
    detector: DetectorState,
    learnt: BTreeMap<String, Baseline>,
}

impl std::ops::Deref for Series {
    type Target = DetectorState;
    fn deref(&self) -> &DetectorState {
        &self.detector
    }
}

/// A day of steady buckets for these domains, and the time just after that day.
fn with_baseline(domains: &[(&str, Counts)]) -> (Series, u64, Settings) {
    let settings = Settings::default();
    let mut series = Series::default();
    let buckets = settings.buckets_in(settings.baseline_secs);
    for (domain, counts) in domains {
        let mut baseline = Baseline::default();
        for i in 0..buckets {
            baseline = baseline.folded(
                DAY_START + i * settings.bucket_secs,
                &Totals::of(counts, &settings.spike_codes),
                false,
                &settings,
            );
        }
        series.learnt.insert(domain.to_string(), baseline);
    }
    (series, DAY_START + buckets * settings.bucket_secs + 3 * settings.bucket_secs, settings)
}

/// Evaluates the same window once a minute, `minutes` times; returns the time after the last one. Every
/// domain of the window is a candidate, with its learnt baseline, or the frozen one while it alerts.
fn run(series: &mut Series, window: &BTreeMap<String, Counts>, from: u64, minutes: u64, settings: &Settings) -> u64 {
    for minute in 0..minutes {
        let mut candidates = BTreeMap::new();
        let tracked = series.detector.tracked();
        for domain in window.keys().chain(tracked.keys()) {
            let baseline = match tracked.get(domain) {
                Some(t) if t.frozen => t.baseline.clone(),
                _ => series.learnt.get(domain).cloned().unwrap_or_default(),
            };
            let window = window.get(domain).cloned().unwrap_or_default();
            candidates.insert(domain.clone(), Candidate { window, baseline });
        }
        series.detector.evaluate(&candidates, from + minute * 60, settings);
    }
    from + minutes * 60
}

fn steady() -> Counts {
    traffic(100, &[(Category::PolicyRejected, 1)])
}

#[test]
fn a_one_off_451_alerts_nothing() {
    let (mut state, now, settings) = with_baseline(&[("gmail.com", steady())]);
    run(&mut state, &per_domain(&[("gmail.com", traffic(300, &[(Category::PolicyRejected, 1)]))]), now, 5, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Ok);
    assert!(state.active_alerts().is_empty());
}

#[test]
fn a_greylisting_spike_is_benign() {
    let (mut state, now, settings) = with_baseline(&[("gmail.com", steady())]);
    let window = traffic(200, &[(Category::Greylisted, 55), (Category::PolicyRejected, 5)]);
    run(&mut state, &per_domain(&[("gmail.com", window)]), now, 2, &settings);
    let alerts = state.active_alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].state, alerts[0].severity), (Phase::Firing, Severity::Benign));
    assert_eq!(alerts[0].advice, [GREYLISTING_ADVICE]);
}

#[test]
fn a_policy_spike_on_gmail_fires_while_steady_outlook_stays_ok() {
    let (mut state, now, settings) = with_baseline(&[("gmail.com", steady()), ("outlook.com", steady())]);
    let window = per_domain(&[
        ("gmail.com", traffic(300, &[(Category::PolicyRejected, 60)])),
        ("outlook.com", traffic(300, &[(Category::PolicyRejected, 3)])),
    ]);
    let after_one = run(&mut state, &window, now, 1, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Pending, "one breach is not enough");
    run(&mut state, &window, after_one, 1, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Firing);
    assert_eq!(state.phase_of("outlook.com"), Phase::Ok);

    let alerts = state.active_alerts();
    assert_eq!(alerts.len(), 1);
    let alert = alerts[0];
    assert_eq!(
        (alert.domain.as_str(), alert.severity, alert.smtp_451, alert.since),
        ("gmail.com", Severity::Warning, 60, now)
    );
    assert!((alert.baseline_ratio - 1.0 / 101.0).abs() < 1e-9, "{}", alert.baseline_ratio);
    assert_eq!(alert.causes, [Cause { category: Category::PolicyRejected, share: 1.0 }]);
    assert_eq!(alert.advice, [SPIKE_ADVICE, cause_advice(Category::PolicyRejected).unwrap()]);
    assert_eq!(alert.samples.len(), 1);
}

#[test]
fn recovery_resolves_only_after_the_hold() {
    let (mut state, now, settings) = with_baseline(&[("gmail.com", steady())]);
    let spike = per_domain(&[("gmail.com", traffic(300, &[(Category::RateLimited, 60)]))]);
    let calm = per_domain(&[("gmail.com", traffic(300, &[]))]);
    let fired = run(&mut state, &spike, now, 3, &settings);
    let almost = run(&mut state, &calm, fired, 30, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Resolving, "29 minutes calm is not yet the hold");
    assert_eq!(state.active_alerts()[0].state, Phase::Resolving);
    run(&mut state, &calm, almost, 1, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Ok);
    assert!(state.active_alerts().is_empty());
    assert_eq!(state.recent.len(), 1);
    assert_eq!(state.recent[0].resolved_at, Some(almost));
    assert_eq!(state.recent[0].advice, [SPIKE_ADVICE, cause_advice(Category::RateLimited).unwrap()]);
}

#[test]
fn a_relapse_while_resolving_fires_again() {
    let (mut state, now, settings) = with_baseline(&[("gmail.com", steady())]);
    let spike = per_domain(&[("gmail.com", traffic(300, &[(Category::RateLimited, 60)]))]);
    let calm = per_domain(&[("gmail.com", traffic(300, &[]))]);
    let t = run(&mut state, &spike, now, 2, &settings);
    let t = run(&mut state, &calm, t, 10, &settings);
    run(&mut state, &spike, t, 1, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Firing);
    assert!(state.recent.is_empty());
}

#[test]
fn a_sender_wide_spike_is_one_alert() {
    let names = ["gmail.com", "outlook.com", "yahoo.com", "web.de", "orange.fr"];
    let baseline: Vec<(&str, Counts)> = names.iter().map(|d| (*d, steady())).collect();
    let (mut state, now, settings) = with_baseline(&baseline);
    let spike: Vec<(&str, Counts)> =
        names.iter().map(|d| (*d, traffic(200, &[(Category::ReputationBlocked, 40)]))).collect();
    run(&mut state, &per_domain(&spike), now, 2, &settings);
    let alerts = state.active_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!((alerts[0].domain.as_str(), alerts[0].severity), (SENDER_WIDE, Severity::Critical));
    assert_eq!(alerts[0].domains.len(), names.len());
    assert_eq!(alerts[0].smtp_451, 200);
}

#[test]
fn low_volume_alerts_nothing_whatever_the_ratio() {
    let (mut state, now, settings) = with_baseline(&[("tiny.example", traffic(2, &[]))]);
    run(&mut state, &per_domain(&[("tiny.example", traffic(2, &[(Category::PolicyRejected, 10)]))]), now, 5, &settings);
    assert!(state.active_alerts().is_empty());
}

#[test]
fn a_new_domain_with_no_history_is_held_to_the_absolute_floor() {
    let settings = Settings::default();
    let mut state = Series::default();
    run(
        &mut state,
        &per_domain(&[("new.example", traffic(1000, &[(Category::PolicyRejected, 40)]))]),
        DAY_START,
        3,
        &settings,
    );
    assert_eq!(state.phase_of("new.example"), Phase::Ok, "4 % is under the 5 % floor");
    run(
        &mut state,
        &per_domain(&[("new.example", traffic(700, &[(Category::PolicyRejected, 40)]))]),
        DAY_START,
        2,
        &settings,
    );
    assert_eq!(state.phase_of("new.example"), Phase::Firing);
}

#[test]
fn without_delivered_events_the_count_is_tested_against_the_baseline_count() {
    // The ESP reports failures only: about one 451 per 5-minute bucket is this domain's normal.
    let usual = Counts { deferred: 1, smtp_451: 1, ..Counts::default() };
    let (mut state, now, settings) = with_baseline(&[("gmail.com", usual)]);
    let busy_but_normal = traffic(0, &[(Category::PolicyRejected, 8)]);
    run(&mut state, &per_domain(&[("gmail.com", busy_but_normal)]), now, 3, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Ok, "8 is under the minimum of 20");
    run(&mut state, &per_domain(&[("gmail.com", traffic(0, &[(Category::PolicyRejected, 30)]))]), now, 2, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Firing);
}

#[test]
fn without_delivered_events_a_usual_high_count_alerts_nothing() {
    let usual = Counts { deferred: 10, smtp_451: 10, ..Counts::default() };
    let (mut state, now, settings) = with_baseline(&[("gmail.com", usual)]);
    run(&mut state, &per_domain(&[("gmail.com", traffic(0, &[(Category::PolicyRejected, 40)]))]), now, 3, &settings);
    assert_eq!(state.phase_of("gmail.com"), Phase::Ok, "40 in 15 minutes against about 30 expected");
}

#[test]
fn the_baseline_is_frozen_while_alerting() {
    let (mut state, now, settings) = with_baseline(&[("gmail.com", steady())]);
    let spike = traffic(300, &[(Category::PolicyRejected, 60)]);
    run(&mut state, &per_domain(&[("gmail.com", spike.clone())]), now, 2, &settings);
    let tracked = &state.tracked()["gmail.com"];
    assert!(tracked.frozen, "a firing domain is frozen");
    let folded = tracked.baseline.folded(now, &Totals::of(&spike, &settings.spike_codes), tracked.frozen, &settings);
    assert_eq!(folded.ratio(), tracked.baseline.ratio());
    assert_eq!(folded.through, Some(now), "frozen, it still moves on");
}

#[test]
fn poisson_tail_matches_hand_computed_values() {
    // P(X >= 3 | 1) = 1 - e^-1 (1 + 1 + 1/2)
    let expected = 1.0 - (-1.0_f64).exp() * 2.5;
    assert!((poisson_upper_tail(3, 1.0) - expected).abs() < 1e-12);
    assert_eq!(poisson_upper_tail(5, 0.0), 0.0);
    assert_eq!(poisson_upper_tail(2, 4.0), 1.0);
    assert!(poisson_upper_tail(200, 30.0) < 1e-50);
}

#[test]
fn a_candidate_stays_tracked_for_the_grace_then_is_forgotten() {
    let (mut state, now, settings) = with_baseline(&[("busy.example", steady())]);
    run(
        &mut state,
        &per_domain(&[("busy.example", traffic(3000, &[(Category::PolicyRejected, 25)]))]),
        now,
        1,
        &settings,
    );
    assert!(state.domains.contains_key("busy.example"), "tracked while a candidate");
    let later = run(&mut state, &BTreeMap::new(), now + TRACK_GRACE_SECS - 120, 1, &settings);
    assert!(state.domains.contains_key("busy.example"), "still within the grace");
    run(&mut state, &BTreeMap::new(), later + 120, 1, &settings);
    assert!(!state.domains.contains_key("busy.example"), "an ok domain is dropped after the grace");
}

#[test]
fn an_open_alert_is_never_forgotten() {
    let (mut state, now, settings) = with_baseline(&[("gmail.com", steady())]);
    let t =
        run(&mut state, &per_domain(&[("gmail.com", traffic(300, &[(Category::RateLimited, 60)]))]), now, 2, &settings);
    run(&mut state, &BTreeMap::new(), t + 10 * TRACK_GRACE_SECS, 1, &settings);
    assert!(state.domains.contains_key("gmail.com"));
    assert_ne!(state.phase_of("gmail.com"), Phase::Ok);
}
