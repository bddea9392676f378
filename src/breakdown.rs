//! Which of the sender's streams a 451 spike comes from: attempts and 451s per sending IP, IP pool,
//! sending domain and tag ([`DimensionCounts`]), and what they say ([`breakdown`]): the top values with
//! their share of the 451s, and one sentence naming the value that carries most of them, or saying that
//! none does.
//!
//! **Bounded.** A sender with 10,000 tags must not cost 10,000 counters per recipient domain and bucket:
//! each dimension keeps at most [`MAX_VALUES`] values and sums the rest as `other`. When a new value
//! arrives at a full dimension, the lightest value (fewest 451s, then fewest attempts, then the last in
//! byte order) moves into `other`, so the heavy values, the ones a breakdown names, stay. The totals
//! (`attempts`, `smtp_451` and each dimension's values plus `other`) are always exact.
//!
//! **Mergeable.** [`DimensionCounts::merge`] adds value by value and only then applies the cap, so
//! `a.merge(b)` and `b.merge(a)` agree. While the values of everything merged fit in [`MAX_VALUES`] per
//! dimension, merging is plain addition (order-independent and exact). Beyond that, a value folded into
//! `other` in one merge does not come back in a later one: grouping changes which light values are named,
//! never the totals.
//!
//! What counts is what [`crate::counters::Counts`] counts: an attempt is a delivery, deferral or bounce
//! (the receiver answered); a 451 is an event whose reply had the basic code 451. Events without any
//! dimension still count in the totals, so a share is of all the 451s, not only of those that named a
//! value. An event's tags each count the event, so the tag shares can add up to more than 100 %.

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use crate::advice::{concentration_advice, SINGLE_STREAM_ADVICE, SPREAD_ADVICE};
use crate::alert::percent;
use crate::event::{EventKind, NormalizedEvent, Sending};

/// Values kept per dimension (per recipient domain and bucket, or in any merged sum); the rest is `other`.
pub const MAX_VALUES: usize = 20;
/// Values listed per dimension in a [`Breakdown`].
pub const TOP_VALUES: usize = 5;
/// A value is named as the source when it carries at least this share of the 451s…
pub const CONCENTRATION_SHARE: f64 = 0.7;
/// …and its share of the 451s is at least this multiple of its share of the attempts ("much less of the
/// attempts": an IP with 90 % of the 451s must carry at most 60 % of the mail).
pub const CONCENTRATION_LIFT: f64 = 1.5;
/// Fewer 451s than this say nothing about where they come from: no sentence.
pub const MIN_451: u64 = 10;

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    SendingIp,
    IpPool,
    SendingDomain,
    Tag,
}

impl Dimension {
    /// In the order breakdowns list them, and in which a tie between concentrations is settled.
    pub const ALL: [Dimension; 4] = [Dimension::SendingIp, Dimension::IpPool, Dimension::SendingDomain, Dimension::Tag];

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::SendingIp => "sending_ip",
            Dimension::IpPool => "ip_pool",
            Dimension::SendingDomain => "sending_domain",
            Dimension::Tag => "tag",
        }
    }

    /// What an operator calls one value, and several.
    pub fn noun(self) -> (&'static str, &'static str) {
        match self {
            Dimension::SendingIp => ("sending IP", "sending IPs"),
            Dimension::IpPool => ("IP pool", "IP pools"),
            Dimension::SendingDomain => ("sending domain", "sending domains"),
            Dimension::Tag => ("tag", "tags"),
        }
    }
}

/// Attempts and 451s of one value; stored as `[attempts, smtp_451]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, u64)", into = "(u64, u64)")]
pub struct Tally {
    pub attempts: u64,
    pub smtp_451: u64,
}

impl From<(u64, u64)> for Tally {
    fn from((attempts, smtp_451): (u64, u64)) -> Self {
        Tally { attempts, smtp_451 }
    }
}

impl From<Tally> for (u64, u64) {
    fn from(tally: Tally) -> Self {
        (tally.attempts, tally.smtp_451)
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.attempts += other.attempts;
        self.smtp_451 += other.smtp_451;
    }
}

impl Tally {
    pub fn is_zero(&self) -> bool {
        *self == Tally::default()
    }

    /// 451s per attempt; zero without attempts.
    pub fn ratio_451(&self) -> f64 {
        ratio(self.smtp_451, self.attempts)
    }
}

/// One dimension's values, at most [`MAX_VALUES`], and `other`. Stored in every bucket of every
/// (hour, domain) row and KV page that has dimensions, so serialized as one map `{value: [attempts,
/// smtp_451]}` with `other` under the empty key (no value is empty: [`crate::esp::sending`] drops those).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueCounts {
    values: BTreeMap<String, Tally>,
    other: Tally,
}

/// The key `other` is stored under.
const OTHER_KEY: &str = "";

impl Serialize for ValueCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let other = (!self.other.is_zero()).then_some((OTHER_KEY, &self.other));
        let mut map = serializer.serialize_map(Some(self.values.len() + usize::from(other.is_some())))?;
        for (value, tally) in self.values.iter().map(|(v, t)| (v.as_str(), t)).chain(other) {
            map.serialize_entry(value, tally)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ValueCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut values = BTreeMap::<String, Tally>::deserialize(deserializer)?;
        let other = values.remove(OTHER_KEY).unwrap_or_default();
        let mut counts = ValueCounts { values, other };
        // A hand-edited or older row may hold more: the cap holds whatever was stored.
        counts.fold_beyond_cap();
        Ok(counts)
    }
}

/// The order in which values give way to a new one: the smallest goes first.
fn eviction_key<'a>(value: &'a str, tally: &Tally) -> (u64, u64, Reverse<&'a str>) {
    (tally.smtp_451, tally.attempts, Reverse(value))
}

impl ValueCounts {
    /// No value and nothing in `other`.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.other.is_zero()
    }

    /// The named values, in byte order.
    pub fn values(&self) -> impl Iterator<Item = (&str, Tally)> {
        self.values.iter().map(|(value, tally)| (value.as_str(), *tally))
    }

    /// What the values beyond the cap add up to.
    pub fn other(&self) -> Tally {
        self.other
    }

    /// Adds `tally` to `value`, keeping the cap: copies `value` only when it is kept.
    pub fn add(&mut self, value: &str, tally: Tally) {
        if let Some(kept) = self.values.get_mut(value) {
            *kept += tally;
            return;
        }
        if self.values.len() >= MAX_VALUES {
            let lightest = self.lightest().map(|(kept, kept_tally)| eviction_key(kept, kept_tally));
            if lightest.is_some_and(|lightest| eviction_key(value, &tally) < lightest) {
                self.other += tally;
                return;
            }
        }
        self.values.insert(value.to_owned(), tally);
        self.fold_beyond_cap();
    }

    /// Adds `other` in, value by value, then applies the cap once (see the module docs on order).
    pub fn merge(&mut self, other: &ValueCounts) {
        for (value, tally) in &other.values {
            // Copied only when new here: merging the same values bucket after bucket is the common case.
            match self.values.get_mut(value) {
                Some(kept) => *kept += *tally,
                None => {
                    self.values.insert(value.clone(), *tally);
                }
            }
        }
        self.other += other.other;
        self.fold_beyond_cap();
    }

    fn lightest(&self) -> Option<(&String, &Tally)> {
        self.values.iter().min_by_key(|(value, tally)| eviction_key(value, tally))
    }

    fn fold_beyond_cap(&mut self) {
        while self.values.len() > MAX_VALUES {
            let Some(lightest) = self.lightest().map(|(value, _)| value.clone()) else { return };
            if let Some(tally) = self.values.remove(&lightest) {
                self.other += tally;
            }
        }
    }
}

/// The values of the four dimensions, without totals: what [`crate::counters::Counts`] stores per bucket
/// (its own attempts and 451s are the totals). Short field names: this is in every stored bucket that
/// has dimensions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    #[serde(rename = "ip", default, skip_serializing_if = "ValueCounts::is_empty")]
    pub sending_ip: ValueCounts,
    #[serde(rename = "pool", default, skip_serializing_if = "ValueCounts::is_empty")]
    pub ip_pool: ValueCounts,
    #[serde(rename = "from", default, skip_serializing_if = "ValueCounts::is_empty")]
    pub sending_domain: ValueCounts,
    #[serde(default, skip_serializing_if = "ValueCounts::is_empty")]
    pub tag: ValueCounts,
}

impl Streams {
    /// No event named any dimension.
    pub fn is_empty(&self) -> bool {
        Dimension::ALL.iter().all(|d| self.dimension(*d).is_empty())
    }

    /// Adds `tally` under `value` of `dimension`, keeping the cap.
    pub fn add(&mut self, dimension: Dimension, value: &str, tally: Tally) {
        self.dimension_mut(dimension).add(value, tally);
    }

    /// Adds `other` in, dimension by dimension (see the module docs on what the cap does to order).
    pub fn merge(&mut self, other: &Streams) {
        for dimension in Dimension::ALL {
            self.dimension_mut(dimension).merge(other.dimension(dimension));
        }
    }

    /// One dimension's values.
    pub fn dimension(&self, dimension: Dimension) -> &ValueCounts {
        match dimension {
            Dimension::SendingIp => &self.sending_ip,
            Dimension::IpPool => &self.ip_pool,
            Dimension::SendingDomain => &self.sending_domain,
            Dimension::Tag => &self.tag,
        }
    }

    fn dimension_mut(&mut self, dimension: Dimension) -> &mut ValueCounts {
        match dimension {
            Dimension::SendingIp => &mut self.sending_ip,
            Dimension::IpPool => &mut self.ip_pool,
            Dimension::SendingDomain => &mut self.sending_domain,
            Dimension::Tag => &mut self.tag,
        }
    }
}

/// Calls `f` with each dimension value `sending` names, in [`Dimension::ALL`] order (an IP formatted on
/// the stack: the caller copies a value only when it keeps it).
pub fn for_each_value(sending: &Sending, mut f: impl FnMut(Dimension, &str)) {
    if let Some(ip) = sending.sending_ip {
        let mut buffer = [0u8; 48];
        f(Dimension::SendingIp, format_ip(&ip, &mut buffer));
    }
    if let Some(pool) = &sending.ip_pool {
        f(Dimension::IpPool, pool);
    }
    if let Some(domain) = &sending.sending_domain {
        f(Dimension::SendingDomain, domain);
    }
    for tag in sending.tags.iter() {
        f(Dimension::Tag, tag);
    }
}

/// What one attempt adds to each of its values: the attempt, and its 451 if it was one.
pub fn attempt_tally(kind: EventKind, smtp_code: Option<u16>) -> Option<Tally> {
    matches!(kind, EventKind::Delivered | EventKind::Deferred | EventKind::Bounced)
        .then(|| Tally { attempts: 1, smtp_451: u64::from(smtp_code == Some(451)) })
}

/// Attempts and 451s per value of each dimension, for one recipient domain (or provider) and bucket, or
/// any sum of them, with the totals the shares are of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionCounts {
    /// Every attempt counted, with or without dimensions: the denominator of the attempt shares.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u64,
    /// Every 451 counted: the denominator of the 451 shares.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub smtp_451: u64,
    #[serde(flatten)]
    pub streams: Streams,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl DimensionCounts {
    /// Counts one event: its attempt and 451 in the totals and under each of its values. Returns false
    /// (and counts nothing) when it is not an attempt.
    pub fn add_event(&mut self, event: &NormalizedEvent) -> bool {
        let Some(tally) = attempt_tally(event.kind, event.smtp_code) else { return false };
        self.attempts += tally.attempts;
        self.smtp_451 += tally.smtp_451;
        for_each_value(&event.sending, |dimension, value| self.streams.add(dimension, value, tally));
        true
    }

    /// Adds `other` into `self` (see the module docs on what the cap does to order).
    pub fn merge(&mut self, other: &DimensionCounts) {
        self.attempts += other.attempts;
        self.smtp_451 += other.smtp_451;
        self.streams.merge(&other.streams);
    }

    /// One dimension's values.
    pub fn dimension(&self, dimension: Dimension) -> &ValueCounts {
        self.streams.dimension(dimension)
    }

    /// No event named any dimension: nothing worth storing or showing (the totals alone are in
    /// [`crate::counters::Counts`] already).
    pub fn has_no_dimensions(&self) -> bool {
        self.streams.is_empty()
    }
}

fn format_ip<'b>(ip: &std::net::IpAddr, buffer: &'b mut [u8; 48]) -> &'b str {
    use std::io::Write as _;
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    // 48 bytes hold any IPv6 text form (at most 45), so the write cannot fail.
    let _ = write!(cursor, "{ip}");
    let end = usize::try_from(cursor.position()).unwrap_or(0);
    std::str::from_utf8(&buffer[..end]).unwrap_or_default()
}

/// One value as a breakdown lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueShare {
    pub value: String,
    pub attempts: u64,
    pub smtp_451: u64,
    /// This value's share of all the 451s.
    pub share: f64,
    /// This value's 451s per attempt.
    pub ratio_451: f64,
}

/// The top values of each dimension and what they say, as the API and alerts show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub sending_ip: Vec<ValueShare>,
    pub ip_pool: Vec<ValueShare>,
    pub sending_domain: Vec<ValueShare>,
    pub tag: Vec<ValueShare>,
}

impl Breakdown {
    /// One dimension's listed values.
    pub fn dimension(&self, dimension: Dimension) -> &[ValueShare] {
        match dimension {
            Dimension::SendingIp => &self.sending_ip,
            Dimension::IpPool => &self.ip_pool,
            Dimension::SendingDomain => &self.sending_domain,
            Dimension::Tag => &self.tag,
        }
    }
}

/// The breakdown of `counts`: `None` when no event named any dimension (no breakdown, not an empty one).
pub fn breakdown(counts: &DimensionCounts) -> Option<Breakdown> {
    if counts.has_no_dimensions() {
        return None;
    }
    let top = |dimension| ranked(counts, dimension, TOP_VALUES);
    Some(Breakdown {
        sending_ip: top(Dimension::SendingIp),
        ip_pool: top(Dimension::IpPool),
        sending_domain: top(Dimension::SendingDomain),
        tag: top(Dimension::Tag),
    })
}

/// Where a window's 451s come from, as an alert and `/api/domains/{domain}` carry it (flattened into
/// them): the breakdown and the concentration sentence, each absent when there is nothing to say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown>,
    /// Where the 451s come from, in one sentence with its advice (see [`concentration_sentence`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concentration: Option<String>,
}

impl Sources {
    pub fn of(counts: &DimensionCounts) -> Sources {
        Sources { breakdown: breakdown(counts), concentration: concentration_sentence(counts) }
    }
}

/// At most `limit` values of `dimension`: most 451s first, then most attempts, then byte order.
pub fn ranked(counts: &DimensionCounts, dimension: Dimension, limit: usize) -> Vec<ValueShare> {
    let mut values: Vec<(&str, Tally)> = counts.dimension(dimension).values().collect();
    crate::sort::sort_by(&mut values, |(a, ta), (b, tb)| by_weight(ta, tb).then_with(|| a.cmp(b)));
    values
        .into_iter()
        .take(limit)
        .map(|(value, tally)| ValueShare {
            value: value.to_owned(),
            attempts: tally.attempts,
            smtp_451: tally.smtp_451,
            share: rounded(ratio(tally.smtp_451, counts.smtp_451)),
            ratio_451: rounded(tally.ratio_451()),
        })
        .collect()
}

fn by_weight(a: &Tally, b: &Tally) -> Ordering {
    (b.smtp_451, b.attempts).cmp(&(a.smtp_451, a.attempts))
}

/// One value carrying most of the 451s with much less of the mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Concentration {
    pub dimension: Dimension,
    pub value: String,
    /// Its share of the 451s, at least [`CONCENTRATION_SHARE`].
    pub share_451: f64,
    /// Its share of the attempts, at most `share_451 /` [`CONCENTRATION_LIFT`].
    pub share_attempts: f64,
}

/// The value that carries the 451s, if one does (at least [`MIN_451`] of them): of all values that
/// qualify, the one with the largest share of the 451s, then the smallest share of the attempts, then
/// the first dimension in [`Dimension::ALL`].
pub fn concentration(counts: &DimensionCounts) -> Option<Concentration> {
    if counts.smtp_451 < MIN_451 {
        return None;
    }
    Dimension::ALL
        .iter()
        .flat_map(|&dimension| {
            counts.dimension(dimension).values().map(move |(value, tally)| Concentration {
                dimension,
                value: value.to_owned(),
                share_451: ratio(tally.smtp_451, counts.smtp_451),
                share_attempts: ratio(tally.attempts, counts.attempts),
            })
        })
        .filter(|c| c.share_451 >= CONCENTRATION_SHARE && c.share_attempts * CONCENTRATION_LIFT <= c.share_451)
        .min_by(|a, b| {
            b.share_451.total_cmp(&a.share_451).then(a.share_attempts.total_cmp(&b.share_attempts))
            // `min_by` keeps the first of equals: the earlier dimension wins a tie.
        })
}

/// Where the 451s come from, with what to do, e.g. "89 % of the 451s came from sending IP 198.51.100.7
/// (31 % of the attempts): check that IP's reputation …", or, when no value carries them, "spread over
/// all 3 sending IPs and 2 tags: look at content and authentication". `None` with fewer than
/// [`MIN_451`] 451s or no dimension at all.
pub fn concentration_sentence(counts: &DimensionCounts) -> Option<String> {
    if counts.smtp_451 < MIN_451 || counts.has_no_dimensions() {
        return None;
    }
    if let Some(c) = concentration(counts) {
        return Some(format!(
            "{} of the 451s came from {} {} ({} of the attempts): {}",
            percent(c.share_451),
            c.dimension.noun().0,
            c.value,
            percent(c.share_attempts),
            concentration_advice(c.dimension)
        ));
    }
    let spread: Vec<String> = Dimension::ALL
        .iter()
        .filter_map(|&dimension| {
            let values = counts.dimension(dimension);
            let named = values.values().count();
            let many = dimension.noun().1;
            match (named, values.other().is_zero()) {
                (0 | 1, true) => None,
                (n, true) => Some(format!("all {n} {many}")),
                (n, false) => Some(format!("more than {n} {many}")),
            }
        })
        .collect();
    if spread.is_empty() {
        let single: Vec<&str> =
            Dimension::ALL.iter().filter(|d| !counts.dimension(**d).is_empty()).map(|d| d.noun().0).collect();
        return Some(format!("all the mail went out on one {}: {SINGLE_STREAM_ADVICE}", join_and(&single)));
    }
    Some(format!("spread over {}: {SPREAD_ADVICE}", join_and(&spread)))
}

/// `a`, `a and b`, `a, b and c`.
fn join_and<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [rest @ .., last] => {
            format!("{} and {}", rest.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Four decimals: shares to a hundredth of a percent, and shorter JSON.
fn rounded(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
