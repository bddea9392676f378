//! Shard 0's weekly work over the daily history: the slow-drift check when a week closes, and the
//! digest email (`DIGEST_TO`, `DIGEST_AT`). Both read the history's totals (a row per day and shard, no
//! row per domain) and write one `meta` row when they change.
//!
//! | what | when | rows read | rows written |
//! |---|---|---|---|
//! | drift check | once a week, Monday after the fold | 28 totals rows per shard (4 weeks), + a provider row per hosted domain | 1 |
//! | digest | once a week at `DIGEST_AT` | 14 totals rows per shard, + a provider row per hosted domain | 1 |

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::alert::digest::{self, DigestInput, DigestRow, DigestSchedule, DigestWeek};
use crate::config::Config;
use crate::counters::{Counts, DomainCounts, Sample};
use crate::detect::Alert;
use crate::drift::{self, Drift, DriftScope, DriftSettings, ScopeWeeks, WEEKS};
use crate::notify::{AlertSettings, Notifier};
use crate::period::{Comparison, Period};
use crate::provider::by_provider;
use crate::sql::Sql;
use crate::store::StoreError;

use super::client::{call, Counter};
use super::detection::sql_error;
use super::history::{self, HistoryAnswer, HistoryQuery, HistoryScope, DAY, FOLD_GRACE_SECS};
use super::object::CounterObject;
use super::protocol::Request;
use super::schema;

const META: &str = "weekly";
/// Rows of the digest's top domains and providers, and of its unclassified replies.
const DIGEST_TOP: usize = 10;
const DIGEST_SAMPLES: usize = 5;
/// How long a failed digest waits before the next try: the cron runs every minute.
const DIGEST_RETRY_SECS: u64 = 15 * 60;

/// What the weekly work remembers: one `meta` row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeeklyState {
    /// The end (a Monday 00:00 UTC) of the last week the drift check ran over.
    #[serde(default)]
    pub checked: u64,
    /// What it found then: listed by `/api/alerts` until the next check.
    #[serde(default)]
    pub drifts: Vec<Drift>,
    /// The start of the last week whose digest was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_sent: Option<u64>,
    /// When the last digest send failed, for the retry's wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_failed_at: Option<u64>,
}

impl WeeklyState {
    pub fn load<Q: Sql>(sql: &Q) -> Result<WeeklyState, crate::sql::SqlError> {
        schema::load_meta(sql, META)
    }
}

/// What a run's weekly work did, for its log line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyReport {
    /// Drifts found, when the check ran this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drifts: Option<usize>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digest_sent: bool,
    /// Why the digest could not be sent or composed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_error: Option<String>,
}

/// The start of the week (Monday 00:00 UTC) holding `t`.
pub fn week_of(t: u64) -> u64 {
    let day = t / DAY;
    // 1970-01-01 was a Thursday: three days after a Monday.
    (day - (day + 3) % 7) * DAY
}

/// Runs what is due this run. `alerting` is the alert emails' settings, whose sender and transport the
/// digest uses; `None` when they are not valid (the tick reports why).
pub async fn run<Q: Sql, N: Notifier, C: Counter>(
    object: &CounterObject<'_, Q>,
    peers: &C,
    notifier: &N,
    config: &Config,
    alerting: Option<&AlertSettings>,
    now: u64,
) -> Result<WeeklyReport, StoreError> {
    let before = WeeklyState::load(object.sql).map_err(sql_error)?;
    let mut state = before.clone();
    let mut report = WeeklyReport::default();
    let closed = week_of(now);
    // The fold of the week's last day runs in the first run FOLD_GRACE_SECS after midnight, before this.
    if closed > state.checked && now >= closed + FOLD_GRACE_SECS {
        let settings = DriftSettings::from_config(config).map_err(|e| StoreError(e.message().to_owned()))?;
        state.drifts = drifts(object, peers, closed, &settings).await?;
        state.checked = closed;
        report.drifts = Some(state.drifts.len());
    }
    if let Some(to) = config.get("DIGEST_TO").filter(|to| !to.trim().is_empty()) {
        let retry_ok = state.digest_failed_at.is_none_or(|at| at + DIGEST_RETRY_SECS <= now);
        match DigestSchedule::from_config(config) {
            Err(e) => report.digest_error = Some(e.message().to_owned()),
            Ok(schedule) => {
                if let (Some(week), true) = (schedule.due(now, state.digest_sent), retry_ok) {
                    match send_digest(object, peers, notifier, alerting, to, week, &state.drifts, now).await {
                        Ok(()) => {
                            state.digest_sent = Some(week.start);
                            state.digest_failed_at = None;
                            report.digest_sent = true;
                        }
                        Err(error) => {
                            state.digest_failed_at = Some(now);
                            report.digest_error = Some(error);
                        }
                    }
                }
            }
        }
    }
    schema::save_meta(object.sql, META, &before, &state).map_err(sql_error)?;
    Ok(report)
}

/// The history of every domain over `first..=last` across the shards: this one read in place, the
/// others asked (shard 0 runs this inside its own request).
async fn history_of<Q: Sql, C: Counter>(
    object: &CounterObject<'_, Q>,
    peers: &C,
    query: &HistoryQuery,
) -> Result<HistoryAnswer, StoreError> {
    let mut all = history::answer(object.sql, query).map_err(sql_error)?;
    for shard in 1..object.settings.counter_shards {
        all.merge(call(peers, shard, &Request::History { query: query.clone() }).await?);
    }
    Ok(all)
}

fn all_domains(first: u64, days: u64, previous: bool) -> HistoryQuery {
    HistoryQuery { first, last: first + (days - 1) * DAY, previous, scope: HistoryScope::All, providers: true }
}

/// Every provider's totals, each domain under its provider as the answer knows it.
fn providers_of(answer: &HistoryAnswer, totals: &DomainCounts) -> DomainCounts {
    by_provider(totals, |d| answer.provider_of(d), 0)
        .into_iter()
        .map(|t| (t.provider.id().into_owned(), t.counts))
        .collect()
}

async fn drifts<Q: Sql, C: Counter>(
    object: &CounterObject<'_, Q>,
    peers: &C,
    end: u64,
    settings: &DriftSettings,
) -> Result<Vec<Drift>, StoreError> {
    let starts = drift::week_starts(end);
    let mut weeks: BTreeMap<(DriftScope, String), [Period; WEEKS]> = BTreeMap::new();
    for (i, start) in starts.iter().enumerate() {
        let answer = history_of(object, peers, &all_domains(*start, 7, false)).await?;
        let mut providers = providers_of(&answer, &answer.totals);
        // Domains not resolved yet (or without mail) are no provider: their sum drifting says nothing.
        providers.retain(|id, _| !matches!(id.as_str(), "unknown" | "no_mail"));
        for (scope, totals) in [(DriftScope::Domain, &answer.totals), (DriftScope::Provider, &providers)] {
            for (id, counts) in totals {
                weeks.entry((scope, id.clone())).or_default()[i] = Period::of(counts);
            }
        }
    }
    let scopes: Vec<ScopeWeeks> =
        weeks.into_iter().map(|((scope, id), weeks)| ScopeWeeks { scope, id, weeks }).collect();
    Ok(drift::find(starts, &scopes, settings))
}

#[allow(clippy::too_many_arguments)]
async fn send_digest<Q: Sql, N: Notifier, C: Counter>(
    object: &CounterObject<'_, Q>,
    peers: &C,
    notifier: &N,
    alerting: Option<&AlertSettings>,
    to: &str,
    week: DigestWeek,
    drifts: &[Drift],
    now: u64,
) -> Result<(), String> {
    let alerting = alerting.ok_or("the alert email settings are invalid; the digest uses them")?;
    let mut email =
        alerting.email.clone().ok_or("DIGEST_TO needs ALERT_FROM and ALERT_TO: the digest is sent like an alert")?;
    email.to = to.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
    let answer = history_of(object, peers, &all_domains(week.start, (week.end - week.start) / DAY, true))
        .await
        .map_err(|e| e.0)?;
    let previous = answer.previous.clone().unwrap_or_default();
    let rows = |totals: &DomainCounts, before: &DomainCounts| -> Vec<DigestRow> {
        let empty = Counts::default();
        let mut rows: Vec<DigestRow> = totals
            .iter()
            .map(|(id, c)| DigestRow {
                id: id.clone(),
                week: Period::of(c),
                comparison: Comparison::of(c, Some(before.get(id).unwrap_or(&empty))),
            })
            .collect();
        crate::sort::sort_by(&mut rows, |a, b| {
            (b.week.smtp_451, b.week.attempts).cmp(&(a.week.smtp_451, a.week.attempts))
        });
        rows.truncate(DIGEST_TOP);
        rows
    };
    let domains = rows(&answer.totals, &previous);
    let providers = rows(&providers_of(&answer, &answer.totals), &providers_of(&answer, &previous));
    // Summed by reply in first-seen order; indexed, since a week of many domains holds many samples.
    let mut unclassified: Vec<Sample> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for counts in answer.totals.values() {
        for sample in &counts.samples {
            match index.get(sample.reply.as_str()) {
                Some(&at) => unclassified[at].count += sample.count,
                None => {
                    index.insert(&sample.reply, unclassified.len());
                    unclassified.push(sample.clone());
                }
            }
        }
    }
    crate::sort::sort_by_key(&mut unclassified, |s| std::cmp::Reverse(s.count));
    unclassified.truncate(DIGEST_SAMPLES);
    let view = super::detection::alerts(object.sql, now).map_err(|e| e.0)?;
    let in_week = |a: &&Alert| a.since < week.end && a.resolved_at.is_none_or(|at| at >= week.start);
    let alerts: Vec<Alert> = view.active.iter().chain(&view.recent).filter(in_week).cloned().collect();
    let input = DigestInput {
        week,
        alerts,
        domains,
        providers,
        drifts: drifts.to_vec(),
        unclassified,
        public_url: alerting.public_url.clone(),
    };
    let message = digest::compose(&input);
    let key = format!("bouncewatch/digest/{}", week.start);
    crate::notify::send_email(notifier, &email, &message, &key, now).await.map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_starts_on_monday_at_midnight_utc() {
        // 2026-11-30 was a Monday.
        let monday = 1_795_996_800;
        assert_eq!(week_of(monday), monday);
        assert_eq!(week_of(monday + 6 * DAY + 86_399), monday);
        assert_eq!(week_of(monday - 1), monday - 7 * DAY);
    }
}
