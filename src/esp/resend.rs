//! Resend webhooks, delivered by Svix (the Standard Webhooks scheme): `svix-signature` holds one or more
//! space-separated `v1,<base64 HMAC-SHA256>` over `svix-id.svix-timestamp.body`, keyed with the base64
//! part of the `whsec_` secret; several signatures appear while a secret is rotated.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::common::{self, text};
use super::normalize::{normalize, Draft};
use super::{sending, Delivery, EspError, Parsed};
use crate::config::Config;
use crate::event::{Esp, EventKind, Sending, Tags};

/// The `whsec_…` signing secret of the Resend webhook.
pub const SECRET: &str = "RESEND_WEBHOOK_SECRET";
const ID_HEADER: &str = "svix-id";
const TIMESTAMP_HEADER: &str = "svix-timestamp";
const SIGNATURE_HEADER: &str = "svix-signature";

pub fn verify(delivery: &Delivery<'_>, config: &Config) -> Result<(), EspError> {
    let secret = common::required_secret(config, SECRET)?;
    let key = common::decode_base64(secret.strip_prefix("whsec_").unwrap_or(secret), SECRET)
        .map_err(|_| EspError::Unauthorized(format!("{SECRET} must be the whsec_… secret Resend shows")))?;
    let id = common::required_header(delivery, ID_HEADER)?;
    let timestamp = common::required_header(delivery, TIMESTAMP_HEADER)?;
    let signatures = common::required_header(delivery, SIGNATURE_HEADER)?;
    common::check_fresh(common::timestamp_header(timestamp, TIMESTAMP_HEADER)?, delivery.now)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&key).map_err(|_| EspError::Unauthorized(format!("{SECRET} is unusable")))?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(delivery.body);
    let expected = mac.finalize().into_bytes();
    // Only `v1` (HMAC-SHA256) is defined for symmetric secrets; other versions are skipped, not trusted.
    let matched = signatures
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|sig| common::decode_base64(sig, SIGNATURE_HEADER).ok())
        .any(|sig| common::constant_time_eq(&sig, &expected));
    if matched {
        Ok(())
    } else {
        Err(EspError::Unauthorized("no v1 signature matches".into()))
    }
}

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let body = common::parse_json(delivery.body, "Resend")?;
    if !body.is_object() {
        return Err(EspError::Malformed("Resend body must be a JSON object".into()));
    }
    let name = text(&body, "/type").unwrap_or_default();
    let bounce_message = text(&body, "/data/bounce/message");
    let kind = match name {
        "email.delivered" => EventKind::Delivered,
        "email.delivery_delayed" => EventKind::Deferred,
        // Resend reports its own suppression list as a bounce; only its message tells them apart.
        "email.bounced" if bounce_message.is_some_and(|m| m.to_ascii_lowercase().contains("suppress")) => {
            EventKind::Dropped
        }
        "email.bounced" => EventKind::Bounced,
        "email.failed" | "email.suppressed" => EventKind::Dropped,
        "email.complained" => EventKind::Complaint,
        _ => EventKind::Other,
    };
    let timestamp = common::timestamp_field(&body, "/created_at");
    // Resend's events are per email, not per recipient; like anymail, the first `to` is the recipient.
    let recipient = body.pointer("/data/to").and_then(|to| match to {
        Value::Array(list) => list.first().and_then(Value::as_str),
        Value::String(one) => Some(one.as_str()),
        _ => None,
    });
    // `svix-id` is stable across Svix's retries; without it (the CLI) the event's own fields are hashed.
    let event_id = delivery.header(ID_HEADER).map(str::to_owned).unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        common::stable_id(&["resend", name, text(&body, "/data/email_id").unwrap_or_default(), &ts])
    });
    let draft = Draft {
        event_id,
        kind: Some(kind),
        occurred_at: timestamp.unwrap_or(delivery.now),
        recipient: recipient.unwrap_or_default(),
        // Resend relays no SMTP text; its bounce message is its own summary, good only as a hint.
        hint: bounce_message,
        sending: sending_side(&body),
        ..Draft::default()
    };
    Ok(std::iter::once(normalize(Esp::Resend, draft)).collect())
}

/// A broadcast is Resend's campaign; tags are `{name: value}` (`[{name, value}]` in older payloads).
fn sending_side(body: &Value) -> Sending {
    let mut tags = Tags::default();
    if let Some(broadcast) = text(body, "/data/broadcast_id") {
        sending::push_tag(&mut tags, "broadcast", broadcast);
    }
    sending::push_pairs(&mut tags, body.pointer("/data/tags"), |_| false);
    Sending { sending_domain: sending::address_domain(text(body, "/data/from")), tags, ..Sending::default() }
}
