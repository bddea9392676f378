//! Delivery of alert notifications with Prometheus Alertmanager's semantics, as a pure state machine.
//!
//! Per alert key (a domain, or `sender-wide`): one *firing* notification when the alert starts firing
//! (and again if its severity rises), a *reminder* every `ALERT_REPEAT` while it keeps firing, one
//! *resolved* when it stops. Benign
//! (greylisting) alerts are left out unless `ALERT_BENIGN=true`. Everything one cron run has to say
//! goes into one message per channel.
//!
//! Delivery is at-least-once. [`plan`] decides what to say, records it as said (so the next run does not
//! say it again) and puts one [`Outgoing`] per channel in the state's outbox; the caller sends what is due
//! and reports each outcome with [`record_result`]. A success leaves the outbox for good; a failure stays,
//! retried on a later run after 1, 2, 4 … minutes (`ALERT_RETRY` sets the first wait; capped at an hour).
//! The caller saves the state once, after sending: if the Worker dies before saving, the next run plans
//! the same transitions from the old state and sends again — a duplicate, never a loss.
//!
//! [`run`] does all of that against a [`Notifier`], the small trait the shell implements with the
//! `send_email` binding and `fetch`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::alert::{self, AlertSnapshot, Message, Notice, NoticeKind};
use crate::mime;
use crate::outbound::{self, OutboundRequest};
use crate::silence::Silences;

mod settings;

pub(crate) use settings::duration_var;
pub use settings::{AlertSettings, EmailSettings, EmailTransport, DEFAULT_REPEAT_SECONDS, DEFAULT_RETRY_SECONDS};

/// Retries wait `AlertSettings::retry_seconds`, doubling with each failure up to this.
const MAX_RETRY_SECONDS: u64 = 3600;
/// Cron runs start a little earlier or later than a whole minute apart; a retry due within this margin
/// is taken now rather than a minute late.
pub(crate) const DUE_SLACK_SECONDS: u64 = 10;
/// At most this many undelivered messages are kept (a channel down for two days at one message per
/// hour); older ones are dropped and counted in [`NotifyState::dropped`], so a loss is visible.
const MAX_OUTBOX: usize = 50;

/// A way notifications leave the Worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Through the `send_email` binding or the configured email API.
    Email,
    /// `ALERT_WEBHOOK_URL`.
    Webhook,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        })
    }
}

/// One message for one channel, kept in the outbox until it is delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// `{created_at}-{channel}`: unique, as a run makes at most one message per channel.
    pub id: String,
    pub channel: Channel,
    /// The run that made it; the message is dated (and its `Message-ID` derived) from this, so every
    /// retry sends exactly the same message.
    pub created_at: u64,
    pub notices: Vec<Notice>,
    pub attempts: u32,
    pub next_attempt_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What was last said about an alert that has been announced as firing and not yet as resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announced {
    pub first_notified_at: u64,
    pub last_notified_at: u64,
    /// The alert as last notified, for the resolved message when the detector no longer reports it.
    pub alert: AlertSnapshot,
}

/// The delivery state, stored as one JSON value. It changes only when something is sent or fails, so the
/// caller can skip the write when `new == previous`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NotifyState {
    #[serde(default)]
    pub announced: BTreeMap<String, Announced>,
    #[serde(default)]
    pub outbox: Vec<Outgoing>,
    /// Messages given up on: outbox overflow, or their channel was unconfigured.
    #[serde(default)]
    pub dropped: u64,
}

/// Decides what this run says. Returns the outbox entries due now (new and retried) and the new state, in
/// which the new notices already count as said.
///
/// An alert that was announced and is now `ok`, `pending`, benign-while-suppressed or missing from
/// `alerts_now` is resolved: the detector keeps an alert in its output while it is alerting (including
/// the resolve hold), so absence means it has resolved.
///
/// A silenced alert says nothing, as Alertmanager mutes it: no firing, no reminder, no resolved. What
/// was said before stays recorded, so when the silence ends while it still fires the reminder schedule
/// carries on (one that fell due meanwhile goes out now), and one never announced is announced then.
pub fn plan(
    previous: &NotifyState,
    alerts_now: &[AlertSnapshot],
    silences: &Silences,
    now: u64,
    settings: &AlertSettings,
) -> (Vec<Outgoing>, NotifyState) {
    let mut state = previous.clone();
    let mut notices = Vec::new();
    let current = crate::sort::map(alerts_now.iter().map(|a| (a.key().into_owned(), a)));
    for (key, alert) in &current {
        let notifiable = settings.notifiable(alert);
        let muted = silences.silencing(alert, now).is_some();
        match state.announced.get_mut(key) {
            _ if muted && notifiable => {}
            None if notifiable => {
                let alert = alert.sanitized();
                notices.push(Notice { kind: NoticeKind::Firing, alert: alert.clone() });
                let announced = Announced { first_notified_at: now, last_notified_at: now, alert };
                state.announced.insert(key.clone(), announced);
            }
            Some(announced) if notifiable => {
                // A worse severity is news: say it now, as Alertmanager would for a new critical alert,
                // rather than at the next reminder. Improvements wait for the reminder or the resolve.
                let escalated = alert.severity > announced.alert.severity;
                let due = now >= announced.last_notified_at.saturating_add(settings.repeat_seconds);
                if escalated || due {
                    announced.alert = alert.sanitized();
                    announced.last_notified_at = now;
                    let kind = if escalated { NoticeKind::Firing } else { NoticeKind::Reminder };
                    notices.push(Notice { kind, alert: announced.alert.clone() });
                }
            }
            Some(_) => {
                state.announced.remove(key);
                if !muted {
                    notices.push(Notice { kind: NoticeKind::Resolved, alert: alert.sanitized() });
                }
            }
            None => {}
        }
    }
    let vanished: Vec<String> = state.announced.keys().filter(|k| !current.contains_key(k.as_str())).cloned().collect();
    for key in vanished {
        if let Some(announced) = state.announced.remove(&key) {
            if silences.silencing(&announced.alert, now).is_none() {
                notices.push(Notice { kind: NoticeKind::Resolved, alert: announced.alert });
            }
        }
    }

    let channels = settings.channels();
    let before = state.outbox.len();
    state.outbox.retain(|o| channels.contains(&o.channel));
    state.dropped += (before - state.outbox.len()) as u64;
    if !notices.is_empty() {
        for &channel in &channels {
            state.outbox.push(Outgoing {
                id: format!("{now}-{channel}"),
                channel,
                created_at: now,
                notices: notices.clone(),
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
            });
        }
    }
    let overflow = state.outbox.len().saturating_sub(MAX_OUTBOX);
    state.outbox.drain(..overflow);
    state.dropped += overflow as u64;

    let due = state.outbox.iter().filter(|o| o.next_attempt_at <= now + DUE_SLACK_SECONDS).cloned().collect();
    (due, state)
}

/// Why a send failed; the text is logged and kept with the outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String);

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Records the outcome of sending the outbox entry `id`: delivered entries leave the outbox; failed ones
/// wait `retry_seconds`, then twice that, and so on (at most an hour), for the next attempt.
pub fn record_result(state: &mut NotifyState, id: &str, result: Result<(), SendError>, now: u64, retry_seconds: u64) {
    match result {
        Ok(()) => state.outbox.retain(|o| o.id != id),
        Err(err) => {
            if let Some(outgoing) = state.outbox.iter_mut().find(|o| o.id == id) {
                outgoing.attempts = outgoing.attempts.saturating_add(1);
                outgoing.next_attempt_at = now + retry_delay(outgoing.attempts, retry_seconds);
                outgoing.last_error = Some(err.0);
            }
        }
    }
}

/// The wait before the next attempt after `failures` failed ones; shared with [`crate::action`].
pub(crate) fn retry_delay(failures: u32, first: u64) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    first.saturating_mul(1 << doublings).min(MAX_RETRY_SECONDS)
}

/// The two things a channel can do; the shell implements them with the `send_email` binding and `fetch`
/// (with a timeout), tests with fakes.
#[allow(async_fn_in_trait)] // single-threaded wasm: the futures need not be Send
pub trait Notifier {
    /// Sends one raw RFC 5322 message to one envelope recipient.
    async fn send_email(&self, envelope_from: &str, to: &str, raw_mime: &str) -> Result<(), SendError>;
    /// Performs a request and returns the response; a network error or timeout is an `Err`.
    async fn fetch(&self, request: &OutboundRequest) -> Result<Fetched, SendError>;
}

/// An HTTP answer: its status, and its body for the targets that read one (KumoMTA's suspension id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fetched {
    pub status: u16,
    pub body: String,
}

/// Composes and sends one outbox entry on its channel. Any non-2xx status is a failure.
pub async fn deliver<N: Notifier>(
    notifier: &N,
    outgoing: &Outgoing,
    settings: &AlertSettings,
) -> Result<(), SendError> {
    let message = alert::compose(&outgoing.notices, outgoing.created_at, settings.public_url.as_deref());
    let request = match outgoing.channel {
        Channel::Email => {
            let email = settings.email.as_ref().ok_or_else(|| SendError("email is not configured".to_owned()))?;
            let key = format!("bouncewatch/{}", outgoing.id);
            return send_email(notifier, email, &message, &key, outgoing.created_at).await;
        }
        Channel::Webhook => {
            let url = settings.webhook_url.as_deref().ok_or_else(|| SendError("no ALERT_WEBHOOK_URL".to_owned()))?;
            outbound::webhook_request(url, &message, &outgoing.notices, outgoing.created_at)
        }
    };
    fetch_ok(notifier, &request).await
}

/// Sends `message` to `email.to` on the configured transport; `key` makes an email API's retry of it
/// idempotent. Any non-2xx status is a failure.
pub async fn send_email<N: Notifier>(
    notifier: &N,
    email: &EmailSettings,
    message: &Message,
    key: &str,
    date: u64,
) -> Result<(), SendError> {
    let request = match &email.transport {
        EmailTransport::Binding => return send_mime(notifier, email, message, date).await,
        EmailTransport::Api(api) => outbound::email_request(api, &email.from, &email.to, message, key),
    };
    fetch_ok(notifier, &request).await
}

async fn fetch_ok<N: Notifier>(notifier: &N, request: &OutboundRequest) -> Result<(), SendError> {
    match notifier.fetch(request).await?.status {
        200..=299 => Ok(()),
        status => Err(SendError(format!("{} answered HTTP {status}", host_of(&request.url)))),
    }
}

/// The binding takes one envelope recipient per message, so the same raw message goes to each address.
async fn send_mime<N: Notifier>(
    notifier: &N,
    email: &EmailSettings,
    message: &Message,
    date: u64,
) -> Result<(), SendError> {
    let raw = mime::build(&mime::Email {
        from: &email.from,
        to: &email.to,
        subject: &message.subject,
        text: &message.text,
        html: &message.html,
        date,
    });
    let envelope_from = mime::bare_address(&email.from);
    for to in &email.to {
        notifier.send_email(envelope_from, mime::bare_address(to), &raw).await?;
    }
    Ok(())
}

/// The host of a URL, for error messages that must not echo paths or keys.
pub(crate) fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// What one [`run`] did, for the log line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunReport {
    pub delivered: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// One cron run's notification work: plan, send what is due, record each outcome. Save the returned
/// state (when it differs from `previous`) after this returns.
pub async fn run<N: Notifier>(
    previous: &NotifyState,
    alerts_now: &[AlertSnapshot],
    silences: &Silences,
    now: u64,
    settings: &AlertSettings,
    notifier: &N,
) -> (NotifyState, RunReport) {
    let (due, mut state) = plan(previous, alerts_now, silences, now, settings);
    let mut report = RunReport::default();
    for outgoing in &due {
        let result = deliver(notifier, outgoing, settings).await;
        match &result {
            Ok(()) => report.delivered.push(outgoing.id.clone()),
            Err(err) => report.failed.push((outgoing.id.clone(), err.0.clone())),
        }
        record_result(&mut state, &outgoing.id, result, now, settings.retry_seconds);
    }
    (state, report)
}

#[cfg(test)]
mod tests;
