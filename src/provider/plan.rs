//! Which domains one run looks up, when more are due than `DOH_LOOKUPS_PER_RUN` allows.
//!
//! Domains never resolved go first: their traffic is counted under `unknown` until then, while a due
//! refresh still has its previous answer. Among equals, the most traffic first (a Microsoft spike is
//! seen sooner when the busiest hosted domains are resolved first), then the longest overdue, then by
//! name so that a plan is the same however the candidates were listed.

use super::consumer::consumer_platform;

/// A domain the caller has seen and may look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub domain: &'a str,
    /// Its recent traffic (attempts in the detector's window, say): what ranks it among its equals.
    pub traffic: u64,
    /// When it became due: its cached entry's `due_at`, or when it was first seen.
    pub due_at: u64,
    /// It has a cached answer (being refreshed), rather than none yet.
    pub resolved_before: bool,
}

/// At most `max` domains to look up at `now`, in the order to look them up. Domains not yet due, and
/// consumer-table domains (which never need a look-up), are left out.
pub fn plan<'a>(candidates: &[Candidate<'a>], now: u64, max: usize) -> Vec<&'a str> {
    let mut due: Vec<&Candidate<'a>> =
        candidates.iter().filter(|c| c.due_at <= now && consumer_platform(c.domain).is_none()).collect();
    crate::sort::sort_by(&mut due, |a, b| {
        (a.resolved_before, std::cmp::Reverse(a.traffic), a.due_at, a.domain).cmp(&(
            b.resolved_before,
            std::cmp::Reverse(b.traffic),
            b.due_at,
            b.domain,
        ))
    });
    // A domain listed twice keeps its best-ranked entry.
    let mut seen = std::collections::HashSet::new();
    due.into_iter().filter(|c| seen.insert(c.domain)).take(max).map(|c| c.domain).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn candidate(domain: &str, traffic: u64, due_at: u64, resolved_before: bool) -> Candidate<'_> {
        Candidate { domain, traffic, due_at, resolved_before }
    }

    #[test]
    fn new_domains_first_then_most_traffic_then_longest_overdue() {
        let candidates = [
            candidate("refresh-busy.example", 900, NOW - 10, true),
            candidate("new-quiet.example", 1, NOW - 5, false),
            candidate("new-busy.example", 50, NOW - 1, false),
            candidate("new-busy-older.example", 50, NOW - 100, false),
            candidate("not-due.example", 10_000, NOW + 1, false),
            candidate("hotmail.com", 10_000, NOW - 1, false),
        ];
        assert_eq!(
            plan(&candidates, NOW, 10),
            ["new-busy-older.example", "new-busy.example", "new-quiet.example", "refresh-busy.example"]
        );
        assert_eq!(plan(&candidates, NOW, 2), ["new-busy-older.example", "new-busy.example"]);
        assert!(plan(&candidates, NOW, 0).is_empty());
    }

    #[test]
    fn the_plan_does_not_depend_on_the_input_order_and_names_a_domain_once() {
        let mut candidates = vec![
            candidate("b.example", 5, NOW, false),
            candidate("a.example", 5, NOW, false),
            candidate("a.example", 1, NOW, false),
        ];
        let forward = plan(&candidates, NOW, 10);
        candidates.reverse();
        assert_eq!(plan(&candidates, NOW, 10), forward);
        assert_eq!(forward, ["a.example", "b.example"]);
    }
}
