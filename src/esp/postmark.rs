//! Postmark webhooks: one JSON object per request, `RecordType` + `Type` say what happened. No signature:
//! Postmark sends the HTTP Basic credentials configured on the webhook.

use serde_json::Value;

use super::common::{self, text};
use super::normalize::{normalize, Draft, Skipped};
use super::{sending, Delivery, EspError, Parsed};
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};

/// `user:password` (HTTP Basic, as configured on the webhook) or a token sent as `Bearer`.
pub const CREDENTIALS: &str = "POSTMARK_WEBHOOK_CREDENTIALS";

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let body = common::parse_json(delivery.body, "Postmark")?;
    if !body.is_object() {
        return Err(EspError::Malformed("Postmark body must be a JSON object".into()));
    }
    Ok(std::iter::once(event(&body, delivery.now)).collect())
}

/// Postmark's bounce `Type` (postmark.js `BounceType`). There is no deferral event: transient failures
/// arrive as bounce records.
fn bounce_kind(bounce_type: &str) -> EventKind {
    match bounce_type {
        "HardBounce" | "SoftBounce" | "VirusNotification" | "SpamNotification" | "ChallengeVerification" => {
            EventKind::Bounced
        }
        "Transient" | "DnsError" => EventKind::Deferred,
        // Postmark refused to send: inactive or invalid address, its own block, DMARC, API errors.
        "BadEmailAddress"
        | "ManuallyDeactivated"
        | "Unconfirmed"
        | "Blocked"
        | "DMARCPolicy"
        | "SMTPApiError"
        | "TemplateRenderingFailed" => EventKind::Dropped,
        "SpamComplaint" => EventKind::Complaint,
        _ => EventKind::Other,
    }
}

fn event(body: &Value, now: u64) -> Result<NormalizedEvent, Skipped> {
    let record_type = text(body, "/RecordType").unwrap_or_default();
    let kind = match record_type {
        "Bounce" => bounce_kind(text(body, "/Type").unwrap_or_default()),
        "SpamComplaint" => EventKind::Complaint,
        "Delivery" => EventKind::Delivered,
        _ => EventKind::Other,
    };
    let timestamp =
        ["/BouncedAt", "/DeliveredAt", "/ReceivedAt"].iter().find_map(|pointer| common::timestamp_field(body, pointer));
    let recipient = text(body, "/Email").or_else(|| text(body, "/Recipient")).unwrap_or_default();
    // `ID` exceeds 2^53 (4323372036854775807 in the docs): read as an integer, never a float.
    let event_id = common::id_string(body, "/ID").map(|id| format!("{record_type}:{id}")).unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        common::stable_id(&["postmark", record_type, text(body, "/MessageID").unwrap_or_default(), recipient, &ts])
    });
    normalize(
        Esp::Postmark,
        Draft {
            event_id,
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient,
            reply: text(body, "/Details"),
            hint: text(body, "/Description"),
            sending: sending_side(body),
            ..Draft::default()
        },
    )
}

fn sending_side(body: &Value) -> Sending {
    let mut tags = Tags::default();
    if let Some(stream) = text(body, "/MessageStream") {
        sending::push_tag(&mut tags, "stream", stream);
    }
    if let Some(server) = sending::id(body.get("ServerID")) {
        sending::push_tag(&mut tags, "server", &server);
    }
    if let Some(tag) = text(body, "/Tag") {
        sending::push_tag(&mut tags, "", tag);
    }
    Sending { sending_domain: sending::address_domain(text(body, "/From")), tags, ..Sending::default() }
}
