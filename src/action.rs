//! The action hook: tells the sending side to slow down or pause for a receiving domain when its alert
//! fires, and to resume when it resolves. Two targets, either or both: `ACTION_WEBHOOK_URL` gets a JSON
//! message ([`ActionMessage`]); the built-in KumoMTA target suspends delivery to the domain through
//! KumoMTA's HTTP admin API for a bounded time and lifts the suspension on resolve (docs/actions.md names
//! the endpoints and where they are documented).
//!
//! What is suggested follows the dominant cause ([`Suggestion::for_cause`]): rate limiting → slow to a
//! stated fraction of the current rate; reputation, policy, content, authentication → pause the offending
//! stream and don't retry by hand; greylisting → nothing, so no message at all. Sender-wide alerts are not
//! acted on: the cause is the sender, and throttling one domain would not help.
//!
//! Delivery has the alert emails' semantics ([`crate::notify`]): [`plan`] records a transition as made
//! and queues one message per target; a failure is retried after 1, 2, 4 … minutes with the same
//! message and `Idempotency-Key`; the state is saved after sending, so a crash repeats, never loses. A
//! throttle is sent once per alert; a resume only for a throttle that was delivered (one still queued is
//! cancelled instead). A silence mutes the throttle but never the resume: lifting what was done must not
//! wait for a silence to end.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::alert::{AlertSnapshot, Scope, Severity};
use crate::classify::Category;
use crate::config::Config;
use crate::error::AppError;
use crate::notify::{duration_var, host_of, retry_delay, Notifier, SendError, DUE_SLACK_SECONDS};
use crate::outbound::OutboundRequest;
use crate::silence::Silences;

/// What a rate-limited domain is asked to slow to, as a fraction of the current rate.
pub const SLOW_DOWN_FRACTION: f64 = 0.5;
/// `ACTION_KUMOMTA_DURATION` when unset: how long a suspension lasts if it is never lifted.
pub const DEFAULT_SUSPEND_SECONDS: u64 = 3600;
const MAX_OUTBOX: usize = 50;
/// KumoMTA's suspension endpoint: POST defines one, DELETE (with its id) removes it.
pub const KUMOMTA_SUSPEND_PATH: &str = "/api/admin/suspend/v1";

/// Where actions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// `ACTION_WEBHOOK_URL`.
    Webhook,
    /// KumoMTA's admin API at `ACTION_KUMOMTA_URL`.
    Kumomta,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Webhook => "webhook",
            Target::Kumomta => "kumomta",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Throttle,
    Resume,
}

/// What kind of thing the sender should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// Slow to `rate_fraction` of the current rate to this domain.
    SlowDown,
    /// Pause the stream that causes it; retrying by hand makes it worse.
    PauseStream,
    /// Back to the normal rate.
    Resume,
}

/// What the sender should do: `{"kind", "rate_fraction" (slow_down only), "text"}`. A struct rather than
/// an enum tagged by `kind`, which serde parses through a buffered copy of the value: 8 KB of the
/// Worker's wasm for this one type (2026-12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub kind: SuggestionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_fraction: Option<f64>,
    pub text: String,
}

impl Suggestion {
    /// The suggestion for a dominant cause; `None` for greylisting, which retries succeed on by themselves.
    pub fn for_cause(cause: Category) -> Option<Suggestion> {
        match cause {
            Category::Greylisted => None,
            Category::RateLimited | Category::Unclassified | Category::SystemError | Category::NetworkError => {
                Some(Suggestion {
                    kind: SuggestionKind::SlowDown,
                    rate_fraction: Some(SLOW_DOWN_FRACTION),
                    text: format!(
                        "Slow to {} % of the current sending rate to this domain until the alert resolves.",
                        (SLOW_DOWN_FRACTION * 100.0).round()
                    ),
                })
            }
            _ => Some(Suggestion {
                kind: SuggestionKind::PauseStream,
                rate_fraction: None,
                text: "Pause the stream causing it (IP, pool, campaign) and don't retry by hand until the cause \
                       is fixed."
                    .to_owned(),
            }),
        }
    }
}

/// The JSON an action target receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionMessage {
    /// The same on every retry: `{created_at}-{target}-{action}-{domain}`; also sent as `Idempotency-Key`.
    pub id: String,
    pub action: ActionKind,
    /// `domain` (provider alerts, issue 13, will say `provider`).
    pub scope: String,
    pub domain: String,
    /// The dominant cause of the 451s.
    pub cause: Category,
    pub ratio_451: f64,
    pub baseline_ratio: f64,
    pub suggestion: Suggestion,
    /// When the spike started (unix seconds).
    pub since: u64,
}

/// A throttle that was decided, until its alert resolves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throttled {
    /// The throttle as decided, for the resume's figures.
    pub throttle: ActionMessage,
    #[serde(default)]
    pub delivered: BTreeSet<Target>,
    /// KumoMTA's id of the suspension, needed to lift it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension_id: Option<String>,
}

/// One message for one target, kept until delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    pub target: Target,
    pub message: ActionMessage,
    /// A resume on KumoMTA: the suspension to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension_id: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Queued {
    fn key(&self) -> (&str, Target, ActionKind) {
        (&self.message.domain, self.target, self.message.action)
    }
}

/// The action state, one meta row of shard 0, written only when it changes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActionState {
    #[serde(default)]
    pub throttled: BTreeMap<String, Throttled>,
    #[serde(default)]
    pub outbox: Vec<Queued>,
    /// Messages given up on (outbox overflow, target unconfigured, a suspension id never received).
    #[serde(default)]
    pub dropped: u64,
}

/// KumoMTA's admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KumoSettings {
    /// Without a trailing slash.
    pub base_url: String,
    /// `user:password` for HTTP Basic, which KumoMTA's listener checks with its
    /// `http_server_validate_auth_basic` hook; `None` for a listener that trusts the caller's address.
    pub credentials: Option<String>,
    pub suspend_seconds: u64,
}

/// The action configuration, from `ACTION_*` and `ALERT_RETRY`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionSettings {
    pub webhook_url: Option<String>,
    pub kumomta: Option<KumoSettings>,
    pub retry_seconds: u64,
}

impl ActionSettings {
    pub fn from_config(config: &Config) -> Result<ActionSettings, AppError> {
        let retry_seconds =
            duration_var(config, "ALERT_RETRY", crate::notify::DEFAULT_RETRY_SECONDS, 1..=3600, "from 1s to 1h")?;
        let kumomta = match config.get("ACTION_KUMOMTA_URL") {
            None => None,
            Some(url) => Some(KumoSettings {
                base_url: url.trim_end_matches('/').to_owned(),
                credentials: config.get("ACTION_KUMOMTA_TOKEN").map(str::to_owned),
                suspend_seconds: duration_var(
                    config,
                    "ACTION_KUMOMTA_DURATION",
                    DEFAULT_SUSPEND_SECONDS,
                    60..=86_400,
                    "from 1m to 1d (e.g. 1h)",
                )?,
            }),
        };
        Ok(ActionSettings { webhook_url: config.get("ACTION_WEBHOOK_URL").map(str::to_owned), kumomta, retry_seconds })
    }

    /// Whether any target is set.
    pub fn is_configured(&self) -> bool {
        !self.targets().is_empty()
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        if self.webhook_url.is_some() {
            targets.push(Target::Webhook);
        }
        if self.kumomta.is_some() {
            targets.push(Target::Kumomta);
        }
        targets
    }
}

/// The throttle an alert calls for, if any: a firing, non-benign alert on one domain whose cause has a
/// suggestion.
fn throttle_for(alert: &AlertSnapshot) -> Option<ActionMessage> {
    let Scope::Domain(domain) = &alert.scope else { return None };
    if !alert.is_firing() || alert.severity == Severity::Benign {
        return None;
    }
    let cause = alert.causes.first().map_or(Category::Unclassified, |c| c.category);
    let suggestion = Suggestion::for_cause(cause)?;
    Some(ActionMessage {
        id: String::new(),
        action: ActionKind::Throttle,
        scope: "domain".to_owned(),
        domain: domain.clone(),
        cause,
        ratio_451: alert.ratio_451,
        baseline_ratio: alert.baseline_ratio,
        suggestion,
        since: alert.since,
    })
}

fn queue(state: &mut ActionState, target: Target, mut message: ActionMessage, suspension_id: Option<String>, now: u64) {
    let action = match message.action {
        ActionKind::Throttle => "throttle",
        ActionKind::Resume => "resume",
    };
    message.id = format!("{now}-{target}-{action}-{}", message.domain);
    state.outbox.push(Queued { target, message, suspension_id, attempts: 0, next_attempt_at: now, last_error: None });
}

/// Decides this run's actions; returns the queued messages due now and the new state.
pub fn plan(
    previous: &ActionState,
    alerts_now: &[AlertSnapshot],
    silences: &Silences,
    now: u64,
    settings: &ActionSettings,
) -> (Vec<Queued>, ActionState) {
    let mut state = previous.clone();
    let targets = settings.targets();
    let firing: BTreeMap<String, &AlertSnapshot> =
        crate::sort::map(alerts_now.iter().filter(|a| a.is_firing()).map(|a| (a.key().into_owned(), a)));
    for (key, alert) in &firing {
        if state.throttled.contains_key(key) || silences.silencing(alert, now).is_some() {
            continue;
        }
        let Some(throttle) = throttle_for(alert) else { continue };
        for &target in &targets {
            queue(&mut state, target, throttle.clone(), None, now);
        }
        let throttled = Throttled { throttle, delivered: BTreeSet::new(), suspension_id: None };
        state.throttled.insert(key.clone(), throttled);
    }
    let resolved: Vec<String> = state.throttled.keys().filter(|k| !firing.contains_key(*k)).cloned().collect();
    for key in resolved {
        let Some(throttled) = state.throttled.remove(&key) else { continue };
        for &target in &targets {
            let pending = |q: &Queued| q.key() == (key.as_str(), target, ActionKind::Throttle);
            if state.outbox.iter().any(pending) {
                // Never delivered: the target has nothing to undo.
                state.outbox.retain(|q| !pending(q));
                continue;
            }
            if !throttled.delivered.contains(&target) {
                continue;
            }
            let suspension_id = match target {
                Target::Webhook => None,
                Target::Kumomta => match &throttled.suspension_id {
                    Some(id) => Some(id.clone()),
                    None => {
                        state.dropped += 1;
                        continue;
                    }
                },
            };
            let resume = ActionMessage {
                action: ActionKind::Resume,
                suggestion: Suggestion {
                    kind: SuggestionKind::Resume,
                    rate_fraction: None,
                    text: "The deferrals are back to normal: resume the usual sending rate.".to_owned(),
                },
                ..throttled.throttle.clone()
            };
            queue(&mut state, target, resume, suspension_id, now);
        }
    }
    let before = state.outbox.len();
    state.outbox.retain(|q| targets.contains(&q.target));
    state.dropped += (before - state.outbox.len()) as u64;
    let overflow = state.outbox.len().saturating_sub(MAX_OUTBOX);
    state.outbox.drain(..overflow);
    state.dropped += overflow as u64;
    let due = state.outbox.iter().filter(|q| q.next_attempt_at <= now + DUE_SLACK_SECONDS).cloned().collect();
    (due, state)
}

/// The HTTP request for one queued message.
pub fn request(queued: &Queued, settings: &ActionSettings) -> Result<OutboundRequest, SendError> {
    let json_type = ("Content-Type".to_owned(), "application/json".to_owned());
    let message = &queued.message;
    match queued.target {
        Target::Webhook => {
            let url = settings.webhook_url.as_deref().ok_or_else(|| SendError("no ACTION_WEBHOOK_URL".to_owned()))?;
            let body = serde_json::to_string(message).map_err(|e| SendError(format!("cannot encode: {e}")))?;
            let headers = vec![json_type, ("Idempotency-Key".to_owned(), format!("bouncewatch/{}", message.id))];
            Ok(OutboundRequest { method: "POST", url: url.to_owned(), headers, body })
        }
        Target::Kumomta => {
            let kumo = settings.kumomta.as_ref().ok_or_else(|| SendError("no ACTION_KUMOMTA_URL".to_owned()))?;
            let mut headers = vec![json_type];
            if let Some(credentials) = &kumo.credentials {
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                headers.push(("Authorization".to_owned(), format!("Basic {encoded}")));
            }
            let url = format!("{}{KUMOMTA_SUSPEND_PATH}", kumo.base_url);
            // https://docs.kumomta.com/reference/http/kumod/api_admin_suspend_v1_post/ and
            // …/api_admin_suspend_v1_delete/: a suspension of the domain's scheduled queues for a duration,
            // and its removal by the id the first answered.
            let (method, body) = match (message.action, &queued.suspension_id) {
                (ActionKind::Throttle, _) => (
                    "POST",
                    json!({
                        "domain": message.domain,
                        "reason": format!("bouncewatch {}: 451 spike ({}), lifted when it resolves", message.id, crate::advice::cause_name(message.cause)),
                        "duration": format!("{}s", kumo.suspend_seconds),
                    }),
                ),
                (ActionKind::Resume, Some(id)) => ("DELETE", json!({ "id": id })),
                (ActionKind::Resume, None) => return Err(SendError("no suspension id to lift".to_owned())),
            };
            Ok(OutboundRequest { method, url, headers, body: body.to_string() })
        }
    }
}

/// Sends one queued message; on KumoMTA, returns the suspension id a throttle was answered with.
async fn deliver<N: Notifier>(
    notifier: &N,
    queued: &Queued,
    settings: &ActionSettings,
) -> Result<Option<String>, SendError> {
    let request = request(queued, settings)?;
    let answer = notifier.fetch(&request).await?;
    let lifted_already = queued.target == Target::Kumomta && queued.message.action == ActionKind::Resume;
    match answer.status {
        200..=299 => {}
        // The suspension expired (or was removed by hand) before the alert resolved.
        404 if lifted_already => return Ok(None),
        status => return Err(SendError(format!("{} answered HTTP {status}", host_of(&request.url)))),
    }
    if queued.target == Target::Kumomta && queued.message.action == ActionKind::Throttle {
        let id = crate::json::parse::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
            .ok_or_else(|| SendError("KumoMTA answered a suspension without its id".to_owned()))?;
        return Ok(Some(id));
    }
    Ok(None)
}

/// Records the outcome of sending `queued`.
pub fn record_result(
    state: &mut ActionState,
    queued: &Queued,
    result: Result<Option<String>, SendError>,
    now: u64,
    retry_seconds: u64,
) {
    let id = &queued.message.id;
    match result {
        Ok(suspension_id) => {
            state.outbox.retain(|q| &q.message.id != id);
            if queued.message.action == ActionKind::Throttle {
                if let Some(throttled) = state.throttled.get_mut(&queued.message.domain) {
                    throttled.delivered.insert(queued.target);
                    if suspension_id.is_some() {
                        throttled.suspension_id = suspension_id;
                    }
                }
            }
        }
        Err(err) => {
            if let Some(q) = state.outbox.iter_mut().find(|q| &q.message.id == id) {
                q.attempts = q.attempts.saturating_add(1);
                q.next_attempt_at = now + retry_delay(q.attempts, retry_seconds);
                q.last_error = Some(err.0);
            }
        }
    }
}

/// One cron run's actions: plan, send what is due, record each outcome. Returns the new state (save it
/// when it differs from `previous`) and the ids delivered and failed.
pub async fn run<N: Notifier>(
    previous: &ActionState,
    alerts_now: &[AlertSnapshot],
    silences: &Silences,
    now: u64,
    settings: &ActionSettings,
    notifier: &N,
) -> (ActionState, Vec<String>, Vec<(String, String)>) {
    let (due, mut state) = plan(previous, alerts_now, silences, now, settings);
    let (mut delivered, mut failed) = (Vec::new(), Vec::new());
    for queued in &due {
        let result = deliver(notifier, queued, settings).await;
        match &result {
            Ok(_) => delivered.push(queued.message.id.clone()),
            Err(err) => failed.push((queued.message.id.clone(), err.0.clone())),
        }
        record_result(&mut state, queued, result, now, settings.retry_seconds);
    }
    (state, delivered, failed)
}

#[cfg(test)]
mod tests;
