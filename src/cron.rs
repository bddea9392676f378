//! The cron handler's work, every minute: merge closed shards into pages, fold closed buckets into the
//! baselines, evaluate the detector, and save its state in one key. It is the only writer of shared keys
//! (`page:*`, `state`), which is what lets the counters avoid read-modify-write races.
//!
//! Cost per run, whatever the number of events: one `get` of the state, one `list` of shards per 1,000,
//! a `get` per shard too big for metadata, a `get` per page touched (normally one or two: the window's
//! and the closed shards'), a `put` per page changed, a `delete` per merged shard (at most
//! [`MAX_DELETES_PER_RUN`]), and one `put` of the state when it changed.

use serde::Serialize;

use crate::alert::AlertSnapshot;
use crate::config::Config;
use crate::counters::{self, BucketRange, DomainCounts};
use crate::detect::DetectorState;
use crate::ledger::{self, Pages};
use crate::notify::{self, AlertSettings, Notifier, NotifyState, RunReport};
use crate::settings::Settings;
use crate::store::{Put, Store, StoreError};

/// The one key holding the detector's state.
pub const STATE_KEY: &str = "state";

/// KV allows one Worker invocation 1,000 operations (<https://developers.cloudflare.com/kv/platform/limits/>)
/// and fails every call past them, so a run that deleted a whole bucket's shards at a few requests a second
/// (Mailgun posts one event per request) could not save the detector's state: alerting would stall while
/// the backlog drained. Shards left over wait for later runs; reads skip them, as their pages hold them.
pub const MAX_DELETES_PER_RUN: usize = 500;

/// What one cron run did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CronReport {
    /// Shards listed.
    pub shards_seen: usize,
    /// Closed shards added into pages this run.
    pub shards_merged: usize,
    /// Shards deleted because a page read back already held them.
    pub shards_deleted: usize,
    /// Deletes that failed; those shards are retried next run and never counted twice.
    pub delete_failures: usize,
    pub pages_written: u64,
    /// Buckets folded into the baselines.
    pub buckets_folded: usize,
    /// Domains with traffic in the detection window.
    pub domains_in_window: usize,
    pub active_alerts: usize,
    pub state_written: bool,
}

/// The one key holding what the alert notifications have said (see [`crate::notify::NotifyState`]).
pub const NOTIFY_KEY: &str = "notify";

/// Runs one evaluation at unix time `now`.
pub async fn run_cron<S: Store>(store: &S, config: &Config, now: u64) -> Result<CronReport, StoreError> {
    evaluate(store, &settings(config)?, now).await.map(|(report, _)| report)
}

/// Runs one evaluation, then sends what the alerts call for. Notifications go out after the detector's
/// state is saved and their own state is saved after sending: a crash in between can repeat a message on
/// the next run but never lose one.
pub async fn run_cron_and_notify<S: Store, N: Notifier>(
    store: &S,
    config: &Config,
    alerting: &AlertSettings,
    notifier: &N,
    now: u64,
) -> Result<(CronReport, RunReport), StoreError> {
    let settings = settings(config)?;
    let (report, state) = evaluate(store, &settings, now).await?;
    let window_minutes = u32::try_from(settings.window_secs / 60).unwrap_or(u32::MAX);
    let snapshots: Vec<AlertSnapshot> =
        state.active_alerts().into_iter().map(|a| AlertSnapshot::from_alert(a, window_minutes)).collect();
    let stored = store.get(NOTIFY_KEY).await?;
    let previous: NotifyState = match stored.as_deref() {
        None => NotifyState::default(),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| StoreError(format!("stored notification state is not valid JSON: {e}")))?,
    };
    let (next, sent) = notify::run(&previous, &snapshots, now, alerting, notifier).await;
    if next != previous {
        let value = serde_json::to_string(&next).map_err(|e| StoreError(format!("cannot encode state: {e}")))?;
        store.put(Put { key: NOTIFY_KEY, value: &value, ttl_seconds: settings.retention_secs, metadata: None }).await?;
    }
    Ok((report, sent))
}

/// A configuration error stops the run like a storage error: the cron can only log it.
fn settings(config: &Config) -> Result<Settings, StoreError> {
    Settings::from_config(config).map_err(|e| StoreError(format!("{e:?}")))
}

async fn evaluate<S: Store>(
    store: &S,
    settings: &Settings,
    now: u64,
) -> Result<(CronReport, DetectorState), StoreError> {
    let mut report = CronReport::default();
    let stored_state = store.get(STATE_KEY).await?;
    let mut state = parse_state(stored_state.as_deref())?;

    let window = BucketRange::ending_at(now, settings.window_secs, settings);
    let to_fold = buckets_to_fold(&state, window, settings);
    let shards = ledger::list_shards(store).await?;
    report.shards_seen = shards.len();
    let (closed, open): (Vec<_>, Vec<_>) = shards.into_iter().partition(|s| s.is_closed(now, settings));

    let shard_buckets = closed.iter().flat_map(|s| s.shard.buckets.keys().copied());
    let wanted =
        shard_buckets.chain(to_fold.into_iter().flat_map(|r| r.buckets(settings))).chain(window.buckets(settings));
    let mut pages = Pages::load(store, settings, wanted.collect::<Vec<_>>()).await?;
    let mut deletable = Vec::new();
    for shard in &closed {
        if pages.absorb(shard, settings, now) {
            deletable.push(&shard.id);
        } else {
            report.shards_merged += 1;
        }
    }
    report.pages_written = pages.save(store, settings, now).await?;
    for id in deletable.into_iter().take(MAX_DELETES_PER_RUN) {
        match ledger::delete_shard(store, id).await {
            Ok(()) => report.shards_deleted += 1,
            Err(_) => report.delete_failures += 1,
        }
    }
    // Open shards count towards this evaluation but are merged once their buckets close.
    for shard in &open {
        pages.absorb(shard, settings, now);
    }

    let needed = BucketRange { first: to_fold.map_or(window.first, |r| r.first), last: window.last };
    let buckets = pages.buckets(needed);
    if let Some(range) = to_fold {
        let quiet = DomainCounts::new();
        for bucket in range.buckets(settings) {
            state.fold(bucket, buckets.get(&bucket).unwrap_or(&quiet), settings);
            report.buckets_folded += 1;
        }
    }
    let in_window = counters::sum_range(&buckets, window);
    report.domains_in_window = in_window.len();
    state.evaluate(&in_window, now, settings);
    report.active_alerts = state.active_alerts().len();

    let value = serde_json::to_string(&state).map_err(|e| StoreError(format!("cannot encode state: {e}")))?;
    let unchanged = match &stored_state {
        Some(stored) => *stored == value,
        None => state == DetectorState::default(),
    };
    if !unchanged {
        let put = Put { key: STATE_KEY, value: &value, ttl_seconds: settings.retention_secs, metadata: None };
        store.put(put).await?;
        report.state_written = true;
    }
    Ok((report, state))
}

/// The closed buckets not yet folded: those that left the window since the last run, at most a baseline
/// span back (the first run, or one after an outage, learns the recent past rather than nothing).
fn buckets_to_fold(state: &DetectorState, window: BucketRange, settings: &Settings) -> Option<BucketRange> {
    let last = window.first.checked_sub(settings.bucket_secs)?;
    let earliest = window.first.saturating_sub(settings.buckets_in(settings.baseline_secs) * settings.bucket_secs);
    let first = state.folded_through.map_or(earliest, |t| (t + settings.bucket_secs).max(earliest));
    (first <= last).then_some(BucketRange { first, last })
}

/// Reads the detector's state for the API; a missing state is the empty one.
pub async fn load_state<S: Store>(store: &S) -> Result<DetectorState, StoreError> {
    parse_state(store.get(STATE_KEY).await?.as_deref())
}

fn parse_state(stored: Option<&str>) -> Result<DetectorState, StoreError> {
    match stored {
        Some(value) => {
            serde_json::from_str(value).map_err(|e| StoreError(format!("stored value {STATE_KEY} is corrupt: {e}")))
        }
        None => Ok(DetectorState::default()),
    }
}
