//! Bucketed per-domain counts: pure arithmetic, merge and windows. No storage here; [`crate::ledger`]
//! decides where these values live in KV.
//!
//! Counts are kept by **event time** (the ESP's `occurred_at`) in fixed buckets (5 minutes by default),
//! because ESPs batch and retry webhooks: counting by arrival time would smear a spike over the retry
//! schedule. Fixed buckets also merge by plain addition, which is what makes the shard/aggregate design
//! in [`crate::ledger`] lossless.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::Category;
use crate::event::{EventKind, NormalizedEvent};
use crate::settings::Settings;

/// Redacted reply samples kept per domain, bucket and category: enough to show, small enough to store.
pub const MAX_SAMPLES_PER_CATEGORY: usize = 3;
/// Longest sample kept, in characters; receivers' replies past this are boilerplate and links.
pub const MAX_SAMPLE_CHARS: usize = 200;

/// One redacted reply as a receiver sent it, and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub reply: String,
    pub category: Category,
    pub count: u64,
}

/// What happened to one recipient domain's mail in one bucket (or in a sum of buckets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delivered: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferred: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bounced: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub complaint: u64,
    /// Replies with the SMTP basic code 451, whatever the event kind: the product's headline signal.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub smtp_451: u64,
    /// Every classified event (deferred or bounced) by category.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<Category, u64>,
    /// The 451s alone by category, for the detector's sub-cause breakdown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub causes_451: BTreeMap<Category, u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Counts {
    /// Messages the receiver answered: the denominator of the 451 ratio. Dropped mail never reached a
    /// receiver and complaints come after delivery, so neither is an attempt.
    pub fn attempts(&self) -> u64 {
        self.delivered + self.deferred + self.bounced
    }

    /// 451s per attempt; zero when there were no attempts.
    pub fn ratio_451(&self) -> f64 {
        match self.attempts() {
            0 => 0.0,
            attempts => self.smtp_451 as f64 / attempts as f64,
        }
    }

    /// Counts one event. Returns false for kinds we do not count (`other`).
    pub fn add_event(&mut self, event: &NormalizedEvent) -> bool {
        let slot = match event.kind {
            EventKind::Delivered => &mut self.delivered,
            EventKind::Deferred => &mut self.deferred,
            EventKind::Bounced => &mut self.bounced,
            EventKind::Dropped => &mut self.dropped,
            EventKind::Complaint => &mut self.complaint,
            EventKind::Other => return false,
        };
        *slot += 1;
        if let Some(category) = event.category {
            *self.categories.entry(category).or_default() += 1;
        }
        if event.smtp_code == Some(451) {
            self.smtp_451 += 1;
            *self.causes_451.entry(event.category.unwrap_or(Category::Unclassified)).or_default() += 1;
        }
        if let (Some(reply), Some(category)) = (&event.reply, event.category) {
            self.add_sample(reply, category, 1);
        }
        true
    }

    /// Adds `other` into `self`: plain addition, so merging is order-independent.
    pub fn merge(&mut self, other: &Counts) {
        self.delivered += other.delivered;
        self.deferred += other.deferred;
        self.bounced += other.bounced;
        self.dropped += other.dropped;
        self.complaint += other.complaint;
        self.smtp_451 += other.smtp_451;
        for (category, n) in &other.categories {
            *self.categories.entry(*category).or_default() += n;
        }
        for (category, n) in &other.causes_451 {
            *self.causes_451.entry(*category).or_default() += n;
        }
        for sample in &other.samples {
            self.add_sample(&sample.reply, sample.category, sample.count);
        }
    }

    /// Keeps a reply as a sample: the same text adds to its count; a new text is kept only while its
    /// category has room, so the first replies seen win and storage stays bounded.
    ///
    /// Nearly every event's reply is already a sample or not kept, so the text is copied only when kept.
    fn add_sample(&mut self, reply: &str, category: Category, count: u64) {
        let reply = first_chars(reply.trim(), MAX_SAMPLE_CHARS);
        if reply.is_empty() {
            return;
        }
        if let Some(seen) = self.samples.iter_mut().find(|s| s.category == category && s.reply == reply) {
            seen.count += count;
        } else if self.samples.iter().filter(|s| s.category == category).count() < MAX_SAMPLES_PER_CATEGORY {
            self.samples.push(Sample { reply: reply.to_owned(), category, count });
        }
    }
}

/// The first `max` chars of `text`.
fn first_chars(text: &str, max: usize) -> &str {
    if text.len() <= max {
        // No more bytes than `max`, so no more chars.
        return text;
    }
    text.char_indices().nth(max).map_or(text, |(end, _)| &text[..end])
}

/// Counts per recipient domain.
pub type DomainCounts = BTreeMap<String, Counts>;

/// Counts per bucket start (unix seconds), then per domain.
pub type Buckets = BTreeMap<u64, DomainCounts>;

/// Adds every bucket of `from` into `into`.
pub fn merge_buckets(into: &mut Buckets, from: &Buckets) {
    for (start, domains) in from {
        let target = into.entry(*start).or_default();
        for (domain, counts) in domains {
            target.entry(domain.clone()).or_default().merge(counts);
        }
    }
}

/// Sums the buckets of `range`, per domain.
pub fn sum_range(buckets: &Buckets, range: BucketRange) -> DomainCounts {
    let mut sum = DomainCounts::new();
    for domains in buckets.range(range.first..=range.last).map(|(_, d)| d) {
        for (domain, counts) in domains {
            sum.entry(domain.clone()).or_default().merge(counts);
        }
    }
    sum
}

/// One webhook request's events, bucketed and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub buckets: Buckets,
    /// Events counted.
    pub accepted: usize,
    /// Events older than the retention: not stored, since their bucket would already have expired.
    pub stale: usize,
    /// Events stamped in the future (clock skew at the ESP), counted at `now`.
    pub clamped: usize,
    /// Events of a kind we do not count.
    pub ignored: usize,
}

/// Buckets and counts a request's events by event time.
pub fn tally(events: &[NormalizedEvent], now: u64, settings: &Settings) -> Tally {
    let oldest_kept = settings.bucket_of(now.saturating_sub(settings.retention_secs));
    let mut tally = Tally::default();
    for event in events {
        let at = if event.occurred_at > now {
            tally.clamped += 1;
            now
        } else {
            event.occurred_at
        };
        let bucket = settings.bucket_of(at);
        if bucket < oldest_kept {
            tally.stale += 1;
            continue;
        }
        let domains = tally.buckets.entry(bucket).or_default();
        // Looked up before inserting: a batch names few domains, and cloning one per event cost more
        // than counting the event.
        if !domains.contains_key(&event.recipient_domain) {
            domains.insert(event.recipient_domain.clone(), Counts::default());
        }
        if domains.get_mut(&event.recipient_domain).is_some_and(|counts| counts.add_event(event)) {
            tally.accepted += 1;
        } else {
            tally.ignored += 1;
        }
    }
    // An event of an uncounted kind may have created an empty entry; drop it so nothing empty is stored.
    tally.buckets.retain(|_, domains| {
        domains.retain(|_, counts| *counts != Counts::default());
        !domains.is_empty()
    });
    tally
}

/// An inclusive range of bucket starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketRange {
    pub first: u64,
    pub last: u64,
}

impl BucketRange {
    /// The last `secs` of time up to `now`, as whole buckets ending with the (still open) current one.
    pub fn ending_at(now: u64, secs: u64, settings: &Settings) -> BucketRange {
        let last = settings.bucket_of(now);
        let span = (settings.buckets_in(secs) - 1) * settings.bucket_secs;
        BucketRange { first: last.saturating_sub(span), last }
    }

    /// Every bucket start in the range.
    pub fn buckets(self, settings: &Settings) -> impl Iterator<Item = u64> {
        (self.first..=self.last).step_by(settings.bucket_secs as usize)
    }
}

/// The windows the read API offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minutes15,
    Hour1,
    Hours24,
    Days7,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::Minutes15, Window::Hour1, Window::Hours24, Window::Days7];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Minutes15 => "15m",
            Window::Hour1 => "1h",
            Window::Hours24 => "24h",
            Window::Days7 => "7d",
        }
    }

    pub fn from_name(name: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == name)
    }

    pub fn secs(self) -> u64 {
        match self {
            Window::Minutes15 => 15 * 60,
            Window::Hour1 => 3600,
            Window::Hours24 => 86_400,
            Window::Days7 => 7 * 86_400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Esp;

    fn event(kind: EventKind, at: u64, code: Option<u16>, category: Option<Category>) -> NormalizedEvent {
        NormalizedEvent {
            esp: Esp::Generic,
            event_id: format!("{at}"),
            kind,
            occurred_at: at,
            recipient_domain: "gmail.com".into(),
            smtp_code: code,
            enhanced_code: None,
            reply: code.map(|c| format!("{c} 4.7.1 try later")),
            category,
            permanence: None,
            sending: Default::default(),
        }
    }

    #[test]
    fn events_land_in_the_bucket_of_their_event_time() {
        let now = 10_000;
        let events = [
            event(EventKind::Delivered, 9_000, None, None),
            event(EventKind::Deferred, 9_100, Some(451), Some(Category::Greylisted)),
            event(EventKind::Deferred, 9_700, Some(451), Some(Category::PolicyRejected)),
        ];
        let tally = tally(&events, now, &Settings::default());
        let starts: Vec<u64> = tally.buckets.keys().copied().collect();
        assert_eq!(starts, [9_000, 9_600]);
        let first = &tally.buckets[&9_000]["gmail.com"];
        assert_eq!((first.delivered, first.deferred, first.smtp_451, first.attempts()), (1, 1, 1, 2));
        assert_eq!(first.causes_451[&Category::Greylisted], 1);
    }

    #[test]
    fn stale_events_are_dropped_and_future_ones_clamped_to_now() {
        let settings = Settings::default();
        let now = 100 * 86_400;
        let events = [
            event(EventKind::Delivered, now - settings.retention_secs - 600, None, None),
            event(EventKind::Delivered, now + 3_600, None, None),
            event(EventKind::Other, now, None, None),
        ];
        let tally = tally(&events, now, &settings);
        assert_eq!((tally.accepted, tally.stale, tally.clamped, tally.ignored), (1, 1, 1, 1));
        assert_eq!(tally.buckets.keys().copied().collect::<Vec<_>>(), [settings.bucket_of(now)]);
    }

    #[test]
    fn samples_are_capped_per_category_and_truncated() {
        let mut counts = Counts::default();
        for i in 0..10 {
            counts.add_sample(&format!("451 reply {i} {}", "x".repeat(500)), Category::PolicyRejected, 1);
        }
        counts.add_sample(&counts.samples[0].reply.clone(), Category::PolicyRejected, 4);
        assert_eq!(counts.samples.len(), MAX_SAMPLES_PER_CATEGORY);
        assert!(counts.samples.iter().all(|s| s.reply.chars().count() == MAX_SAMPLE_CHARS));
        assert_eq!(counts.samples[0].count, 5);
        // Cut by chars, not bytes: 150 two-byte chars fit in 200 chars but not in 200 bytes.
        let accented = format!("{} {}", "é".repeat(150), "ü".repeat(100));
        counts.add_sample(&accented, Category::MailboxFull, 1);
        let kept = &counts.samples.last().expect("a new category has room").reply;
        assert_eq!((kept.chars().count(), kept.chars().last()), (MAX_SAMPLE_CHARS, Some('ü')));
        assert_eq!(first_chars("  short ", 200), "  short ");
    }

    #[test]
    fn merge_is_addition() {
        let events = [event(EventKind::Deferred, 0, Some(451), Some(Category::RateLimited))];
        let one = tally(&events, 10, &Settings::default()).buckets;
        let mut sum = Buckets::new();
        merge_buckets(&mut sum, &one);
        merge_buckets(&mut sum, &one);
        let counts = &sum[&0]["gmail.com"];
        assert_eq!((counts.deferred, counts.smtp_451, counts.categories[&Category::RateLimited]), (2, 2, 2));
        assert_eq!(counts.samples[0].count, 2);
    }

    #[test]
    fn a_window_is_whole_buckets_ending_with_the_current_one() {
        let settings = Settings::default();
        let range = BucketRange::ending_at(3_600 + 420, 15 * 60, &settings);
        assert_eq!(range, BucketRange { first: 3_600 - 300, last: 3_600 + 300 });
    }
}
