//! The generic form, for MTAs and ESPs without an adapter: one object or an array of
//! `{"id", "event", "recipient" | "domain", "reply", "timestamp"}`, with `Authorization: Bearer <token>`,
//! optionally with the sending side: `"sending_ip"`, `"ip_pool"`, `"sending_domain"` (a domain, not an
//! address) and `"tags"` (an array of strings).

use serde_json::Value;

use super::common::{self, text};
use super::normalize::{normalize, Draft, Skipped};
use super::{sending, Delivery, EspError, Parsed};
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};

/// The bearer token senders of the generic form present.
pub const TOKEN: &str = "GENERIC_WEBHOOK_TOKEN";

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let items = common::object_or_array(common::parse_json(delivery.body, "generic")?, "generic")?;
    let events = items.iter().enumerate().map(|(index, item)| event(item, index)).collect::<Result<_, _>>()?;
    Ok(Parsed { events, invalid: Vec::new() })
}

/// Unlike an ESP's payload, the generic form is ours: a missing or unknown field is the sender's mistake
/// and is answered 400 naming it, rather than skipped. The sending side is the exception: a malformed
/// IP, domain or tag is dropped and the event counted without it, as for every ESP.
fn event(item: &Value, index: usize) -> Result<NormalizedEvent, EspError> {
    let bad = |why: &str| EspError::Malformed(format!("generic event at index {index}: {why}"));
    let name = text(item, "/event").ok_or_else(|| bad("`event` is missing"))?;
    let kind = match name {
        "delivered" => EventKind::Delivered,
        "deferred" => EventKind::Deferred,
        "bounced" => EventKind::Bounced,
        "dropped" => EventKind::Dropped,
        "complaint" => EventKind::Complaint,
        _ => return Err(bad("`event` must be delivered, deferred, bounced, dropped or complaint")),
    };
    let (recipient, domain) = (text(item, "/recipient"), text(item, "/domain"));
    let field = match (recipient, domain) {
        (Some(_), _) => "recipient",
        (None, Some(_)) => "domain",
        (None, None) => return Err(bad("`recipient` or `domain` is missing")),
    };
    let timestamp = common::timestamp_field(item, "/timestamp")
        .ok_or_else(|| bad("`timestamp` must be unix seconds or an RFC 3339 date-time"))?;
    let reply = text(item, "/reply");
    let event_id = common::id_string(item, "/id").unwrap_or_else(|| {
        let named = recipient.or(domain).unwrap_or_default();
        common::stable_id(&["generic", name, named, reply.unwrap_or_default(), &timestamp.to_string()])
    });
    let mut tags = Tags::default();
    sending::push_tags(&mut tags, "", sending::strings(item.get("tags")));
    let sending = Sending {
        sending_ip: sending::ip(text(item, "/sending_ip")),
        ip_pool: sending::pool(text(item, "/ip_pool")),
        sending_domain: sending::domain(text(item, "/sending_domain")),
        tags,
    };
    let draft = Draft {
        event_id,
        kind: Some(kind),
        occurred_at: timestamp,
        recipient: recipient.unwrap_or_default(),
        recipient_domain: domain,
        reply,
        sending,
        ..Draft::default()
    };
    normalize(Esp::Generic, draft).map_err(|skipped| match skipped {
        Skipped::Invalid(why) => bad(&format!("`{field}` has no valid domain: {why}")),
        Skipped::NoRecipient => bad("`recipient` or `domain` is missing"),
    })
}
