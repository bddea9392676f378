//! `GET /metrics` for Prometheus: reads the detector's window as `/api/providers` reads a window (one
//! request per counting object, KV gets for settled hours, the providers of its domains), asks each
//! object for its counters, and renders them with [`crate::metrics::render`]. Writes nothing.

use crate::counters::{sum_range, BucketRange};
use crate::counting::protocol::MetricsAnswer;
use crate::counting::read::read_range;
use crate::counting::{call, Counter, Request};
use crate::error::AppError;
use crate::metrics::{render, Scrape, DEFAULT_TOP_N, MAX_TOP_N};
use crate::provider::by_provider;
use crate::settings::Settings;
use crate::store::Store;

use super::{Context, HttpResponse};

/// The exposition format's media type (version 0.0.4, which Prometheus scrapes by default).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics<S: Store, C: Counter>(ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let settings = Settings::from_config(ctx.config)?;
    let top_n: usize = ctx.config.number("METRICS_TOP_N", DEFAULT_TOP_N)?;
    if !(1..=MAX_TOP_N).contains(&top_n) {
        return Err(AppError::Internal(format!("METRICS_TOP_N must be from 1 to {MAX_TOP_N}, not {top_n}")));
    }
    let range = BucketRange::ending_at(ctx.now, settings.window_secs, &settings);
    let mut read = read_range(ctx.store, ctx.counter, &settings, range, None).await?;
    let window = sum_range(&read.buckets, range);
    read.learn_providers(ctx.counter, &settings, window.keys().map(String::as_str)).await?;
    let providers = by_provider(&window, |d| read.provider_of(d), 0)
        .into_iter()
        .map(|totals| (totals.provider.id().into_owned(), totals.counts))
        .collect();
    let mut scrape =
        Scrape { now: ctx.now, window_minutes: settings.window_secs / 60, window, providers, ..Scrape::default() };
    for shard in 0..settings.counter_shards {
        let answer: MetricsAnswer = call(ctx.counter, shard, &Request::Metrics).await?;
        scrape.shards.push(answer.shard);
        scrape.alerts.extend(answer.alerts);
        scrape.provider_alerts.extend(answer.provider_alerts);
    }
    let mut response = HttpResponse::empty(200).with_header("content-type", CONTENT_TYPE);
    response.body = render(&scrape, top_n).into_bytes();
    Ok(response)
}
