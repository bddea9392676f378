//! Reading counts for the API: settled hours from the KV pages, the rest from the counting objects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::counters::{merge_buckets, BucketRange, Buckets};
use crate::detect::Phase;
use crate::settings::Settings;
use crate::sql::{Sql, SqlError};
use crate::store::{Store, StoreError};

use super::client::{call, Counter};
use super::object::{hour_of, CounterObject, HOUR};
use super::protocol::Request;
use super::publish::{read_page, PublishState};

/// What a read asks one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadQuery {
    pub first: u64,
    pub last: u64,
    /// Only this domain's counts (a domain's page); all domains when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// An object's answer: the buckets of hours KV may not have yet, and the pages to read for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadAnswer {
    pub buckets: Buckets,
    /// Settled hours with a page: hour → parts.
    pub pages: BTreeMap<u64, u32>,
    /// Domains whose alert is not `ok` (shard 0 keeps the detector).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phases: BTreeMap<String, Phase>,
}

/// The object's side of a read.
pub fn answer<Q: Sql>(object: &CounterObject<'_, Q>, query: &ReadQuery, now: u64) -> Result<ReadAnswer, SqlError> {
    let state = PublishState::load(object.sql)?;
    let mut answer = ReadAnswer::default();
    let mut unsettled = Vec::new();
    let mut hour = hour_of(query.first);
    while hour <= query.last {
        if state.settled(hour, now) {
            if let Some((parts, _)) = state.pages.get(&hour) {
                answer.pages.insert(hour, *parts);
            }
        } else {
            unsettled.push(hour);
        }
        hour += HOUR;
    }
    answer.buckets = object.hours(unsettled, query.domain.as_deref())?;
    answer.buckets.retain(|bucket, _| (query.first..=query.last).contains(bucket));
    Ok(answer)
}

/// The exact counts of `range` across every shard, and the phases of open alerts. One request to each
/// object, then one KV read per settled page part.
pub async fn read_range<S: Store, C: Counter>(
    kv: &S,
    counter: &C,
    settings: &Settings,
    range: BucketRange,
    domain: Option<&str>,
) -> Result<(Buckets, BTreeMap<String, Phase>), StoreError> {
    let query = ReadQuery { first: range.first, last: range.last, domain: domain.map(str::to_owned) };
    let mut buckets = Buckets::new();
    let mut phases = BTreeMap::new();
    // A domain lives in one shard; the detector, and so the phases, in shard 0.
    let shards: Vec<u32> = match domain {
        Some(domain) => vec![super::delta::shard_of(domain, settings.counter_shards)],
        None => (0..settings.counter_shards).collect(),
    };
    for &shard in &shards {
        let answer: ReadAnswer = call(counter, shard, &Request::Read { query: query.clone() }).await?;
        merge_buckets(&mut buckets, &answer.buckets);
        for (hour, parts) in answer.pages {
            let page = read_page(kv, shard, hour, parts, domain).await?;
            merge_buckets(&mut buckets, &page);
        }
        phases.extend(answer.phases);
    }
    if !shards.contains(&0) {
        let alerts: super::detection::AlertsView = call(counter, 0, &Request::Alerts).await?;
        phases = alerts.phases;
    }
    buckets.retain(|bucket, _| (range.first..=range.last).contains(bucket));
    Ok((buckets, phases))
}
