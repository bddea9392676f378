//! SparkPost message events: an array of `{"msys": {"<class>": {...}}}`. No signature: SparkPost sends
//! the webhook's Basic credentials or an OAuth bearer token.

use serde_json::Value;

use super::common::{self, text};
use super::normalize::{normalize, Draft, Skipped};
use super::{sending, Delivery, EspError, Parsed};
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};

/// `user:password` (Basic auth on the webhook) or a bearer token.
pub const CREDENTIALS: &str = "SPARKPOST_WEBHOOK_CREDENTIALS";

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let items = common::object_or_array(common::parse_json(delivery.body, "SparkPost")?, "SparkPost")?;
    // Each item holds one event class under `msys`; a test batch may send `{"msys": {}}`, which is skipped.
    Ok(items
        .iter()
        .filter_map(|item| item.get("msys")?.as_object()?.values().next())
        .map(|event| self::event(event, delivery.now))
        .collect())
}

/// Bounce classes that are not delivery failures (SparkPost support docs, "Bounce classification codes"):
/// 60 auto-reply, 80 subscribe, 90 unsubscribe, 100 challenge-response.
const NOT_FAILURES: [&str; 4] = ["60", "80", "90", "100"];

fn event(event: &Value, now: u64) -> Result<NormalizedEvent, Skipped> {
    let name = text(event, "/type").unwrap_or_default();
    let bounce_class = common::id_string(event, "/bounce_class").unwrap_or_default();
    let kind = match name {
        "delivery" => EventKind::Delivered,
        "delay" => EventKind::Deferred,
        "bounce" | "out_of_band" if NOT_FAILURES.contains(&bounce_class.as_str()) => EventKind::Other,
        "bounce" | "out_of_band" => EventKind::Bounced,
        "policy_rejection" | "generation_rejection" | "generation_failure" => EventKind::Dropped,
        "spam_complaint" => EventKind::Complaint,
        _ => EventKind::Other,
    };
    let timestamp = common::timestamp_field(event, "/timestamp");
    let recipient = text(event, "/raw_rcpt_to").or_else(|| text(event, "/rcpt_to")).unwrap_or_default();
    let event_id = common::id_string(event, "/event_id").unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        common::stable_id(&["sparkpost", name, text(event, "/message_id").unwrap_or_default(), recipient, &ts])
    });
    normalize(
        Esp::Sparkpost,
        Draft {
            event_id,
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient,
            smtp_code: common::code_field(event, "/error_code"),
            reply: text(event, "/raw_reason"),
            sending: sending_side(event),
            ..Draft::default()
        },
    )
}

fn sending_side(event: &Value) -> Sending {
    let mut tags = Tags::default();
    if let Some(campaign) = sending::id(event.get("campaign_id")) {
        sending::push_tag(&mut tags, "campaign", &campaign);
    }
    if let Some(subaccount) = sending::id(event.get("subaccount_id")) {
        sending::push_tag(&mut tags, "subaccount", &subaccount);
    }
    Sending {
        sending_ip: sending::ip(text(event, "/sending_ip")),
        ip_pool: sending::pool(text(event, "/ip_pool")),
        sending_domain: sending::domain(text(event, "/sending_domain"))
            .or_else(|| sending::address_domain(text(event, "/friendly_from"))),
        tags,
    }
}
