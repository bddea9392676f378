//! The minute's work of the counting objects, driven by the cron: expire, publish, find the candidates,
//! run the detector, send what the alerts call for.
//!
//! Every object reports its own candidates ([`window_report`]): the domains with at least `SPIKE_MIN_451`
//! 451s in the window (found from the number columns of the window's rows, no JSON parsed) and the
//! tracked ones the detector asks about, each with its window's counts and its baseline folded up to the
//! bucket before the window. A new candidate's baseline is computed from its stored buckets; a tracked
//! one's is folded forward from what the detector kept, usually one bucket. Shard 0 holds the detector
//! and the notification state and evaluates the union.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{self, ActionSettings, ActionState};
use crate::alert::AlertSnapshot;
use crate::counters::{BucketRange, Counts, Totals};
use crate::detect::{Alert, Baseline, Candidate, DetectorState, Phase, ProviderCandidate, Tracked};
use crate::notify::{self, AlertSettings, Notifier, NotifyState};
use crate::provider::Resolver;
use crate::silence::{Silence, Silences};
use crate::sql::{Sql, SqlError};
use crate::store::{Store, StoreError};

use super::client::{call, Counter};
use super::delta::shard_of;
use super::object::CounterObject;
use super::protocol::Request;
use super::providers::{look_up_due, provider_parts, LookupReport, ProviderPart};
use super::publish::{publish, PublishReport, PublishState};
use super::schema;

const DETECTOR: &str = "detector";
const NOTIFY: &str = "notify";
/// The silences ([`Silences`]): one row, written by `POST`/`DELETE /api/silences` only.
pub const SILENCES: &str = "silences";
/// What the action hook has done ([`ActionState`]).
const ACTIONS: &str = "actions";

/// What the detector asks one object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowRequest {
    /// Tracked domains this object owns.
    pub tracked: BTreeMap<String, Tracked>,
    /// Tracked providers (every object holds some of a provider's domains).
    #[serde(default)]
    pub tracked_providers: BTreeMap<String, Tracked>,
}

/// One object's candidates, and what its own upkeep did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    pub candidates: BTreeMap<String, Candidate>,
    /// This object's part of each provider that may alert.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderPart>,
    pub upkeep: Upkeep,
}

/// An object's upkeep in a run: buckets expired and pages published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upkeep {
    pub expired_rows: u64,
    /// The daily fold, refolds and history expiry.
    #[serde(default)]
    pub history: super::history::FoldReport,
    pub publish: PublishReport,
    /// The run's MX look-ups.
    #[serde(default)]
    pub lookups: LookupReport,
}

/// What `/api/alerts` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsView {
    pub active: Vec<Alert>,
    pub recent: Vec<Alert>,
    pub phases: BTreeMap<String, Phase>,
    /// Providers whose alert is not `ok`.
    #[serde(default)]
    pub provider_phases: BTreeMap<String, Phase>,
    /// The silences in force, for marking the alerts they cover.
    #[serde(default)]
    pub silences: Silences,
    /// What the last weekly drift check found (informational).
    #[serde(default)]
    pub drifts: Vec<crate::drift::Drift>,
}

/// What one run did, for its log line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TickReport {
    pub upkeep: Vec<Upkeep>,
    pub candidates: usize,
    #[serde(default)]
    pub provider_candidates: usize,
    pub active_alerts: usize,
    pub detector_written: bool,
    pub notified: Vec<String>,
    pub notify_failures: Vec<(String, String)>,
    /// Set when alert settings are invalid: counting and detection went on, nothing was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_settings_error: Option<String>,
    /// Action hook messages delivered and failed (ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_failures: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_settings_error: Option<String>,
    /// The weekly drift check and digest, when due.
    #[serde(default)]
    pub weekly: super::weekly::WeeklyReport,
}

/// Expires, publishes and looks up due domains' MX (every object does this on every run).
pub async fn upkeep<Q: Sql, S: Store>(
    object: &CounterObject<'_, Q>,
    kv: &S,
    resolver: &dyn Resolver,
    shard: u32,
    now: u64,
) -> Result<Upkeep, SqlError> {
    let expired_rows = object.expire(now)?;
    let history = super::history::fold(object, now)?;
    let publish = publish(object, kv, shard, now, false).await?;
    let lookups = look_up_due(object, resolver, now).await?;
    PublishState::mark_dirty(object.sql, lookups.republish.iter().copied())?;
    Ok(Upkeep { expired_rows, history, publish, lookups })
}

/// Where a tracked baseline resumes: after what the detector kept, or (new, or tracked so long ago that
/// its baseline is stale) `None`, to be learnt again from the span's buckets.
fn resume_after(tracked: Option<&Tracked>, span_start: u64, settings: &crate::settings::Settings) -> Option<u64> {
    match tracked.and_then(|t| t.baseline.through) {
        Some(through) if through + settings.bucket_secs >= span_start => Some(through + settings.bucket_secs),
        _ => None,
    }
}

/// The baseline up to the bucket before the window: `tracked`'s folded forward over `buckets` (those
/// from where it resumes), or learnt from them.
fn baseline_through(
    tracked: Option<&Tracked>,
    resumed: bool,
    buckets: impl Iterator<Item = (u64, Totals)>,
    before_window: u64,
    settings: &crate::settings::Settings,
) -> Baseline {
    let frozen = tracked.is_some_and(|t| t.frozen);
    let mut baseline = match tracked {
        Some(t) if resumed => t.baseline.clone(),
        _ => Baseline::default(),
    };
    for (bucket, totals) in buckets {
        baseline = baseline.folded(bucket, &totals, frozen, settings);
    }
    // Quiet buckets up to the window count as zeros (and one seen for the first time starts here).
    if baseline.through.is_some() {
        baseline = baseline.folded(before_window, &Totals::default(), frozen, settings);
    }
    baseline
}

/// This object's candidates at `now`.
pub fn window_report<Q: Sql>(
    object: &CounterObject<'_, Q>,
    request: &WindowRequest,
    now: u64,
) -> Result<BTreeMap<String, Candidate>, SqlError> {
    let settings = object.settings;
    let (window, span_start) = spans(settings, now);
    let mut wanted = object.hot_domains(window.first, window.last)?;
    wanted.extend(request.tracked.keys().cloned());
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let Some(before_window) = window.first.checked_sub(settings.bucket_secs) else {
        return Ok(BTreeMap::new());
    };
    let mut candidates = BTreeMap::new();
    for domain in &wanted {
        let tracked = request.tracked.get(domain);
        let resumed = resume_after(tracked, span_start, settings);
        let from = resumed.unwrap_or(span_start);
        let by_bucket = object.domain_range(domain, from.min(window.first), window.last)?;
        let mut window_counts = Counts::default();
        for counts in by_bucket.range(window.first..).map(|(_, c)| c) {
            window_counts.merge(counts);
        }
        // Hot hours are an upper bound: a domain that is not tracked needs its watched replies in the
        // window itself.
        if tracked.is_none() && window_counts.watched(&settings.spike_codes) < settings.min_451 {
            continue;
        }
        let buckets = by_bucket.range(from..window.first).map(|(b, c)| (*b, Totals::of(c, &settings.spike_codes)));
        let baseline = baseline_through(tracked, resumed.is_some(), buckets, before_window, settings);
        candidates.insert(domain.clone(), Candidate { window: window_counts, baseline });
    }
    Ok(candidates)
}

/// The span a new baseline is learnt from, and the window, at `now`.
fn spans(settings: &crate::settings::Settings, now: u64) -> (BucketRange, u64) {
    let window = BucketRange::ending_at(now, settings.window_secs, settings);
    (window, window.first.saturating_sub(settings.buckets_in(settings.baseline_secs) * settings.bucket_secs))
}

/// This object's part of each provider that may alert.
pub fn provider_report<Q: Sql>(
    object: &CounterObject<'_, Q>,
    request: &WindowRequest,
    now: u64,
) -> Result<BTreeMap<String, ProviderPart>, SqlError> {
    let settings = object.settings;
    let (window, span_start) = spans(settings, now);
    provider_parts(object, &request.tracked_providers, window, |tracked| {
        resume_after(tracked, span_start, settings).unwrap_or(span_start)
    })
}

/// The providers to evaluate from every object's parts: the sums, with their baselines folded (as a
/// domain's, from the tracked baseline or from the span's buckets), those that cannot alert left out.
fn provider_candidates(
    parts: BTreeMap<String, ProviderPart>,
    tracked: &BTreeMap<String, Tracked>,
    settings: &crate::settings::Settings,
    now: u64,
) -> BTreeMap<String, ProviderCandidate> {
    let (window, span_start) = spans(settings, now);
    let Some(before_window) = window.first.checked_sub(settings.bucket_secs) else {
        return BTreeMap::new();
    };
    let mut candidates = BTreeMap::new();
    for (id, part) in parts {
        let tracked = tracked.get(&id);
        // A spike on one domain is that domain's alert: a provider alert is news only when its 451s span
        // several of its domains (once open, it is evaluated until it resolves, however they narrow).
        let deferring = part.domains.iter().filter(|d| d.watched > 0).count();
        if tracked.is_none() && (part.window.watched(&settings.spike_codes) < settings.min_451 || deferring < 2) {
            continue;
        }
        let resumed = resume_after(tracked, span_start, settings).is_some();
        let baseline = baseline_through(tracked, resumed, part.baseline_buckets.into_iter(), before_window, settings);
        candidates.insert(
            id,
            ProviderCandidate {
                candidate: Candidate { window: part.window, baseline },
                domains: part.domains.into_iter().map(|d| d.domain).collect(),
                domain_count: part.domain_count,
            },
        );
    }
    candidates
}

/// Shard 0's run: its upkeep, every object's candidates, the detector, the notifications.
#[allow(clippy::too_many_arguments)] // the object's environment, spelled out for the native tests
pub async fn tick<Q: Sql, S: Store, N: Notifier, C: Counter>(
    object: &CounterObject<'_, Q>,
    kv: &S,
    notifier: &N,
    peers: &C,
    resolver: &dyn Resolver,
    config: &crate::config::Config,
    alerting: Result<AlertSettings, String>,
    acting: Result<ActionSettings, String>,
    now: u64,
) -> Result<TickReport, StoreError> {
    let settings = object.settings;
    let mut report = TickReport::default();
    report.upkeep.push(upkeep(object, kv, resolver, 0, now).await.map_err(sql_error)?);
    let stored: DetectorState = schema::load_meta(object.sql, DETECTOR).map_err(sql_error)?;
    let tracked_providers = stored.tracked_providers();
    let mut requests: BTreeMap<u32, WindowRequest> = (0..settings.counter_shards)
        .map(|shard| {
            (shard, WindowRequest { tracked_providers: tracked_providers.clone(), ..WindowRequest::default() })
        })
        .collect();
    for (domain, tracked) in stored.tracked() {
        requests.entry(shard_of(&domain, settings.counter_shards)).or_default().tracked.insert(domain, tracked);
    }
    let own = requests.remove(&0).unwrap_or_default();
    let mut candidates = window_report(object, &own, now).map_err(sql_error)?;
    let mut parts = provider_report(object, &own, now).map_err(sql_error)?;
    for shard in 1..settings.counter_shards {
        let request = requests.remove(&shard).unwrap_or_default();
        let peer: WindowReport = call(peers, shard, &Request::Window { request }).await?;
        report.upkeep.push(peer.upkeep);
        candidates.extend(peer.candidates);
        for (id, part) in peer.providers {
            parts.entry(id).or_default().merge(part);
        }
    }
    let providers = provider_candidates(parts, &tracked_providers, settings, now);
    report.candidates = candidates.len();
    report.provider_candidates = providers.len();
    let mut state = stored.clone();
    state.evaluate(&candidates, now, settings);
    state.evaluate_providers(&providers, now, settings);
    report.active_alerts = state.active_alerts().len();
    report.detector_written = schema::save_meta(object.sql, DETECTOR, &stored, &state).map_err(sql_error)?;

    let window_minutes = u32::try_from(settings.window_secs / 60).unwrap_or(u32::MAX);
    let snapshots: Vec<AlertSnapshot> =
        state.active_alerts().into_iter().map(|a| AlertSnapshot::from_alert(a, window_minutes)).collect();
    let silences: Silences = schema::load_meta(object.sql, SILENCES).map_err(sql_error)?;
    // Sent after the detector's state is committed, and recorded after sending: a crash in between can
    // repeat a message on the next run but never lose one.
    match &alerting {
        Ok(alerting) => {
            let previous: NotifyState = schema::load_meta(object.sql, NOTIFY).map_err(sql_error)?;
            let (next, sent) = notify::run(&previous, &snapshots, &silences, now, alerting, notifier).await;
            schema::save_meta(object.sql, NOTIFY, &previous, &next).map_err(sql_error)?;
            report.notified = sent.delivered;
            report.notify_failures = sent.failed;
        }
        Err(error) => report.alert_settings_error = Some(error.clone()),
    }
    match acting {
        // Unconfigured, it reads nothing: most deployments have no action target.
        Ok(acting) if acting.is_configured() => {
            let previous: ActionState = schema::load_meta(object.sql, ACTIONS).map_err(sql_error)?;
            let (next, delivered, failed) = action::run(&previous, &snapshots, &silences, now, &acting, notifier).await;
            schema::save_meta(object.sql, ACTIONS, &previous, &next).map_err(sql_error)?;
            report.actions = delivered;
            report.action_failures = failed;
        }
        Ok(_) => {}
        Err(error) => report.action_settings_error = Some(error),
    }
    report.weekly = super::weekly::run(object, peers, notifier, config, alerting.as_ref().ok(), now).await?;
    Ok(report)
}

/// Phases by tracked domain or provider.
pub type Phases = BTreeMap<String, Phase>;

/// Every tracked domain's and provider's phase, for the read API's `status`.
pub fn phases<Q: Sql>(sql: &Q) -> Result<(Phases, Phases), SqlError> {
    let state: DetectorState = schema::load_meta(sql, DETECTOR)?;
    Ok((state.phases(), state.provider_phases()))
}

/// Per tracked domain, then per tracked provider: its phase, baseline, open alert's severity and whether
/// a silence mutes it, for `GET /metrics`. The sender-wide alert is left out: it has neither.
pub fn tracked_alerts<Q: Sql>(
    sql: &Q,
    now: u64,
) -> Result<[BTreeMap<String, crate::metrics::DomainAlert>; 2], SqlError> {
    let state: DetectorState = schema::load_meta(sql, DETECTOR)?;
    let silences: Silences = schema::load_meta(sql, SILENCES)?;
    let active = state.active_alerts();
    let view = |tracked: &crate::detect::DomainState, alert: Option<&&Alert>, scope: crate::alert::Scope| {
        crate::metrics::DomainAlert {
            phase: tracked.tracker.phase,
            severity: alert.map(|a| a.severity),
            baseline_ratio: tracked.baseline.ratio(),
            silenced: alert.is_some() && silences.silencing_scope(&scope, now).is_some(),
        }
    };
    let domains = state
        .domains
        .iter()
        .map(|(domain, tracked)| {
            let alert = active.iter().find(|a| a.provider.is_none() && a.domain == *domain);
            (domain.clone(), view(tracked, alert, crate::alert::Scope::Domain(domain.clone())))
        })
        .collect();
    let providers = state
        .providers
        .iter()
        .map(|(id, tracked)| {
            let alert = active.iter().find(|a| a.provider.as_deref() == Some(id.as_str()));
            let scope = crate::alert::Scope::Provider {
                provider: id.clone(),
                domains: alert.map(|a| a.domains.clone()).unwrap_or_default(),
                domain_count: alert.and_then(|a| a.domain_count).unwrap_or_default(),
            };
            (id.clone(), view(tracked, alert, scope))
        })
        .collect();
    Ok([domains, providers])
}

/// `/api/alerts`, from shard 0's detector state and silences.
pub fn alerts<Q: Sql>(sql: &Q, now: u64) -> Result<AlertsView, SqlError> {
    let state: DetectorState = schema::load_meta(sql, DETECTOR)?;
    let mut silences: Silences = schema::load_meta(sql, SILENCES)?;
    silences.silences.retain(|s| s.until > now);
    Ok(AlertsView {
        active: state.active_alerts().into_iter().cloned().collect(),
        recent: state.recent.clone(),
        phases: state.phases(),
        provider_phases: state.provider_phases(),
        silences,
        drifts: super::weekly::WeeklyState::load(sql)?.drifts,
    })
}

/// A change to the silences, asked of shard 0 by the silence routes. Tagged externally (serde's default):
/// a tagged enum inside the tagged [`super::Request`] was parsed through two buffered copies, 8 KB of the
/// Worker's wasm (2026-12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceChange {
    /// List the silences in force (reads one row, writes none).
    List,
    Add {
        silence: crate::silence::NewSilence,
    },
    Remove {
        id: String,
    },
}

/// What a [`SilenceChange`] answers: the silence added or removed, the list, or why it was refused (400
/// past the limit, 404 for an unknown id), which the route answers as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SilenceAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence: Option<Silence>,
    #[serde(default)]
    pub silences: Vec<Silence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<(u16, String)>,
}

/// Applies a silence change in one unit: one row read, and one row written for a change.
pub fn change_silences<Q: Sql>(sql: &Q, change: &SilenceChange, now: u64) -> Result<SilenceAnswer, SqlError> {
    let before: Silences = schema::load_meta(sql, SILENCES)?;
    let mut after = before.clone();
    let result = match change {
        SilenceChange::List => {
            let silences = before.active(now).into_iter().cloned().collect();
            return Ok(SilenceAnswer { silences, ..SilenceAnswer::default() });
        }
        SilenceChange::Add { silence } => after.add(silence.clone(), now),
        SilenceChange::Remove { id } => after.remove(id, now),
    };
    match result {
        Ok(silence) => {
            schema::save_meta(sql, SILENCES, &before, &after)?;
            Ok(SilenceAnswer { silence: Some(silence), ..SilenceAnswer::default() })
        }
        Err(refused) => Ok(SilenceAnswer {
            refused: Some((refused.status(), refused.message().to_owned())),
            ..SilenceAnswer::default()
        }),
    }
}

/// The counting object's SQLite failure as the cron's storage error (shared with [`super::weekly`]).
pub(super) fn sql_error(err: SqlError) -> StoreError {
    StoreError(format!("counting object storage: {err}"))
}
