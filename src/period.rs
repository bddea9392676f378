//! "Compared with the period before": a window's headline figures, the same figures one period earlier,
//! and the difference, which every summary row of the read API carries (issue 17) and the weekly digest
//! words. Pure arithmetic over [`Counts`].

use serde::{Deserialize, Serialize};

use crate::counters::Counts;

/// A period's headline figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub attempts: u64,
    pub delivered: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub smtp_451: u64,
    pub ratio_451: f64,
    /// Bounces per attempt: the second signal the slow-drift check follows.
    pub ratio_bounced: f64,
}

impl Period {
    pub fn of(counts: &Counts) -> Period {
        let attempts = counts.attempts();
        Period {
            attempts,
            delivered: counts.delivered,
            deferred: counts.deferred,
            bounced: counts.bounced,
            smtp_451: counts.smtp_451,
            ratio_451: counts.ratio_451(),
            ratio_bounced: share(counts.bounced, attempts),
        }
    }
}

/// Current minus previous: positive means more volume, more 451s, a worse ratio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub attempts: i64,
    pub smtp_451: i64,
    /// The difference of the two 451 ratios (0.02 is two percentage points worse).
    pub ratio_451: f64,
    pub ratio_bounced: f64,
}

impl Change {
    pub fn between(current: &Period, previous: &Period) -> Change {
        Change {
            attempts: signed(current.attempts) - signed(previous.attempts),
            smtp_451: signed(current.smtp_451) - signed(previous.smtp_451),
            ratio_451: current.ratio_451 - previous.ratio_451,
            ratio_bounced: current.ratio_bounced - previous.ratio_bounced,
        }
    }
}

/// What a summary row adds to its own figures: the previous period and the change, both absent when the
/// kept counts do not reach back that far (a window longer than half the retention or history).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub previous: Option<Period>,
    pub change: Option<Change>,
}

impl Comparison {
    /// `previous` is `None` when the period before is out of reach; `Some(empty)` when it is kept and had
    /// no traffic, which is a real zero.
    pub fn of(current: &Counts, previous: Option<&Counts>) -> Comparison {
        match previous {
            None => Comparison::default(),
            Some(previous) => {
                let (now, then) = (Period::of(current), Period::of(previous));
                Comparison { previous: Some(then), change: Some(Change::between(&now, &then)) }
            }
        }
    }
}

pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(delivered: u64, deferred: u64, bounced: u64, smtp_451: u64) -> Counts {
        Counts { delivered, deferred, bounced, smtp_451, ..Counts::default() }
    }

    #[test]
    fn the_change_is_current_minus_previous_in_volume_and_in_ratio() {
        let now = counts(900, 100, 0, 80);
        let then = counts(1_900, 100, 0, 40);
        let c = Comparison::of(&now, Some(&then));
        let previous = c.previous.expect("kept");
        assert_eq!((previous.attempts, previous.smtp_451), (2_000, 40));
        let change = c.change.expect("kept");
        assert_eq!((change.attempts, change.smtp_451), (-1_000, 40));
        assert!((change.ratio_451 - (0.08 - 0.02)).abs() < 1e-12);
    }

    #[test]
    fn a_previous_period_out_of_reach_is_absent_and_an_empty_one_is_zero() {
        assert_eq!(Comparison::of(&counts(1, 0, 0, 0), None), Comparison::default());
        let c = Comparison::of(&counts(10, 0, 10, 0), Some(&Counts::default()));
        assert_eq!(c.previous, Some(Period::default()));
        assert_eq!(c.change.map(|c| (c.attempts, c.ratio_bounced)), Some((20, 0.5)));
    }
}
