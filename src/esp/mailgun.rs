//! Mailgun webhooks: one `{"signature": {...}, "event-data": {...}}` per request. The signature is
//! HMAC-SHA256 over `timestamp + token` only, not over the event, so a captured signature block could be
//! replayed on a forged body: besides the ±5 minute window, a token is accepted once (Mailgun's "Securing
//! Webhooks" advice). The counting object checks and records the token's [`Nonce`] in the same atomic
//! unit as the request's counts ([`crate::counting::object`]), with a hash of the body it came with: a
//! token on another body is a replay and refused; the same body again is a retry whose commit landed but
//! whose answer was lost, answered as duplicates; a retry whose token was never recorded counts.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use super::common::{self, text};
use super::normalize::{normalize, Draft, Skipped};
use super::{sending, Delivery, EspError, Parsed};
use crate::config::Config;
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};

/// The account's "HTTP webhook signing key".
pub const SIGNING_KEY: &str = "MAILGUN_WEBHOOK_SIGNING_KEY";
/// A token is remembered a little longer than the timestamp window, after which the timestamp check
/// refuses it anyway.
pub const NONCE_SECONDS: u64 = 2 * common::TOLERANCE_SECONDS;
/// Longer tokens are not Mailgun's (they send 50 hex characters); refusing them bounds the work.
const MAX_TOKEN_LEN: usize = 256;
/// Mailgun's own codes in `delivery-status.code`, not replies from a remote server: 498 no MX,
/// 499 unable to connect, 605 previously bounced, 607 previous complaint.
const INTERNAL_CODES: [u16; 4] = [498, 499, 605, 607];

/// A verified token and the body it signed, each reduced to 8 bytes of SHA-256: the object accepts the
/// token with one body only within [`NONCE_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nonce {
    pub token: u64,
    pub body: u64,
}

pub fn verify(delivery: &Delivery<'_>, config: &Config) -> Result<Nonce, EspError> {
    let key = common::required_secret(config, SIGNING_KEY)?;
    // The signature lives inside the JSON body, so the body must be parsed to find it; the HMAC is still
    // checked before any event is read.
    let body = common::parse_json(delivery.body, "Mailgun")?;
    let field = |name: &str| {
        text(&body, &format!("/signature/{name}"))
            .ok_or_else(|| EspError::Unauthorized(format!("missing signature.{name}")))
    };
    let (timestamp, token, signature) = (field("timestamp")?, field("token")?, field("signature")?);
    if token.len() > MAX_TOKEN_LEN {
        return Err(EspError::Unauthorized("signature.token is too long".into()));
    }
    common::check_fresh(common::timestamp_header(timestamp, "signature.timestamp")?, delivery.now)?;
    let presented =
        common::decode_hex(signature).ok_or_else(|| EspError::Unauthorized("signature is not hex".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map_err(|_| EspError::Unauthorized(format!("{SIGNING_KEY} is unusable")))?;
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.verify_slice(&presented).map_err(|_| EspError::Unauthorized("signature does not match".into()))?;
    Ok(Nonce { token: short_hash(token.as_bytes()), body: short_hash(delivery.body) })
}

fn short_hash(bytes: &[u8]) -> u64 {
    let digest = <Sha256 as sha2::Digest>::digest(bytes);
    u64::from_le_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let body = common::parse_json(delivery.body, "Mailgun")?;
    // Webhook bodies wrap the event in `event-data`; the Events API (and the documentation samples)
    // give the event itself.
    let data = body.get("event-data").unwrap_or(&body);
    if !data.is_object() {
        return Err(EspError::Malformed("Mailgun body must be a JSON object with `event-data`".into()));
    }
    Ok(std::iter::once(event(data, text(&body, "/signature/token"), delivery.now)).collect())
}

fn event(data: &Value, token: Option<&str>, now: u64) -> Result<NormalizedEvent, Skipped> {
    let name = text(data, "/event").unwrap_or_default();
    let reason = text(data, "/reason").unwrap_or_default();
    let kind = match (name, text(data, "/severity")) {
        ("delivered", _) => EventKind::Delivered,
        ("failed", Some("temporary")) => EventKind::Deferred,
        // `suppress-bounce`, `suppress-complaint`, `suppress-unsubscribe`: Mailgun did not send at all.
        ("failed", _) if reason.starts_with("suppress") => EventKind::Dropped,
        ("failed", _) => EventKind::Bounced,
        ("rejected", _) => EventKind::Dropped,
        ("complained", _) => EventKind::Complaint,
        _ => EventKind::Other,
    };
    let timestamp = common::timestamp_field(data, "/timestamp");
    // `event-data.id` is stable across Mailgun's retries (the token is not: every attempt is re-signed),
    // so it is the better dedupe key; the token stands in when an event has no id.
    let event_id = text(data, "/id").or(token).map(str::to_owned).unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        common::stable_id(&["mailgun", name, text(data, "/recipient").unwrap_or_default(), &ts])
    });
    let status = data.get("delivery-status").filter(|s| s.is_object());
    let code = status.and_then(|s| common::code_field(s, "/code")).filter(|c| !INTERNAL_CODES.contains(c));
    let reply = status.and_then(|s| text(s, "/message"));
    normalize(
        Esp::Mailgun,
        Draft {
            event_id,
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient: text(data, "/recipient").unwrap_or_default(),
            recipient_domain: text(data, "/recipient-domain"),
            smtp_code: code,
            enhanced_code: status.and_then(|s| text(s, "/enhanced-code").or_else(|| text(s, "/bounce-code"))),
            reply,
            hint: status.and_then(|s| text(s, "/description")).or(Some(reason).filter(|r| !r.is_empty())),
            sending: sending_side(data),
        },
    )
}

fn sending_side(data: &Value) -> Sending {
    let mut tags = Tags::default();
    // Campaigns (deprecated by Mailgun, still sent as `[]`) are read as names, objects or ids.
    for campaign in data.get("campaigns").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = campaign.as_str().or_else(|| text(campaign, "/name")).or_else(|| text(campaign, "/id")) {
            sending::push_tag(&mut tags, "campaign", name);
        }
    }
    sending::push_tags(&mut tags, "", sending::strings(data.get("tags")));
    let envelope = data.get("envelope");
    Sending {
        sending_ip: sending::ip(envelope.and_then(|e| text(e, "/sending-ip"))),
        ip_pool: None,
        sending_domain: sending::address_domain(envelope.and_then(|e| text(e, "/sender")))
            .or_else(|| sending::address_domain(text(data, "/message/headers/from"))),
        tags,
    }
}
