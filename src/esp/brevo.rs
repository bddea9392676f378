//! Brevo (ex-Sendinblue) transactional webhooks: one object, or an array when the webhook was created with
//! `batched: true`. No signature: Brevo sends Basic credentials or a bearer token.

use serde_json::Value;

use super::common::{self, text};
use super::normalize::{normalize, Draft, Skipped};
use super::{sending, Delivery, EspError, Parsed};
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};

/// `user:password` (Basic auth) or the bearer token set in the webhook's `auth`.
pub const CREDENTIALS: &str = "BREVO_WEBHOOK_CREDENTIALS";

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let items = common::object_or_array(common::parse_json(delivery.body, "Brevo")?, "Brevo")?;
    Ok(items.iter().map(|item| event(item, delivery.now)).collect())
}

fn event(item: &Value, now: u64) -> Result<NormalizedEvent, Skipped> {
    let name = text(item, "/event").unwrap_or_default();
    let kind = match name {
        "delivered" => EventKind::Delivered,
        "deferred" => EventKind::Deferred,
        "hard_bounce" | "soft_bounce" => EventKind::Bounced,
        "blocked" | "invalid_email" | "error" => EventKind::Dropped,
        "spam" | "complaint" => EventKind::Complaint,
        _ => EventKind::Other,
    };
    // `ts_epoch` is milliseconds UTC; `ts`/`date` follow the account's time zone (anymail), so they are
    // only a fallback.
    let timestamp = item
        .get("ts_epoch")
        .and_then(Value::as_u64)
        .map(|ms| ms / 1000)
        .or_else(|| common::timestamp_field(item, "/ts_event"))
        .or_else(|| common::timestamp_field(item, "/ts"));
    let email = text(item, "/email").unwrap_or_default();
    // Brevo's `id` identifies the webhook, not the event: the id is derived from the event's fields.
    let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
    let message_id = text(item, "/message-id").unwrap_or_default();
    normalize(
        Esp::Brevo,
        Draft {
            event_id: common::stable_id(&["brevo", message_id, name, email, &ts]),
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient: email,
            reply: text(item, "/reason"),
            sending: sending_side(item),
            ..Draft::default()
        },
    )
}

fn sending_side(item: &Value) -> Sending {
    let mut tags = Tags::default();
    sending::push_tags(&mut tags, "", sending::strings(item.get("tags")));
    // `tag` is one label, or (anymail's full sample) the `tags` array again as JSON text.
    match text(item, "/tag") {
        Some(tag) if tags.is_empty() && tag.starts_with('[') => {
            let listed = crate::json::parse::<Value>(tag).ok();
            sending::push_tags(&mut tags, "", sending::strings(listed.as_ref()));
        }
        Some(tag) if tags.is_empty() => sending::push_tag(&mut tags, "", tag),
        _ => {}
    }
    Sending { sending_ip: sending::ip(text(item, "/sending_ip")), tags, ..Sending::default() }
}
