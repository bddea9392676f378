//! Mailjet Event API: an array when "group events" is on, otherwise one bare object (anymail #106). No
//! signature: Mailjet recommends Basic credentials in the URL.

use serde_json::Value;

use super::common::{self, text};
use super::normalize::{normalize, Draft, Skipped};
use super::{sending, Delivery, EspError, Parsed};
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};

/// `user:password` (Basic auth in the callback URL) or a bearer token.
pub const CREDENTIALS: &str = "MAILJET_WEBHOOK_CREDENTIALS";

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let items = common::object_or_array(common::parse_json(delivery.body, "Mailjet")?, "Mailjet")?;
    Ok(items.iter().map(|item| event(item, delivery.now)).collect())
}

fn event(item: &Value, now: u64) -> Result<NormalizedEvent, Skipped> {
    let name = text(item, "/event").unwrap_or_default();
    let kind = match name {
        "sent" => EventKind::Delivered,
        // Mailjet has no deferral event: a soft bounce (`hard_bounce: false`, e.g. `error: greylisted`)
        // is the receiver asking to try later.
        "bounce" if item.get("hard_bounce").and_then(Value::as_bool) == Some(false) => EventKind::Deferred,
        "bounce" => EventKind::Bounced,
        "blocked" => EventKind::Dropped,
        "spam" => EventKind::Complaint,
        _ => EventKind::Other,
    };
    let timestamp = common::timestamp_field(item, "/time");
    let email = text(item, "/email").unwrap_or_default();
    // Mailjet sends no event id; MessageID exceeds 2^53, so it is read as an integer string.
    let message_id = common::id_string(item, "/MessageID").unwrap_or_default();
    let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
    normalize(
        Esp::Mailjet,
        Draft {
            event_id: common::stable_id(&["mailjet", &message_id, name, email, &ts]),
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient: email,
            reply: text(item, "/comment").or_else(|| text(item, "/smtp_reply")),
            hint: text(item, "/error"),
            sending: sending_side(item),
            ..Draft::default()
        },
    )
}

/// Mailjet names only the campaign: `CustomCampaign` as documented (`customcampaign` in its samples),
/// else its own campaign id, which is 0 for mail outside any campaign.
fn sending_side(item: &Value) -> Sending {
    let campaign = text(item, "/CustomCampaign")
        .or_else(|| text(item, "/customcampaign"))
        .map(std::borrow::Cow::Borrowed)
        .or_else(|| sending::id(item.get("mj_campaign_id")).filter(|id| id != "0"));
    let mut tags = Tags::default();
    if let Some(campaign) = campaign {
        sending::push_tag(&mut tags, "campaign", &campaign);
    }
    Sending { tags, ..Sending::default() }
}
