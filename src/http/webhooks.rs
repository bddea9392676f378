//! `POST /webhooks/{esp}`: size check, ESP lookup, method, verification and parsing (in [`crate::esp`]),
//! then the events go to [`crate::ingest::record`]. Every request, accepted or not, produces one JSON log
//! line (see [`log_line`]) that the shell writes with `console_log`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::AppError;
use crate::esp::{self, common, p256_sha256, Delivery, EspError, Verified};
use crate::event::{Esp, NormalizedEvent};
use crate::redact::redact_addresses;
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
    pub kinds: BTreeMap<&'static str, usize>,
    /// Recipients refused by [`crate::domain`], by reason (`address_literal`, `not_a_dns_name`…).
    pub invalid: BTreeMap<&'static str, usize>,
    pub domains: BTreeSet<String>,
    pub rejection: Option<String>,
    pub storage_writes: u32,
    pub subscription_confirmed: bool,
    /// Set when the Mailgun replay marker could not be written (the events were stored all the same).
    pub replay_marker_failed: bool,
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
        "kinds": log.kinds,
        "invalid": log.invalid,
        "domains": domains,
        "domains_total": domains_total,
        "rejection": log.rejection,
        "storage_writes": log.storage_writes,
        "subscription_confirmed": log.subscription_confirmed,
        "replay_marker_failed": log.replay_marker_failed,
    });
    line.to_string()
}

/// Answers one webhook request; errors become JSON responses here so that the log line records them.
pub async fn handle<S: Store>(req: &HttpRequest, esp_name: &str, ctx: &Context<'_, S>) -> HttpResponse {
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

async fn serve<S: Store>(
    req: &HttpRequest,
    esp_name: &str,
    ctx: &Context<'_, S>,
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
    let Verified { events, invalid, replay_marker, subscription_confirmed } = verified;
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
    let key = request_key(esp, &events).await?;
    let recorded = crate::ingest::record(ctx.store, ctx.config, &key, &events, ctx.now).await?;
    log.accepted = recorded.accepted;
    log.stale = recorded.stale;
    log.storage_writes = recorded.writes;
    if let Some(marker) = replay_marker {
        // The events are stored: failing now would make Mailgun retry with a new signature, a different
        // body hash and so a second copy. Log the failure instead; the timestamp window still bounds replays.
        match esp::remember(ctx.store, &marker).await {
            Ok(()) => log.storage_writes += 1,
            Err(_) => log.replay_marker_failed = true,
        }
    }
    let accepted = Accepted {
        accepted: recorded.accepted,
        stale: recorded.stale,
        ignored: recorded.ignored,
        invalid: invalid.len(),
        events: (events.len() <= ECHOED_EVENTS_MAX).then_some(&events[..]),
    };
    Ok(HttpResponse::json(200, &accepted))
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
    /// Events whose recipient names no domain that could be looked up (an address literal, a name DNS
    /// cannot hold): not stored, the rest of the batch is; the log line says why.
    invalid: usize,
    /// The normalized events, for batches of at most [`ECHOED_EVENTS_MAX`].
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<&'a [NormalizedEvent]>,
}

/// Identifies a request by the events it carries (the ESP's ids, or hashes of the ESP's own fields), so a
/// redelivery overwrites its own earlier write instead of counting twice, even when the ESP re-signs the
/// retry and so changes the body (Mailgun's signature block gets a new token and timestamp each time).
async fn request_key(esp: Esp, events: &[NormalizedEvent]) -> Result<String, AppError> {
    let mut ids = Vec::with_capacity(events.iter().map(|e| 8 + e.event_id.len()).sum());
    for event in events {
        // Length-prefixed, so no two id lists hash alike by concatenation.
        ids.extend_from_slice(&(event.event_id.len() as u64).to_le_bytes());
        ids.extend_from_slice(event.event_id.as_bytes());
    }
    let digest = p256_sha256::sha256(&[esp.as_str().as_bytes(), &ids])
        .await
        .map_err(|failed| EspError::Upstream(format!("could not hash the request's event ids: {}", failed.0)))?;
    Ok(common::hex(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_is_one_json_line_with_counts_and_domains_only() {
        let mut log =
            WebhookLog { esp: Some(Esp::Sendgrid), status: 200, accepted: 2, storage_writes: 1, ..Default::default() };
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

    #[test]
    fn request_key_depends_on_esp_and_event_ids_only() {
        let event = |id: &str, reply: &str| NormalizedEvent {
            esp: Esp::Mailgun,
            event_id: id.into(),
            kind: crate::event::EventKind::Deferred,
            occurred_at: 1_700_000_000,
            recipient_domain: "example.org".into(),
            smtp_code: Some(451),
            enhanced_code: None,
            reply: Some(reply.into()),
            category: None,
            permanence: None,
        };
        let key = |esp, events: &[NormalizedEvent]| pollster::block_on(request_key(esp, events)).expect("hashed");
        let first = [event("a", "451 try later")];
        let resigned_retry = [event("a", "451 try later")];
        assert_eq!(key(Esp::Mailgun, &first), key(Esp::Mailgun, &resigned_retry));
        assert_ne!(key(Esp::Mailgun, &first), key(Esp::Mailjet, &first));
        assert_ne!(
            key(Esp::Mailgun, &[event("ab", ""), event("c", "")]),
            key(Esp::Mailgun, &[event("a", ""), event("bc", "")])
        );
        // SHA-256 of "mailgun", 1 as u64 little-endian, "a": what earlier versions stored it under, so a
        // redelivery across a deploy still finds its first write.
        assert_eq!(key(Esp::Mailgun, &first), "500e46cc81a489f7a792ab5ff1a16b3f56aed03868f266a06dd71434e65e903b");
    }
}
