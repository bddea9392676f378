//! Bucketed per-domain counts: pure arithmetic, merge and windows. No storage here; [`crate::counting`]
//! decides where these values live (the counting object's SQLite, published to KV pages).
//!
//! Counts are kept by **event time** (the ESP's `occurred_at`) in fixed buckets (5 minutes by default),
//! because ESPs batch and retry webhooks: counting by arrival time would smear a spike over the retry
//! schedule. Fixed buckets also merge by plain addition, so pages, shards and windows are plain sums.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::breakdown::{attempt_tally, Dimension, DimensionCounts, Streams};
use crate::classify::Category;
use crate::event::EventKind;
use crate::settings::{Settings, SpikeCodes};

/// Redacted reply samples kept per domain, bucket and category: enough to show, small enough to store.
pub const MAX_SAMPLES_PER_CATEGORY: usize = 3;
/// Longest sample kept, in characters; receivers' replies past this are boilerplate and links.
pub const MAX_SAMPLE_CHARS: usize = 200;

/// Distinct rules whose hits a [`Counts`] keeps; hits of further rules are added under [`OTHER_RULES`].
/// A domain's bucket rarely sees more than a handful of rules, so this only bounds a pathological row.
pub const MAX_RULES_PER_COUNTS: usize = 32;
/// Where the hits of rules past [`MAX_RULES_PER_COUNTS`] are counted.
pub const OTHER_RULES: &str = "other";

/// One redacted reply as a receiver sent it, and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub reply: String,
    pub category: Category,
    pub count: u64,
    /// The rule that classified it first (rows written before rule statistics have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Sample {
    /// Whether only the code-class fallback classified it: such samples are kept apart from the others
    /// (their own [`MAX_SAMPLES_PER_CATEGORY`]), so the replies to write rules for are always shown.
    pub(crate) fn is_fallback(&self) -> bool {
        self.rule.as_deref().is_some_and(crate::classify::is_fallback_rule)
    }
}

/// What one event brings to a [`Counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted<'a> {
    pub kind: EventKind,
    pub smtp_code: Option<u16>,
    pub category: Option<Category>,
    /// The id of the rule that decided the category.
    pub rule: Option<&'a str>,
    /// The event's reply as [`sample_text`] cut it, when it has one and a category.
    pub sample: Option<&'a str>,
    /// The dimension values it was sent with, counted when it is an attempt.
    pub streams: &'a [(Dimension, &'a str)],
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
    /// Classified events by the rule that decided and the category it gave (the event's kind can change
    /// a rule's category): the hits `/api/rules` sums. At most [`MAX_RULES_PER_COUNTS`] rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, BTreeMap<Category, u64>>,
    /// Attempts and 451s per sending IP, pool, sending domain and tag, at most [`crate::breakdown::MAX_VALUES`] values per
    /// dimension (the rest as `other`): bounded however many streams the sender runs. Absent, and free,
    /// when the ESP names none.
    #[serde(rename = "st", default, skip_serializing_if = "Streams::is_empty")]
    pub streams: Streams,
    /// Replies with a 4xx basic code other than 451, per code and category: what `SPIKE_CODES` may
    /// watch besides 451, kept per code so that the watched set is applied when counts are summed. At
    /// most 99 codes; a deferral carries one of a handful in practice (421, 450, 452).
    #[serde(rename = "c4", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub codes_4xx: BTreeMap<u16, BTreeMap<Category, u64>>,
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

    /// The replies `codes` watches, the detector's signal (the 451s by default).
    pub fn watched(&self, codes: &SpikeCodes) -> u64 {
        let others: u64 = self.watched_others(codes).map(|(_, by)| by.values().sum::<u64>()).sum();
        if codes.watches(451) {
            self.smtp_451 + others
        } else {
            others
        }
    }

    /// Watched replies per attempt; zero when there were no attempts.
    pub fn ratio_watched(&self, codes: &SpikeCodes) -> f64 {
        match self.attempts() {
            0 => 0.0,
            attempts => self.watched(codes) as f64 / attempts as f64,
        }
    }

    /// The watched replies by category, for an alert's causes.
    pub fn watched_causes(&self, codes: &SpikeCodes) -> BTreeMap<Category, u64> {
        let mut causes = if codes.watches(451) { self.causes_451.clone() } else { BTreeMap::new() };
        for (_, by_category) in self.watched_others(codes) {
            for (category, n) in by_category {
                *causes.entry(*category).or_default() += n;
            }
        }
        causes
    }

    fn watched_others<'a>(
        &'a self,
        codes: &'a SpikeCodes,
    ) -> impl Iterator<Item = (&'a u16, &'a BTreeMap<Category, u64>)> + 'a {
        self.codes_4xx.iter().filter(|(code, _)| codes.watches(**code))
    }

    /// Counts one event. Returns false for kinds we do not count (`other`).
    pub fn add(&mut self, event: Counted<'_>) -> bool {
        let slot = match event.kind {
            EventKind::Delivered => &mut self.delivered,
            EventKind::Deferred => &mut self.deferred,
            EventKind::Bounced => &mut self.bounced,
            EventKind::Dropped => &mut self.dropped,
            EventKind::Complaint => &mut self.complaint,
            EventKind::Other => return false,
        };
        *slot += 1;
        let category = event.category;
        if let Some(category) = category {
            *self.categories.entry(category).or_default() += 1;
            if let Some(rule) = event.rule {
                self.add_rule_hits(rule, category, 1);
            }
        }
        match event.smtp_code {
            Some(451) => {
                self.smtp_451 += 1;
                *self.causes_451.entry(category.unwrap_or(Category::Unclassified)).or_default() += 1;
            }
            Some(code @ 400..=499) => {
                *self
                    .codes_4xx
                    .entry(code)
                    .or_default()
                    .entry(category.unwrap_or(Category::Unclassified))
                    .or_default() += 1;
            }
            _ => {}
        }
        if let (Some(reply), Some(category)) = (event.sample, category) {
            self.add_sample(reply, category, event.rule, 1);
        }
        if let Some(tally) = attempt_tally(event.kind, event.smtp_code) {
            for &(dimension, value) in event.streams {
                self.streams.add(dimension, value, tally);
            }
        }
        true
    }

    /// The window's attempts and 451s with their values per dimension, as breakdowns read them.
    pub fn dimensions(&self) -> DimensionCounts {
        DimensionCounts { attempts: self.attempts(), smtp_451: self.smtp_451, streams: self.streams.clone() }
    }

    /// Whether nothing at all is counted (a row that only holds de-duplication ids).
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
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
        for (code, by_category) in &other.codes_4xx {
            let into = self.codes_4xx.entry(*code).or_default();
            for (category, n) in by_category {
                *into.entry(*category).or_default() += n;
            }
        }
        for sample in &other.samples {
            self.add_sample(&sample.reply, sample.category, sample.rule.as_deref(), sample.count);
        }
        for (rule, categories) in &other.rules {
            for (category, n) in categories {
                self.add_rule_hits(rule, *category, *n);
            }
        }
        self.streams.merge(&other.streams);
    }

    /// Adds `n` hits of `rule` filing replies under `category`; a rule past [`MAX_RULES_PER_COUNTS`]
    /// counts under [`OTHER_RULES`], so a row stays bounded whatever the operator's rules.
    fn add_rule_hits(&mut self, rule: &str, category: Category, n: u64) {
        let room = self.rules.len() < MAX_RULES_PER_COUNTS;
        let key = if room || self.rules.contains_key(rule) { rule } else { OTHER_RULES };
        // Looked up before inserting, so the usual case (the rule is there) copies no string.
        match self.rules.get_mut(key) {
            Some(categories) => *categories.entry(category).or_default() += n,
            None => {
                self.rules.insert(key.to_owned(), [(category, n)].into());
            }
        }
    }

    /// Keeps a reply as a sample: the same text adds to its count; a new text is kept only while its
    /// category has room, so the first replies seen win and storage stays bounded. Replies only the
    /// code-class fallback classified have room of their own (see [`Sample::is_fallback`]).
    ///
    /// Nearly every event's reply is already a sample or not kept, so the text is copied only when kept.
    fn add_sample(&mut self, reply: &str, category: Category, rule: Option<&str>, count: u64) {
        let reply = sample_text(reply);
        if reply.is_empty() {
            return;
        }
        if let Some(seen) = self.samples.iter_mut().find(|s| s.category == category && s.reply == reply) {
            seen.count += count;
            return;
        }
        let sample = Sample { reply: String::new(), category, count, rule: rule.map(str::to_owned) };
        let fallback = sample.is_fallback();
        let kept = self.samples.iter().filter(|s| s.category == category && s.is_fallback() == fallback).count();
        if kept < MAX_SAMPLES_PER_CATEGORY {
            self.samples.push(Sample { reply: reply.to_owned(), ..sample });
        }
    }
}

/// What of a reply is kept as a sample: trimmed, at most [`MAX_SAMPLE_CHARS`] chars.
pub fn sample_text(reply: &str) -> &str {
    first_chars(reply.trim(), MAX_SAMPLE_CHARS)
}

/// The first `max` chars of `text`.
fn first_chars(text: &str, max: usize) -> &str {
    if text.len() <= max {
        // No more bytes than `max`, so no more chars.
        return text;
    }
    text.char_indices().nth(max).map_or(text, |(end, _)| &text[..end])
}

/// The three numbers of a bucket a detector baseline learns from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub smtp_451: u64,
    pub attempts: u64,
    pub delivered: u64,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, other: Totals) {
        self.smtp_451 += other.smtp_451;
        self.attempts += other.attempts;
        self.delivered += other.delivered;
    }
}

impl Totals {
    /// What the detector's baseline learns from `counts`: its watched replies (`smtp_451` holds them:
    /// the 451s by default), attempts and deliveries.
    pub fn of(counts: &Counts, codes: &SpikeCodes) -> Totals {
        Totals { smtp_451: counts.watched(codes), attempts: counts.attempts(), delivered: counts.delivered }
    }
}

/// Counts per recipient domain.
pub type DomainCounts = BTreeMap<String, Counts>;

/// Counts per bucket start (unix seconds), then per domain.
pub type Buckets = BTreeMap<u64, DomainCounts>;

/// Adds every bucket of `from` into `into`. Takes `from` by value: a (bucket, domain) is usually in one
/// page or answer only, and is then moved rather than copied (a 24-hour read over 100,000 domains is
/// hundreds of thousands of them).
pub fn merge_buckets(into: &mut Buckets, from: Buckets) {
    for (start, domains) in from {
        let target = into.entry(start).or_default();
        for (domain, counts) in domains {
            match target.entry(domain) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(counts);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => slot.get_mut().merge(&counts),
            }
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

/// Every domain's counts summed over every bucket.
pub fn sum_all(buckets: &Buckets) -> DomainCounts {
    sum_range(buckets, BucketRange { first: 0, last: u64::MAX })
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

/// The windows the read API offers: four over the hourly counts (5-minute buckets ending now) and three
/// over the daily history (the last 30, 90 or 365 complete UTC days, in daily buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minutes15,
    Hour1,
    Hours24,
    Days7,
    Days30,
    Days90,
    Days365,
}

impl Window {
    pub const ALL: [Window; 7] = [
        Window::Minutes15,
        Window::Hour1,
        Window::Hours24,
        Window::Days7,
        Window::Days30,
        Window::Days90,
        Window::Days365,
    ];
    /// The windows over the hourly counts, the only ones routes without history take.
    pub const HOURLY: [Window; 4] = [Window::Minutes15, Window::Hour1, Window::Hours24, Window::Days7];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Minutes15 => "15m",
            Window::Hour1 => "1h",
            Window::Hours24 => "24h",
            Window::Days7 => "7d",
            Window::Days30 => "30d",
            Window::Days90 => "90d",
            Window::Days365 => "365d",
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
            Window::Days30 => 30 * 86_400,
            Window::Days90 => 90 * 86_400,
            Window::Days365 => 365 * 86_400,
        }
    }

    /// Whole days, for the windows read from the daily history.
    pub fn days(self) -> Option<u64> {
        match self {
            Window::Days30 => Some(30),
            Window::Days90 => Some(90),
            Window::Days365 => Some(365),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breakdown::{Tally, MAX_VALUES};

    fn counted<'a>(
        kind: EventKind,
        smtp_code: Option<u16>,
        category: Option<Category>,
        sample: Option<&'a str>,
        streams: &'a [(Dimension, &'a str)],
    ) -> Counted<'a> {
        Counted { kind, smtp_code, category, rule: None, sample, streams }
    }

    #[test]
    fn counting_an_event_fills_its_kind_its_category_and_the_451_causes() {
        let mut counts = Counts::default();
        let event = |kind, smtp_code, category, sample| Counted {
            kind,
            smtp_code,
            category,
            rule: category.map(|_| "text.greylisting"),
            sample,
            streams: &[],
        };
        assert!(counts.add(event(EventKind::Delivered, None, None, None)));
        assert!(counts.add(event(
            EventKind::Deferred,
            Some(451),
            Some(Category::Greylisted),
            Some("451 4.7.1 try later")
        )));
        assert!(counts.add(event(EventKind::Deferred, Some(451), None, None)));
        assert!(!counts
            .add(Counted { streams: &[(Dimension::Tag, "t")], ..event(EventKind::Other, Some(451), None, None) }));
        assert_eq!((counts.delivered, counts.deferred, counts.smtp_451, counts.attempts()), (1, 2, 2, 3));
        assert_eq!(counts.causes_451[&Category::Greylisted], 1);
        assert_eq!(counts.causes_451[&Category::Unclassified], 1);
        assert_eq!(counts.samples.len(), 1);
        assert_eq!(counts.rules["text.greylisting"][&Category::Greylisted], 1);
        assert!(!counts.is_empty() && Counts::default().is_empty());
        assert!(counts.streams.is_empty(), "an event that is not counted counts no stream");
    }

    #[test]
    fn an_attempt_counts_under_each_of_its_values_and_the_bucket_stores_them_compactly() {
        let mut counts = Counts::default();
        let ip = (Dimension::SendingIp, "198.51.100.7");
        counts.add(counted(EventKind::Deferred, Some(451), None, None, &[ip, (Dimension::Tag, "campaign:spring")]));
        counts.add(counted(EventKind::Delivered, None, None, None, &[ip]));
        counts.add(counted(EventKind::Dropped, None, None, None, &[ip]));
        counts.add(counted(EventKind::Delivered, None, None, None, &[]));
        let dimensions = counts.dimensions();
        assert_eq!((dimensions.attempts, dimensions.smtp_451), (3, 1), "totals are the bucket's own");
        assert_eq!(
            serde_json::to_string(&counts.streams).unwrap(),
            r#"{"ip":{"198.51.100.7":[2,1]},"tag":{"campaign:spring":[1,1]}}"#
        );
        let stored: Counts = serde_json::from_str(&serde_json::to_string(&counts).unwrap()).unwrap();
        assert_eq!(stored, counts);
    }

    #[test]
    fn stream_values_past_the_cap_sum_as_other_and_merging_buckets_adds_them() {
        let mut one = Counts::default();
        for i in 0..(MAX_VALUES as u64 + 5) {
            let tag = format!("t{i:02}");
            // Counted one event at a time: a tag first seen when twenty are kept arrives with one 451,
            // no heavier than the lightest kept, so it goes to `other`, and so do its later events.
            for _ in 0..=i {
                one.add(counted(EventKind::Deferred, Some(451), None, None, &[(Dimension::Tag, tag.as_str())]));
            }
        }
        assert_eq!(one.streams.tag.values().count(), MAX_VALUES);
        assert_eq!(one.streams.tag.other().smtp_451, 21 + 22 + 23 + 24 + 25, "the five that came last");
        let json = serde_json::to_string(&one.streams).unwrap();
        assert!(json.contains(r#""":[115,115]"#), "other is stored under the empty key: {json}");
        let mut sum = one.clone();
        sum.merge(&one);
        let named: u64 = sum.streams.tag.values().map(|(_, t)| t.smtp_451).sum();
        assert_eq!(named + sum.streams.tag.other().smtp_451, 2 * one.smtp_451, "nothing lost");
        assert_eq!(sum.streams.tag.values().count(), MAX_VALUES);
    }

    #[test]
    fn samples_are_capped_per_category_and_truncated() {
        let mut counts = Counts::default();
        for i in 0..10 {
            counts.add_sample(&format!("451 reply {i} {}", "x".repeat(500)), Category::PolicyRejected, None, 1);
        }
        counts.add_sample(&counts.samples[0].reply.clone(), Category::PolicyRejected, None, 4);
        assert_eq!(counts.samples.len(), MAX_SAMPLES_PER_CATEGORY);
        assert!(counts.samples.iter().all(|s| s.reply.chars().count() == MAX_SAMPLE_CHARS));
        assert_eq!(counts.samples[0].count, 5);
        // Cut by chars, not bytes: 150 two-byte chars fit in 200 chars but not in 200 bytes.
        let accented = format!("{} {}", "é".repeat(150), "ü".repeat(100));
        counts.add_sample(&accented, Category::MailboxFull, None, 1);
        let kept = &counts.samples.last().expect("a new category has room").reply;
        assert_eq!((kept.chars().count(), kept.chars().last()), (MAX_SAMPLE_CHARS, Some('ü')));
        assert_eq!(first_chars("  short ", 200), "  short ");
    }

    #[test]
    fn the_watched_replies_are_chosen_when_counts_are_summed_not_when_stored() {
        let mut counts = Counts::default();
        for (code, category) in [
            (421, Category::RateLimited),
            (421, Category::RateLimited),
            (450, Category::Greylisted),
            (451, Category::RateLimited),
            (550, Category::PolicyRejected),
        ] {
            let kind = if code < 500 { EventKind::Deferred } else { EventKind::Bounced };
            let event = Counted {
                kind,
                smtp_code: Some(code),
                category: Some(category),
                rule: None,
                sample: None,
                streams: &[],
            };
            counts.add(event);
        }
        let stored: Counts = crate::json::parse(&serde_json::to_string(&counts).unwrap()).unwrap();
        let codes = |text: &str| SpikeCodes::parse(text).unwrap();
        for (setting, watched) in [("451", 1), ("451,421", 3), ("421", 2), ("450,451,421", 4), ("deferrals", 4)] {
            assert_eq!(stored.watched(&codes(setting)), watched, "{setting}");
        }
        let causes = stored.watched_causes(&codes("451,421"));
        assert_eq!(causes, BTreeMap::from([(Category::RateLimited, 3)]));
        assert_eq!(stored.smtp_451, 1, "the 451s stay what they were");
    }

    #[test]
    fn merge_is_addition() {
        let mut one = Counts::default();
        one.add(Counted {
            kind: EventKind::Deferred,
            smtp_code: Some(451),
            category: Some(Category::RateLimited),
            rule: Some("text.rate-limit"),
            sample: Some("451 slow down"),
            streams: &[(Dimension::SendingIp, "192.0.2.1")],
        });
        let buckets: Buckets = [(0, [("gmail.com".to_owned(), one)].into())].into();
        let mut sum = Buckets::new();
        merge_buckets(&mut sum, buckets.clone());
        merge_buckets(&mut sum, buckets);
        let counts = &sum[&0]["gmail.com"];
        assert_eq!((counts.deferred, counts.smtp_451, counts.categories[&Category::RateLimited]), (2, 2, 2));
        assert_eq!(counts.samples[0].count, 2);
        assert_eq!(counts.rules["text.rate-limit"][&Category::RateLimited], 2);
        assert_eq!(counts.streams.sending_ip.values().next(), Some(("192.0.2.1", Tally { attempts: 2, smtp_451: 2 })));
    }

    #[test]
    fn rule_hits_are_bounded_and_fallback_samples_have_room_of_their_own() {
        let mut counts = Counts::default();
        for i in 0..MAX_RULES_PER_COUNTS + 5 {
            counts.add_rule_hits(&format!("custom.r{i}"), Category::PolicyRejected, 1);
        }
        assert_eq!(counts.rules.len(), MAX_RULES_PER_COUNTS + 1);
        assert_eq!(counts.rules[OTHER_RULES][&Category::PolicyRejected], 5);
        let mut merged = Counts::default();
        merged.merge(&counts);
        merged.merge(&counts);
        assert_eq!(merged.rules.len(), MAX_RULES_PER_COUNTS + 1);
        assert_eq!(merged.rules[OTHER_RULES][&Category::PolicyRejected], 10);
        for i in 0..5 {
            counts.add_sample(&format!("550 5.1.1 user {i} unknown"), Category::MailboxUnknown, Some("code.x.1.1"), 1);
            counts.add_sample(&format!("550 gone {i}"), Category::MailboxUnknown, Some("fallback.basic.550"), 1);
        }
        let fallback = counts.samples.iter().filter(|s| s.is_fallback()).count();
        assert_eq!((counts.samples.len(), fallback), (2 * MAX_SAMPLES_PER_CATEGORY, MAX_SAMPLES_PER_CATEGORY));
    }

    #[test]
    fn a_window_is_whole_buckets_ending_with_the_current_one() {
        let settings = Settings::default();
        let range = BucketRange::ending_at(3_600 + 420, 15 * 60, &settings);
        assert_eq!(range, BucketRange { first: 3_600 - 300, last: 3_600 + 300 });
    }
}
