//! Reading counts for the API: settled hours from the KV pages, the rest from the counting objects.
//!
//! A read of every domain (`/api/domains`, `/api/streams`) takes settled hours from the pages, where the
//! sending dimensions are summed per bucket over the shard ([`super::publish`]). A read of one domain
//! takes every hour from the domain's rows in its object: one row per hour (part), where the page would
//! have cost a get and a parse of a whole part per hour, and only the rows hold that domain's own
//! dimensions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::breakdown::DimensionCounts;
use crate::counters::{BucketRange, Buckets};
use crate::detect::Phase;
use crate::provider::consumer::consumer_platform;
use crate::provider::Provider;
use crate::settings::Settings;
use crate::sql::{Sql, SqlError};
use crate::store::{Store, StoreError};

use super::client::{call, Counter};
use super::object::{hour_of, CounterObject, HOUR};
use super::protocol::Request;
use super::publish::{read_page, PublishState, Summed};

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
    /// A one-domain read: the domain's provider unless `unknown` (consumer-table domains are not stored:
    /// [`RangeCounts::provider_of`] adds them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, Provider>,
}

/// The object's side of a read.
pub fn answer<Q: Sql>(object: &CounterObject<'_, Q>, query: &ReadQuery, now: u64) -> Result<ReadAnswer, SqlError> {
    let state = PublishState::load(object.sql)?;
    let mut answer = ReadAnswer::default();
    let mut unsettled = Vec::new();
    let mut hour = hour_of(query.first);
    while hour <= query.last {
        if query.domain.is_none() && state.settled(hour, now) {
            if let Some((parts, _)) = state.pages.get(&hour) {
                answer.pages.insert(hour, *parts);
            }
        } else {
            unsettled.push(hour);
        }
        hour += HOUR;
    }
    answer.buckets = object.hours(unsettled, query.domain.as_deref())?;
    // A read of all domains leaves providers to [`RangeCounts::learn_providers`], for the rows shown.
    if let Some(domain) = &query.domain {
        answer.providers = super::providers::known_providers(object.sql, std::slice::from_ref(domain))?;
    }
    answer.buckets.retain(|bucket, _| (query.first..=query.last).contains(bucket));
    Ok(answer)
}

/// What a read of a range found: the counts, the open alerts' phases and every domain's provider as it is
/// known now (applied here, at sum time, so a domain resolved an hour ago joins its provider with its whole
/// history).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RangeCounts {
    /// The counts per bucket and domain, without their sending dimensions.
    pub buckets: Buckets,
    /// The sending dimensions per bucket, summed over the domains read.
    pub streams: BTreeMap<u64, crate::breakdown::Streams>,
    /// Domains whose alert is not `ok`.
    pub phases: BTreeMap<String, Phase>,
    /// Providers whose alert is not `ok`.
    pub provider_phases: BTreeMap<String, Phase>,
    providers: BTreeMap<String, Provider>,
}

impl RangeCounts {
    /// Attempts, 451s and their values per dimension over every domain and bucket read.
    pub fn dimensions(&self) -> DimensionCounts {
        let mut all = DimensionCounts::default();
        for counts in self.buckets.values().flat_map(|domains| domains.values()) {
            all.attempts += counts.attempts();
            all.smtp_451 += counts.smtp_451;
        }
        for streams in self.streams.values() {
            all.streams.merge(streams);
        }
        all
    }

    /// Asks the objects the providers of `domains` (one request per shard holding any of them, one row
    /// read per domain outside the consumer table), for [`RangeCounts::provider_of`].
    pub async fn learn_providers<'d, C: Counter>(
        &mut self,
        counter: &C,
        settings: &Settings,
        domains: impl IntoIterator<Item = &'d str>,
    ) -> Result<(), StoreError> {
        let mut by_shard: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for domain in domains.into_iter().filter(|d| consumer_platform(d).is_none()) {
            by_shard
                .entry(super::delta::shard_of(domain, settings.counter_shards))
                .or_default()
                .push(domain.to_owned());
        }
        for (shard, domains) in by_shard {
            let known: BTreeMap<String, Provider> = call(counter, shard, &Request::Providers { domains }).await?;
            self.providers.extend(known);
        }
        Ok(())
    }

    /// `domain`'s provider: the consumer table, else its stored resolution, else `unknown`.
    pub fn provider_of(&self, domain: &str) -> Provider {
        match consumer_platform(domain) {
            Some(platform) => platform.into(),
            None => self.providers.get(domain).cloned().unwrap_or(Provider::Unknown),
        }
    }
}

/// The exact counts of `range` across every shard, the phases of open alerts and the domains' providers.
/// One request to each object, then one KV read per settled page part (none for one domain: see the module
/// docs).
pub async fn read_range<S: Store, C: Counter>(
    kv: &S,
    counter: &C,
    settings: &Settings,
    range: BucketRange,
    domain: Option<&str>,
) -> Result<RangeCounts, StoreError> {
    let query = ReadQuery { first: range.first, last: range.last, domain: domain.map(str::to_owned) };
    let mut summed = Summed::default();
    let mut read = RangeCounts::default();
    // A domain lives in one shard; the detector, and so the phases, in shard 0.
    let shards: Vec<u32> = match domain {
        Some(domain) => vec![super::delta::shard_of(domain, settings.counter_shards)],
        None => (0..settings.counter_shards).collect(),
    };
    for &shard in &shards {
        let answer: ReadAnswer = call(counter, shard, &Request::Read { query: query.clone() }).await?;
        summed.merge(Summed::of(answer.buckets));
        for (hour, parts) in answer.pages {
            summed.merge(read_page(kv, shard, hour, parts).await?);
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
    summed.retain_range(range.first, range.last);
    read.buckets = summed.buckets;
    read.streams = summed.streams;
    Ok(read)
}

/// The attempts, 451s and sending dimensions of `domains` over `range`, summed: what a breakdown over a
/// group of recipient domains (a mailbox provider's) is made of. One object request per domain, read from
/// its rows as [`read_range`] reads one domain; no KV.
pub async fn dimensions_of_domains<C: Counter>(
    counter: &C,
    settings: &Settings,
    range: BucketRange,
    domains: impl IntoIterator<Item = &str>,
) -> Result<DimensionCounts, StoreError> {
    let mut sum = DimensionCounts::default();
    for domain in domains {
        let query = ReadQuery { first: range.first, last: range.last, domain: Some(domain.to_owned()) };
        let shard = super::delta::shard_of(domain, settings.counter_shards);
        let answer: ReadAnswer = call(counter, shard, &Request::Read { query }).await?;
        for counts in answer.buckets.range(range.first..=range.last).flat_map(|(_, d)| d.values()) {
            sum.merge(&counts.dimensions());
        }
    }
    Ok(sum)
}
