//! The front Worker's entry points: every HTTP request (webhooks, API, metrics) and the cron, which asks
//! the counting objects to run.

use std::future::Future;
use std::pin::Pin;

use worker::{console_error, console_log, event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

use crate::config::{self, Config};
use crate::counting::detection::TickReport;
use crate::counting::{call, Request as CountingRequest};
use crate::error::AppError;
use crate::esp::{FetchError, Fetcher};
use crate::http::{self, body, HttpRequest, HttpResponse, Method, MAX_BODY_BYTES};

use super::{counter, fetch::send_with_timeout, kv, now_seconds, KV_BINDING};

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let config = read_config(&env);
    let bound = kv::KvStore::bind(&env, KV_BINDING, &config)
        .and_then(|store| counter::WorkerCounter::bind(&env, &config).map(|counter| (store, counter)));
    let response = match (to_http_request(&mut req).await, bound) {
        (Ok(request), Ok((store, counter))) => {
            let ctx = http::Context {
                store: &store,
                counter: &counter,
                config: &config,
                now: now_seconds(),
                fetcher: &WorkerFetcher,
            };
            http::handle(&request, &ctx).await
        }
        (Err(err), Ok((_, counter))) => {
            let response = err.into_response();
            let path = HttpRequest::new(Method::Get, &req.inner().url()).path;
            http::tally_webhook_answer(&counter, &path, response.status, now_seconds()).await;
            response
        }
        (Err(err), _) | (_, Err(err)) => err.into_response(),
    };
    to_worker_response(response)
}

/// Asks shard 0 of the counting objects to run: upkeep on every shard, detection, notifications. Errors
/// can only be logged (a scheduled handler returns nothing); the next run picks up where this one stopped.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = read_config(&env);
    let outcome = match counter::WorkerCounter::bind(&env, &config) {
        Ok(counter) => call::<_, TickReport>(&counter, 0, &CountingRequest::Tick).await.map_err(|e| e.to_string()),
        Err(err) => Err(err.message().to_owned()),
    };
    match outcome {
        Ok(report) => {
            let (notified, failures) = (&report.notified, &report.notify_failures);
            let failed: Vec<_> =
                failures.iter().map(|(id, error)| serde_json::json!({ "id": id, "error": error })).collect();
            let line = serde_json::json!({ "event": "cron", "ok": true, "report": report, "notified": notified, "notify_failures": failed });
            console_log!("{line}")
        }
        Err(error) => console_error!("{}", serde_json::json!({ "event": "cron", "ok": false, "error": error })),
    }
}

/// Reads every known var and secret once; the core never asks the runtime. The counting Worker has none:
/// its objects take the front's with each request ([`Config::encode`]).
fn read_config(env: &Env) -> Config {
    let mut config = Config::new();
    for name in config::NAMES {
        let value = env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string()));
        if let Ok(value) = value {
            config.set(*name, value);
        }
    }
    config
}

async fn to_http_request(req: &mut Request) -> Result<HttpRequest, AppError> {
    // The runtime's own serialization of the URL. `Request::url` would parse it again with the `url` crate
    // only for us to serialize it back unchanged, and that parser, with its IDNA and Unicode tables, is
    // about 150 KB of the wasm.
    let url = req.inner().url();
    let declared_length =
        req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<usize>().ok());
    // Refused before reading, so a huge body never occupies the isolate's memory.
    if declared_length.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(body::too_large(MAX_BODY_BYTES));
    }
    // The method as sent: `Request::method` maps a method it does not know (QUERY, PROPFIND…) to GET, which
    // would answer it instead of the 405 it must get.
    let mut request = HttpRequest::new(Method::parse(&req.inner().method()), &url);
    request.headers = req.headers().entries().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
    request.body = read_body(req).await?;
    Ok(request)
}

/// The body, read chunk by chunk and refused once it passes [`MAX_BODY_BYTES`]: without `Content-Length`
/// (chunked) nothing else bounds it.
async fn read_body(req: &mut Request) -> Result<Vec<u8>, AppError> {
    use futures_util::StreamExt;
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    let unreadable = |e: worker::Error| AppError::BadRequest(format!("unreadable body: {e}"));
    let mut stream = req.stream().map_err(unreadable)?;
    let mut body = body::BoundedBody::new(MAX_BODY_BYTES);
    while let Some(chunk) = stream.next().await {
        if let Err(too_large) = body.push(&chunk.map_err(unreadable)?) {
            // Read on, keeping nothing: a client that sends its whole body before it reads the answer
            // would otherwise see the connection drop instead of the 413. Bounded: past DRAIN_BYTES
            // the sender is not a confused client, and the connection may drop.
            let mut drained = 0;
            while let Some(Ok(chunk)) = stream.next().await {
                drained += chunk.len();
                if drained > DRAIN_BYTES {
                    break;
                }
            }
            return Err(too_large);
        }
    }
    Ok(body.into_bytes())
}

/// How much of a body over the limit is read and dropped before answering 413.
const DRAIN_BYTES: usize = 4 * MAX_BODY_BYTES;

fn to_worker_response(response: HttpResponse) -> worker::Result<Response> {
    if let Some(line) = &response.log {
        console_log!("{line}");
    }
    let headers = worker::Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    Ok(Response::from_bytes(response.body)?.with_status(response.status).with_headers(headers))
}

/// GETs for the SNS adapter (signing certificates, subscription confirmations). The adapter has already
/// checked that the URL is https on an SNS host.
pub struct WorkerFetcher;

impl Fetcher for WorkerFetcher {
    fn get<'a>(&'a self, url: &'a str) -> Pin<Box<dyn Future<Output = Result<String, FetchError>> + 'a>> {
        Box::pin(async move {
            let request = Request::new(url, worker::Method::Get).map_err(|e| FetchError(format!("{e}")))?;
            let mut response = send_with_timeout(request).await.map_err(FetchError)?;
            let status = response.status_code();
            if !(200..300).contains(&status) {
                return Err(FetchError(format!("{url} answered {status}")));
            }
            response.text().await.map_err(|e| FetchError(format!("{e}")))
        })
    }
}
