//! Reading counts for the API: settled hours from the KV pages, the rest from the counting objects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::counters::{merge_buckets, BucketRange, Buckets};
use crate::detect::Phase;
use crate::provider::consumer::consumer_platform;
use crate::provider::Provider;
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
    /// Providers whose alert is not `ok` (shard 0).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_phases: BTreeMap<String, Phase>,
    /// The object's resolved domains (consumer-table ones are not stored: [`Read::provider_of`] adds them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, Provider>,
}

/// What a read found: the buckets of the range, the open alerts' phases and every domain's provider as
/// it is known now (applied here, at sum time, so a domain resolved an hour ago joins its provider with
/// its whole history).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    pub buckets: Buckets,
    pub phases: BTreeMap<String, Phase>,
    pub provider_phases: BTreeMap<String, Phase>,
    providers: BTreeMap<String, Provider>,
}

impl Read {
    /// `domain`'s provider: the consumer table, else its stored resolution, else `unknown`.
    pub fn provider_of(&self, domain: &str) -> Provider {
        match consumer_platform(domain) {
            Some(platform) => platform.into(),
            None => self.providers.get(domain).cloned().unwrap_or(Provider::Unknown),
        }
    }
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
    answer.providers = match &query.domain {
        Some(domain) => {
            let provider = super::providers::resolution_of(object.sql, domain)?.provider;
            [(domain.clone(), provider)].into_iter().filter(|(_, p)| *p != Provider::Unknown).collect()
        }
        None => super::providers::stored_providers(object.sql)?,
    };
    answer.buckets.retain(|bucket, _| (query.first..=query.last).contains(bucket));
    Ok(answer)
}

/// The exact counts of `range` across every shard, the phases of open alerts and the domains' providers.
/// One request to each object, then one KV read per settled page part.
pub async fn read_range<S: Store, C: Counter>(
    kv: &S,
    counter: &C,
    settings: &Settings,
    range: BucketRange,
    domain: Option<&str>,
) -> Result<Read, StoreError> {
    let query = ReadQuery { first: range.first, last: range.last, domain: domain.map(str::to_owned) };
    let mut read = Read::default();
    // A domain lives in one shard; the detector, and so the phases, in shard 0.
    let shards: Vec<u32> = match domain {
        Some(domain) => vec![super::delta::shard_of(domain, settings.counter_shards)],
        None => (0..settings.counter_shards).collect(),
    };
    for &shard in &shards {
        let answer: ReadAnswer = call(counter, shard, &Request::Read { query: query.clone() }).await?;
        merge_buckets(&mut read.buckets, &answer.buckets);
        for (hour, parts) in answer.pages {
            let page = read_page(kv, shard, hour, parts, domain).await?;
            merge_buckets(&mut read.buckets, &page);
        }
        read.phases.extend(answer.phases);
        read.provider_phases.extend(answer.provider_phases);
        read.providers.extend(answer.providers);
    }
    if !shards.contains(&0) {
        let alerts: super::detection::AlertsView = call(counter, 0, &Request::Alerts).await?;
        read.phases = alerts.phases;
        read.provider_phases = alerts.provider_phases;
    }
    read.buckets.retain(|bucket, _| (range.first..=range.last).contains(bucket));
    Ok(read)
}
