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
use crate::counters::{BucketRange, Buckets, Counts, DomainCounts, Window};
use crate::detect::Phase;
use crate::provider::consumer::consumer_platform;
use crate::provider::Provider;
use crate::settings::Settings;
use crate::sql::{Sql, SqlError};
use crate::store::{Store, StoreError};

use super::client::{call, Counter};
use super::history::{day_of, oldest_hourly, HistoryAnswer, HistoryQuery, HistoryScope, DAY};
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
    /// The same counts one period earlier, when they are kept ([`read_window`]).
    pub previous: Option<Buckets>,
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
        provider_of(&self.providers, domain)
    }
}

/// `domain`'s provider given the resolutions an object answered: the consumer table first (its domains are
/// never stored), else the resolution, else `unknown`.
pub fn provider_of(known: &BTreeMap<String, Provider>, domain: &str) -> Provider {
    match consumer_platform(domain) {
        Some(platform) => platform.into(),
        None => known.get(domain).cloned().unwrap_or(Provider::Unknown),
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
        (read.phases, read.provider_phases) = open_phases(counter).await?;
    }
    summed.retain_range(range.first, range.last);
    read.buckets = summed.buckets;
    read.streams = summed.streams;
    Ok(read)
}

/// The whole counts of `domains` over a window, summed (sending dimensions and samples included): what a
/// breakdown over a group of recipient domains (a mailbox provider's) is made of. One object request per
/// domain, read from its own rows as [`read_range`] reads one domain (its days for a long window); no KV.
pub async fn counts_of_domains<C: Counter>(
    counter: &C,
    settings: &Settings,
    window: Window,
    now: u64,
    domains: impl IntoIterator<Item = &str>,
) -> Result<Counts, StoreError> {
    let range = window_range(window, now, settings);
    let mut sum = Counts::default();
    for domain in domains {
        let shard = super::delta::shard_of(domain, settings.counter_shards);
        if window.days().is_some() {
            let scope = HistoryScope::Domain { domain: domain.to_owned() };
            let query =
                HistoryQuery { first: range.first, last: day_of(range.last), previous: false, scope, providers: false };
            let answer: HistoryAnswer = call(counter, shard, &Request::History { query }).await?;
            answer.days.values().for_each(|counts| sum.merge(counts));
        } else {
            let query = ReadQuery { first: range.first, last: range.last, domain: Some(domain.to_owned()) };
            let answer: ReadAnswer = call(counter, shard, &Request::Read { query }).await?;
            answer.buckets.range(range.first..=range.last).flat_map(|(_, d)| d.values()).for_each(|c| sum.merge(c));
        }
    }
    Ok(sum)
}

/// The range a window covers: buckets ending now for the hourly windows, the last complete UTC days
/// (each a bucket starting at its midnight) for the long ones.
pub fn window_range(window: Window, now: u64, settings: &Settings) -> BucketRange {
    match window.days() {
        Some(days) => {
            let last = day_of(now).saturating_sub(DAY);
            BucketRange { first: last.saturating_sub((days - 1) * DAY), last: last + DAY - 1 }
        }
        None => BucketRange::ending_at(now, window.secs(), settings),
    }
}

/// A window's counts (all domains, or one) with, in [`RangeCounts::previous`], the same span one period
/// earlier. The hourly windows come from the hourly counts ([`read_range`]); their period before does
/// too while the retention holds it (15m, 1h, 24h), else the history's whole days before the window's
/// first day (7d: the seven days before it). The long windows come from the history, a bucket a day
/// for one domain, one bucket of the span's totals for all.
pub async fn read_window<S: Store, C: Counter>(
    kv: &S,
    counter: &C,
    settings: &Settings,
    window: Window,
    now: u64,
    domain: Option<&str>,
) -> Result<RangeCounts, StoreError> {
    let range = window_range(window, now, settings);
    let scope = || match domain {
        Some(domain) => HistoryScope::Domain { domain: domain.to_owned() },
        None => HistoryScope::All,
    };
    if window.days().is_some() {
        let span = range.last + 1 - range.first;
        let previous = history_holds_previous(range, settings, now);
        let query =
            HistoryQuery { first: range.first, last: day_of(range.last), previous, scope: scope(), providers: false };
        let answer = read_history(counter, settings, &query).await?;
        return Ok(RangeCounts::of_history(answer, domain, range.first, range.first.saturating_sub(span)));
    }
    let span = range.last - range.first + settings.bucket_secs;
    let before = range.first.saturating_sub(span);
    if before >= oldest_hourly(settings, now) {
        let mut read =
            read_range(kv, counter, settings, BucketRange { first: before, last: range.last }, domain).await?;
        let current = read.buckets.split_off(&range.first);
        read.previous = Some(std::mem::replace(&mut read.buckets, current));
        let mut streams = std::mem::take(&mut read.streams);
        read.streams = streams.split_off(&range.first);
        return Ok(read);
    }
    let mut read = read_range(kv, counter, settings, range, domain).await?;
    let last = day_of(range.first).saturating_sub(DAY);
    let first = day_of(before);
    if first <= last && first >= super::history::first_kept_day(settings, now) {
        let query = HistoryQuery { first, last, previous: false, scope: scope(), providers: false };
        read.previous =
            Some(RangeCounts::of_history(read_history(counter, settings, &query).await?, domain, first, 0).buckets);
    }
    Ok(read)
}

/// Whether the history holds all of a long window's period before: it is compared only then.
pub fn history_holds_previous(range: BucketRange, settings: &Settings, now: u64) -> bool {
    let span = range.last + 1 - range.first;
    range.first.saturating_sub(span) >= super::history::first_kept_day(settings, now)
}

impl RangeCounts {
    /// A history read as counts per bucket: a day each for one domain, the span's totals in one bucket
    /// at `first` for all (the period before's at `previous_first`).
    fn of_history(answer: HistoryAnswer, domain: Option<&str>, first: u64, previous_first: u64) -> RangeCounts {
        let as_buckets = |days: BTreeMap<u64, Counts>, totals: DomainCounts, at: u64| -> Buckets {
            match domain {
                Some(domain) => days.into_iter().map(|(day, c)| (day, [(domain.to_owned(), c)].into())).collect(),
                None if totals.is_empty() => Buckets::new(),
                None => [(at, totals)].into(),
            }
        };
        let previous = answer.previous.map(|totals| as_buckets(answer.previous_days, totals, previous_first));
        let summed = Summed::of(as_buckets(answer.days, answer.totals, first));
        RangeCounts {
            buckets: summed.buckets,
            streams: summed.streams,
            phases: answer.phases,
            provider_phases: answer.provider_phases,
            previous,
            providers: answer.providers,
        }
    }
}

/// The history of `query` across the objects that hold it (one request each; one domain's is one object,
/// plus shard 0 for the phases).
pub async fn read_history<C: Counter>(
    counter: &C,
    settings: &Settings,
    query: &HistoryQuery,
) -> Result<HistoryAnswer, StoreError> {
    let shards: Vec<u32> = match &query.scope {
        HistoryScope::Domain { domain } => vec![super::delta::shard_of(domain, settings.counter_shards)],
        _ => (0..settings.counter_shards).collect(),
    };
    let mut all = HistoryAnswer::default();
    for &shard in &shards {
        all.merge(call(counter, shard, &Request::History { query: query.clone() }).await?);
    }
    if !shards.contains(&0) {
        (all.phases, all.provider_phases) = open_phases(counter).await?;
    }
    Ok(all)
}

/// The phases of the open domain and provider alerts, asked of shard 0 (which keeps the detector) by a
/// read that did not ask it anything else.
async fn open_phases<C: Counter>(
    counter: &C,
) -> Result<(BTreeMap<String, Phase>, BTreeMap<String, Phase>), StoreError> {
    let alerts: super::detection::AlertsView = call(counter, 0, &Request::Alerts).await?;
    Ok((alerts.phases, alerts.provider_phases))
}
