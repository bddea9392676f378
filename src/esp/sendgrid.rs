//! SendGrid Event Webhook: a JSON array of events, signed with ECDSA P-256/SHA-256 over the timestamp
//! header followed by the raw body (SendGrid's bodies end in `\r\n`, which the signature covers).

use std::borrow::Cow;

use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use serde_json::Value;

use super::normalize::{normalize, Draft, Skipped};
use super::{common, p256_sha256, sending, Delivery, EspError, Parsed};
use crate::config::Config;
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, Tags};

/// The base64 DER public key shown under "Signed Event Webhook" in SendGrid's settings.
pub const PUBLIC_KEY: &str = "SENDGRID_WEBHOOK_PUBLIC_KEY";
const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

pub async fn verify(delivery: &Delivery<'_>, config: &Config) -> Result<(), EspError> {
    let key_b64 = common::required_secret(config, PUBLIC_KEY)?;
    let signature_b64 = common::required_header(delivery, SIGNATURE_HEADER)?;
    let timestamp = common::required_header(delivery, TIMESTAMP_HEADER)?;
    common::check_fresh(common::timestamp_header(timestamp, TIMESTAMP_HEADER)?, delivery.now)?;
    let key_der = common::decode_base64(key_b64, PUBLIC_KEY)
        .map_err(|_| EspError::Unauthorized(format!("{PUBLIC_KEY} is not base64")))?;
    let key = VerifyingKey::from_public_key_der(&key_der)
        .map_err(|_| EspError::Unauthorized(format!("{PUBLIC_KEY} is not a P-256 public key (base64 DER)")))?;
    let signature = Signature::from_der(&common::decode_base64(signature_b64, SIGNATURE_HEADER)?)
        .map_err(|_| EspError::Unauthorized("signature is not a DER ECDSA signature".into()))?;
    if p256_sha256::verify(&key, &signature, &[timestamp.as_bytes(), delivery.body]).await? {
        Ok(())
    } else {
        Err(EspError::Unauthorized("signature does not match".into()))
    }
}

/// One SendGrid event: only the fields we read. Deserializing into this (strings borrowed from the body,
/// unknown fields skipped) rather than a `serde_json::Value` keeps a 1,000-event batch within budget.
#[derive(Debug, Deserialize)]
struct SendgridEvent<'a> {
    #[serde(borrow, default, deserialize_with = "common::optional_text")]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "common::optional_text")]
    email: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(borrow, default, deserialize_with = "common::optional_text")]
    sg_event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "common::optional_text")]
    sg_message_id: Option<Cow<'a, str>>,
    /// The enhanced code on bounces (often the generic `5.0.0`).
    #[serde(borrow, default, deserialize_with = "common::optional_text")]
    status: Option<Cow<'a, str>>,
    /// Bounces and drops carry their text here…
    #[serde(borrow, default, deserialize_with = "common::optional_text")]
    reason: Option<Cow<'a, str>>,
    /// …deferrals and deliveries here.
    #[serde(borrow, default, deserialize_with = "common::optional_text")]
    response: Option<Cow<'a, str>>,
    /// The IP SendGrid sent from; on opens and clicks the reader's IP, so it is read on deliveries,
    /// deferrals and bounces only. The sending fields below are lenient: a value of the wrong type is
    /// skipped, never a reason to refuse the batch.
    #[serde(borrow, default, deserialize_with = "sending::lenient_text")]
    ip: Option<Cow<'a, str>>,
    /// `{"name", "id"}` of the IP pool the mail was sent with.
    #[serde(default)]
    pool: Option<Value>,
    /// A string or an array, as the sender set it: read straight into tags.
    #[serde(default, deserialize_with = "sending::lenient_tags")]
    category: Tags,
    #[serde(borrow, default, deserialize_with = "sending::lenient_text")]
    marketing_campaign_name: Option<Cow<'a, str>>,
    #[serde(default)]
    marketing_campaign_id: Option<Value>,
    /// The unsubscribe group: the kind of mail (newsletter, alerts…) as the sender groups it.
    #[serde(default)]
    asm_group_id: Option<Value>,
}

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    // SendGrid posts an array; its documentation shows single objects: both are read.
    let mut parsed = Parsed::default();
    common::for_each_item(delivery.body, "SendGrid", |item: SendgridEvent<'_>, index| {
        parsed.push(event(item, index, delivery.now));
    })?;
    Ok(parsed)
}

/// A field's text, trimmed, if not empty.
fn field<'b>(value: &'b Option<Cow<'_, str>>) -> Option<&'b str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn event(mut item: SendgridEvent<'_>, index: usize, now: u64) -> Result<NormalizedEvent, Skipped> {
    let categories = std::mem::take(&mut item.category);
    let name = field(&item.event).unwrap_or_default();
    let kind = match name {
        "delivered" => EventKind::Delivered,
        "deferred" => EventKind::Deferred,
        // `type` is `bounce` or `blocked`: both are the remote server refusing, unlike `dropped`.
        "bounce" => EventKind::Bounced,
        "dropped" => EventKind::Dropped,
        "spamreport" => EventKind::Complaint,
        _ => EventKind::Other,
    };
    let timestamp = item.timestamp.as_ref().and_then(|t| common::timestamp_field(t, ""));
    let email = field(&item.email).unwrap_or_default();
    let event_id = field(&item.sg_event_id).map(str::to_owned).unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        let message = field(&item.sg_message_id).unwrap_or_default();
        common::stable_id(&["sendgrid", message, name, email, &ts, &index.to_string()])
    });
    normalize(
        Esp::Sendgrid,
        Draft {
            event_id,
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient: email,
            enhanced_code: field(&item.status),
            reply: field(&item.reason).or_else(|| field(&item.response)),
            sending: sending_side(&item, kind, categories),
            ..Draft::default()
        },
    )
}

/// `categories` were validated as they were read; a campaign or group comes first when there is one.
fn sending_side(item: &SendgridEvent<'_>, kind: EventKind, categories: Tags) -> Sending {
    let campaign = field(&item.marketing_campaign_name)
        .map(Cow::Borrowed)
        .or_else(|| sending::id(item.marketing_campaign_id.as_ref()));
    let group = sending::id(item.asm_group_id.as_ref());
    let tags = if campaign.is_none() && group.is_none() {
        categories
    } else {
        let mut tags = Tags::default();
        if let Some(campaign) = campaign {
            sending::push_tag(&mut tags, "campaign", &campaign);
        }
        if let Some(group) = group {
            sending::push_tag(&mut tags, "group", &group);
        }
        sending::push_tags(&mut tags, "", categories.iter());
        tags
    };
    let sent = matches!(kind, EventKind::Delivered | EventKind::Deferred | EventKind::Bounced);
    Sending {
        sending_ip: if sent { sending::ip(field(&item.ip)) } else { None },
        ip_pool: sending::pool(item.pool.as_ref().and_then(|pool| common::text(pool, "/name"))),
        sending_domain: None,
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &[u8]) -> Result<Vec<NormalizedEvent>, EspError> {
        parse(&Delivery { body, headers: &[], now: 1_700_000_000 }).map(|parsed| parsed.events)
    }

    #[test]
    fn an_array_or_one_object_is_read_in_order() {
        let batch = br#"[{"event":"delivered","email":"a@one.example","sg_event_id":"e1","timestamp":1},
            {"event":"processed"},
            {"event":"deferred","email":"b@two.example","sg_event_id":"e2","response":"451 4.7.1 Try again later"}]"#;
        let events = parsed(batch).expect("a valid batch");
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["e1", "e2"], "an event without a recipient is skipped, the others kept in order");
        let one = parsed(br#" {"event":"bounce","email":"c@three.example","reason":"550 5.1.1 unknown"} "#)
            .expect("one object");
        assert_eq!((one.len(), one[0].smtp_code), (1, Some(550)));
        assert!(parsed(b"[]").expect("an empty batch").is_empty());
        let escaped = parsed(
            br#"[{"event":"bounce","email":"d@four.example","status":null,"reason":"550 5.1.1 \"d\" unknown \u00e9"}]"#,
        )
        .expect("escapes and null");
        assert_eq!(escaped[0].reply.as_deref(), Some("550 5.1.1 \"d\" unknown \u{e9}"));
        assert_eq!(escaped[0].enhanced_code.as_deref(), Some("5.1.1"), "a null status is no status");
    }

    #[test]
    fn malformed_bodies_name_what_is_wrong() {
        for (body, needle) in [
            (&b"[{\"event\":\"delivered\"}] trailing"[..], "trailing characters"),
            (b"[{\"event\":\"delivered\",\"email\":\"a@b.example\"}", "EOF"),
            (b"\"delivered\"", "an array of event objects or one object"),
            (b"[1]", "expected struct SendgridEvent"),
            (b"[{\"event\":7}]", "a string or null"),
            (b"[{\"event\":\"delivered\",\"email\":\"\xff@b.example\"}]", "not UTF-8"),
            (b"", "EOF"),
        ] {
            match parsed(body) {
                Err(EspError::Malformed(message)) => assert!(message.contains(needle), "{message:?} lacks {needle:?}"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
    }
}
