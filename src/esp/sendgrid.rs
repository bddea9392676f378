//! SendGrid Event Webhook: a JSON array of events, signed with ECDSA P-256/SHA-256 over the timestamp
//! header followed by the raw body (SendGrid's bodies end in `\r\n`, which the signature covers).

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;

use super::common::{self, text};
use super::normalize::{normalize, Draft};
use super::{Delivery, EspError};
use crate::config::Config;
use crate::event::{Esp, EventKind, NormalizedEvent};

/// The base64 DER public key shown under "Signed Event Webhook" in SendGrid's settings.
pub const PUBLIC_KEY: &str = "SENDGRID_WEBHOOK_PUBLIC_KEY";
const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

pub fn verify(delivery: &Delivery<'_>, config: &Config) -> Result<(), EspError> {
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
    let mut signed = Vec::with_capacity(timestamp.len() + delivery.body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(delivery.body);
    key.verify(&signed, &signature).map_err(|_| EspError::Unauthorized("signature does not match".into()))
}

pub fn parse(delivery: &Delivery<'_>) -> Result<Vec<NormalizedEvent>, EspError> {
    let items = common::object_or_array(common::parse_json(delivery.body, "SendGrid")?, "SendGrid")?;
    Ok(items.iter().enumerate().filter_map(|(index, item)| event(item, index, delivery.now)).collect())
}

fn event(item: &Value, index: usize, now: u64) -> Option<NormalizedEvent> {
    let name = text(item, "/event").unwrap_or_default();
    let kind = match name {
        "delivered" => EventKind::Delivered,
        "deferred" => EventKind::Deferred,
        // `type` is `bounce` or `blocked`: both are the remote server refusing, unlike `dropped`.
        "bounce" => EventKind::Bounced,
        "dropped" => EventKind::Dropped,
        "spamreport" => EventKind::Complaint,
        _ => EventKind::Other,
    };
    let timestamp = common::timestamp_field(item, "/timestamp");
    let email = text(item, "/email").unwrap_or_default();
    let event_id = text(item, "/sg_event_id").map(str::to_owned).unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        let message = text(item, "/sg_message_id").unwrap_or_default();
        common::stable_id(&["sendgrid", message, name, email, &ts, &index.to_string()])
    });
    normalize(
        Esp::Sendgrid,
        Draft {
            event_id,
            kind: Some(kind),
            occurred_at: timestamp.unwrap_or(now),
            recipient: email,
            enhanced_code: text(item, "/status"),
            // Bounces carry the reply in `reason`, deferrals and deliveries in `response`.
            reply: text(item, "/reason").or_else(|| text(item, "/response")),
            ..Draft::default()
        },
    )
}
