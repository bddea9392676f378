//! Postal (self-hosted): one `{"event", "timestamp", "uuid", "payload"}` per request, signed with the
//! server's RSA key over the raw body: `X-Postal-Signature-256` (SHA-256) and, from older servers, only
//! `X-Postal-Signature` (SHA-1). The public key is the `p=` value of the server's DKIM-style record
//! (base64 DER) or a PEM.

use serde_json::Value;

use super::common::{self, text};
use super::normalize::{normalize, Draft};
use super::rsa_pkcs1v15::{self, Hash, PublicKey};
use super::{sending, Delivery, EspError, Parsed};
use crate::config::Config;
use crate::event::{Esp, EventKind, Sending, Tags};

/// The Postal server's public key: base64 DER (`postal default-dkim-record` `p=`) or PEM.
pub const PUBLIC_KEY: &str = "POSTAL_WEBHOOK_PUBLIC_KEY";
const SIGNATURE_256_HEADER: &str = "x-postal-signature-256";
const SIGNATURE_SHA1_HEADER: &str = "x-postal-signature";

pub async fn verify(delivery: &Delivery<'_>, config: &Config) -> Result<(), EspError> {
    let key = public_key(common::required_secret(config, PUBLIC_KEY)?)?;
    // The SHA-256 signature is preferred whenever present; SHA-1 is accepted only from servers that
    // send nothing better.
    let (hash, header, signature) =
        match (delivery.header(SIGNATURE_256_HEADER), delivery.header(SIGNATURE_SHA1_HEADER)) {
            (Some(signature), _) => (Hash::Sha256, SIGNATURE_256_HEADER, signature),
            (None, Some(signature)) => (Hash::Sha1, SIGNATURE_SHA1_HEADER, signature),
            (None, None) => {
                return Err(EspError::Unauthorized(format!(
                    "missing {SIGNATURE_256_HEADER} (or legacy {SIGNATURE_SHA1_HEADER}) header"
                )))
            }
        };
    let signature = common::decode_base64(signature, header)?;
    if rsa_pkcs1v15::verify(&key, hash, &signature, delivery.body).await? {
        Ok(())
    } else {
        Err(EspError::Unauthorized("signature does not match".into()))
    }
}

fn public_key(secret: &str) -> Result<PublicKey, EspError> {
    let unusable = || EspError::Unauthorized(format!("{PUBLIC_KEY} is not an RSA public key (base64 DER or PEM)"));
    let der = if secret.contains("-----BEGIN") {
        common::pem_to_der(secret, "PUBLIC KEY").ok_or_else(unusable)?
    } else {
        common::decode_base64(secret, PUBLIC_KEY)?
    };
    PublicKey::from_spki_der(&der).ok_or_else(unusable)
}

pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let body = common::parse_json(delivery.body, "Postal")?;
    let name = text(&body, "/event").ok_or_else(|| EspError::Malformed("Postal body has no `event` field".into()))?;
    let payload = body.get("payload").unwrap_or(&Value::Null);
    // MessageBounced carries the original message and the bounce instead of `message`. The shape decides,
    // not the name: anymail's fixture labels a bounce `MessageDelayed`.
    let bounced = payload.get("original_message").is_some() && payload.get("bounce").is_some();
    let message = if bounced { payload.get("original_message") } else { payload.get("message") };
    let Some(message) = message else { return Ok(Parsed::default()) };
    if text(message, "/direction") == Some("incoming") {
        return Ok(Parsed::default());
    }
    let kind = match name {
        _ if bounced => EventKind::Bounced,
        "MessageSent" => EventKind::Delivered,
        "MessageDelayed" => EventKind::Deferred,
        // HardFail: the remote server refused for good and Postal will not retry.
        "MessageDeliveryFailed" => EventKind::Bounced,
        "MessageHeld" => EventKind::Dropped,
        _ => EventKind::Other,
    };
    let timestamp = common::timestamp_field(&body, "/timestamp");
    let event_id = text(&body, "/uuid").map(str::to_owned).unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        common::stable_id(&["postal", name, text(message, "/message_id").unwrap_or_default(), &ts])
    });
    let draft = Draft {
        event_id,
        kind: Some(kind),
        occurred_at: timestamp.unwrap_or(delivery.now),
        recipient: text(message, "/to").unwrap_or_default(),
        reply: text(payload, "/output"),
        hint: text(payload, "/details"),
        sending: sending_side(message),
        ..Draft::default()
    };
    Ok(std::iter::once(normalize(Esp::Postal, draft)).collect())
}

/// `from` is the envelope sender (Postal's `mail_from`); a message has at most one `tag`.
fn sending_side(message: &Value) -> Sending {
    let mut tags = Tags::default();
    if let Some(tag) = text(message, "/tag") {
        sending::push_tag(&mut tags, "", tag);
    }
    Sending { sending_domain: sending::address_domain(text(message, "/from")), tags, ..Sending::default() }
}
