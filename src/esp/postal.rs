//! Postal (self-hosted): one `{"event", "timestamp", "uuid", "payload"}` per request, signed with the
//! server's RSA key over the raw body: `X-Postal-Signature-256` (SHA-256) and, from older servers, only
//! `X-Postal-Signature` (SHA-1). The public key is the `p=` value of the server's DKIM-style record
//! (base64 DER) or a PEM.

use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde_json::Value;
use sha1::Sha1;
use sha2::Sha256;

use super::common::{self, text};
use super::normalize::{normalize, Draft};
use super::{sending, Delivery, EspError, Parsed};
use crate::config::Config;
use crate::event::{Esp, EventKind, Sending, Tags};

/// The Postal server's public key: base64 DER (`postal default-dkim-record` `p=`) or PEM.
pub const PUBLIC_KEY: &str = "POSTAL_WEBHOOK_PUBLIC_KEY";
const SIGNATURE_256_HEADER: &str = "x-postal-signature-256";
const SIGNATURE_SHA1_HEADER: &str = "x-postal-signature";

pub fn verify(delivery: &Delivery<'_>, config: &Config) -> Result<(), EspError> {
    let key = public_key(common::required_secret(config, PUBLIC_KEY)?)?;
    let refused = |_| EspError::Unauthorized("signature does not match".into());
    // The SHA-256 signature is preferred whenever present; SHA-1 is accepted only from servers that
    // send nothing better.
    if let Some(signature) = delivery.header(SIGNATURE_256_HEADER) {
        let signature = rsa_signature(signature, SIGNATURE_256_HEADER)?;
        return VerifyingKey::<Sha256>::new(key).verify(delivery.body, &signature).map_err(refused);
    }
    let signature = delivery.header(SIGNATURE_SHA1_HEADER).ok_or_else(|| {
        EspError::Unauthorized(format!("missing {SIGNATURE_256_HEADER} (or legacy {SIGNATURE_SHA1_HEADER}) header"))
    })?;
    let signature = rsa_signature(signature, SIGNATURE_SHA1_HEADER)?;
    VerifyingKey::<Sha1>::new(key).verify(delivery.body, &signature).map_err(refused)
}

fn public_key(secret: &str) -> Result<RsaPublicKey, EspError> {
    let unusable = |()| EspError::Unauthorized(format!("{PUBLIC_KEY} is not an RSA public key (base64 DER or PEM)"));
    let der = if secret.contains("-----BEGIN") {
        common::pem_to_der(secret, "PUBLIC KEY").ok_or_else(|| unusable(()))?
    } else {
        common::decode_base64(secret, PUBLIC_KEY)?
    };
    RsaPublicKey::from_public_key_der(&der).map_err(|_| unusable(()))
}

fn rsa_signature(value: &str, header: &str) -> Result<Signature, EspError> {
    Signature::try_from(common::decode_base64(value, header)?.as_slice())
        .map_err(|_| EspError::Unauthorized(format!("{header} is not an RSA signature")))
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
