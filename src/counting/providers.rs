//! The counting object's provider dimension (issue 13): the provider of each of its domains, the MX
//! look-ups that decide it, and the per-(hour, provider) sums the detector reads instead of every
//! domain's rows.
//!
//! ## The sums
//! A `provider_sums` row holds one provider's hour in this object: its domains' counts summed per
//! bucket, and which domains had traffic (and 451s) in which of the hour's buckets. They are made at
//! publish ([`aggregate`]), from the rows publish reads anyway, with the mapping as it is known then:
//! the mapping is applied when counts are summed, never frozen into the counts at ingest, so a domain
//! resolved now joins its provider in every hour published from now on. A newly resolved domain's
//! hours that a window can still overlap are added at once ([`fold_in`]), so a spike on domains first
//! seen an hour ago is caught by the next run; its older hours stay in its provider's baseline as they
//! were summed (a baseline is a ratio of the provider's traffic, which one domain barely moves). A
//! domain that moves from one counted provider to another has those hours published again, which sums
//! them anew without it under the old one.
//!
//! What that costs: a request writes nothing here (a row for a domain first seen aside); a publish
//! reads a `providers` row per domain of the hour outside the consumer table and writes the sums that
//! changed, one row per (hour, provider); the detector reads the sums of the window's hours to screen
//! providers and a candidate's own hours, whatever the number of its domains. So provider totals are
//! as fresh as the last publish (`PUBLISH_MINUTES`, 5 by default), the price of not writing a second
//! row per request.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::counters::{Buckets, Counts, Totals};
use crate::detect::Tracked;
use crate::provider::consumer::consumer_platform;
use crate::provider::{self, CachedResolution, Provider, Reason, Resolution, Resolver};
use crate::settings::Settings;
use crate::sql::{column, exec_in, Sql, SqlError, SqlValue};

use super::object::{hour_of, CounterObject, HOUR};

/// Due rows read per run for each look-up allowed: room for the stale ones deleted instead.
const ROWS_PER_LOOKUP: u64 = 4;
/// Domains a provider candidate names, busiest first: enough for the alert and the inhibition of its
/// own domains' alerts, bounded however many domains a provider hosts.
pub const MAX_NAMED_DOMAINS: usize = 50;
/// Domains a provider's hour names at most (the busiest); the others are counted, not named. 40 bytes
/// a domain: a sum stays under 400 KB however many domains a provider hosts.
pub const MAX_DOMAINS_PER_SUM: usize = 10_000;

/// The provider the object knows for `domain`: the consumer table, else its stored row, else `unknown`.
pub fn resolution_of<Q: Sql>(sql: &Q, domain: &str) -> Result<Resolution, SqlError> {
    if let Some(platform) = consumer_platform(domain) {
        return Ok(Resolution { provider: platform.into(), reason: Reason::ConsumerTable });
    }
    let rows = sql.exec("SELECT provider, reason FROM providers WHERE domain = ?", &[domain.into()])?;
    match rows.first() {
        None => Ok(Resolution::unresolved()),
        Some(row) => decode(column(row, 0, SqlValue::as_text)?, column(row, 1, SqlValue::as_text)?),
    }
}

/// The providers of `domains` that are not `unknown`: one row read per domain outside the consumer
/// table. An API table asks only for the domains it shows, never for every stored one (100,000 rows a
/// read at scenario (d)'s scale).
pub fn known_providers<Q: Sql>(sql: &Q, domains: &[String]) -> Result<BTreeMap<String, Provider>, SqlError> {
    let mut known = BTreeMap::new();
    for domain in domains {
        let provider = resolution_of(sql, domain)?.provider;
        if provider != Provider::Unknown {
            known.insert(domain.clone(), provider);
        }
    }
    Ok(known)
}

fn decode_provider(id: &str) -> Result<Provider, SqlError> {
    Provider::from_id(id).ok_or_else(|| SqlError(format!("stored provider {id:?} is corrupt")))
}

fn decode(provider: &str, reason: &str) -> Result<Resolution, SqlError> {
    let reason = crate::json::parse(reason).map_err(|e| SqlError(format!("stored provider reason is corrupt: {e}")))?;
    Ok(Resolution { provider: decode_provider(provider)?, reason })
}

fn encode_reason(reason: &Reason) -> Result<String, SqlError> {
    serde_json::to_string(reason).map_err(|e| SqlError(format!("cannot encode a provider reason: {e}")))
}

/// Files the domains a request wrote the first row of an hour for (`opened`) that are not stored yet
/// under `unknown`, due for a look-up now. A stored domain costs the row read and no write: whether it
/// still has traffic is asked of its counts when it falls due ([`look_up_due`]), not kept per request.
pub fn record<Q: Sql>(sql: &Q, opened: &[(u64, &str)], now: u64) -> Result<(), SqlError> {
    let domains: BTreeSet<&str> = opened.iter().map(|(_, d)| *d).filter(|d| consumer_platform(d).is_none()).collect();
    let unresolved = encode_reason(&Reason::Unresolved)?;
    for domain in domains {
        sql.exec(
            "INSERT OR IGNORE INTO providers (domain, provider, reason, due_at, failures) VALUES (?, 'unknown', ?, ?, 0)",
            &[domain.into(), unresolved.as_str().into(), now.into()],
        )?;
    }
    Ok(())
}

/// Files each domain a reply of the request was signed for (`gsmtp`, `protection.outlook.com`…) under
/// that provider, the decision order's second source: it beats an MX answer, the consumer table beats it
/// (consumer domains never arrive here). A domain already filed there costs its one row read and no
/// write. The signature holds [`provider::MAX_TTL_SECS`]; then the MX look-up decides again, until a
/// signed reply files it anew (two writes a week at most when the two disagree). Returns the hours to
/// publish again ([`Moved::republish`]).
pub fn sign<Q: Sql>(
    object: &CounterObject<'_, Q>,
    signed: &[(&str, &Provider)],
    now: u64,
) -> Result<BTreeSet<u64>, SqlError> {
    let reason = encode_reason(&Reason::ReplySignature)?;
    let mut moved = Moved::default();
    for &(domain, provider) in signed {
        // Only a named platform can sign a reply; anything else in a delta is not a signature.
        if !matches!(provider, Provider::Platform(_)) || consumer_platform(domain).is_some() {
            continue;
        }
        let before = resolution_of(object.sql, domain)?;
        if before.provider == *provider {
            continue;
        }
        object.sql.exec(
            "INSERT INTO providers (domain, provider, reason, due_at, failures) VALUES (?, ?, ?, ?, 0)
             ON CONFLICT (domain) DO UPDATE SET provider = excluded.provider, reason = excluded.reason,
             due_at = excluded.due_at, failures = 0",
            &[
                domain.into(),
                provider.id().as_ref().into(),
                reason.as_str().into(),
                now.saturating_add(provider::MAX_TTL_SECS).into(),
            ],
        )?;
        moved.add(domain, &before.provider, provider);
    }
    moved.apply(object, now)
}

/// The id a provider's counts are summed under; none for `unknown` (summed once it is resolved) and
/// `no_mail` (no receiver to throttle anything).
fn counted_id(provider: &Provider) -> Option<String> {
    match provider {
        Provider::Unknown | Provider::NoMail => None,
        known => Some(known.id().into_owned()),
    }
}

/// The domains whose provider changed in a request or a run, and what that does to the sums.
#[derive(Default)]
struct Moved<'d> {
    /// (domain, the provider it is counted under now).
    joined: Vec<(&'d str, String)>,
    /// Domains that left a counted provider: their recent hours are published (and so summed) again.
    left: Vec<&'d str>,
}

impl<'d> Moved<'d> {
    fn add(&mut self, domain: &'d str, before: &Provider, after: &Provider) {
        if counted_id(before).is_some() {
            self.left.push(domain);
        }
        if let Some(id) = counted_id(after) {
            self.joined.push((domain, id));
        }
    }

    /// Folds the joined domains in; returns the hours to publish again for those that left.
    fn apply<Q: Sql>(self, object: &CounterObject<'_, Q>, now: u64) -> Result<BTreeSet<u64>, SqlError> {
        let hours = recent_hours(object.settings, now);
        for (domain, id) in &self.joined {
            fold_in(object, domain, id, &hours)?;
        }
        let mut republish = BTreeSet::new();
        for domain in self.left {
            for hour in &hours {
                if !object.hours([*hour], Some(domain))?.is_empty() {
                    republish.insert(*hour);
                }
            }
        }
        Ok(republish)
    }
}

/// The hours a window starting now or later can overlap.
fn recent_hours(settings: &Settings, now: u64) -> Vec<u64> {
    let first = hour_of(settings.bucket_of(now.saturating_sub(settings.window_secs + settings.bucket_secs)));
    (first..=hour_of(now)).step_by(HOUR as usize).collect()
}

/// What a run's look-ups did, for the cron's log line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupReport {
    pub looked_up: u32,
    pub failed: u32,
    /// Rows of domains quiet for the retention, deleted when they fell due instead of looked up.
    pub forgotten: u32,
    /// `domain: why` per failed look-up: a DoH outage, a malformed or huge answer, SERVFAIL, a timeout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Hours to publish again: a domain of theirs left the provider it was summed under.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub republish: BTreeSet<u64>,
}

/// Looks up the due domains, at most `DOH_LOOKUPS_PER_RUN` (never-resolved first, then the longest
/// overdue), and stores what they answered. A failure keeps the previous provider and backs off
/// ([`CachedResolution::failed`]); it is never an error of the run. Domains newly counted under a
/// provider are folded into its sums; the hours of those that left one are in [`LookupReport::republish`].
pub async fn look_up_due<Q: Sql>(
    object: &CounterObject<'_, Q>,
    resolver: &dyn Resolver,
    now: u64,
) -> Result<LookupReport, SqlError> {
    let (sql, settings) = (object.sql, object.settings);
    let mut report = LookupReport::default();
    if settings.doh_lookups_per_run == 0 {
        return Ok(report);
    }
    let rows = sql.exec(
        "SELECT domain, provider, reason, due_at, failures FROM providers WHERE due_at <= ? ORDER BY due_at LIMIT ?",
        &[now.into(), (u64::from(settings.doh_lookups_per_run) * ROWS_PER_LOOKUP).into()],
    )?;
    let mut due: BTreeMap<String, CachedResolution> = BTreeMap::new();
    for row in &rows {
        let domain = column(row, 0, SqlValue::as_text)?;
        // A domain with no counts left in the retention is forgotten rather than looked up again.
        if !object.has_counts(domain, now.saturating_sub(settings.retention_secs), now)? {
            sql.exec("DELETE FROM providers WHERE domain = ?", &[domain.into()])?;
            report.forgotten += 1;
            continue;
        }
        let resolution = decode(column(row, 1, SqlValue::as_text)?, column(row, 2, SqlValue::as_text)?)?;
        let failures = u32::try_from(column(row, 4, SqlValue::as_u64)?).unwrap_or(u32::MAX);
        due.insert(
            domain.to_owned(),
            CachedResolution { resolution, due_at: column(row, 3, SqlValue::as_u64)?, failures },
        );
    }
    let candidates: Vec<provider::Candidate> = due
        .iter()
        .map(|(domain, cached)| provider::Candidate {
            domain,
            traffic: 0,
            due_at: cached.due_at,
            resolved_before: cached.resolution.provider != Provider::Unknown,
        })
        .collect();
    let planned = provider::plan(&candidates, now, settings.doh_lookups_per_run as usize);
    let mut moved = Moved::default();
    for domain in planned {
        let previous = &due[domain];
        report.looked_up += 1;
        let next = match resolver.lookup_mx(domain).await {
            Ok(answer) => CachedResolution::answered(now, &answer),
            Err(error) => {
                report.failed += 1;
                report.errors.push(format!("{domain}: {error}"));
                CachedResolution::failed(Some(previous), now, &error)
            }
        };
        sql.exec(
            "UPDATE providers SET provider = ?, reason = ?, due_at = ?, failures = ? WHERE domain = ?",
            &[
                next.resolution.provider.id().as_ref().into(),
                encode_reason(&next.resolution.reason)?.as_str().into(),
                next.due_at.into(),
                u64::from(next.failures).into(),
                domain.into(),
            ],
        )?;
        if next.resolution.provider != previous.resolution.provider {
            moved.add(domain, &previous.resolution.provider, &next.resolution.provider);
        }
    }
    report.republish = moved.apply(object, now)?;
    Ok(report)
}

/// Adds a newly counted domain's counts of `hours` to its provider's sums (a row read and written per
/// hour it has traffic in).
fn fold_in<Q: Sql>(object: &CounterObject<'_, Q>, domain: &str, provider: &str, hours: &[u64]) -> Result<(), SqlError> {
    for &hour in hours {
        let buckets = object.hours([hour], Some(domain))?;
        if buckets.is_empty() {
            continue;
        }
        let mut sum = read_sum(object.sql, hour, provider)?.unwrap_or_default();
        for (bucket, domains) in &buckets {
            for counts in domains.values() {
                sum.add(domain, *bucket, counts, object.settings);
            }
        }
        sum.cap();
        write_sum(object.sql, hour, provider, &sum, object.settings)?;
    }
    Ok(())
}

/// A domain in a provider's hour: the buckets it had counts in and those it had watched replies
/// (451s) in, as bits from the hour's first bucket, then its hour's attempts and watched replies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainHour(pub u64, pub u64, pub u64, pub u64);

/// One provider's hour in one object ([module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderHour {
    #[serde(rename = "b", default)]
    pub buckets: BTreeMap<u64, Counts>,
    #[serde(rename = "d", default)]
    pub domains: BTreeMap<String, DomainHour>,
    /// Domains past [`MAX_DOMAINS_PER_SUM`]: counted, not named.
    #[serde(rename = "o", default, skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The bit of `bucket` in its hour's masks.
fn bucket_bit(bucket: u64, settings: &Settings) -> u64 {
    1u64 << ((bucket - hour_of(bucket)) / settings.bucket_secs).min(63)
}

impl ProviderHour {
    fn add(&mut self, domain: &str, bucket: u64, counts: &Counts, settings: &Settings) {
        self.buckets.entry(bucket).or_default().merge(counts);
        let bit = bucket_bit(bucket, settings);
        let watched = counts.watched(&settings.spike_codes);
        let entry = self.domains.entry(domain.to_owned()).or_default();
        entry.0 |= bit;
        if watched > 0 {
            entry.1 |= bit;
        }
        entry.2 += counts.attempts();
        entry.3 += watched;
    }

    /// Keeps the [`MAX_DOMAINS_PER_SUM`] busiest domains named.
    fn cap(&mut self) {
        if self.domains.len() <= MAX_DOMAINS_PER_SUM {
            return;
        }
        let mut ranked: Vec<(String, DomainHour)> = std::mem::take(&mut self.domains).into_iter().collect();
        crate::sort::sort_by(&mut ranked, |a, b| (b.1 .2, b.1 .3, &a.0).cmp(&(a.1 .2, a.1 .3, &b.0)));
        self.omitted += (ranked.len() - MAX_DOMAINS_PER_SUM) as u64;
        ranked.truncate(MAX_DOMAINS_PER_SUM);
        self.domains = ranked.into_iter().collect();
    }

    fn watched(&self, settings: &Settings) -> u64 {
        self.buckets.values().map(|c| c.watched(&settings.spike_codes)).sum()
    }
}

fn read_sum<Q: Sql>(sql: &Q, hour: u64, provider: &str) -> Result<Option<ProviderHour>, SqlError> {
    let rows =
        sql.exec("SELECT sum FROM provider_sums WHERE hour = ? AND provider = ?", &[hour.into(), provider.into()])?;
    rows.first().map(|row| parse_sum(column(row, 0, SqlValue::as_text)?)).transpose()
}

fn parse_sum(text: &str) -> Result<ProviderHour, SqlError> {
    crate::json::parse(text).map_err(|e| SqlError(format!("stored provider sum is corrupt: {e}")))
}

fn encode_sum(sum: &ProviderHour) -> Result<String, SqlError> {
    serde_json::to_string(sum).map_err(|e| SqlError(format!("cannot encode a provider sum: {e}")))
}

fn write_sum<Q: Sql>(
    sql: &Q,
    hour: u64,
    provider: &str,
    sum: &ProviderHour,
    settings: &Settings,
) -> Result<(), SqlError> {
    put_sum(sql, hour, provider, sum.watched(settings), &encode_sum(sum)?)
}

/// Stores a sum already encoded (`text`), with its watched replies.
fn put_sum<Q: Sql>(sql: &Q, hour: u64, provider: &str, watched: u64, text: &str) -> Result<(), SqlError> {
    sql.exec(
        "INSERT INTO provider_sums (hour, provider, watched, sum) VALUES (?, ?, ?, ?)
         ON CONFLICT (hour, provider) DO UPDATE SET watched = excluded.watched, sum = excluded.sum",
        &[hour.into(), provider.into(), watched.into(), text.into()],
    )?;
    Ok(())
}

/// The counted provider of each of `domains`: the consumer table, else one `providers` row read per
/// domain (an `IN` list seeks them).
fn counted_providers<'d, Q: Sql>(
    sql: &Q,
    domains: impl IntoIterator<Item = &'d str>,
) -> Result<BTreeMap<&'d str, String>, SqlError> {
    let mut mapping = BTreeMap::new();
    let mut stored = Vec::new();
    for domain in domains {
        match consumer_platform(domain) {
            Some(platform) => {
                mapping.insert(domain, Provider::from(platform).id().into_owned());
            }
            None => stored.push(domain),
        }
    }
    let query = "SELECT domain, provider FROM providers WHERE domain IN ({})";
    exec_in(sql, query, &[], stored.iter().map(|d| SqlValue::from(*d)), |rows| {
        for row in &rows {
            let (domain, id) = (column(row, 0, SqlValue::as_text)?, column(row, 1, SqlValue::as_text)?);
            if let (Some(name), Some(id)) = (stored.iter().find(|d| **d == domain), counted_id(&decode_provider(id)?)) {
                mapping.insert(*name, id);
            }
        }
        Ok(true)
    })?;
    Ok(mapping)
}

/// Sums `hour`'s `buckets` (every domain's counts of the hour, as publish reads them) per provider and
/// stores the sums that changed: one row written per provider whose hour changed, one deleted per
/// provider none of whose domains it holds any more. Returns the rows written.
pub fn aggregate<Q: Sql>(object: &CounterObject<'_, Q>, hour: u64, buckets: &Buckets) -> Result<u64, SqlError> {
    let settings = object.settings;
    let domains: BTreeSet<&str> = buckets.values().flat_map(|d| d.keys().map(String::as_str)).collect();
    let mapping = counted_providers(object.sql, domains)?;
    let mut sums: BTreeMap<&str, ProviderHour> = BTreeMap::new();
    for (bucket, by_domain) in buckets {
        for (domain, counts) in by_domain {
            if let Some(id) = mapping.get(domain.as_str()) {
                sums.entry(id).or_default().add(domain, *bucket, counts, settings);
            }
        }
    }
    let mut stored: BTreeMap<String, String> = BTreeMap::new();
    for row in &object.sql.exec("SELECT provider, sum FROM provider_sums WHERE hour = ?", &[hour.into()])? {
        stored.insert(column(row, 0, SqlValue::as_text)?.to_owned(), column(row, 1, SqlValue::as_text)?.to_owned());
    }
    let mut written = 0;
    for (id, mut sum) in sums {
        sum.cap();
        // Encoded once: the comparison with the stored row and the write both need the text.
        let text = encode_sum(&sum)?;
        if stored.remove(id).as_deref() != Some(text.as_str()) {
            put_sum(object.sql, hour, id, sum.watched(settings), &text)?;
            written += 1;
        }
    }
    for id in stored.keys() {
        object
            .sql
            .exec("DELETE FROM provider_sums WHERE hour = ? AND provider = ?", &[hour.into(), id.as_str().into()])?;
        written += 1;
    }
    Ok(written)
}

/// One domain of a provider candidate, as its alert lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainShare {
    pub domain: String,
    /// Its attempts and watched replies (451s by default) in the hours the window overlaps.
    pub attempts: u64,
    pub watched: u64,
}

/// One object's share of a provider candidate: its domains' window summed, their buckets from where the
/// baseline resumes up to the window (summed per bucket; shard 0 folds the baseline of the sum), and the
/// domains with traffic in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderPart {
    pub window: Counts,
    pub baseline_buckets: BTreeMap<u64, Totals>,
    pub domain_count: u64,
    /// Busiest first (attempts, then 451s, then name), at most [`MAX_NAMED_DOMAINS`]; each with 451s in
    /// the window only when it has any.
    pub domains: Vec<DomainShare>,
}

impl ProviderPart {
    /// Adds another object's part of the same provider.
    pub fn merge(&mut self, other: ProviderPart) {
        self.window.merge(&other.window);
        for (bucket, totals) in other.baseline_buckets {
            *self.baseline_buckets.entry(bucket).or_default() += totals;
        }
        self.domain_count += other.domain_count;
        self.domains.extend(other.domains);
        sort_busiest(&mut self.domains);
    }
}

fn sort_busiest(domains: &mut Vec<DomainShare>) {
    crate::sort::sort_by(domains, |a, b| (b.attempts, b.watched, &a.domain).cmp(&(a.attempts, a.watched, &b.domain)));
    domains.truncate(MAX_NAMED_DOMAINS);
}

/// The providers whose watched replies in the hours `first..=last` reach `min` in this object: an upper
/// bound on the window's (the hours extend past it), read from the number column of those hours' sums
/// (summed here: a `GROUP BY` would scan the same rows and return fewer, hiding what it is billed).
fn hot_providers<Q: Sql>(sql: &Q, first: u64, last: u64, min: u64) -> Result<BTreeSet<String>, SqlError> {
    let rows = sql.exec(
        "SELECT provider, watched FROM provider_sums WHERE hour >= ? AND hour <= ?",
        &[hour_of(first).into(), hour_of(last).into()],
    )?;
    let mut watched: BTreeMap<&str, u64> = BTreeMap::new();
    for row in &rows {
        *watched.entry(column(row, 0, SqlValue::as_text)?).or_default() += column(row, 1, SqlValue::as_u64)?;
    }
    Ok(watched.into_iter().filter(|(_, n)| *n >= min).map(|(id, _)| id.to_owned()).collect())
}

/// A provider's sums of `hours` (a row read per hour it has one).
fn sums_of<Q: Sql>(sql: &Q, id: &str, hours: &[u64]) -> Result<Vec<ProviderHour>, SqlError> {
    let mut sums = Vec::new();
    let query = "SELECT sum FROM provider_sums WHERE provider = ? AND hour IN ({})";
    exec_in(sql, query, &[id.into()], hours.iter().map(|&h| SqlValue::from(h)), |rows| {
        for row in &rows {
            sums.push(parse_sum(column(row, 0, SqlValue::as_text)?)?);
        }
        Ok(true)
    })?;
    Ok(sums)
}

/// This object's part of each provider that may alert: the hot ones and those the detector tracks
/// (`tracked`, with where each baseline resumes from, computed by `resume`).
pub fn provider_parts<Q: Sql>(
    object: &CounterObject<'_, Q>,
    tracked: &BTreeMap<String, Tracked>,
    window: crate::counters::BucketRange,
    resume: impl Fn(Option<&Tracked>) -> u64,
) -> Result<BTreeMap<String, ProviderPart>, SqlError> {
    let settings = object.settings;
    // A provider with SPIKE_MIN_451 in all has at least this share in one object; the others report it
    // from the next run on, once it is tracked.
    let min = settings.min_451.div_ceil(u64::from(settings.counter_shards)).max(1);
    let mut wanted = hot_providers(object.sql, window.first, window.last, min)?;
    wanted.extend(tracked.keys().cloned());
    let in_window = |bucket: u64| (window.first..=window.last).contains(&bucket);
    let mut parts = BTreeMap::new();
    for id in wanted {
        let from = resume(tracked.get(&id)).min(window.first);
        let hours: Vec<u64> = (hour_of(from)..=hour_of(window.last)).step_by(HOUR as usize).collect();
        let mut part = ProviderPart::default();
        let mut shares: BTreeMap<String, DomainShare> = BTreeMap::new();
        for sum in sums_of(object.sql, &id, &hours)? {
            let mut mask = 0;
            for (bucket, counts) in sum.buckets.into_iter().filter(|(b, _)| (from..=window.last).contains(b)) {
                if in_window(bucket) {
                    mask |= bucket_bit(bucket, settings);
                    part.window.merge(&counts);
                } else {
                    *part.baseline_buckets.entry(bucket).or_default() += Totals::of(&counts, &settings.spike_codes);
                }
            }
            if mask == 0 {
                continue;
            }
            part.domain_count += sum.omitted;
            for (domain, DomainHour(active, watching, attempts, watched)) in sum.domains {
                if active & mask != 0 {
                    let share = shares
                        .entry(domain.clone())
                        .or_insert_with(|| DomainShare { domain, ..DomainShare::default() });
                    share.attempts += attempts;
                    share.watched += if watching & mask != 0 { watched } else { 0 };
                }
            }
        }
        part.domain_count += shares.len() as u64;
        part.domains = shares.into_values().collect();
        sort_busiest(&mut part.domains);
        parts.insert(id, part);
    }
    Ok(parts)
}
