//! Mandrill (Mailchimp Transactional): a form body whose `mandrill_events` field is a JSON array, signed
//! with `X-Mandrill-Signature` = base64(HMAC-SHA1(key, registered URL + each form field, sorted by name,
//! as name + value)). The URL must be exactly what was registered in Mandrill (behind a proxy the request
//! URL differs), so it is configured rather than taken from the request. Mandrill checks the URL with an
//! unsigned HEAD first; the router answers that.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;

use super::common::{self, text};
use super::normalize::{normalize, Draft, Skipped};
use super::{sending, Delivery, EspError, Parsed};
use crate::config::Config;
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};
use crate::http::form_urlencoded_pairs;

/// The webhook's key, shown in Mandrill's webhook settings.
pub const KEY: &str = "MANDRILL_WEBHOOK_KEY";
/// The webhook URL exactly as registered in Mandrill (scheme, host, path, query, any userinfo).
pub const URL: &str = "MANDRILL_WEBHOOK_URL";
const SIGNATURE_HEADER: &str = "x-mandrill-signature";

pub fn verify(delivery: &Delivery<'_>, config: &Config) -> Result<(), EspError> {
    let key = common::required_secret(config, KEY)?;
    let url = common::required_secret(config, URL)?;
    let presented = common::decode_base64(common::required_header(delivery, SIGNATURE_HEADER)?, SIGNATURE_HEADER)?;
    let mut fields = form_fields(delivery.body)?;
    crate::sort::sort(&mut fields);
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes())
        .map_err(|_| EspError::Unauthorized(format!("{KEY} is unusable")))?;
    mac.update(url.as_bytes());
    for (name, value) in &fields {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(&presented).map_err(|_| EspError::Unauthorized("signature does not match".into()))
}

fn form_fields(body: &[u8]) -> Result<Vec<(String, String)>, EspError> {
    let body = std::str::from_utf8(body).map_err(|_| {
        EspError::Malformed("Mandrill body is not a UTF-8 form (application/x-www-form-urlencoded)".into())
    })?;
    Ok(form_urlencoded_pairs(body))
}

/// Parses the form body, or the bare JSON array of `mandrill_events` (what someone pastes into the CLI
/// after decoding it): a signed request is always a form, so this leniency adds nothing to trust.
pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let fields = form_fields(delivery.body)?;
    let is_bare_json = delivery.body.trim_ascii_start().first() == Some(&b'[');
    let events_json = match fields.iter().find(|(name, _)| name == "mandrill_events") {
        Some((_, value)) => value.as_str(),
        None if is_bare_json => std::str::from_utf8(delivery.body).unwrap_or_default(),
        None => return Err(EspError::Malformed("Mandrill form has no `mandrill_events` field".into())),
    };
    let events: Value = crate::json::parse(events_json)
        .map_err(|e| EspError::Malformed(format!("Mandrill `mandrill_events` is not valid JSON: {e}")))?;
    let items = events
        .as_array()
        .ok_or_else(|| EspError::Malformed("Mandrill `mandrill_events` must be a JSON array".into()))?;
    Ok(items.iter().map(|item| event(item, delivery.now)).collect())
}

fn event(item: &Value, now: u64) -> Result<NormalizedEvent, Skipped> {
    // Sync events (`type: blacklist|whitelist`) have no `event` and no recipient: they are list changes, not
    // deliveries, and are skipped like any event without a recipient.
    let name = text(item, "/event").ok_or(Skipped::NoRecipient)?;
    let kind = match name {
        "send" => EventKind::Delivered,
        "deferral" => EventKind::Deferred,
        // Renamed from `soft-bounce` in 2015; both still appear in stored payloads.
        "hard_bounce" | "soft_bounce" | "soft-bounce" => EventKind::Bounced,
        "reject" => EventKind::Dropped,
        "spam" => EventKind::Complaint,
        _ => EventKind::Other,
    };
    let timestamp = common::timestamp_field(item, "/ts");
    // `_id` is the message's id, shared by all its events: event + time make it one event's id.
    let message_id = text(item, "/_id").or_else(|| text(item, "/msg/_id")).unwrap_or_default();
    let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
    // A deferral's reply is in the latest SMTP event; bounces have it in `msg.diag`.
    let smtp_events = item.pointer("/msg/smtp_events").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let last_smtp_diag = smtp_events.iter().rev().find_map(|e| text(e, "/diag"));
    normalize(
        Esp::Mandrill,
        Draft {
            event_id: format!("{message_id}:{name}:{ts}"),
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient: text(item, "/msg/email").unwrap_or_default(),
            reply: text(item, "/msg/diag").or(last_smtp_diag),
            hint: text(item, "/msg/bounce_description"),
            sending: sending_side(item, smtp_events),
            ..Draft::default()
        },
    )
}

/// The sending IP is that of the latest SMTP attempt, the one whose reply this event reports.
fn sending_side(item: &Value, smtp_events: &[Value]) -> Sending {
    let mut tags = Tags::default();
    if let Some(subaccount) = text(item, "/msg/subaccount") {
        sending::push_tag(&mut tags, "subaccount", subaccount);
    }
    sending::push_tags(&mut tags, "", sending::strings(item.pointer("/msg/tags")));
    Sending {
        sending_ip: sending::ip(smtp_events.iter().rev().find_map(|e| text(e, "/source_ip"))),
        ip_pool: None,
        sending_domain: sending::address_domain(text(item, "/msg/sender")),
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// Signs like Mandrill does, for the test below.
    fn sign(key: &str, url: &str, body: &str) -> String {
        let mut fields = form_urlencoded_pairs(body);
        fields.sort();
        let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
        mac.update(url.as_bytes());
        for (name, value) in &fields {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signature_covers_url_and_sorted_fields() {
        let body = "b=2&a=1";
        let config = Config::from_pairs([(KEY, "k"), (URL, "https://h/webhooks/mandrill")]);
        let headers = vec![(SIGNATURE_HEADER.to_owned(), sign("k", "https://h/webhooks/mandrill", body))];
        let delivery = Delivery { body: body.as_bytes(), headers: &headers, now: 0 };
        assert_eq!(verify(&delivery, &config), Ok(()));
        let other_url = Config::from_pairs([(KEY, "k"), (URL, "https://h/other")]);
        assert!(verify(&delivery, &other_url).is_err());
    }
}
