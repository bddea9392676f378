//! `GET /api/providers` and `GET /api/providers/{provider}`: the domains' counts summed per mailbox
//! provider at read time, with each domain's provider as known now. The same reads as `/api/domains`
//! (one call per counting object, a KV get per settled hour page), plus one row read per resolved domain
//! in the objects.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::breakdown::Sources;
use crate::classify::Category;
use crate::counters::{BucketRange, Buckets, Counts, DomainCounts, Sample, Window};
use crate::counting::history::{day_of, HistoryQuery, HistoryScope};
use crate::counting::read::{
    counts_of_domains, history_holds_previous, read_history, read_window, window_range, RangeCounts,
};
use crate::counting::Counter;
use crate::detect::Phase;
use crate::error::AppError;
use crate::period::Comparison;
use crate::provider::{by_provider, Provider};
use crate::settings::Settings;
use crate::store::Store;

use super::csv::{self, Format};
use super::stats::{compared, window_param, BucketView};
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
    #[serde(flatten)]
    comparison: Comparison,
}

#[derive(Serialize)]
struct ProviderList {
    window: &'static str,
    providers: Vec<ProviderSummary>,
}

fn status(read: &RangeCounts, provider: &Provider) -> Phase {
    read.provider_phases.get(provider.id().as_ref()).copied().unwrap_or_default()
}

/// The window's counts with every domain's provider, those of the period before included.
async fn read_providers<S: Store, C: Counter>(
    ctx: &Context<'_, S, C>,
    settings: &Settings,
    window: Window,
) -> Result<RangeCounts, AppError> {
    let mut read = read_window(ctx.store, ctx.counter, settings, window, ctx.now, None).await?;
    // Every domain with traffic in either period, since any may be the provider's.
    let domains = crate::sort::set(
        read.buckets.values().chain(read.previous.iter().flat_map(|p| p.values())).flat_map(|d| d.keys().cloned()),
    );
    read.learn_providers(ctx.counter, settings, domains.iter().map(String::as_str)).await?;
    Ok(read)
}

/// `GET /api/providers?window=…`: providers by 451 count, most first.
pub async fn list<S: Store, C: Counter>(req: &HttpRequest, ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let format = Format::requested(req)?;
    let window = window_param(req, &Window::ALL)?;
    let settings = Settings::from_config(ctx.config)?;
    let read = read_providers(ctx, &settings, window).await?;
    let codes = settings.spike_codes;
    let provider_of = |d: &str| read.provider_of(d);
    let previous: Option<DomainCounts> = read.previous.as_ref().map(|buckets| {
        by_provider(&crate::counters::sum_all(buckets), provider_of, 0)
            .into_iter()
            .map(|t| (t.provider.id().into_owned(), t.counts))
            .collect()
    });
    let mut providers: Vec<ProviderSummary> = by_provider(&crate::counters::sum_all(&read.buckets), provider_of, 0)
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
            comparison: compared(&t.counts, previous.as_ref(), &t.provider.id()),
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
    #[serde(flatten)]
    comparison: Comparison,
    /// The period before's buckets, at their own times (absent when it is not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_buckets: Option<Vec<BucketView<'a>>>,
}

/// A provider's counts over a window: per bucket (its domains summed), per domain, and the period
/// before's per bucket.
struct ProviderCounts {
    per_bucket: BTreeMap<u64, Counts>,
    per_domain: DomainCounts,
    previous: Option<BTreeMap<u64, Counts>>,
    phases: BTreeMap<String, Phase>,
    status: Phase,
}

impl ProviderCounts {
    /// Over the hourly counts: every domain's read, the provider's kept.
    async fn hourly<S: Store, C: Counter>(
        ctx: &Context<'_, S, C>,
        settings: &Settings,
        window: Window,
        provider: &Provider,
    ) -> Result<ProviderCounts, AppError> {
        let read = read_providers(ctx, settings, window).await?;
        let of_provider = |buckets: &Buckets| -> (BTreeMap<u64, Counts>, DomainCounts) {
            let mut per_bucket: BTreeMap<u64, Counts> = BTreeMap::new();
            let mut per_domain = DomainCounts::new();
            for (start, domains) in buckets {
                for (domain, counts) in domains.iter().filter(|(d, _)| read.provider_of(d) == *provider) {
                    per_bucket.entry(*start).or_default().merge(counts);
                    per_domain.entry(domain.clone()).or_default().merge(counts);
                }
            }
            (per_bucket, per_domain)
        };
        let (per_bucket, per_domain) = of_provider(&read.buckets);
        let previous = read.previous.as_ref().map(|buckets| of_provider(buckets).0);
        Ok(ProviderCounts { per_bucket, per_domain, previous, status: status(&read, provider), phases: read.phases })
    }

    /// Over the daily history: the objects sum the provider's domains per day.
    async fn daily<C: Counter>(
        counter: &C,
        settings: &Settings,
        now: u64,
        range: BucketRange,
        provider: &Provider,
    ) -> Result<ProviderCounts, AppError> {
        let scope = HistoryScope::Provider { provider: provider.id().into_owned() };
        let previous = history_holds_previous(range, settings, now);
        let query = HistoryQuery { first: range.first, last: day_of(range.last), previous, scope, providers: false };
        let answer = read_history(counter, settings, &query).await?;
        let status = answer.provider_phases.get(provider.id().as_ref()).copied().unwrap_or_default();
        Ok(ProviderCounts {
            per_bucket: answer.days,
            per_domain: answer.totals,
            previous: answer.previous.map(|_| answer.previous_days),
            phases: answer.phases,
            status,
        })
    }
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
    let window = window_param(req, &Window::ALL)?;
    let settings = Settings::from_config(ctx.config)?;
    let range = window_range(window, ctx.now, &settings);
    let read = match window.days() {
        Some(_) => ProviderCounts::daily(ctx.counter, &settings, ctx.now, range, &provider).await?,
        None => ProviderCounts::hourly(ctx, &settings, window, &provider).await?,
    };
    let ProviderCounts { per_bucket, per_domain, previous, phases, status } = read;
    let mut all = Counts::default();
    for counts in per_bucket.values() {
        all.merge(counts);
    }
    let previous_sum = previous.as_ref().map(|buckets| {
        let mut sum = Counts::default();
        for counts in buckets.values() {
            sum.merge(counts);
        }
        sum
    });
    let comparison = Comparison::of(&all, previous_sum.as_ref());
    let previous_buckets =
        previous.as_ref().map(|buckets| buckets.iter().map(|(start, c)| BucketView::of(*start, c)).collect());
    let mut top: Vec<TopDomain> = per_domain
        .iter()
        .map(|(domain, c)| TopDomain {
            domain,
            attempts: c.attempts(),
            smtp_451: c.smtp_451,
            ratio_451: c.ratio_451(),
            status: phases.get(domain.as_str()).copied().unwrap_or_default(),
        })
        .collect();
    crate::sort::sort_by(&mut top, |a, b| (b.smtp_451, b.attempts, a.domain).cmp(&(a.smtp_451, a.attempts, b.domain)));
    top.truncate(MAX_TOP_DOMAINS);
    // The dimensions live in the domains' own rows (the pages and the day totals sum them per shard): one
    // object request per listed domain, so the breakdown covers the busiest MAX_TOP_DOMAINS, where the
    // 451s are. The history's totals keep no samples either, so a long window's come from those rows too.
    let busiest = counts_of_domains(ctx.counter, &settings, window, ctx.now, top.iter().map(|t| t.domain)).await?;
    let sources = Sources::of(&busiest.dimensions());
    let mut samples = match window.days() {
        Some(_) => busiest.samples,
        None => std::mem::take(&mut all.samples),
    };
    crate::sort::sort_by_key(&mut samples, |s| std::cmp::Reverse(s.count));
    samples.truncate(MAX_PROVIDER_SAMPLES);
    let advice = all.categories.keys().filter_map(|&c| crate::advice::cause_advice(c).map(|a| (c, a))).collect();
    let detail = ProviderDetail {
        provider: &provider,
        name: provider.name().into_owned(),
        window: window.as_str(),
        status,
        domains: per_domain.len(),
        buckets: per_bucket.iter().map(|(start, c)| BucketView::of(*start, c)).collect(),
        categories: all.categories.clone(),
        top_domains: top,
        samples,
        advice,
        spike_advice: crate::advice::SPIKE_ADVICE,
        sources,
        comparison,
        previous_buckets,
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
