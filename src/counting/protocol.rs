//! What the Worker (and shard 0) asks a counting object, and the one function that answers: the Durable
//! Object's `fetch` in `src/shell` and the in-process [`super::client::LocalCounter`] both call [`handle`],
//! so native tests run the very code, serialization included, that the deployed object runs.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::ActionSettings;
use crate::config::Config;
use crate::metrics::{DomainAlert, ObjectStats, ShardMetrics};
use crate::notify::{AlertSettings, Notifier};
use crate::provider::Resolver;
use crate::settings::Settings;
use crate::sql::Sql;
use crate::store::Store;

use super::client::{call, Counter};
use super::delta::Delta;
use super::detection::{self, WindowReport, WindowRequest};
use super::object::CounterObject;
use super::read::{self, ReadQuery};
use super::schema;

/// One call on an object, sent as JSON in a POST body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Count a webhook request's events (answer: [`super::object::Applied`]).
    Apply { delta: Delta },
    /// Counts not yet readable from KV (answer: [`read::ReadAnswer`]).
    Read { query: ReadQuery },
    /// Days of the daily history (answer: [`super::history::HistoryAnswer`]).
    History { query: super::history::HistoryQuery },
    /// The providers of these domains of the object, as known now (answer: `{domain: provider}`, the
    /// domains still `unknown` left out). One row read per domain not in the consumer table.
    Providers { domains: Vec<String> },
    /// Shard 0's alerts (answer: [`detection::AlertsView`]).
    Alerts,
    /// The cron's run, on shard 0 (answer: [`detection::TickReport`]).
    Tick,
    /// Another shard's upkeep and candidates, asked by shard 0 (answer: [`WindowReport`]).
    Window { request: WindowRequest },
    /// The shard count shard 0 was first used with, asked by a shard on its first call (answer: [`Layout`]).
    Layout,
    /// List, add or remove silences, on shard 0 (answer: [`detection::SilenceAnswer`]).
    Silences { change: detection::SilenceChange },
    /// This object's counters and publish time, and on shard 0 the tracked domains' alert figures
    /// (answer: [`MetricsAnswer`]).
    Metrics,
    /// Nothing but the webhook answers every request carries, from an isolate no other call has carried
    /// them from for a while (answer: `null`; see [`crate::metrics::tally`]).
    Tally,
}

impl Request {
    /// The operation's name in `bouncewatch_do_requests_total`.
    fn op(&self) -> &'static str {
        match self {
            Request::Apply { .. } => "apply",
            Request::Read { .. } => "read",
            Request::History { .. } => "history",
            Request::Providers { .. } => "providers",
            Request::Alerts => "alerts",
            Request::Tick => "tick",
            Request::Window { .. } => "window",
            Request::Layout => "layout",
            Request::Silences { .. } => "silences",
            Request::Metrics => "metrics",
            Request::Tally => "tally",
        }
    }
}

/// What a [`Request::Metrics`] answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsAnswer {
    pub shard: ShardMetrics,
    #[serde(default)]
    pub alerts: BTreeMap<String, DomainAlert>,
    #[serde(default)]
    pub provider_alerts: BTreeMap<String, DomainAlert>,
}

/// The `COUNTER_SHARDS` an object's counts were written under. Changing it would move domains to objects
/// that hold neither their counts nor their event ids (reads would miss them, retries count them again),
/// so every object refuses to work under another value than the one it first ran with, and a shard other
/// than 0 takes its first value from shard 0: a deployment whose setting changed answers 503 everywhere
/// (the ESPs retry) until it is set back, instead of splitting and double-counting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub shards: Option<u32>,
}

const LAYOUT: &str = "layout";

/// The stored layout, recorded now if there is none; `Err` with the 503 to answer when it is not `shards`.
async fn check_layout<Q: Sql, S: Store, N: Notifier, C: Counter>(
    sql: &Q,
    env: &ObjectEnv<'_, S, N, C>,
    shards: u32,
) -> Result<(), Answer> {
    let unavailable = |e: crate::sql::SqlError| Answer::error(503, &e.0);
    let stored: Layout = schema::load_meta(sql, LAYOUT).map_err(unavailable)?;
    let first = match stored.shards {
        Some(first) => first,
        None if env.shard == 0 => shards,
        None => {
            let answer: Layout = call(env.peers, 0, &Request::Layout)
                .await
                .map_err(|e| Answer::error(503, &format!("cannot ask shard 0 for the layout: {e}")))?;
            answer.shards.unwrap_or(shards)
        }
    };
    if first != shards {
        return Err(Answer::error(
            503,
            &format!(
                "COUNTER_SHARDS is {shards} but the counts were written with {first}: moving counts between \
                 objects is not supported, set it back to {first}"
            ),
        ));
    }
    schema::save_meta(sql, LAYOUT, &stored, &Layout { shards: Some(first) }).map_err(unavailable)?;
    Ok(())
}

/// An object's answer: an HTTP status and a JSON body (`{"error": …}` when not 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    fn ok<T: Serialize>(value: &T) -> Answer {
        match serde_json::to_vec(value) {
            Ok(body) => Answer { status: 200, body },
            Err(e) => Answer::error(500, &format!("cannot encode the answer: {e}")),
        }
    }

    pub fn error(status: u16, message: &str) -> Answer {
        Answer { status, body: serde_json::json!({ "error": message }).to_string().into_bytes() }
    }
}

/// What an object runs with besides its SQL: its shard number, KV (to publish), the notifier and the
/// other shards (shard 0 only), the configuration and the clock.
pub struct ObjectEnv<'a, S: Store, N: Notifier, C: Counter> {
    pub shard: u32,
    pub kv: &'a S,
    pub notifier: &'a N,
    pub peers: &'a C,
    pub config: &'a Config,
    /// The MX look-ups of the provider dimension (the cron's runs only; never a webhook's).
    pub resolver: &'a dyn Resolver,
    /// Whether the `send_email` binding exists, for the alert settings.
    pub email_binding: bool,
    pub now: u64,
    /// Set once this instance of the object has created its tables and checked its layout: both hold
    /// for the instance's life (a changed var is a new deployment, which restarts every object).
    pub ready: &'a Cell<bool>,
    /// This instance's counters for `GET /metrics`, in memory only: they cost no storage.
    pub stats: &'a RefCell<ObjectStats>,
    /// The calling isolate's webhook answers ([`crate::metrics::WebhookTally::encode`]), added to
    /// [`Self::stats`] whatever the request.
    pub answers: &'a str,
}

/// Answers one request. Never panics on input: a body that does not parse is a 400, storage failing a
/// 503, so the Worker answers its webhook 503 and the ESP retries.
pub async fn handle<Q: Sql, S: Store, N: Notifier, C: Counter>(
    sql: &Q,
    env: &ObjectEnv<'_, S, N, C>,
    body: &[u8],
) -> Answer {
    if !env.answers.is_empty() {
        env.stats.borrow_mut().record_answers(env.answers);
    }
    let settings = match Settings::from_config(env.config) {
        Ok(settings) => settings,
        Err(err) => return Answer::error(503, err.message()),
    };
    let request: Request = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return Answer::error(400, &format!("not a counting request: {e}")),
    };
    if !env.ready.get() {
        if let Err(err) = schema::migrate(sql) {
            return Answer::error(503, &err.0);
        }
        if let Err(refused) = check_layout(sql, env, settings.counter_shards).await {
            return refused;
        }
        env.ready.set(true);
    }
    let object = CounterObject::new(sql, &settings);
    let now = env.now;
    let before = sql.ops();
    let op = request.op();
    let answer = answer(sql, env, &object, request, now).await;
    let ops = sql.ops();
    let mut stats = env.stats.borrow_mut();
    if stats.started_at == 0 {
        stats.started_at = now;
    }
    *stats.requests.entry(op.to_owned()).or_default() += 1;
    stats.rows_read += ops.rows_read.saturating_sub(before.rows_read);
    stats.rows_written += ops.rows_written.saturating_sub(before.rows_written);
    if op == "tick" && answer.status == 200 {
        stats.last_tick_at = Some(now);
    }
    answer
}

async fn answer<Q: Sql, S: Store, N: Notifier, C: Counter>(
    sql: &Q,
    env: &ObjectEnv<'_, S, N, C>,
    object: &CounterObject<'_, Q>,
    request: Request,
    now: u64,
) -> Answer {
    let settings = object.settings;
    match request {
        Request::Apply { delta } => match object.apply(&delta, now) {
            Ok(applied) => {
                if let Some(esp) = &delta.esp {
                    env.stats.borrow_mut().record_events(esp, &applied);
                }
                Answer::ok(&applied)
            }
            Err(e) => Answer::error(503, &e.0),
        },
        Request::Read { query } => {
            let answer = read::answer(object, &query, now).and_then(|mut answer| {
                if env.shard == 0 {
                    (answer.phases, answer.provider_phases) = detection::phases(sql)?;
                }
                Ok(answer)
            });
            answer.map_or_else(|e| Answer::error(503, &e.0), |a| Answer::ok(&a))
        }
        Request::History { query } => {
            let answer = super::history::answer(sql, &query).and_then(|mut answer| {
                if env.shard == 0 {
                    (answer.phases, answer.provider_phases) = detection::phases(sql)?;
                }
                Ok(answer)
            });
            answer.map_or_else(|e| Answer::error(503, &e.0), |a| Answer::ok(&a))
        }
        Request::Providers { domains } => super::providers::known_providers(sql, &domains)
            .map_or_else(|e| Answer::error(503, &e.0), |p| Answer::ok(&p)),
        Request::Alerts => detection::alerts(sql, now).map_or_else(|e| Answer::error(503, &e.0), |a| Answer::ok(&a)),
        Request::Silences { change } => {
            detection::change_silences(sql, &change, now).map_or_else(|e| Answer::error(503, &e.0), |a| Answer::ok(&a))
        }
        Request::Tick => {
            let alerting =
                AlertSettings::from_config(env.config, env.email_binding).map_err(|e| e.message().to_owned());
            let acting = ActionSettings::from_config(env.config).map_err(|e| e.message().to_owned());
            let report = detection::tick(
                object,
                env.kv,
                env.notifier,
                env.peers,
                env.resolver,
                env.config,
                alerting,
                acting,
                now,
            )
            .await;
            if let Ok(own) = report.as_ref().map(|r| r.upkeep.first().map_or(0, |u| u.publish.puts)) {
                env.stats.borrow_mut().kv_puts += own;
            }
            report.map_or_else(|e| Answer::error(503, &e.0), |r| Answer::ok(&r))
        }
        Request::Window { request } => {
            let report = async {
                let upkeep = detection::upkeep(object, env.kv, env.resolver, env.shard, now).await?;
                env.stats.borrow_mut().kv_puts += upkeep.publish.puts;
                let candidates = detection::window_report(object, &request, now)?;
                let providers = detection::provider_report(object, &request, now)?;
                Ok::<_, crate::sql::SqlError>(WindowReport { candidates, providers, upkeep })
            };
            report.await.map_or_else(|e| Answer::error(503, &e.0), |r| Answer::ok(&r))
        }
        Request::Layout => Answer::ok(&Layout { shards: Some(settings.counter_shards) }),
        Request::Tally => Answer::ok(&()),
        Request::Metrics => {
            let answer = (|| {
                let publish = super::publish::PublishState::load(sql)?;
                let shard = ShardMetrics {
                    shard: env.shard,
                    stats: env.stats.borrow().clone(),
                    last_publish_at: publish.last_run,
                };
                let [alerts, provider_alerts] =
                    if env.shard == 0 { detection::tracked_alerts(sql, now)? } else { Default::default() };
                Ok::<_, crate::sql::SqlError>(MetricsAnswer { shard, alerts, provider_alerts })
            })();
            answer.map_or_else(|e| Answer::error(503, &e.0), |a| Answer::ok(&a))
        }
    }
}
