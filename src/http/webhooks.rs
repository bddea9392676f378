//! `POST /webhooks/{esp}`: size check, ESP lookup, method, verification and parsing (in [`crate::esp`]),
//! then the events go to the counting objects ([`crate::counting`]), and the answer is 200 only once they
//! have committed them. Every request, accepted or not, produces one JSON log
//! line (see [`log_line`]) that the shell writes with `console_log`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::counting::{self, Applied, Counter, Request};
use crate::error::AppError;
use crate::esp::{self, Delivery, Verified};
use crate::event::{Esp, NormalizedEvent};
use crate::redact::redact_addresses;
use crate::settings::Settings;
use crate::store::Store;

use super::router::{method_not_allowed, Context};
use super::{HttpRequest, HttpResponse, Method};

/// The largest body we read: SendGrid's biggest batches stay well below; anything larger is not an ESP.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// A log line lists at most this many domains (a 1,000-event batch can touch hundreds).
const MAX_LOGGED_DOMAINS: usize = 50;

/// What one webhook request did, for its log line. Holds domains and counts, never an address, a secret
/// or a signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookLog {
    pub esp: Option<Esp>,
    pub status: u16,
    pub accepted: usize,
    pub stale: usize,
    /// Events already counted (redeliveries, regrouped batches).
    pub duplicates: usize,
    pub kinds: BTreeMap<&'static str, usize>,
    /// Recipients refused by [`crate::domain`], by reason (`address_literal`, `not_a_dns_name`…).
    pub invalid: BTreeMap<&'static str, usize>,
    pub domains: BTreeSet<String>,
    pub rejection: Option<String>,
    /// Rows the counting objects wrote for this request.
    pub rows_written: u64,
    pub subscription_confirmed: bool,
}

/// The log line for one webhook request: `{"msg":"webhook",...}` on one line.
pub fn log_line(log: &WebhookLog) -> String {
    let domains_total = log.domains.len();
    let domains: Vec<&String> = log.domains.iter().take(MAX_LOGGED_DOMAINS).collect();
    let line = serde_json::json!({
        "msg": "webhook",
        "esp": log.esp,
        "status": log.status,
        "accepted": log.accepted,
        "stale": log.stale,
        "duplicates": log.duplicates,
        "kinds": log.kinds,
        "invalid": log.invalid,
        "domains": domains,
        "domains_total": domains_total,
        "rejection": log.rejection,
        "rows_written": log.rows_written,
        "subscription_confirmed": log.subscription_confirmed,
    });
    line.to_string()
}

/// Answers one webhook request; errors become JSON responses here so that the log line records them.
pub async fn handle<S: Store, C: Counter>(req: &HttpRequest, esp_name: &str, ctx: &Context<'_, S, C>) -> HttpResponse {
    let mut log = WebhookLog::default();
    let response = match serve(req, esp_name, ctx, &mut log).await {
        Ok(response) => response,
        Err(err) => {
            // Messages name what was wrong and never echo secrets; redaction guards against an address
            // that a parser error might quote.
            log.rejection = Some(redact_addresses(&format!("{}: {}", err.code(), err.message())));
            err.into_response()
        }
    };
    log.status = response.status;
    let line = log_line(&log);
    response.with_log(line)
}

async fn serve<S: Store, C: Counter>(
    req: &HttpRequest,
    esp_name: &str,
    ctx: &Context<'_, S, C>,
    log: &mut WebhookLog,
) -> Result<HttpResponse, AppError> {
    // Before anything else: nothing of an oversized body is read or hashed.
    if req.body.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge(format!("body is over {MAX_BODY_BYTES} bytes")));
    }
    let esp = Esp::from_name(esp_name).ok_or_else(|| AppError::NotFound("no webhook for this ESP".into()))?;
    log.esp = Some(esp);
    match (req.method, esp) {
        (Method::Post, _) => {}
        // Mandrill validates a webhook URL with an unsigned HEAD before it saves it.
        (Method::Head, Esp::Mandrill) => return Ok(HttpResponse::empty(200)),
        (_, Esp::Mandrill) => return Err(method_not_allowed("HEAD, POST")),
        _ => return Err(method_not_allowed("POST")),
    }
    let delivery = Delivery { body: &req.body, headers: &req.headers, now: ctx.now };
    let verified = esp::verify_and_parse(esp, &delivery, ctx.config, ctx.store, ctx.fetcher).await?;
    let Verified { events, invalid, nonce, subscription_confirmed } = verified;
    for why in &invalid {
        *log.invalid.entry(why.as_str()).or_default() += 1;
    }
    if subscription_confirmed.is_some() {
        log.subscription_confirmed = true;
        let body = serde_json::json!({ "accepted": 0, "stale": 0, "ignored": 0, "subscription_confirmed": true });
        return Ok(HttpResponse::json(200, &body));
    }
    for event in &events {
        *log.kinds.entry(event.kind.as_str()).or_default() += 1;
        if !log.domains.contains(&event.recipient_domain) {
            log.domains.insert(event.recipient_domain.clone());
        }
    }
    let settings = Settings::from_config(ctx.config)?;
    let prepared = counting::prepare(&events, ctx.now, &settings);
    log.stale = prepared.stale;
    let (mut accepted, mut duplicates) = (0, 0);
    for (i, (shard, mut delta)) in prepared.deltas.into_iter().enumerate() {
        if i == 0 {
            delta.nonce = nonce;
        }
        delta.esp = Some(esp.as_str().to_owned());
        // Shard by shard: if one fails, the webhook answers 503 and the retry finds the others' events
        // already counted.
        let applied: Applied = counting::call(ctx.counter, shard, &Request::Apply { delta }).await?;
        if applied.replay {
            return Err(AppError::Unauthorized("signature token already used (replay)".into()));
        }
        accepted += applied.accepted;
        duplicates += applied.duplicates;
        log.rows_written += applied.rows_written;
    }
    log.accepted = accepted;
    log.duplicates = duplicates;
    let answer = Accepted {
        accepted,
        stale: prepared.stale,
        ignored: prepared.ignored,
        duplicates,
        invalid: invalid.len(),
        events: (events.len() <= ECHOED_EVENTS_MAX).then_some(&events[..]),
    };
    Ok(HttpResponse::json(200, &answer))
}

/// Up to this many normalized events are echoed in the answer, for whoever tests a webhook by hand. ESPs
/// ignore the body, and serializing a thousand-event batch back cost a good part of the Worker's CPU budget.
pub const ECHOED_EVENTS_MAX: usize = 100;

#[derive(Serialize)]
struct Accepted<'a> {
    /// Events counted.
    accepted: usize,
    /// Events older than the retention, not stored.
    stale: usize,
    /// Events of no counted kind (opens, clicks, `processed`…): acknowledged, not stored.
    ignored: usize,
    /// Events counted before (a redelivery, or the same event in another batch): not counted again.
    duplicates: usize,
    /// Events whose recipient names no domain that could be looked up (an address literal, a name DNS
    /// cannot hold): not stored, the rest of the batch is; the log line says why.
    invalid: usize,
    /// The normalized events, for batches of at most [`ECHOED_EVENTS_MAX`].
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<&'a [NormalizedEvent]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_is_one_json_line_with_counts_and_domains_only() {
        let mut log =
            WebhookLog { esp: Some(Esp::Sendgrid), status: 200, accepted: 2, rows_written: 1, ..Default::default() };
        log.kinds.insert("bounced", 2);
        log.domains.insert("example.com".into());
        let line = log_line(&log);
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["esp"], "sendgrid");
        assert_eq!(value["kinds"]["bounced"], 2);
        assert_eq!(value["domains"][0], "example.com");
        assert_eq!(value["rejection"], serde_json::Value::Null);
        assert!(!line.contains('@'));
    }

    #[test]
    fn log_line_caps_the_domain_list() {
        let mut log = WebhookLog::default();
        log.domains.extend((0..200).map(|i| format!("d{i}.example")));
        let value: serde_json::Value = serde_json::from_str(&log_line(&log)).unwrap();
        assert_eq!(value["domains"].as_array().map(Vec::len), Some(MAX_LOGGED_DOMAINS));
        assert_eq!(value["domains_total"], 200);
    }
}
