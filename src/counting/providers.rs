//! The counting object's provider dimension (issue 13): the provider of each of its domains, the MX
//! look-ups that decide it, and the per-(hour, provider) deferral totals that tell the cron a provider
//! may be spiking without reading every domain's rows.
//!
//! The mapping is applied when counts are summed (here for detection, in the API for its tables), never
//! frozen into the counts, so a domain resolved now joins its provider with its whole history. What is
//! kept per provider is only an upper bound used to pick candidates: [`record`] adds a request's 451s to
//! its (hour, provider) when the domain's provider is known, and [`look_up_due`] folds a newly resolved
//! domain's recent hours in once. A candidate's exact counts come from its domains' rows
//! ([`provider_parts`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::counters::{Counts, Totals};
use crate::detect::Tracked;
use crate::provider::consumer::{consumer_platform, CONSUMER_DOMAINS};
use crate::provider::{self, CachedResolution, Provider, Reason, Resolution, Resolver};
use crate::sql::{column, Sql, SqlError, SqlValue};

use super::object::{hour_of, CounterObject, HOUR};

/// A domain's `seen` hour is rewritten when it is at least this old: a row written a day per domain at
/// most, and a domain quiet for the retention is still recognised as such.
const SEEN_REFRESH_SECS: u64 = 86_400;
/// Due rows read per run for each look-up allowed: room for the stale ones deleted instead.
const ROWS_PER_LOOKUP: u64 = 4;
/// Domains a provider candidate names, busiest first: enough for the alert and the inhibition of its
/// own domains' alerts, bounded however many domains a provider hosts.
pub const MAX_NAMED_DOMAINS: usize = 50;

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

/// What one applied request means for providers: `opened` are the (hour, domain)s it wrote the first
/// row of (a domain not stored yet gets its `unknown` row, due for a look-up now), `watched` the 451s it
/// added per (hour, domain), summed per (hour, provider) for the domains whose provider is known.
pub fn record<Q: Sql>(sql: &Q, opened: &[(u64, &str)], watched: &[(u64, &str, u64)], now: u64) -> Result<(), SqlError> {
    let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
    for &(hour, domain) in opened.iter().filter(|(_, d)| consumer_platform(d).is_none()) {
        let seen = newest.entry(domain).or_insert(hour);
        *seen = (*seen).max(hour);
    }
    let unresolved = encode_reason(&Reason::Unresolved)?;
    for (domain, hour) in newest {
        sql.exec(
            "INSERT INTO providers (domain, provider, reason, due_at, failures, seen) VALUES (?, 'unknown', ?, ?, 0, ?)
             ON CONFLICT (domain) DO UPDATE SET seen = excluded.seen WHERE providers.seen + ? <= excluded.seen",
            &[domain.into(), unresolved.as_str().into(), now.into(), hour.into(), SEEN_REFRESH_SECS.into()],
        )?;
    }
    let mut per_provider: BTreeMap<(u64, String), u64> = BTreeMap::new();
    for &(hour, domain, n) in watched.iter().filter(|w| w.2 > 0) {
        if let Some(id) = counted_id(&resolution_of(sql, domain)?.provider) {
            *per_provider.entry((hour, id)).or_default() += n;
        }
    }
    for ((hour, id), n) in per_provider {
        add_watched(sql, hour, &id, n)?;
    }
    Ok(())
}

/// Files each domain a reply of the request was signed for (`gsmtp`, `protection.outlook.com`…) under
/// that provider, the decision order's second source: it beats an MX answer, the consumer table beats it
/// (consumer domains never arrive here). A domain already filed there costs its one row read and no
/// write. The signature holds [`provider::MAX_TTL_SECS`]; then the MX look-up decides again, until a
/// signed reply files it anew (two writes a week at most when the two disagree). A domain newly counted
/// under a provider has its recent 451s folded in, as a look-up does, so a spike of domains first seen
/// this hour is caught by this run.
pub fn sign<Q: Sql>(object: &CounterObject<'_, Q>, signed: &[(&str, &Provider)], now: u64) -> Result<(), SqlError> {
    let reason = encode_reason(&Reason::ReplySignature)?;
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
            "INSERT INTO providers (domain, provider, reason, due_at, failures, seen) VALUES (?, ?, ?, ?, 0, ?)
             ON CONFLICT (domain) DO UPDATE SET provider = excluded.provider, reason = excluded.reason,
             due_at = excluded.due_at, failures = 0",
            &[
                domain.into(),
                provider.id().as_ref().into(),
                reason.as_str().into(),
                now.saturating_add(provider::MAX_TTL_SECS).into(),
                hour_of(now).into(),
            ],
        )?;
        if let Some(id) = counted_id(provider) {
            fold_in(object, domain, &id, now)?;
        }
    }
    Ok(())
}

/// The id a provider's deferrals are summed under; none for `unknown` (folded in once it is resolved)
/// and `no_mail` (no receiver to throttle anything).
fn counted_id(provider: &Provider) -> Option<String> {
    match provider {
        Provider::Unknown | Provider::NoMail => None,
        known => Some(known.id().into_owned()),
    }
}

fn add_watched<Q: Sql>(sql: &Q, hour: u64, provider: &str, n: u64) -> Result<(), SqlError> {
    sql.exec(
        "INSERT INTO provider_hours (hour, provider, watched) VALUES (?, ?, ?)
         ON CONFLICT (hour, provider) DO UPDATE SET watched = provider_hours.watched + excluded.watched",
        &[hour.into(), provider.into(), n.into()],
    )?;
    Ok(())
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
}

/// Looks up the due domains, at most `DOH_LOOKUPS_PER_RUN` (never-resolved first, then the longest
/// overdue), and stores what they answered. A failure keeps the previous provider and backs off
/// ([`CachedResolution::failed`]); it is never an error of the run.
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
        "SELECT domain, provider, reason, due_at, failures, seen FROM providers WHERE due_at <= ? ORDER BY due_at LIMIT ?",
        &[now.into(), (u64::from(settings.doh_lookups_per_run) * ROWS_PER_LOOKUP).into()],
    )?;
    let mut due: BTreeMap<String, CachedResolution> = BTreeMap::new();
    for row in &rows {
        let domain = column(row, 0, SqlValue::as_text)?;
        if column(row, 5, SqlValue::as_u64)? + settings.retention_secs < now {
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
    for domain in provider::plan(&candidates, now, settings.doh_lookups_per_run as usize) {
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
            if let Some(id) = counted_id(&next.resolution.provider) {
                fold_in(object, domain, &id, now)?;
            }
        }
    }
    Ok(report)
}

/// Adds a newly resolved domain's 451s of the hours a window can still overlap to its provider's hours,
/// so a spike that began while the domain was `unknown` is seen at once.
fn fold_in<Q: Sql>(object: &CounterObject<'_, Q>, domain: &str, provider: &str, now: u64) -> Result<(), SqlError> {
    let settings = object.settings;
    let first = hour_of(settings.bucket_of(now.saturating_sub(settings.window_secs + settings.bucket_secs)));
    let hours: Vec<u64> = (first..=hour_of(now)).step_by(HOUR as usize).collect();
    let query = format!(
        "SELECT hour, smtp_451 FROM counts WHERE domain = ? AND hour IN ({})",
        vec!["?"; hours.len()].join(", ")
    );
    let mut params: Vec<SqlValue> = vec![domain.into()];
    params.extend(hours.iter().map(|&h| SqlValue::from(h)));
    let mut per_hour: BTreeMap<u64, u64> = BTreeMap::new();
    for row in &object.sql.exec(&query, &params)? {
        *per_hour.entry(column(row, 0, SqlValue::as_u64)?).or_default() += column(row, 1, SqlValue::as_u64)?;
    }
    for (hour, n) in per_hour.into_iter().filter(|(_, n)| *n > 0) {
        add_watched(object.sql, hour, provider, n)?;
    }
    Ok(())
}

/// One domain of a provider candidate, as its alert lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainShare {
    pub domain: String,
    pub attempts: u64,
    /// Its replies `SPIKE_CODES` watches (451s by default).
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
    /// Busiest first (attempts, then 451s, then name), at most [`MAX_NAMED_DOMAINS`].
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

/// The providers whose 451s in the hours `first..=last` reach `min` in this object: an upper bound on
/// the window's (the hours extend past it), read from the few `provider_hours` rows of those hours.
pub fn hot_providers<Q: Sql>(sql: &Q, first: u64, last: u64, min: u64) -> Result<BTreeSet<String>, SqlError> {
    let rows = sql.exec(
        "SELECT provider FROM provider_hours WHERE hour >= ? AND hour <= ? GROUP BY provider HAVING SUM(watched) >= ?",
        &[hour_of(first).into(), hour_of(last).into(), min.into()],
    )?;
    rows.iter().map(|row| Ok(column(row, 0, SqlValue::as_text)?.to_owned())).collect()
}

/// A provider's domains in this object: its consumer-table domains and the stored ones resolved to it.
fn domains_of<Q: Sql>(sql: &Q, id: &str) -> Result<Vec<String>, SqlError> {
    let mut domains: Vec<String> = match Provider::from_id(id) {
        Some(Provider::Platform(platform)) => CONSUMER_DOMAINS
            .iter()
            .filter(|row| row.platform == platform)
            .flat_map(|row| row.domains.iter().map(|d| (*d).to_owned()))
            .collect(),
        _ => Vec::new(),
    };
    for row in &sql.exec("SELECT domain FROM providers WHERE provider = ?", &[id.into()])? {
        domains.push(column(row, 0, SqlValue::as_text)?.to_owned());
    }
    Ok(domains)
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
    let mut parts = BTreeMap::new();
    for id in wanted {
        let from = resume(tracked.get(&id));
        let mut part = ProviderPart::default();
        for domain in domains_of(object.sql, &id)? {
            let mut in_window = Counts::default();
            for (bucket, counts) in object.domain_range(&domain, from.min(window.first), window.last)? {
                if bucket >= window.first {
                    in_window.merge(&counts);
                } else {
                    *part.baseline_buckets.entry(bucket).or_default() += Totals::of(&counts, &settings.spike_codes);
                }
            }
            let watched = in_window.watched(&settings.spike_codes);
            if in_window.attempts() + watched > 0 {
                part.domain_count += 1;
                part.domains.push(DomainShare { domain, attempts: in_window.attempts(), watched });
                part.window.merge(&in_window);
            }
        }
        sort_busiest(&mut part.domains);
        parts.insert(id, part);
    }
    Ok(parts)
}
