//! The weekly slow-drift check (issue 17): a domain or provider whose 451 ratio, or whose bounce ratio,
//! rose three weeks running. The spike detector compares minutes with a day's baseline, so a ratio that
//! creeps up a little each week never breaches it; this check compares whole weeks instead. A drift is
//! informational: listed by the API and the dashboard, and emailed only in the weekly digest.
//!
//! Pure: given each scope's totals for the last four complete weeks, the findings.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::AppError;
use crate::period::Period;

/// The weeks compared: three rises need four weeks.
pub const WEEKS: usize = 4;

const WEEK_SECS: u64 = 7 * 86_400;

/// The two tunables of the check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftSettings {
    /// `DRIFT_MIN_ATTEMPTS`: attempts each of the four weeks must have.
    pub min_attempts: u64,
    /// `DRIFT_MIN_RISE`: how much the ratio must have risen from the first week to the last (0.005 is
    /// half a percentage point).
    pub min_rise: f64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            // About 150 messages a day: below that a week's ratio moves by whole tenths of a percent on a
            // handful of replies (one 451 in 300 attempts is 0.3 pp), so four rising weeks say nothing.
            // At 1,000 the standard error of a 1 % ratio is 0.3 pp.
            min_attempts: 1_000,
            // Four weeks of a steady ratio are strictly increasing by chance once in 24; the floor drops
            // the ones that only rose by noise of a few hundredths of a point. Simulated over 400,000
            // steady scopes at 1,000 attempts a week (binomial draws), the floor leaves 1.9 % of them
            // flagged at a steady 1 %, 2.6 % at 2 % and 1.2 % at 0.5 %: each a line in a weekly digest,
            // not a page, while half a point more deferrals on a domain is what a sender should look at.
            min_rise: 0.005,
        }
    }
}

impl DriftSettings {
    /// Reads `DRIFT_MIN_ATTEMPTS` (at least 1) and `DRIFT_MIN_RISE` (above 0, at most 1), falling back to
    /// the defaults; a value that does not parse or is out of range is a configuration error naming the var.
    pub fn from_config(config: &Config) -> Result<DriftSettings, AppError> {
        let d = DriftSettings::default();
        let min_attempts: u64 = config.number("DRIFT_MIN_ATTEMPTS", d.min_attempts)?;
        if min_attempts == 0 {
            return Err(out_of_range("DRIFT_MIN_ATTEMPTS", "at least 1"));
        }
        let min_rise: f64 = config.number("DRIFT_MIN_RISE", d.min_rise)?;
        if !(min_rise > 0.0 && min_rise <= 1.0) {
            return Err(out_of_range("DRIFT_MIN_RISE", "between 0 (exclusive) and 1"));
        }
        Ok(DriftSettings { min_attempts, min_rise })
    }
}

fn out_of_range(name: &str, expected: &str) -> AppError {
    AppError::Internal(format!("configuration var {name} must be {expected}"))
}

/// What drifted: a recipient domain or a mailbox provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftScope {
    Domain,
    Provider,
}

/// Which ratio rose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Signal {
    /// 451s per attempt.
    #[serde(rename = "smtp_451")]
    Smtp451,
    /// Bounces per attempt.
    #[serde(rename = "bounced")]
    Bounced,
}

impl Signal {
    const ALL: [Signal; 2] = [Signal::Smtp451, Signal::Bounced];

    fn ratio(self, period: &Period) -> f64 {
        match self {
            Signal::Smtp451 => period.ratio_451,
            Signal::Bounced => period.ratio_bounced,
        }
    }

    /// `451 ratio`, `bounce ratio`: how the digest and the dashboard name it.
    pub fn noun(self) -> &'static str {
        match self {
            Signal::Smtp451 => "451 ratio",
            Signal::Bounced => "bounce ratio",
        }
    }
}

/// A drift is never more than informational: it is not the spike detector's `benign`/`warning`/`critical`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftSeverity {
    #[default]
    Info,
}

/// One of the four weeks of a drift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftWeek {
    /// Unix seconds, the week's first second.
    pub start: u64,
    pub attempts: u64,
    pub ratio: f64,
}

/// One finding: this scope's `signal` rose each of the last three weeks, by `rise` in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub scope: DriftScope,
    /// The domain (`gmail.com`) or the provider id (`google`, `other:example-hosting.net`).
    pub id: String,
    pub signal: Signal,
    pub severity: DriftSeverity,
    /// Oldest first.
    pub weeks: [DriftWeek; WEEKS],
    /// The last week's ratio minus the first's.
    pub rise: f64,
}

/// One scope's totals for the four weeks, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeWeeks {
    pub scope: DriftScope,
    pub id: String,
    pub weeks: [Period; WEEKS],
}

/// The starts of the four complete weeks before `end` (unix seconds, the end of the last of them),
/// oldest first.
pub fn week_starts(end: u64) -> [u64; WEEKS] {
    let first = end.saturating_sub(WEEKS as u64 * WEEK_SECS);
    [first, first + WEEK_SECS, first + 2 * WEEK_SECS, first + 3 * WEEK_SECS]
}

/// Every drift among `scopes`, whose weeks start at `starts` (see [`week_starts`]): each signal checked on
/// its own, the largest rise first.
pub fn find(starts: [u64; WEEKS], scopes: &[ScopeWeeks], settings: &DriftSettings) -> Vec<Drift> {
    let mut drifts: Vec<Drift> = scopes
        .iter()
        .filter(|s| s.weeks.iter().all(|w| w.attempts >= settings.min_attempts))
        .flat_map(|s| Signal::ALL.into_iter().filter_map(move |signal| drift_of(starts, s, signal, settings)))
        .collect();
    crate::sort::sort_by(&mut drifts, |a, b| {
        b.rise.total_cmp(&a.rise).then_with(|| (a.scope, &a.id, a.signal).cmp(&(b.scope, &b.id, b.signal)))
    });
    drifts
}

fn drift_of(starts: [u64; WEEKS], scope: &ScopeWeeks, signal: Signal, settings: &DriftSettings) -> Option<Drift> {
    let ratios = scope.weeks.map(|w| signal.ratio(&w));
    let rising = ratios.windows(2).all(|pair| pair[0] < pair[1]);
    let rise = ratios[WEEKS - 1] - ratios[0];
    // A tolerance of a billionth so that a rise of exactly the floor (0.015 − 0.010) is not lost to rounding.
    if !rising || rise < settings.min_rise - 1e-9 {
        return None;
    }
    let weeks =
        std::array::from_fn(|i| DriftWeek { start: starts[i], attempts: scope.weeks[i].attempts, ratio: ratios[i] });
    Some(Drift { scope: scope.scope, id: scope.id.clone(), signal, severity: DriftSeverity::Info, weeks, rise })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Counts;

    const END: u64 = 1_795_996_800; // Monday 2026-11-30 00:00 UTC

    /// A week of `attempts` with `per_mille_451` and `per_mille_bounced` of them 451s and bounces.
    fn week(attempts: u64, per_mille_451: u64, per_mille_bounced: u64) -> Period {
        let smtp_451 = attempts * per_mille_451 / 1000;
        let bounced = attempts * per_mille_bounced / 1000;
        Period::of(&Counts {
            delivered: attempts - smtp_451 - bounced,
            deferred: smtp_451,
            bounced,
            smtp_451,
            ..Counts::default()
        })
    }

    fn domain(weeks: [Period; WEEKS]) -> ScopeWeeks {
        ScopeWeeks { scope: DriftScope::Domain, id: "gmail.com".into(), weeks }
    }

    fn signals(scope: ScopeWeeks) -> Vec<Signal> {
        find(week_starts(END), &[scope], &DriftSettings::default()).into_iter().map(|d| d.signal).collect()
    }

    #[test]
    fn drifts_need_three_rises_volume_every_week_and_the_floor() {
        use Signal::{Bounced, Smtp451};
        let cases: &[(&str, [Period; WEEKS], &[Signal])] = &[
            (
                "451 ratio rising three weeks with volume",
                [week(2_000, 10, 1), week(2_000, 12, 1), week(2_000, 14, 1), week(2_000, 17, 1)],
                &[Smtp451],
            ),
            (
                "rising, but one week under the minimum attempts",
                [week(2_000, 10, 1), week(999, 12, 1), week(2_000, 14, 1), week(2_000, 17, 1)],
                &[],
            ),
            ("flat", [week(2_000, 10, 1); WEEKS], &[]),
            ("up, down, up", [week(2_000, 10, 1), week(2_000, 14, 1), week(2_000, 12, 1), week(2_000, 17, 1)], &[]),
            (
                "rising but less than half a point in all",
                [week(10_000, 100, 1), week(10_000, 101, 1), week(10_000, 102, 1), week(10_000, 104, 1)],
                &[],
            ),
            (
                "rising by exactly the floor",
                [week(2_000, 10, 1), week(2_000, 12, 1), week(2_000, 14, 1), week(2_000, 15, 1)],
                &[Smtp451],
            ),
            (
                "the bounce ratio alone",
                [week(2_000, 10, 5), week(2_000, 10, 8), week(2_000, 10, 9), week(2_000, 10, 20)],
                &[Bounced],
            ),
            (
                "both signals, the larger rise first",
                [week(2_000, 10, 5), week(2_000, 12, 8), week(2_000, 14, 9), week(2_000, 17, 20)],
                &[Bounced, Smtp451],
            ),
        ];
        for (name, weeks, expected) in cases {
            assert_eq!(signals(domain(*weeks)), *expected, "{name}");
        }
    }

    #[test]
    fn a_drift_carries_its_weeks_oldest_first_and_serializes_in_snake_case() {
        let scope = ScopeWeeks {
            scope: DriftScope::Provider,
            id: "other:example-hosting.net".into(),
            weeks: [week(1_000, 10, 0), week(1_000, 20, 0), week(1_000, 30, 0), week(1_000, 40, 0)],
        };
        let drifts = find(week_starts(END), &[scope], &DriftSettings::default());
        let json = serde_json::to_value(&drifts).unwrap();
        assert_eq!(json[0]["scope"], "provider");
        assert_eq!(json[0]["id"], "other:example-hosting.net");
        assert_eq!(json[0]["signal"], "smtp_451");
        assert_eq!(json[0]["severity"], "info");
        assert_eq!(
            json[0]["weeks"][0],
            serde_json::json!({"start": END - 28 * 86_400, "attempts": 1000, "ratio": 0.01})
        );
        assert_eq!(json[0]["weeks"][3]["start"], END - 7 * 86_400);
        assert!((drifts[0].rise - 0.03).abs() < 1e-12);
        let back: Vec<Drift> = serde_json::from_value(json).unwrap();
        assert_eq!(back, drifts);
    }

    #[test]
    fn drifts_are_sorted_by_rise_across_scopes() {
        let rising = |id: &str, step: u64| ScopeWeeks {
            scope: DriftScope::Domain,
            id: id.into(),
            weeks: [
                week(5_000, 10, 0),
                week(5_000, 10 + step, 0),
                week(5_000, 10 + 2 * step, 0),
                week(5_000, 10 + 3 * step, 0),
            ],
        };
        let scopes = [rising("small.example", 2), rising("large.example", 5), rising("mid.example", 3)];
        let ids: Vec<String> =
            find(week_starts(END), &scopes, &DriftSettings::default()).into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["large.example", "mid.example", "small.example"]);
    }

    #[test]
    fn settings_default_and_bad_values_name_the_var() {
        assert_eq!(DriftSettings::from_config(&Config::new()), Ok(DriftSettings::default()));
        let set = Config::from_pairs([("DRIFT_MIN_ATTEMPTS", "200"), ("DRIFT_MIN_RISE", "0.01")]);
        assert_eq!(DriftSettings::from_config(&set), Ok(DriftSettings { min_attempts: 200, min_rise: 0.01 }));
        for (name, value) in [
            ("DRIFT_MIN_ATTEMPTS", "0"),
            ("DRIFT_MIN_ATTEMPTS", "many"),
            ("DRIFT_MIN_RISE", "0"),
            ("DRIFT_MIN_RISE", "2"),
            ("DRIFT_MIN_RISE", "NaN"),
            ("DRIFT_MIN_RISE", "half"),
        ] {
            let err = DriftSettings::from_config(&Config::from_pairs([(name, value)])).unwrap_err();
            assert!(err.message().contains(name), "{name}={value}: {err:?}");
        }
    }
}
