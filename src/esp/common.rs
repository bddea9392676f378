//! Helpers every adapter shares: secrets, credential checks, JSON shapes, timestamps and stable ids.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Delivery, EspError};
use crate::config::Config;

/// How far a signed timestamp may be from our clock, either way (the svix and Standard Webhooks libraries
/// use the same five minutes).
pub const TOLERANCE_SECONDS: u64 = 300;

/// The secret `name`, or the 401 that tells the operator which secret to set: an ESP without a configured
/// secret refuses its webhook (secure by default).
pub fn required_secret<'a>(config: &'a Config, name: &'static str) -> Result<&'a str, EspError> {
    config.get(name).ok_or(EspError::SecretNotConfigured(name))
}

/// Equality that takes the same time whatever the inputs: both sides are hashed first, so neither where
/// they differ nor the secret's length leaks through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

/// Checks `Authorization` against `secret` for the ESPs that authenticate with HTTP Basic auth or a
/// bearer token (Postmark, SparkPost, Mailjet, Brevo, generic). `secret` is either `user:password`
/// (matched against Basic) or a token (matched against Bearer); both forms are compared in constant time.
pub fn check_authorization(delivery: &Delivery<'_>, secret: &str) -> Result<(), EspError> {
    let header = delivery
        .header("authorization")
        .ok_or_else(|| EspError::Unauthorized("missing Authorization header (Basic or Bearer credentials)".into()))?;
    let (scheme, value) = header.trim().split_once(' ').unwrap_or((header, ""));
    let presented = if scheme.eq_ignore_ascii_case("basic") {
        base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| EspError::Unauthorized("Basic credentials are not valid base64".into()))?
    } else if scheme.eq_ignore_ascii_case("bearer") {
        value.trim().as_bytes().to_vec()
    } else {
        return Err(EspError::Unauthorized("Authorization must use the Basic or Bearer scheme".into()));
    };
    if constant_time_eq(&presented, secret.as_bytes()) {
        Ok(())
    } else {
        Err(EspError::Unauthorized("wrong credentials".into()))
    }
}

/// Refuses a signed timestamp more than [`TOLERANCE_SECONDS`] away from `now`, so a captured request
/// cannot be replayed later.
pub fn check_fresh(timestamp: u64, now: u64) -> Result<(), EspError> {
    if timestamp.abs_diff(now) > TOLERANCE_SECONDS {
        return Err(EspError::Unauthorized(format!(
            "signed timestamp is more than {TOLERANCE_SECONDS} seconds from now"
        )));
    }
    Ok(())
}

/// A required signature header, or the 401 naming it.
pub fn required_header<'a>(delivery: &Delivery<'a>, name: &'static str) -> Result<&'a str, EspError> {
    delivery
        .header(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| EspError::Unauthorized(format!("missing {name} header")))
}

/// A signed unix-seconds timestamp header value.
pub fn timestamp_header(value: &str, name: &str) -> Result<u64, EspError> {
    value.trim().parse().map_err(|_| EspError::Unauthorized(format!("{name} is not a unix timestamp")))
}

/// Standard base64 (with or without padding), as the ESPs send signatures and keys.
pub fn decode_base64(value: &str, what: &str) -> Result<Vec<u8>, EspError> {
    let trimmed = value.trim().trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|_| EspError::Unauthorized(format!("{what} is not valid base64")))
}

/// Lower- or upper-case hex, as Mailgun sends its signature.
pub fn decode_hex(value: &str) -> Option<Vec<u8>> {
    let bytes = value.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| {
            let hi = (pair.first()?.to_owned() as char).to_digit(16)?;
            let lo = (pair.get(1)?.to_owned() as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// The body as JSON, or a 400 naming the ESP and the parse error.
pub fn parse_json(body: &[u8], what: &str) -> Result<Value, EspError> {
    serde_json::from_slice(body).map_err(|e| EspError::Malformed(format!("{what} body is not valid JSON: {e}")))
}

/// Reads a JSON body holding one `T` or an array of them, handing each to `each` with its position as it
/// is read: a 1,000-event batch is never held as a whole, and strings without escapes stay borrowed from
/// the body. The body is checked as UTF-8 once, rather than string by string.
pub fn for_each_item<'de, T: Deserialize<'de>>(
    body: &'de [u8],
    what: &str,
    each: impl FnMut(T, usize),
) -> Result<(), EspError> {
    let text =
        std::str::from_utf8(body).map_err(|e| EspError::Malformed(format!("{what} body is not UTF-8 text: {e}")))?;
    let malformed = |e: serde_json::Error| {
        EspError::Malformed(format!("{what} body must be a JSON array of event objects (or one object): {e}"))
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.deserialize_any(OneOrMany { each, item: PhantomData }).map_err(malformed)?;
    deserializer.end().map_err(malformed)
}

struct OneOrMany<F, T> {
    each: F,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>, F: FnMut(T, usize)> Visitor<'de> for OneOrMany<F, T> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of event objects or one object")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(item) = items.next_element()? {
            (self.each)(item, index);
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, fields: A) -> Result<(), A::Error> {
        (self.each)(T::deserialize(de::value::MapAccessDeserializer::new(fields))?, 0);
        Ok(())
    }
}

/// For `#[serde(default, deserialize_with = "common::optional_text")]` on an `Option<Cow<str>>` field:
/// borrows the string from the body unless it has escapes. serde's derive honours `borrow` on a bare
/// `Cow` only and copies every `Option<Cow>` (serde-rs/serde#1497), which cost a SendGrid batch seven
/// allocations per event.
pub fn optional_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a string or null")
        }

        fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(text)))
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(text.to_owned())))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_str(self)
        }
    }
    deserializer.deserialize_option(Text)
}

/// The events of a body that may be one object or an array of objects (Mailjet, Brevo, SendGrid's
/// documentation samples, the generic form): anything else is a 400.
pub fn object_or_array(value: Value, what: &str) -> Result<Vec<Value>, EspError> {
    let items = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => return Err(EspError::Malformed(format!("{what} body must be a JSON object or an array of objects"))),
    };
    match items.iter().position(|item| !item.is_object()) {
        Some(index) => Err(EspError::Malformed(format!("{what} event at index {index} is not a JSON object"))),
        None => Ok(items),
    }
}

/// The string at a JSON pointer (`/a/b`), if it is a non-empty string.
pub fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A field as an id string: ESPs send ids as strings or (large) integers.
pub fn id_string(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An SMTP code sent as a number or a numeric string (SparkPost sends `"550"`).
pub fn code_field(value: &Value, pointer: &str) -> Option<u16> {
    match value.pointer(pointer)? {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A timestamp field: unix seconds as an integer, a float, a numeric string, or an RFC 3339 string.
pub fn timestamp_field(value: &Value, pointer: &str) -> Option<u64> {
    match value.pointer(pointer)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()).map(|f| f as u64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().filter(|f| *f >= 0.0 && f.is_finite()).map(|f| f as u64))
                .or_else(|| parse_rfc3339(s))
        }
        _ => None,
    }
}

/// Parses an RFC 3339 date-time (`2019-11-05T16:33:54.9070259Z`, `2016-04-27T16:28:50.39-04:00`) to
/// unix seconds, with the `time` crate: the calendar is checked (`2026-02-31` is refused, not read as
/// 3 March), and so is the offset (`+99:99`). Any number of fractional digits is accepted (Postmark sends
/// seven); a space may stand for the `T` (RFC 3339 §5.6 allows it "for readability"), nothing else may.
/// Dates before 1970 are refused. A leap second (`23:59:60`) is read as the second before it.
pub fn parse_rfc3339(input: &str) -> Option<u64> {
    use time::format_description::well_known::Rfc3339;
    // `time` takes any byte as the separator; ISO 8601 and RFC 3339 name only `T` (and the space).
    if !matches!(input.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let parsed = time::OffsetDateTime::parse(input, &Rfc3339).ok()?;
    u64::try_from(parsed.unix_timestamp()).ok()
}

/// A stable event id for ESPs without one: SHA-256 hex over the ESP's own fields (never the time we
/// received it), each length-prefixed so that `("ab","c")` and `("a","bc")` differ. Redeliveries of the
/// same event carry the same fields and so get the same id.
pub fn stable_id(fields: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex(&hasher.finalize())
}

/// The DER inside the first `-----BEGIN <label>-----` block of a PEM text.
pub fn pem_to_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let body =
        pem.split(&format!("-----BEGIN {label}-----")).nth(1)?.split(&format!("-----END {label}-----")).next()?;
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    decode_base64(&base64, label).ok()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_seven_fraction_digits_and_offsets() {
        assert_eq!(parse_rfc3339("2019-11-05 16:33:54Z"), Some(1_572_971_634));
        assert_eq!(parse_rfc3339("2019-11-05T16:33:54.9070259Z"), Some(1_572_971_634));
        assert_eq!(parse_rfc3339("2016-04-27T16:28:50.3963933-04:00"), Some(1_461_788_930));
        assert_eq!(parse_rfc3339("2023-02-22T23:41:11.894719+00:00"), Some(1_677_109_271));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn rfc3339_garbage_is_none_not_a_panic() {
        for bad in [
            "",
            "2019",
            "2019-13-05T16:33:54Z",
            "2019-11-05T16:33:54",
            "1969-12-31T23:59:59Z",
            "2019-11-05T16:33:54.Z",
            "ÿÿÿÿ-ÿÿ",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn stable_id_separates_fields() {
        assert_ne!(stable_id(&["ab", "c"]), stable_id(&["a", "bc"]));
        assert_eq!(stable_id(&["x"]).len(), 64);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex("abc"), None);
    }
}
