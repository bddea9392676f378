//! Amazon SES through SNS. SNS signs a canonical string built from the envelope's fields with RSA
//! (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) using the certificate at `SigningCertURL`. Anyone
//! can create an SNS topic and get validly signed messages, so the topic must also be on our allow-list
//! (`SES_TOPIC_ARNS`), and the certificate URL must be https on `sns.<region>.amazonaws.com` (the topic's
//! region) before we fetch anything — fetching an arbitrary URL would be an SSRF (useSend #444).
//!
//! The SES record inside `Message` is either a classic identity notification (`notificationType`) or
//! event publishing (`eventType`, the only one with `DeliveryDelay`): both are read (django-ses #178).

use serde::Deserialize;
use serde_json::Value;
use spki::der::{self, Reader, SliceReader, Tag, TagNumber};

use super::common::{self, text};
use super::normalize::{normalize, Draft};
use super::rsa_pkcs1v15::{self, Hash, PublicKey};
use super::{sending, Delivery, EspError, Fetcher, Parsed, Verified};
use crate::config::Config;
use crate::event::{Esp, EventKind, Sending, Tags};
use crate::store::{Put, Store};

/// Comma-separated SNS topic ARNs whose messages (and subscription confirmations) are accepted.
pub const TOPIC_ARNS: &str = "SES_TOPIC_ARNS";
/// SNS rotates signing certificates rarely; a day bounds how long a revoked one could be trusted.
const CERT_TTL_SECONDS: u64 = 86_400;

/// The SNS HTTP(S) envelope. Field names are SNS's own.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "TopicArn")]
    topic_arn: String,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "SignatureVersion")]
    signature_version: String,
    #[serde(rename = "Signature")]
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
}

pub async fn verify_and_parse<S: Store>(
    delivery: &Delivery<'_>,
    config: &Config,
    store: &S,
    fetcher: &dyn Fetcher,
) -> Result<Verified, EspError> {
    let allowed = common::required_secret(config, TOPIC_ARNS)?;
    if delivery.header("x-amz-sns-rawdelivery").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(EspError::Unauthorized(
            "SNS raw message delivery carries no signature: turn it off for this subscription".into(),
        ));
    }
    let envelope: Envelope = serde_json::from_slice(delivery.body)
        .map_err(|e| EspError::Malformed(format!("SES body is not an SNS message envelope: {e}")))?;
    // Everything that needs no I/O is checked before the certificate is fetched, so a request that fails
    // any of it costs no subrequest and is answered as the sender's fault (401/400), not as ours (503).
    if !allowed.split(',').map(str::trim).any(|arn| arn == envelope.topic_arn) {
        return Err(EspError::Unauthorized(format!("SNS topic is not listed in {TOPIC_ARNS}")));
    }
    let hash = hash_of_version(&envelope.signature_version)?;
    // arn:aws:sns:<region>:<account>:<name>
    let region = envelope.topic_arn.split(':').nth(3).unwrap_or_default();
    let cert_path = validate_sns_url(&envelope.signing_cert_url, region)?;
    if !is_cert_path(cert_path) {
        return Err(EspError::Unauthorized("SigningCertURL is not an SNS signing certificate".into()));
    }
    let timestamp = common::parse_rfc3339(&envelope.timestamp)
        .ok_or_else(|| EspError::Unauthorized("SNS Timestamp is not an RFC 3339 date-time".into()))?;
    common::check_fresh(timestamp, delivery.now)?;
    let subscribe_url = match envelope.kind.as_str() {
        "Notification" | "UnsubscribeConfirmation" => None,
        "SubscriptionConfirmation" => {
            let url = envelope
                .subscribe_url
                .as_deref()
                .ok_or_else(|| EspError::Malformed("SubscriptionConfirmation has no SubscribeURL".into()))?;
            Some(validate_sns_url(url, region).map(|_| url)?)
        }
        other => return Err(EspError::Malformed(format!("unknown SNS message Type {other:?}"))),
    };
    let signed = string_to_sign(&envelope)?;
    let signature = common::decode_base64(&envelope.signature, "Signature")?;
    let key = signing_key(store, fetcher, &envelope.signing_cert_url).await?;
    if !rsa_pkcs1v15::verify(&key, hash, &signature, signed.as_bytes()).await? {
        return Err(EspError::Unauthorized("signature does not match".into()));
    }
    if let Some(url) = subscribe_url {
        fetcher.get(url).await.map_err(|e| EspError::Upstream(format!("confirming the subscription: {}", e.0)))?;
        return Ok(Verified { subscription_confirmed: Some(envelope.topic_arn), ..Verified::default() });
    }
    if envelope.kind != "Notification" {
        return Ok(Verified::default());
    }
    let Parsed { events, invalid } = record_events(&envelope.message, Some(&envelope.message_id), delivery.now);
    Ok(Verified { events, invalid, ..Verified::default() })
}

/// The hash SNS signed with (SHA1withRSA or SHA256withRSA), by `SignatureVersion`: read before anything
/// is fetched.
fn hash_of_version(version: &str) -> Result<Hash, EspError> {
    match version {
        "1" => Ok(Hash::Sha1),
        "2" => Ok(Hash::Sha256),
        _ => Err(EspError::Unauthorized("unsupported SignatureVersion (1 and 2 are)".into())),
    }
}

/// Checks that `url` is `https://sns.<region>.amazonaws.com[.cn]/…` with no userinfo, port or other
/// trickery, and returns its path. Anything else is refused before it is fetched.
pub fn validate_sns_url<'a>(url: &'a str, region: &str) -> Result<&'a str, EspError> {
    let refused = || EspError::Unauthorized("SNS URL is not https on sns.<region>.amazonaws.com".into());
    let rest = url.strip_prefix("https://").ok_or_else(refused)?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    let expected = [format!("sns.{region}.amazonaws.com"), format!("sns.{region}.amazonaws.com.cn")];
    let region_ok =
        !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    // The host is compared whole, so `sns.evil.com`, `amazonaws.com.evil.com`, `user@host` and `host:port`
    // all fail; a backslash or whitespace anywhere could be read differently by the fetcher, so it fails too.
    if !region_ok || !expected.iter().any(|e| e == host) || url.contains(['\\', ' ', '\t', '\n', '\r']) {
        return Err(refused());
    }
    Ok(path)
}

/// `/SimpleNotificationService-<hex>.pem`, the only shape SNS uses for signing certificates.
fn is_cert_path(path: &str) -> bool {
    path.strip_prefix("/SimpleNotificationService-")
        .and_then(|rest| rest.strip_suffix(".pem"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The certificate's public key, from the store's cache or fetched (and then cached).
async fn signing_key<S: Store>(store: &S, fetcher: &dyn Fetcher, url: &str) -> Result<PublicKey, EspError> {
    let cache_key = format!("sns-cert:{}", common::stable_id(&[url]));
    if let Some(pem) = store.get(&cache_key).await? {
        if let Ok(key) = public_key_from_pem(&pem) {
            return Ok(key);
        }
    }
    let pem =
        fetcher.get(url).await.map_err(|e| EspError::Upstream(format!("fetching the SNS certificate: {}", e.0)))?;
    let key = public_key_from_pem(&pem)?;
    store.put(Put { key: &cache_key, value: &pem, ttl_seconds: CERT_TTL_SECONDS, metadata: None }).await?;
    Ok(key)
}

/// The RSA key of a PEM certificate. Validity dates are not checked: SNS keeps signing with a
/// certificate past its `notAfter`, and the host check above is what makes the certificate trusted.
fn public_key_from_pem(pem: &str) -> Result<PublicKey, EspError> {
    let bad = || EspError::Upstream("SNS certificate is not a PEM X.509 RSA certificate".into());
    let der = common::pem_to_der(pem, "CERTIFICATE").ok_or_else(bad)?;
    let spki = certificate_spki(&der).map_err(|_| bad())?;
    PublicKey::from_spki_der(spki).ok_or_else(bad)
}

/// The `subjectPublicKeyInfo` of a DER X.509 certificate (RFC 5280 §4.1). Only the path to it is read:
/// the other fields, whose content nothing here uses, are stepped over as whole DER elements of the right
/// tag. A full certificate decoder (x509-cert) cost the Worker 14 KB of its 500 KB compressed size.
fn certificate_spki(certificate: &[u8]) -> der::Result<&[u8]> {
    let mut reader = SliceReader::new(certificate)?;
    let spki = reader.sequence(|certificate| {
        let spki = certificate.sequence(|tbs| {
            // `version` is `[0] EXPLICIT`, absent from v1 certificates.
            if tbs.peek_tag()? == (Tag::ContextSpecific { constructed: true, number: TagNumber::N0 }) {
                tbs.tlv_bytes()?;
            }
            element(tbs, Tag::Integer)?; // serialNumber
            for _ in ["signature", "issuer", "validity", "subject"] {
                element(tbs, Tag::Sequence)?;
            }
            let spki = element(tbs, Tag::Sequence)?;
            // The optional unique identifiers and extensions.
            while !tbs.is_finished() {
                tbs.tlv_bytes()?;
            }
            Ok(spki)
        })?;
        element(certificate, Tag::Sequence)?; // signatureAlgorithm
        element(certificate, Tag::BitString)?; // signatureValue
        Ok(spki)
    })?;
    reader.finish(spki)
}

/// The next DER element, whole, if it has `tag`.
fn element<'a, R: Reader<'a>>(reader: &mut R, tag: Tag) -> der::Result<&'a [u8]> {
    reader.peek_tag()?.assert_eq(tag)?;
    reader.tlv_bytes()
}

/// The canonical string SNS signs: `Key\nValue\n` for a fixed list of keys, every value followed by
/// `\n` including the last (a missing final newline broke useSend, PR #449).
fn string_to_sign(envelope: &Envelope) -> Result<String, EspError> {
    let mut fields: Vec<(&str, &str)> = vec![("Message", &envelope.message), ("MessageId", &envelope.message_id)];
    if envelope.kind == "Notification" {
        if let Some(subject) = &envelope.subject {
            fields.push(("Subject", subject));
        }
        fields.extend([("Timestamp", envelope.timestamp.as_str()), ("TopicArn", &envelope.topic_arn)]);
    } else {
        let missing = |name| EspError::Malformed(format!("SNS {} has no {name}", envelope.kind));
        let subscribe_url = envelope.subscribe_url.as_deref().ok_or_else(|| missing("SubscribeURL"))?;
        let token = envelope.token.as_deref().ok_or_else(|| missing("Token"))?;
        fields.extend([
            ("SubscribeURL", subscribe_url),
            ("Timestamp", envelope.timestamp.as_str()),
            ("Token", token),
            ("TopicArn", envelope.topic_arn.as_str()),
        ]);
    }
    fields.push(("Type", &envelope.kind));
    Ok(fields.iter().map(|(key, value)| format!("{key}\n{value}\n")).collect())
}

/// Parses without verification (the CLI): an SNS envelope, or a bare SES record as raw message delivery
/// and the SES documentation give it.
pub fn parse(delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    let body = common::parse_json(delivery.body, "SES")?;
    match (text(&body, "/Type"), text(&body, "/Message")) {
        (Some("Notification"), Some(message)) => Ok(record_events(message, text(&body, "/MessageId"), delivery.now)),
        (Some(_), _) => Ok(Parsed::default()),
        (None, _) if body.get("notificationType").is_some() || body.get("eventType").is_some() => {
            Ok(events_of(&body, None, delivery.now))
        }
        (None, _) => Err(EspError::Malformed(
            "SES body is neither an SNS envelope nor an SES record (no Type, notificationType or eventType)".into(),
        )),
    }
}

/// The events of an SNS `Message`. SES also posts a plain-text "Successfully validated SNS topic…"
/// message after subscribing: not JSON, no events.
fn record_events(message: &str, message_id: Option<&str>, now: u64) -> Parsed {
    crate::json::parse::<Value>(message).map(|record| events_of(&record, message_id, now)).unwrap_or_default()
}

fn events_of(record: &Value, message_id: Option<&str>, now: u64) -> Parsed {
    let record_type = text(record, "/notificationType").or_else(|| text(record, "/eventType")).unwrap_or_default();
    let sub_type = text(record, "/bounce/bounceSubType").unwrap_or_default();
    let (kind, section, recipients_pointer) = match record_type {
        // SES gave up (Transient bounces are published only after its retries) or the server refused;
        // its suppression lists are SES's own decision.
        "Bounce" if matches!(sub_type, "Suppressed" | "OnAccountSuppressionList") => {
            (EventKind::Dropped, "bounce", "/bounce/bouncedRecipients")
        }
        "Bounce" => (EventKind::Bounced, "bounce", "/bounce/bouncedRecipients"),
        "Complaint" => (EventKind::Complaint, "complaint", "/complaint/complainedRecipients"),
        "Delivery" => (EventKind::Delivered, "delivery", "/delivery/recipients"),
        "DeliveryDelay" => (EventKind::Deferred, "deliveryDelay", "/deliveryDelay/delayedRecipients"),
        "Reject" => (EventKind::Dropped, "mail", "/mail/destination"),
        _ => (EventKind::Other, "mail", "/mail/destination"),
    };
    let timestamp = common::timestamp_field(record, &format!("/{section}/timestamp"))
        .or_else(|| common::timestamp_field(record, "/mail/timestamp"));
    // SNS's MessageId is stable across SNS's retries; a bare record (CLI) hashes SES's own fields.
    let base_id = message_id.map(str::to_owned).unwrap_or_else(|| {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_default();
        common::stable_id(&["ses", record_type, text(record, "/mail/messageId").unwrap_or_default(), &ts])
    });
    let delivery_reply = text(record, "/delivery/smtpResponse");
    let sending = sending_side(record);
    let recipients =
        record.pointer(recipients_pointer).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    recipients
        .iter()
        .enumerate()
        .map(|(index, recipient)| {
            let address = recipient.as_str().or_else(|| text(recipient, "/emailAddress")).unwrap_or_default();
            let draft = Draft {
                event_id: format!("{base_id}:{index}"),
                kind: Some(kind),
                occurred_at: timestamp.unwrap_or(now),
                recipient: address,
                enhanced_code: text(recipient, "/status"),
                reply: text(recipient, "/diagnosticCode").or(delivery_reply),
                sending: sending.clone(),
                ..Draft::default()
            };
            normalize(Esp::Ses, draft)
        })
        .collect()
}

/// The sending side from the record's message tags, which SES adds under event publishing only (classic
/// identity notifications have `mail.source` alone). `ses:source-ip` is the IP of whoever called the
/// SES API, not one SES sent from: the sending IP is `ses:outgoing-ip` (SES developer guide, dedicated
/// IP FAQ: "you can find the offending dedicated IP address … in the bounce event's ses:outgoing-ip tag").
fn sending_side(record: &Value) -> Sending {
    let message_tags = record.pointer("/mail/tags");
    let first = |name: &str| message_tags.and_then(|tags| sending::strings(tags.get(name)).next());
    let mut tags = Tags::default();
    if let Some(set) = first("ses:configuration-set") {
        sending::push_tag(&mut tags, "config-set", set);
    }
    // The sender's own message tags; SES's `ses:` auto-tags are read above or say nothing of the stream.
    sending::push_pairs(&mut tags, message_tags, |name| name.starts_with("ses:"));
    Sending {
        sending_ip: sending::ip(first("ses:outgoing-ip")),
        ip_pool: None,
        sending_domain: sending::domain(first("ses:from-domain"))
            .or_else(|| sending::address_domain(text(record, "/mail/source"))),
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELFGEN_PEM: &str = include_str!("../../tests/fixtures/webhooks/selfgen/sns_selfgen_cert.pem");
    const AWS_PEM: &str = include_str!(
        "../../tests/fixtures/webhooks/vectors/sns_SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
    );

    #[test]
    fn the_key_of_a_certificate_is_its_subject_public_key_info_and_both_fixtures_have_one() {
        let vectors: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/webhooks/vectors/postal_vectors.json")).unwrap();
        // The self-generated certificate was made from the Postal vectors' key.
        let key = common::decode_base64(vectors["public_key_dns_style"].as_str().unwrap(), "key").unwrap();
        let der = common::pem_to_der(SELFGEN_PEM, "CERTIFICATE").unwrap();
        assert_eq!(certificate_spki(&der).unwrap(), key.as_slice());
        assert!(public_key_from_pem(SELFGEN_PEM).is_ok());
        assert!(public_key_from_pem(AWS_PEM).is_ok(), "AWS's own SNS certificate");
    }

    #[test]
    fn a_certificate_cut_short_followed_by_more_or_with_a_field_of_the_wrong_type_is_refused() {
        let der = common::pem_to_der(SELFGEN_PEM, "CERTIFICATE").unwrap();
        assert!(certificate_spki(&der[..der.len() - 1]).is_err(), "cut short");
        assert!(certificate_spki(&[der.as_slice(), &[0]].concat()).is_err(), "a byte after it");
        // 30 82 03 1b | 30 82 02 03 | a0 03 02 01 02 (version 3) | 02 14 <serialNumber>
        let mut serial = der.clone();
        assert_eq!(serial[13], 0x02);
        serial[13] = 0x04;
        assert!(certificate_spki(&serial).is_err(), "an OCTET STRING for the serial number");
        assert!(public_key_from_pem(&SELFGEN_PEM.replace("CERTIFICATE", "PUBLIC KEY")).is_err(), "not a certificate");
    }
}
