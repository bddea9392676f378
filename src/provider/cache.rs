//! How long a domain's resolution holds, and when a failed look-up is tried again. Pure: the caller
//! stores [`CachedResolution`] wherever it keeps state.
//!
//! A TTL is clamped to [`MIN_TTL_SECS`]..=[`MAX_TTL_SECS`]: MX records with a 5-minute TTL would cost a
//! DoH request per domain every few cron runs, and a provider change matters on the scale of days, not
//! minutes; a week bounds how long a stale answer can mislead. A failure keeps the previous resolution (a
//! domain's provider rarely changes, and stale beats unknown) and is retried with a doubling delay, so a
//! DoH outage costs a few requests per domain per day rather than one per run, and never fails a webhook.

use serde::{Deserialize, Serialize};

use super::doh::{DohError, MxAnswer};
use super::{mx, Resolution};

/// Shortest time an answer is kept: a day.
pub const MIN_TTL_SECS: u64 = 86_400;
/// Longest time an answer is kept: a week.
pub const MAX_TTL_SECS: u64 = 7 * 86_400;
/// The first retry after a failure; each further failure doubles it, up to [`RETRY_MAX_SECS`].
pub const RETRY_BASE_SECS: u64 = 300;
/// Retries are at least this often: a day, as often as a good answer is refreshed.
pub const RETRY_MAX_SECS: u64 = MIN_TTL_SECS;

/// When an answer with this `ttl`, received at `now`, is looked up again.
pub fn expires_at(now: u64, ttl: u32) -> u64 {
    now.saturating_add(u64::from(ttl).clamp(MIN_TTL_SECS, MAX_TTL_SECS))
}

/// When to try again after the `failures`-th consecutive failure (1 for the first): 5 min, 10, 20, … a day.
pub fn next_attempt(now: u64, failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(20);
    now.saturating_add((RETRY_BASE_SECS << doublings).min(RETRY_MAX_SECS))
}

/// One domain's resolution and when to look it up again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedResolution {
    pub resolution: Resolution,
    /// Unix seconds after which it is looked up again (the TTL's end, or the next retry).
    pub due_at: u64,
    /// Consecutive failed look-ups; 0 after an answer.
    #[serde(default)]
    pub failures: u32,
}

impl CachedResolution {
    /// Caches an answer received at `now`.
    pub fn answered(now: u64, answer: &MxAnswer) -> CachedResolution {
        CachedResolution { resolution: mx::provider_of_mx(answer), due_at: expires_at(now, answer.ttl), failures: 0 }
    }

    /// What to keep after a failed look-up at `now`, given what was cached before (if anything). A name
    /// that can never be looked up is not retried before [`MAX_TTL_SECS`].
    pub fn failed(previous: Option<&CachedResolution>, now: u64, error: &DohError) -> CachedResolution {
        let resolution = previous.map_or_else(Resolution::unresolved, |p| p.resolution.clone());
        if error.is_permanent() {
            return CachedResolution { resolution, due_at: now.saturating_add(MAX_TTL_SECS), failures: 0 };
        }
        let failures = previous.map_or(0, |p| p.failures).saturating_add(1);
        CachedResolution { resolution, due_at: next_attempt(now, failures), failures }
    }

    /// Whether a run at `now` should look the domain up again.
    pub fn is_due(&self, now: u64) -> bool {
        now >= self.due_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::doh::{Mx, MxRecord};
    use crate::provider::{Platform, Provider, Reason};

    const NOW: u64 = 1_700_000_000;

    fn google(ttl: u32) -> MxAnswer {
        let records = vec![MxRecord { preference: 1, exchange: "aspmx.l.google.com".into() }];
        MxAnswer { domain: "corp.example".into(), mx: Mx::Exchanges(records), ttl }
    }

    #[test]
    fn a_ttl_is_kept_at_least_a_day_and_at_most_a_week() {
        assert_eq!(expires_at(NOW, 300), NOW + 86_400);
        assert_eq!(expires_at(NOW, 3 * 86_400), NOW + 3 * 86_400);
        assert_eq!(expires_at(NOW, u32::MAX), NOW + 7 * 86_400);
        assert_eq!(expires_at(u64::MAX, 300), u64::MAX);
    }

    #[test]
    fn retries_double_from_five_minutes_to_a_day() {
        let delays: Vec<u64> = (1..=10).map(|n| next_attempt(NOW, n) - NOW).collect();
        assert_eq!(delays, [300, 600, 1_200, 2_400, 4_800, 9_600, 19_200, 38_400, 76_800, 86_400]);
        assert_eq!(next_attempt(NOW, u32::MAX) - NOW, 86_400);
        assert_eq!(next_attempt(NOW, 0) - NOW, 300);
    }

    #[test]
    fn a_failure_keeps_the_previous_answer_and_backs_off() {
        let cached = CachedResolution::answered(NOW, &google(300));
        assert_eq!(cached.resolution.provider, Provider::Platform(Platform::Google));
        assert!(!cached.is_due(NOW + 86_399) && cached.is_due(NOW + 86_400));
        let later = NOW + 86_400;
        let first = CachedResolution::failed(Some(&cached), later, &DohError::ServFail);
        assert_eq!(
            (first.resolution.clone(), first.failures, first.due_at),
            (cached.resolution.clone(), 1, later + 300)
        );
        let second = CachedResolution::failed(Some(&first), later + 300, &DohError::Fetch("timeout".into()));
        assert_eq!((second.failures, second.due_at), (2, later + 300 + 600));
        let recovered = CachedResolution::answered(later + 900, &google(300));
        assert_eq!(recovered.failures, 0);
    }

    #[test]
    fn a_domain_never_answered_stays_unknown_and_a_bad_name_waits_a_week() {
        let failed = CachedResolution::failed(None, NOW, &DohError::Truncated);
        assert_eq!(failed.resolution.reason, Reason::Unresolved);
        let bad = CachedResolution::failed(None, NOW, &DohError::InvalidName("x".into()));
        assert_eq!(bad.due_at, NOW + MAX_TTL_SECS);
    }

    #[test]
    fn a_cached_resolution_round_trips_through_json() {
        let cached = CachedResolution::answered(NOW, &google(300));
        let json = serde_json::to_string(&cached).unwrap();
        assert_eq!(
            json,
            r#"{"resolution":{"provider":"google","reason":{"kind":"mx","host":"aspmx.l.google.com"}},"due_at":1700086400,"failures":0}"#
        );
        assert_eq!(serde_json::from_str::<CachedResolution>(&json).unwrap(), cached);
    }
}
