//! The read API: `GET /api/domains`, `GET /api/domains/{domain}`, `GET /api/streams` and
//! `GET /api/alerts`. Read-only: each request costs one call to each counting object (for the hours KV may not hold yet, and the alert
//! phases) and a KV `get` per settled hour page of its window, and never writes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alert::Scope;
use crate::breakdown::{ranked, Dimension, Sources, ValueShare, MAX_VALUES};
use crate::classify::{Category, Entity};
use crate::counters::{BucketRange, Buckets, Counts, DomainCounts, Sample, Window};
use crate::counting::detection::AlertsView;
use crate::counting::read::{read_range, read_window};
use crate::counting::{call, Counter, Request};
use crate::detect::{Alert, Phase};
use crate::error::AppError;
use crate::period::Comparison;
use crate::provider::Provider;
use crate::settings::Settings;
use crate::silence::Silence;
use crate::store::Store;

use super::csv::{self, Format};
use super::{Context, HttpRequest, HttpResponse};

const DEFAULT_WINDOW: Window = Window::Hours24;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
const MAX_DOMAIN_SAMPLES: usize = 10;

#[derive(Serialize)]
struct DomainSummary<'a> {
    domain: &'a str,
    /// Its mailbox provider as known now (`unknown` until the cron has looked it up).
    provider: Provider,
    attempts: u64,
    delivered: u64,
    deferred: u64,
    bounced: u64,
    dropped: u64,
    smtp_451: u64,
    ratio_451: f64,
    /// The replies `SPIKE_CODES` watches (the 451s by default), and their ratio.
    deferrals_watched: u64,
    ratio_watched: f64,
    categories: &'a BTreeMap<Category, u64>,
    status: Phase,
    /// The same window one period earlier, and the change since.
    #[serde(flatten)]
    comparison: Comparison,
}

#[derive(Serialize)]
struct DomainList<'a> {
    window: &'static str,
    domains: Vec<DomainSummary<'a>>,
}

/// `GET /api/domains?window=…&limit=…`: domains by 451 count, most first.
pub async fn domains<S: Store, C: Counter>(
    req: &HttpRequest,
    ctx: &Context<'_, S, C>,
) -> Result<HttpResponse, AppError> {
    let window = window_param(req, &Window::ALL)?;
    let limit = limit_param(req)?;
    let format = Format::requested(req)?;
    let settings = Settings::from_config(ctx.config)?;
    let mut read = read_window(ctx.store, ctx.counter, &settings, window, ctx.now, None).await?;
    let totals = crate::counters::sum_all(&read.buckets);
    let previous = read.previous.as_ref().map(crate::counters::sum_all);
    let phases = &read.phases;
    let mut domains: Vec<DomainSummary> = totals
        .iter()
        .map(|(domain, c)| DomainSummary {
            domain,
            provider: Provider::Unknown,
            attempts: c.attempts(),
            delivered: c.delivered,
            deferred: c.deferred,
            bounced: c.bounced,
            dropped: c.dropped,
            smtp_451: c.smtp_451,
            ratio_451: c.ratio_451(),
            deferrals_watched: c.watched(&settings.spike_codes),
            ratio_watched: c.ratio_watched(&settings.spike_codes),
            categories: &c.categories,
            status: phases.get(domain).copied().unwrap_or_default(),
            comparison: compared(c, previous.as_ref(), domain),
        })
        .collect();
    crate::sort::sort_by(&mut domains, |a, b| b.smtp_451.cmp(&a.smtp_451).then(b.attempts.cmp(&a.attempts)));
    domains.truncate(limit);
    read.learn_providers(ctx.counter, &settings, domains.iter().map(|d| d.domain)).await?;
    for row in &mut domains {
        row.provider = read.provider_of(row.domain);
    }
    Ok(match format {
        Format::Json => HttpResponse::json(200, &DomainList { window: window.as_str(), domains }),
        Format::Csv => csv::table(csv::DOMAIN_COLUMNS, &domains, &format!("domains-{}.csv", window.as_str())),
    }
    .with_header("vary", "accept"))
}

#[derive(Serialize)]
pub(super) struct BucketView<'a> {
    start: u64,
    delivered: u64,
    deferred: u64,
    bounced: u64,
    smtp_451: u64,
    categories: &'a BTreeMap<Category, u64>,
}

impl<'a> BucketView<'a> {
    pub(super) fn of(start: u64, counts: &'a Counts) -> BucketView<'a> {
        BucketView {
            start,
            delivered: counts.delivered,
            deferred: counts.deferred,
            bounced: counts.bounced,
            smtp_451: counts.smtp_451,
            categories: &counts.categories,
        }
    }
}

/// A sample with the blocklist, filter or provider its text names, found again at read time (the
/// classifier is cheap, and storing it would cost every row).
#[derive(Serialize)]
struct SampleView {
    #[serde(flatten)]
    sample: Sample,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity: Option<&'static Entity>,
}

#[derive(Serialize)]
struct DomainDetail<'a> {
    domain: &'a str,
    provider: Provider,
    buckets: Vec<BucketView<'a>>,
    samples: Vec<SampleView>,
    status: Phase,
    /// What to do about each category seen in the window, where there is advice beyond the spike advice;
    /// served so the dashboard words it exactly as the alerts do.
    advice: BTreeMap<Category, &'static str>,
    spike_advice: &'static str,
    /// Which sending IPs, pools, sending domains and tags the window's 451s came from.
    #[serde(flatten)]
    sources: Sources,
    #[serde(flatten)]
    comparison: Comparison,
    /// The period before's non-empty buckets, at their own times (absent when it is not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_buckets: Option<Vec<BucketView<'a>>>,
}

/// `GET /api/domains/{domain}?window=…`: the domain's non-empty buckets, oldest first, and its samples.
pub async fn domain<S: Store, C: Counter>(
    req: &HttpRequest,
    ctx: &Context<'_, S, C>,
    name: &str,
) -> Result<HttpResponse, AppError> {
    let domain = domain_param(name)?;
    let window = window_param(req, &Window::ALL)?;
    let format = Format::requested(req)?;
    let settings = Settings::from_config(ctx.config)?;
    let read = read_window(ctx.store, ctx.counter, &settings, window, ctx.now, Some(&domain)).await?;
    let (all, views) = domain_buckets(&read.buckets, &domain);
    let previous = read.previous.as_ref().map(|buckets| domain_buckets(buckets, &domain));
    let comparison = Comparison::of(&all, previous.as_ref().map(|(sum, _)| sum));
    let sources = Sources::of(&read.dimensions());
    let mut samples = all.samples.clone();
    crate::sort::sort_by_key(&mut samples, |s| std::cmp::Reverse(s.count));
    samples.truncate(MAX_DOMAIN_SAMPLES);
    let samples = samples
        .into_iter()
        .map(|sample| SampleView { entity: crate::classify::classify(&sample.reply).entity, sample })
        .collect();
    let status = read.phases.get(&domain).copied().unwrap_or_default();
    let advice =
        crate::sort::map(all.categories.keys().filter_map(|&c| crate::advice::cause_advice(c).map(|a| (c, a))));
    let detail = DomainDetail {
        domain: &domain,
        provider: read.provider_of(&domain),
        buckets: views,
        samples,
        status,
        advice,
        spike_advice: crate::advice::SPIKE_ADVICE,
        sources,
        comparison,
        previous_buckets: previous.map(|(_, views)| views),
    };
    Ok(match format {
        Format::Json => HttpResponse::json(200, &detail),
        Format::Csv => csv::table(csv::BUCKET_COLUMNS, &detail.buckets, &format!("{domain}-{}.csv", window.as_str())),
    }
    .with_header("vary", "accept"))
}

/// `domain`'s buckets of `buckets` as the detail routes show them, and their sum.
fn domain_buckets<'a>(buckets: &'a Buckets, domain: &str) -> (Counts, Vec<BucketView<'a>>) {
    let mut all = Counts::default();
    let mut views = Vec::new();
    for (start, counts) in buckets.iter().filter_map(|(start, d)| d.get(domain).map(|c| (*start, c))) {
        all.merge(counts);
        views.push(BucketView::of(start, counts));
    }
    (all, views)
}

/// `current` against `key`'s counts in the period before (none there is a real zero), when that period
/// is kept.
pub(super) fn compared(current: &Counts, previous: Option<&DomainCounts>, key: &str) -> Comparison {
    let empty = Counts::default();
    Comparison::of(current, previous.map(|p| p.get(key).unwrap_or(&empty)))
}

/// The part of one dimension's mail that went out under values beyond the cap.
#[derive(Serialize)]
struct OtherView {
    attempts: u64,
    smtp_451: u64,
    ratio_451: f64,
}

#[derive(Serialize)]
struct StreamList {
    window: &'static str,
    attempts: u64,
    smtp_451: u64,
    sending_ip: Vec<ValueShare>,
    ip_pool: Vec<ValueShare>,
    sending_domain: Vec<ValueShare>,
    tag: Vec<ValueShare>,
    /// Per dimension, what the values past the cap add up to; only dimensions that had any.
    other: BTreeMap<&'static str, OtherView>,
}

/// `GET /api/streams?window=…`: every sending IP, pool, sending domain and tag, across all recipient
/// domains, most 451s first. Each (domain, bucket) keeps [`MAX_VALUES`] values per dimension and so does
/// the sum, so a sender with more streams than that sees the heaviest and the rest as `other`.
pub async fn streams<S: Store, C: Counter>(
    req: &HttpRequest,
    ctx: &Context<'_, S, C>,
) -> Result<HttpResponse, AppError> {
    let window = window_param(req, &Window::HOURLY)?;
    let settings = Settings::from_config(ctx.config)?;
    let range = BucketRange::ending_at(ctx.now, window.secs(), &settings);
    let dimensions = read_range(ctx.store, ctx.counter, &settings, range, None).await?.dimensions();
    let listed = |dimension| ranked(&dimensions, dimension, MAX_VALUES);
    let other = crate::sort::map(
        Dimension::ALL
            .iter()
            .map(|&d| (d.as_str(), dimensions.dimension(d).other()))
            .filter(|(_, tally)| !tally.is_zero())
            .map(|(name, t)| {
                (name, OtherView { attempts: t.attempts, smtp_451: t.smtp_451, ratio_451: t.ratio_451() })
            }),
    );
    let list = StreamList {
        window: window.as_str(),
        attempts: dimensions.attempts,
        smtp_451: dimensions.smtp_451,
        sending_ip: listed(Dimension::SendingIp),
        ip_pool: listed(Dimension::IpPool),
        sending_domain: listed(Dimension::SendingDomain),
        tag: listed(Dimension::Tag),
        other,
    };
    Ok(HttpResponse::json(200, &list))
}

/// An open alert, with the silence that mutes it.
#[derive(Serialize)]
struct ActiveAlert<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    #[serde(skip_serializing_if = "Option::is_none")]
    silenced: Option<&'a Silence>,
}

/// `GET /api/alerts`: open alerts (each silenced one with its silence), and those resolved in the last week.
pub async fn alerts<S: Store, C: Counter>(ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let view: AlertsView = call(ctx.counter, 0, &Request::Alerts).await?;
    let active: Vec<ActiveAlert> = view
        .active
        .iter()
        .map(|alert| ActiveAlert { alert, silenced: view.silences.silencing_scope(&Scope::of(alert), ctx.now) })
        .collect();
    let body = serde_json::json!({ "active": active, "recent": view.recent, "drifts": view.drifts });
    Ok(HttpResponse::json(200, &body))
}

/// `?window=`, one of `allowed` (the routes without history take the hourly windows only).
pub(super) fn window_param(req: &HttpRequest, allowed: &[Window]) -> Result<Window, AppError> {
    match req.query_param("window") {
        None => Ok(DEFAULT_WINDOW),
        Some(name) => Window::from_name(&name).filter(|w| allowed.contains(w)).ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|w| w.as_str()).collect();
            AppError::BadRequest(format!("query parameter `window` must be one of {}, not {name:?}", names.join(", ")))
        }),
    }
}

fn limit_param(req: &HttpRequest) -> Result<usize, AppError> {
    match req.query_param("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => raw.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            AppError::BadRequest(format!("query parameter `limit` must be a whole number from 1 to {MAX_LIMIT}"))
        }),
    }
}

/// A recipient domain as `GET /api/domains` lists it, in any case. Checked by the validator the adapters
/// store with ([`crate::domain`]), so every stored domain is answered; a name it would store otherwise (a
/// Unicode spelling, a trailing dot) is refused rather than mapped, so that the route takes exactly what
/// the OpenAPI document's pattern declares. In the Worker the runtime percent-encodes a Unicode path
/// anyway (`b%C3%BCcher.de`), which no validator could take for a name.
fn domain_param(name: &str) -> Result<String, AppError> {
    let refused = |why: &str| {
        AppError::BadRequest(format!(
            "path parameter `domain` must be a domain as /api/domains lists it, like gmail.com (IDNs in punycode): {why}"
        ))
    };
    let domain = crate::domain::normalize(name).map_err(|why| refused(&why.to_string()))?;
    if domain != name.to_ascii_lowercase() {
        return Err(refused(&format!("this name is stored as {domain}")));
    }
    Ok(domain)
}
