//! `GET /api/providers` and `GET /api/providers/{provider}`: the domains' counts summed per mailbox
//! provider at read time, with each domain's provider as known now. The same reads as `/api/domains`
//! (one call per counting object, a KV get per settled hour page), plus one row read per resolved domain
//! in the objects.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::breakdown::Sources;
use crate::classify::Category;
use crate::counters::{BucketRange, Counts, Sample};
use crate::counting::read::{dimensions_of_domains, read_range, RangeCounts};
use crate::counting::Counter;
use crate::detect::Phase;
use crate::error::AppError;
use crate::provider::{by_provider, Provider};
use crate::settings::Settings;
use crate::store::Store;

use super::csv::{self, Format};
use super::stats::{window_param, BucketView};
use super::{Context, HttpRequest, HttpResponse};

/// Domains a provider's page lists, busiest first.
pub(crate) const MAX_TOP_DOMAINS: usize = 20;
const MAX_PROVIDER_SAMPLES: usize = 10;

#[derive(Serialize)]
struct ProviderSummary {
    provider: Provider,
    name: String,
    /// Domains with traffic in the window.
    domains: usize,
    attempts: u64,
    delivered: u64,
    deferred: u64,
    bounced: u64,
    smtp_451: u64,
    ratio_451: f64,
    /// The replies `SPIKE_CODES` watches (the 451s by default), and their ratio.
    deferrals_watched: u64,
    ratio_watched: f64,
    categories: BTreeMap<Category, u64>,
    status: Phase,
}

#[derive(Serialize)]
struct ProviderList {
    window: &'static str,
    providers: Vec<ProviderSummary>,
}

fn status(read: &RangeCounts, provider: &Provider) -> Phase {
    read.provider_phases.get(provider.id().as_ref()).copied().unwrap_or_default()
}

async fn read_window<S: Store, C: Counter>(
    req: &HttpRequest,
    ctx: &Context<'_, S, C>,
) -> Result<(crate::counters::Window, BucketRange, RangeCounts), AppError> {
    let window = window_param(req)?;
    let settings = Settings::from_config(ctx.config)?;
    let range = BucketRange::ending_at(ctx.now, window.secs(), &settings);
    let mut read = read_range(ctx.store, ctx.counter, &settings, range, None).await?;
    // Every domain with traffic in the range, since any may be the provider's.
    let domains = crate::sort::set(read.buckets.values().flat_map(|d| d.keys().cloned()));
    read.learn_providers(ctx.counter, &settings, domains.iter().map(String::as_str)).await?;
    Ok((window, range, read))
}

/// `GET /api/providers?window=…`: providers by 451 count, most first.
pub async fn list<S: Store, C: Counter>(req: &HttpRequest, ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let format = Format::requested(req)?;
    let (window, range, read) = read_window(req, ctx).await?;
    let codes = Settings::from_config(ctx.config)?.spike_codes;
    let totals = crate::counters::sum_range(&read.buckets, range);
    let mut providers: Vec<ProviderSummary> = by_provider(&totals, |d| read.provider_of(d), 0)
        .into_iter()
        .map(|t| ProviderSummary {
            name: t.provider.name().into_owned(),
            status: status(&read, &t.provider),
            domains: t.domains,
            attempts: t.counts.attempts(),
            delivered: t.counts.delivered,
            deferred: t.counts.deferred,
            bounced: t.counts.bounced,
            smtp_451: t.counts.smtp_451,
            ratio_451: t.counts.ratio_451(),
            deferrals_watched: t.counts.watched(&codes),
            ratio_watched: t.counts.ratio_watched(&codes),
            categories: t.counts.categories,
            provider: t.provider,
        })
        .collect();
    crate::sort::sort_by(&mut providers, |a, b| b.smtp_451.cmp(&a.smtp_451).then(b.attempts.cmp(&a.attempts)));
    Ok(match format {
        Format::Json => HttpResponse::json(200, &ProviderList { window: window.as_str(), providers }),
        Format::Csv => csv::table(csv::PROVIDER_COLUMNS, &providers, &format!("providers-{}.csv", window.as_str())),
    }
    .with_header("vary", "accept"))
}

#[derive(Serialize)]
struct TopDomain<'a> {
    domain: &'a str,
    attempts: u64,
    smtp_451: u64,
    ratio_451: f64,
    status: Phase,
}

#[derive(Serialize)]
struct ProviderDetail<'a> {
    provider: &'a Provider,
    name: String,
    window: &'static str,
    status: Phase,
    domains: usize,
    buckets: Vec<BucketView<'a>>,
    categories: BTreeMap<Category, u64>,
    top_domains: Vec<TopDomain<'a>>,
    samples: Vec<Sample>,
    advice: BTreeMap<Category, &'static str>,
    spike_advice: &'static str,
    /// Which sending IPs, pools, sending domains and tags the 451s of its busiest domains came from.
    #[serde(flatten)]
    sources: Sources,
}

/// `GET /api/providers/{provider}?window=…`: the provider's buckets (its domains summed), causes, busiest
/// domains and samples. A valid id with no traffic is an empty page, like an unknown domain's.
pub async fn detail<S: Store, C: Counter>(
    req: &HttpRequest,
    ctx: &Context<'_, S, C>,
    id: &str,
) -> Result<HttpResponse, AppError> {
    // `other:` ids hold a colon, which a client may send percent-encoded.
    let id = super::percent_decode(id);
    let provider = Provider::from_id(&id).ok_or_else(|| {
        AppError::BadRequest(format!(
            "path parameter `provider` must be a provider id as /api/providers lists it (google, microsoft, \
             other:example-hosting.net, unknown, no_mail), not {:?}",
            id.chars().take(80).collect::<String>()
        ))
    })?;
    let format = Format::requested(req)?;
    let (window, range, read) = read_window(req, ctx).await?;
    let mut per_bucket: BTreeMap<u64, Counts> = BTreeMap::new();
    let mut per_domain: BTreeMap<&str, Counts> = BTreeMap::new();
    for (start, domains) in &read.buckets {
        for (domain, counts) in domains.iter().filter(|(d, _)| read.provider_of(d) == provider) {
            per_bucket.entry(*start).or_default().merge(counts);
            per_domain.entry(domain.as_str()).or_default().merge(counts);
        }
    }
    let mut all = Counts::default();
    for counts in per_bucket.values() {
        all.merge(counts);
    }
    let mut top: Vec<TopDomain> = per_domain
        .iter()
        .map(|(domain, c)| TopDomain {
            domain,
            attempts: c.attempts(),
            smtp_451: c.smtp_451,
            ratio_451: c.ratio_451(),
            status: read.phases.get(*domain).copied().unwrap_or_default(),
        })
        .collect();
    crate::sort::sort_by(&mut top, |a, b| (b.smtp_451, b.attempts, a.domain).cmp(&(a.smtp_451, a.attempts, b.domain)));
    top.truncate(MAX_TOP_DOMAINS);
    // The dimensions live in the domains' own rows (the pages sum them per shard): one object request
    // per listed domain, so the breakdown covers the busiest MAX_TOP_DOMAINS, where the 451s are.
    let settings = Settings::from_config(ctx.config)?;
    let sources =
        Sources::of(&dimensions_of_domains(ctx.counter, &settings, range, top.iter().map(|t| t.domain)).await?);
    let mut samples = std::mem::take(&mut all.samples);
    crate::sort::sort_by_key(&mut samples, |s| std::cmp::Reverse(s.count));
    samples.truncate(MAX_PROVIDER_SAMPLES);
    let advice = all.categories.keys().filter_map(|&c| crate::advice::cause_advice(c).map(|a| (c, a))).collect();
    let detail = ProviderDetail {
        provider: &provider,
        name: provider.name().into_owned(),
        window: window.as_str(),
        status: status(&read, &provider),
        domains: per_domain.len(),
        buckets: per_bucket.iter().map(|(start, c)| BucketView::of(*start, c)).collect(),
        categories: all.categories.clone(),
        top_domains: top,
        samples,
        advice,
        spike_advice: crate::advice::SPIKE_ADVICE,
        sources,
    };
    Ok(match format {
        Format::Json => HttpResponse::json(200, &detail),
        Format::Csv => {
            // `other:` ids hold a colon, which a file name should not.
            let name = detail.provider.id().replace(':', "-");
            csv::table(csv::BUCKET_COLUMNS, &detail.buckets, &format!("{name}-{}.csv", window.as_str()))
        }
    }
    .with_header("vary", "accept"))
}
