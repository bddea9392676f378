//! Hour pages in KV, written by the counting object, read by the API.
//!
//! ## Keys
//! | Key | Value | TTL |
//! |---|---|---|
//! | `page:<shard>:<hour start, 10 digits>` | `{"parts": n, "buckets": {<bucket>: {<domain>: Counts}}, "st": {<bucket>: Streams}}`: every bucket of the hour, as the object holds it, except that the sending dimensions are summed over the shard's domains (`st`) | hour end + retention |
//! | `page:<shard>:<hour>:<i>` | `{"buckets": …}`: part `i` (1 ≤ i < n) of a page too big for one value | the same |
//!
//! Why the dimensions are summed: per domain they tripled a page (a 5 M/day sender's KV writes went from
//! 1,332 to 4,740 a day, past the Free plan) and every `/api/domains` read parsed them only to drop them.
//! Summed over the shard they are at most [`crate::breakdown::MAX_VALUES`] values per dimension per
//! bucket, which is all `GET /api/streams` needs; a domain's own dimensions come from its rows in the
//! object ([`super::read`]).
//!
//! A page is a whole snapshot of its hour, so publishing is idempotent: writing it again after a crash or a
//! failed put changes nothing, and a page written late holds everything written early. Domains go into
//! parts of at most [`PART_BYTES`], so no value grows past that with the number of domains.
//!
//! ## When
//! The object publishes every `PUBLISH_MINUTES` the hours that changed since their last publish, and only
//! those. Which hours are *dirty* is kept in the object's SQLite (one `meta` row, rewritten only when an
//! hour becomes dirty or is published), so a restart loses nothing: an hour is moved to `publishing` before
//! its pages are put and removed after, and an hour found in `publishing` is published again.
//!
//! ## Reads
//! KV is eventually consistent: a page read elsewhere can lag its write by up to 60 s. So an hour is
//! *settled*, and read from KV, only once it is published, clean, and published over [`SETTLE_SECS`] ago;
//! every other hour of a window comes from the object itself, which makes the API exact.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::breakdown::Streams;
use crate::counters::Buckets;
use crate::settings::Settings;
use crate::sql::{Sql, SqlError};
use crate::store::{Put, Store, StoreError};

use super::object::{CounterObject, HOUR};
use super::schema;

/// The largest part of a page, in bytes of JSON: well under KV's 25 MiB, and small enough that reading a
/// week of pages stays quick.
pub const PART_BYTES: usize = 512 * 1024;
/// How long after its put a page is trusted to be visible everywhere (KV's documented propagation).
pub const SETTLE_SECS: u64 = 60;
/// Hours published per run at most: each costs a put per part, and one invocation may make 1,000 KV
/// operations. More (after an outage) wait for the next run.
pub const MAX_HOURS_PER_PUBLISH: usize = 100;
/// KV refuses expirations closer than this.
const MIN_TTL: u64 = 60;

const META: &str = "publish";

/// What the object knows about its pages. One `meta` row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishState {
    /// Hours changed since they were last published.
    #[serde(default)]
    pub dirty: BTreeSet<u64>,
    /// Hours whose pages are being written: dirty again if the object stops before they are.
    #[serde(default)]
    pub publishing: BTreeSet<u64>,
    /// Hours with a page in KV: hour → (parts, when last put).
    #[serde(default)]
    pub pages: BTreeMap<u64, (u32, u64)>,
    /// When the last publish ran.
    #[serde(default)]
    pub last_run: u64,
}

impl PublishState {
    pub fn load<Q: Sql>(sql: &Q) -> Result<PublishState, SqlError> {
        schema::load_meta(sql, META)
    }

    pub fn save<Q: Sql>(&self, sql: &Q, before: &PublishState) -> Result<bool, SqlError> {
        schema::save_meta(sql, META, before, self)
    }

    /// Marks `hours` changed (the row is written only when one of them was not marked yet).
    pub fn mark_dirty<Q: Sql>(sql: &Q, hours: impl IntoIterator<Item = u64>) -> Result<(), SqlError> {
        let before = PublishState::load(sql)?;
        let mut state = before.clone();
        state.dirty.extend(hours);
        state.save(sql, &before)?;
        Ok(())
    }

    /// Whether reads may take this hour from KV.
    pub fn settled(&self, hour: u64, now: u64) -> bool {
        !self.dirty.contains(&hour)
            && !self.publishing.contains(&hour)
            && self.pages.get(&hour).is_some_and(|(_, at)| at + SETTLE_SECS <= now)
    }
}

/// What one publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishReport {
    pub ran: bool,
    pub hours: usize,
    pub puts: u64,
    /// Set when a put failed: those hours stay dirty for the next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The key of part `part` of a shard's page.
pub fn page_key(shard: u32, hour: u64, part: u32) -> String {
    if part == 0 {
        format!("page:{shard}:{hour:010}")
    } else {
        format!("page:{shard}:{hour:010}:{part}")
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parts: Option<u32>,
    buckets: Buckets,
    /// The head part's only: each bucket's sending dimensions over all its domains.
    #[serde(rename = "st", default, skip_serializing_if = "BTreeMap::is_empty")]
    streams: BTreeMap<u64, Streams>,
}

/// Counts without their sending dimensions, and the dimensions summed per bucket over the domains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summed {
    pub buckets: Buckets,
    pub streams: BTreeMap<u64, Streams>,
}

impl Summed {
    /// Moves the dimensions out of every domain's counts of `buckets` into per-bucket sums.
    pub fn of(mut buckets: Buckets) -> Summed {
        let mut streams = BTreeMap::new();
        for (bucket, domains) in &mut buckets {
            let mut sum = Streams::default();
            for counts in domains.values_mut() {
                sum.merge(&std::mem::take(&mut counts.streams));
            }
            if !sum.is_empty() {
                streams.insert(*bucket, sum);
            }
        }
        Summed { buckets, streams }
    }

    /// Adds `other` in.
    pub fn merge(&mut self, other: Summed) {
        crate::counters::merge_buckets(&mut self.buckets, other.buckets);
        for (bucket, streams) in other.streams {
            self.streams.entry(bucket).or_default().merge(&streams);
        }
    }

    /// Drops the buckets outside `first..=last`.
    pub fn retain_range(&mut self, first: u64, last: u64) {
        self.buckets.retain(|bucket, _| (first..=last).contains(bucket));
        self.streams.retain(|bucket, _| (first..=last).contains(bucket));
    }
}

/// Publishes the object's dirty hours to KV when `PUBLISH_MINUTES` have passed since the last run (or
/// `force`). Storage errors of the object's SQL fail the call; KV errors leave the hours dirty and are
/// reported, so counting never depends on KV being up.
pub async fn publish<Q: Sql, S: Store>(
    object: &CounterObject<'_, Q>,
    kv: &S,
    shard: u32,
    now: u64,
    force: bool,
) -> Result<PublishReport, SqlError> {
    let settings = object.settings;
    let before = PublishState::load(object.sql)?;
    if !force && before.last_run + settings.publish_secs > now {
        return Ok(PublishReport::default());
    }
    let oldest_kept = settings.bucket_of(now.saturating_sub(settings.retention_secs));
    let mut state = before.clone();
    state.last_run = now;
    state.pages.retain(|hour, _| hour + HOUR > oldest_kept);
    let pending = crate::sort::set(state.dirty.iter().chain(&state.publishing).copied());
    let hours: Vec<u64> =
        pending.into_iter().filter(|h| h + HOUR > oldest_kept).rev().take(MAX_HOURS_PER_PUBLISH).collect();
    for hour in &hours {
        state.dirty.remove(hour);
        state.publishing.insert(*hour);
    }
    state.dirty.retain(|h| h + HOUR > oldest_kept);
    state.save(object.sql, &before)?;

    let mut report = PublishReport { ran: true, ..PublishReport::default() };
    let mut done = Vec::new();
    for hour in &hours {
        let buckets = object.hours([*hour], None)?;
        super::providers::aggregate(object, *hour, &buckets)?;
        let page = Summed::of(buckets);
        match put_page(kv, settings, shard, *hour, page, now).await {
            Ok((parts, puts)) => {
                report.puts += puts;
                done.push((*hour, parts));
            }
            Err(err) => {
                report.puts += 1;
                report.error = Some(err.to_string());
                break;
            }
        }
    }
    report.hours = done.len();
    // Webhooks may have marked hours dirty while the puts were awaited: start again from what is stored.
    let stored = PublishState::load(object.sql)?;
    let mut after = stored.clone();
    for hour in &hours {
        after.publishing.remove(hour);
    }
    for (hour, parts) in &done {
        after.pages.insert(*hour, (*parts, now));
    }
    // Unpublished ones go back to dirty; so does an hour written to while its page was being put.
    after.dirty.extend(hours.iter().filter(|h| !done.iter().any(|(d, _)| d == *h)));
    after.save(object.sql, &stored)?;
    Ok(report)
}

async fn put_page<S: Store>(
    kv: &S,
    settings: &Settings,
    shard: u32,
    hour: u64,
    page: Summed,
    now: u64,
) -> Result<(u32, u64), StoreError> {
    let parts = split(&page.buckets);
    let mut head_streams = Some(page.streams);
    let ttl_seconds = (hour + HOUR + settings.retention_secs).saturating_sub(now).max(MIN_TTL);
    let count = parts.len() as u32;
    let mut puts = 0;
    // Later parts first: a reader that sees the new head finds every part it names.
    for (i, part) in parts.into_iter().enumerate().rev() {
        let streams = if i == 0 { head_streams.take().unwrap_or_default() } else { BTreeMap::new() };
        let stored = StoredPart { parts: (i == 0).then_some(count), buckets: part, streams };
        let value = serde_json::to_string(&stored).map_err(|e| StoreError(format!("cannot encode page: {e}")))?;
        kv.put(Put { key: &page_key(shard, hour, i as u32), value: &value, ttl_seconds, metadata: None }).await?;
        puts += 1;
    }
    Ok((count, puts))
}

/// Splits an hour's buckets into parts of at most [`PART_BYTES`] of JSON, by domain in order.
fn split(buckets: &Buckets) -> Vec<Buckets> {
    let mut parts = vec![Buckets::new()];
    let mut size = 0;
    for (bucket, domains) in buckets {
        for (domain, counts) in domains {
            let entry = serde_json::to_string(counts).map_or(0, |s| s.len()) + domain.len() + 8;
            if size + entry > PART_BYTES && size > 0 {
                parts.push(Buckets::new());
                size = 0;
            }
            size += entry;
            let part = parts.last_mut().expect("never empty");
            part.entry(*bucket).or_default().insert(domain.clone(), counts.clone());
        }
    }
    parts
}

/// Reads one shard's page of `hour` (`parts` as the object reported).
pub async fn read_page<S: Store>(kv: &S, shard: u32, hour: u64, parts: u32) -> Result<Summed, StoreError> {
    let mut page = Summed::default();
    for part in 0..parts.max(1) {
        let key = page_key(shard, hour, part);
        let Some(value) = kv.get(&key).await? else {
            // Expired between the object's answer and this read: nothing left to count.
            continue;
        };
        let stored: StoredPart =
            crate::json::parse(&value).map_err(|e| StoreError(format!("stored page {key} is corrupt: {e}")))?;
        page.merge(Summed { buckets: stored.buckets, streams: stored.streams });
    }
    Ok(page)
}
