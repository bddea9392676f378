//! Where the counts of [`crate::counters`] live in KV, and how they get there without losing or
//! double-counting an event.
//!
//! ## Why not a counter per domain
//! KV has no atomic increment, concurrent writes to a key are last-write-wins, a key takes one write a
//! second, and reads may be up to 60 s stale. A read-modify-write counter on the webhook path therefore
//! loses counts as soon as two webhooks overlap. Instead, nothing on the webhook path ever reads, and the
//! only writer of shared keys is the cron handler, which runs alone.
//!
//! ## Key layout
//! | Key | Written by | Value | TTL |
//! |---|---|---|---|
//! | `shard:<id>` | webhook, once per request | `{"buckets": {<bucket start>: {<domain>: Counts}}}`; the same JSON is repeated as metadata when it fits KV's 1,024-byte metadata limit | retention |
//! | `page:<page start, 10 digits>` | cron | `{"buckets": …, "merged": [<shard id>…]}`: the aggregate of 12 buckets (an hour by default) and the shards it already holds | page end + retention |
//! | `state` | cron | detector state: baselines, alert states, recent alerts ([`crate::cron`]) | retention |
//!
//! * **Shards** (`<id>` = 128 bits of SHA-256 of the request key, itself a hash of the body): one write
//!   per request whatever its event count or the buckets it touches. A redelivered body produces the
//!   same key and overwrites itself, so redelivery is idempotent by construction; distinct requests
//!   never share a key, so concurrency loses nothing. Small shards ride in the metadata, so the cron's
//!   `list` returns their counts without a `get` per shard.
//! * **Pages** are per hour rather than per bucket so that the 7-day API window costs 169 reads, inside
//!   the 1,000 operations a Worker invocation may make, instead of 2,016.
//! * **Exactly once.** A page records the ids of the shards merged into it. The cron merges a listed
//!   shard into each page it touches that does not yet hold it, writes the page, and deletes the shard
//!   only on a *later* run that reads the page back and finds the id there. So a crash (or a failed
//!   delete) between the page write and the delete is harmless, a shard that `list` shows late (list is
//!   eventually consistent) is merged when it shows up, and a redelivery after the merge is recognised
//!   and dropped. The ids cost 32 bytes per request per hour-page.
//! * **Reads** combine pages with shards still listed, skipping shards a page already holds, so the API
//!   is exact before the cron has run.
//!
//! The same rule makes overlapping cron runs safe: if two runs write the same page, the merge the loser
//! made is missing from the page, so its shard is not deleted and is merged again next run.
//!
//! Known limits:
//! * if a cron run reads a page staler than the one the previous run wrote (KV only promises that within
//!   60 s), that run recomputes the page from the shards it can still see; shards are kept until a run
//!   has *seen* them in a page, which covers the usual same-location lag but not every case;
//! * future-stamped events are clamped to the time of receipt, so a redelivery received in another hour
//!   puts them in another page, where they count again (the rest of the request still counts once).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::counters::{self, BucketRange, Buckets};
use crate::esp::common;
use crate::event::NormalizedEvent;
use crate::ingest::Recorded;
use crate::settings::Settings;
use crate::store::{Put, Store, StoreError};

const SHARD_PREFIX: &str = "shard:";
const PAGE_PREFIX: &str = "page:";
/// Buckets per aggregate page: an hour at the default 5-minute bucket.
pub const PAGE_BUCKETS: u64 = 12;
/// KV's limit on serialized metadata.
const METADATA_LIMIT: usize = 1024;
/// KV refuses expirations closer than this.
const MIN_TTL: u64 = 60;

/// One webhook request's counts, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub buckets: Buckets,
}

/// A shard as listed: its id and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedShard {
    pub id: String,
    pub shard: Shard,
}

impl ListedShard {
    /// Whether every bucket the shard touches has ended. The cron merges only closed shards, so a page
    /// is rewritten about once a bucket rather than on every run; open shards are still counted on read.
    pub fn is_closed(&self, now: u64, settings: &Settings) -> bool {
        self.shard.buckets.keys().next_back().is_none_or(|last| last + settings.bucket_secs <= now)
    }
}

/// The cron's aggregate of one page of buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub buckets: Buckets,
    /// Ids of the shards already added into `buckets`.
    pub merged: BTreeSet<String>,
}

/// The id of the shard of the request with this key.
pub fn shard_id(request_key: &str) -> String {
    let digest = Sha256::digest(request_key.as_bytes());
    common::hex(&digest[..16])
}

/// Stores one request's events as one immutable shard: at most one write, no reads.
pub async fn record<S: Store>(
    store: &S,
    settings: &Settings,
    request_key: &str,
    events: &[NormalizedEvent],
    now: u64,
) -> Result<Recorded, StoreError> {
    let tally = counters::tally(events, now, settings);
    let mut recorded = Recorded {
        accepted: tally.accepted,
        stale: tally.stale,
        clamped: tally.clamped,
        ignored: tally.ignored,
        writes: 0,
    };
    if tally.buckets.is_empty() {
        return Ok(recorded);
    }
    let shard = Shard { buckets: tally.buckets };
    let value = serde_json::to_string(&shard).map_err(|e| StoreError(format!("cannot encode shard: {e}")))?;
    let metadata = if value.len() <= METADATA_LIMIT { serde_json::to_value(&shard).ok() } else { None };
    let key = format!("{SHARD_PREFIX}{}", shard_id(request_key));
    store.put(Put { key: &key, value: &value, ttl_seconds: settings.retention_secs, metadata }).await?;
    recorded.writes = 1;
    Ok(recorded)
}

/// Every shard not yet deleted, following list cursors; a shard too big for metadata costs one `get`.
pub async fn list_shards<S: Store>(store: &S) -> Result<Vec<ListedShard>, StoreError> {
    let mut shards = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list(SHARD_PREFIX, cursor.as_deref()).await?;
        for listed in page.keys {
            let id = listed.name[SHARD_PREFIX.len()..].to_owned();
            let inline = listed.metadata.and_then(|m| serde_json::from_value::<Shard>(m).ok());
            let shard = match inline {
                Some(shard) => shard,
                // Deleted between list and get (a concurrent cron run): nothing left to count.
                None => match store.get(&listed.name).await? {
                    Some(value) => parse(&listed.name, &value)?,
                    None => continue,
                },
            };
            shards.push(ListedShard { id, shard });
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(shards),
        }
    }
}

fn parse<T: for<'de> Deserialize<'de>>(key: &str, value: &str) -> Result<T, StoreError> {
    serde_json::from_str(value).map_err(|e| StoreError(format!("stored value {key} is corrupt: {e}")))
}

/// Loaded aggregate pages, plus which of them changed and must be written back.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    pub pages: BTreeMap<u64, Page>,
    dirty: BTreeSet<u64>,
}

impl Pages {
    /// Reads the pages holding these buckets (one `get` per page; a missing page is empty).
    pub async fn load<S: Store>(
        store: &S,
        settings: &Settings,
        buckets: impl IntoIterator<Item = u64>,
    ) -> Result<Pages, StoreError> {
        let starts: BTreeSet<u64> = buckets.into_iter().map(|b| page_of(b, settings)).collect();
        let mut pages = Pages::default();
        for start in starts {
            let key = page_key(start);
            let page = match store.get(&key).await? {
                Some(value) => parse(&key, &value)?,
                None => Page::default(),
            };
            pages.pages.insert(start, page);
        }
        Ok(pages)
    }

    /// Adds a shard's buckets into each loaded page that does not yet hold it. Returns true when every
    /// page the shard touches was loaded and *already* held it: the shard's counts are safely stored and
    /// it may be deleted. Buckets past the retention count as held, since their page has expired.
    pub fn absorb(&mut self, listed: &ListedShard, settings: &Settings, now: u64) -> bool {
        let mut already_held = true;
        for (start, portion) in split_by_page(&listed.shard.buckets, settings) {
            if start + page_span(settings) + settings.retention_secs <= now {
                continue;
            }
            let Some(page) = self.pages.get_mut(&start) else {
                already_held = false;
                continue;
            };
            if page.merged.contains(&listed.id) {
                continue;
            }
            already_held = false;
            counters::merge_buckets(&mut page.buckets, &portion);
            page.merged.insert(listed.id.clone());
            self.dirty.insert(start);
        }
        already_held
    }

    /// Writes back the pages `absorb` changed; returns how many writes that took.
    pub async fn save<S: Store>(&mut self, store: &S, settings: &Settings, now: u64) -> Result<u64, StoreError> {
        let mut writes = 0;
        for start in std::mem::take(&mut self.dirty) {
            let Some(page) = self.pages.get(&start) else {
                continue;
            };
            let value = serde_json::to_string(page).map_err(|e| StoreError(format!("cannot encode page: {e}")))?;
            let expires_at = start + page_span(settings) + settings.retention_secs;
            let ttl_seconds = expires_at.saturating_sub(now).max(MIN_TTL);
            store.put(Put { key: &page_key(start), value: &value, ttl_seconds, metadata: None }).await?;
            writes += 1;
        }
        Ok(writes)
    }

    /// The loaded buckets of `range`, across pages. Only these are copied: a page holds an hour of every
    /// domain, and copying all of it dominated the cron's time.
    pub fn buckets(&self, range: BucketRange) -> Buckets {
        let pages = self.pages.values();
        pages.flat_map(|page| page.buckets.range(range.first..=range.last)).map(|(b, d)| (*b, d.clone())).collect()
    }
}

/// Deletes a merged shard.
pub async fn delete_shard<S: Store>(store: &S, id: &str) -> Result<(), StoreError> {
    store.delete(&format!("{SHARD_PREFIX}{id}")).await
}

/// The exact counts of `range`: stored pages plus the shards the cron has not merged yet. Read-only.
pub async fn read_range<S: Store>(
    store: &S,
    settings: &Settings,
    range: BucketRange,
    now: u64,
) -> Result<Buckets, StoreError> {
    let mut pages = Pages::load(store, settings, range.buckets(settings)).await?;
    for shard in list_shards(store).await? {
        pages.absorb(&shard, settings, now);
    }
    Ok(pages.buckets(range))
}

fn page_span(settings: &Settings) -> u64 {
    PAGE_BUCKETS * settings.bucket_secs
}

fn page_of(bucket: u64, settings: &Settings) -> u64 {
    bucket - bucket % page_span(settings)
}

/// Zero-padded so that keys sort in time order.
fn page_key(start: u64) -> String {
    format!("{PAGE_PREFIX}{start:010}")
}

fn split_by_page(buckets: &Buckets, settings: &Settings) -> BTreeMap<u64, Buckets> {
    let mut pages: BTreeMap<u64, Buckets> = BTreeMap::new();
    for (start, domains) in buckets {
        pages.entry(page_of(*start, settings)).or_default().insert(*start, domains.clone());
    }
    pages
}
