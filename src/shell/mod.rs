//! The Worker glue: the only code that imports `worker`. It converts requests and responses, reads
//! configuration, and binds Workers KV to the core's [`Store`] trait. No decisions are made here.

mod fetch;
mod kv;
mod mail;

use worker::{
    console_error, console_log, event, Context, Date, Env, Request, Response, ScheduleContext, ScheduledEvent,
};

use crate::config::{self, Config};
use crate::error::AppError;
use crate::http::{self, HttpRequest, HttpResponse, Method, MAX_BODY_BYTES};
use crate::notify::{AlertSettings, RunReport};

/// The KV namespace binding named in `wrangler.toml`.
const KV_BINDING: &str = "BOUNCEWATCH";

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let config = read_config(&env);
    let response = match to_http_request(&mut req).await {
        Ok(request) => match kv::KvStore::bind(&env, KV_BINDING, &config) {
            Ok(store) => {
                let ctx = http::Context {
                    store: &store,
                    config: &config,
                    now: now_seconds(),
                    fetcher: &fetch::WorkerFetcher,
                };
                http::handle(&request, &ctx).await
            }
            Err(err) => err.into_response(),
        },
        Err(err) => err.into_response(),
    };
    to_worker_response(response)
}

/// The single writer: merges shards, evaluates the detector, saves its state. Errors can only be logged
/// (a scheduled handler returns nothing); the next run picks up where this one stopped.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = read_config(&env);
    let store = match kv::KvStore::bind(&env, KV_BINDING, &config) {
        Ok(store) => store,
        Err(err) => return console_error!("{}", cron_log_line(Err(format!("{err:?}")))),
    };
    let notifier = mail::WorkerNotifier::bind(&env);
    let alerting = match AlertSettings::from_config(&config, notifier.has_email_binding()) {
        Ok(alerting) => alerting,
        Err(err) => {
            // Misconfigured alerts must not stop the counting: evaluate anyway, and say why nothing is sent.
            console_error!("{}", cron_log_line(Err(format!("alert settings: {err:?}"))));
            return match crate::cron::run_cron(&store, &config, now_seconds()).await {
                Ok(report) => console_log!("{}", cron_log_line(Ok((report, RunReport::default())))),
                Err(err) => console_error!("{}", cron_log_line(Err(err.to_string()))),
            };
        }
    };
    match crate::cron::run_cron_and_notify(&store, &config, &alerting, &notifier, now_seconds()).await {
        Ok(outcome) => console_log!("{}", cron_log_line(Ok(outcome))),
        Err(err) => console_error!("{}", cron_log_line(Err(err.to_string()))),
    }
}

fn cron_log_line(outcome: Result<(crate::cron::CronReport, RunReport), String>) -> String {
    let line = match outcome {
        Ok((report, sent)) => {
            let failed: Vec<_> =
                sent.failed.iter().map(|(id, error)| serde_json::json!({ "id": id, "error": error })).collect();
            serde_json::json!({ "event": "cron", "ok": true, "report": report, "notified": sent.delivered, "notify_failures": failed })
        }
        Err(error) => serde_json::json!({ "event": "cron", "ok": false, "error": error }),
    };
    line.to_string()
}

fn now_seconds() -> u64 {
    Date::now().as_millis() / 1000
}

/// Reads every known var and secret once; the core never asks the runtime.
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
        return Err(AppError::PayloadTooLarge(format!("body over {MAX_BODY_BYTES} bytes")));
    }
    // The method as sent: `Request::method` maps a method it does not know (QUERY, PROPFIND…) to GET, which
    // would answer it instead of the 405 it must get.
    let mut request = HttpRequest::new(Method::parse(&req.inner().method()), &url);
    request.headers = req.headers().entries().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
    request.body = req.bytes().await.map_err(|e| AppError::BadRequest(format!("unreadable body: {e}")))?;
    Ok(request)
}

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
