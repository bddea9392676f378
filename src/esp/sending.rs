//! Reads and validates the sending side of an event ([`Sending`]): the IP, pool, domain and groupings an
//! ESP reports, for breaking a 451 spike down by stream. A dimension is optional: a value that is not
//! what it claims to be (an IP that does not parse, an address where a domain belongs, a 5,000-character
//! tag) is dropped and the event is counted without it, never refused.
//!
//! Where each ESP says what (field names from each ESP's documentation and the samples in
//! `tests/fixtures/webhooks/samples`):
//!
//! | ESP | sending IP | IP pool | sending domain | tags |
//! |---|---|---|---|---|
//! | SendGrid | `ip` (delivery events only: on opens and clicks it is the reader's IP) | `pool.name` | — | `marketing_campaign_name` (or `_id`) as `campaign:`, `asm_group_id` as `group:`, `category` (string or array) |
//! | Mailgun | `envelope.sending-ip` | — | `envelope.sender` | `campaigns[]` as `campaign:`, `tags[]` |
//! | SES | `mail.tags.ses:outgoing-ip` (not `ses:source-ip`: that is the API caller's IP) | — | `mail.tags.ses:from-domain`, else `mail.source` | `ses:configuration-set` as `config-set:`, custom message tags as `name:value` |
//! | SparkPost | `sending_ip` | `ip_pool` | `friendly_from` | `campaign_id` as `campaign:`, `subaccount_id` as `subaccount:` |
//! | Postmark | — | — | `From` | `MessageStream` as `stream:`, `ServerID` as `server:`, `Tag` |
//! | Mailjet | — | — | — | `CustomCampaign` (else a non-zero `mj_campaign_id`) as `campaign:` |
//! | Brevo | `sending_ip` | — | — | `tags[]`, else `tag` |
//! | Mandrill | last `msg.smtp_events[].source_ip` | — | `msg.sender` | `msg.subaccount` as `subaccount:`, `msg.tags[]` |
//! | Resend | — | — | `data.from` | `data.broadcast_id` as `broadcast:`, `data.tags` as `name:value` |
//! | Postal | — | — | `payload.message.from` | `payload.message.tag` |
//! | generic | `sending_ip` | `ip_pool` | `sending_domain` (a domain, not an address) | `tags[]` |
//!
//! Tags: the ESP's own groupings carry their kind in front (`campaign:spring-sale`, `stream:outbound`) so
//! that a campaign id and a free-form label with the same text stay apart, and so the alert can say what
//! the value is; the sender's free-form labels are kept as given. They come first, so that the cap of
//! [`MAX_TAGS`] per event never drops them. A tag holding `@` is dropped: it may be an address, and we
//! store no local parts.
//!
//! Postal's message events carry no server (only its DNS and send-limit events do) and name the sending IP
//! only in the text of successful deliveries, so Postal has no sending IP: an IP seen on deliveries but
//! never on failures would read as a clean IP.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::event::{Tags, MAX_TAGS, MAX_TAG_CHARS};

/// An IPv4 or IPv6 literal, as `std::net` parses it (no leading zeros, no ranges, no brackets).
pub fn ip(text: Option<&str>) -> Option<IpAddr> {
    text?.trim().parse().ok()
}

/// A bare domain (SES `ses:from-domain`, the generic form's `sending_domain`), checked like a recipient
/// domain. Anything holding `@` or `<` is refused rather than cut down to its domain: a field that
/// should hold a domain and holds an address is malformed.
pub fn domain(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    if text.contains(['@', '<', '>']) {
        return None;
    }
    crate::domain::normalize(text).ok()
}

/// The domain of a sender address as ESPs give it (`a@example.com`, `Name <a@example.com>`); the local
/// part is never kept. `None` when there is no `@` (not an address).
pub fn address_domain(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    let address = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let (_, domain) = address.rsplit_once('@')?;
    self::domain(Some(domain))
}

/// A free-form name (an IP pool, a tag), trimmed: `None` when empty, longer than [`MAX_TAG_CHARS`],
/// holding a control character or an `@`.
pub fn label(text: &str) -> Option<&str> {
    let bare = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
    let text = if bare(text.as_bytes().first()) && bare(text.as_bytes().last()) { text } else { text.trim() };
    // Most labels are short printable ASCII, judged in one pass over the bytes; the rest by chars. The
    // byte length bounds the char count from above (at most 4 bytes a char), so a 5,000-character tag is
    // refused without reading it.
    let printable_ascii = |b: u8| (b' '..=b'~').contains(&b) && b != b'@';
    let clean = if text.len() <= MAX_TAG_CHARS && text.bytes().all(printable_ascii) {
        true
    } else {
        text.len() <= 4 * MAX_TAG_CHARS
            && text.chars().count() <= MAX_TAG_CHARS
            && !text.contains('@')
            && !text.chars().any(char::is_control)
    };
    (clean && !text.is_empty()).then_some(text)
}

/// An IP pool name.
pub fn pool(text: Option<&str>) -> Option<String> {
    label(text?).map(str::to_owned)
}

/// Adds `value` to `tags`, with `kind:` in front when the tag is one of the ESP's groupings (`kind`
/// empty: a free-form label). Dropped when invalid, already present, or when `tags` is full.
pub fn push_tag(tags: &mut Tags, kind: &str, value: &str) {
    if tags.len() >= MAX_TAGS {
        return;
    }
    let Some(value) = label(value) else { return };
    if kind.is_empty() {
        tags.push(&[value]);
    } else if kind.chars().count() + 1 + value.chars().count() <= MAX_TAG_CHARS {
        tags.push(&[kind, ":", value]);
    }
}

/// [`push_tag`] for each of `values`, stopping once `tags` is full (a payload with 1,000 tags costs ten).
pub fn push_tags<'v>(tags: &mut Tags, kind: &str, values: impl IntoIterator<Item = &'v str>) {
    for value in values {
        if tags.len() >= MAX_TAGS {
            return;
        }
        push_tag(tags, kind, value);
    }
}

/// The strings of a JSON string or array (SendGrid's `category` is either); other values yield nothing.
pub fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    let one = value.and_then(Value::as_str);
    let many = value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    one.into_iter().chain(many)
}

/// An id as text: ESPs send ids as strings or numbers (`ServerID: 23`, `mj_campaign_id: 0`).
pub fn id(value: Option<&Value>) -> Option<Cow<'_, str>> {
    match value? {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(n) => Some(n.to_string().into()),
        _ => None,
    }
}

/// The `name:value` pairs of a tag object (`{"category": "confirm_email"}`, values may be arrays as SES
/// sends them) or of a `[{"name", "value"}]` list (Resend's older payloads), in the object's order.
pub fn push_pairs(tags: &mut Tags, value: Option<&Value>, skip: impl Fn(&str) -> bool) {
    let mut push = |name: &str, value: &str| {
        if let Some(name) = label(name).filter(|name| !skip(name)) {
            push_tag(tags, name, value);
        }
    };
    match value {
        Some(Value::Object(pairs)) => {
            for (name, values) in pairs {
                strings(Some(values)).for_each(|value| push(name, value));
            }
        }
        Some(Value::Array(pairs)) => {
            for pair in pairs {
                if let (Some(name), Some(value)) = (pair["name"].as_str(), pair["value"].as_str()) {
                    push(name, value);
                }
            }
        }
        _ => {}
    }
}

/// For `#[serde(borrow, default, deserialize_with = "sending::lenient_text")]` on an `Option<Cow<str>>`:
/// a string, borrowed from the body unless it has escapes; any other JSON value is skipped as `None`
/// instead of failing the batch, since a dimension is optional.
pub fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    let mut text = None;
    deserializer.deserialize_any(Lenient { many: false, each: |found| text = Some(found) })?;
    Ok(text)
}

/// For `#[serde(default, deserialize_with = "sending::lenient_tags")]` on [`Tags`] (SendGrid's
/// `category`, a string or an array of strings): the strings as free-form tags, validated and bounded
/// as [`push_tag`] does them as they are read (no list of candidates is built); other values are skipped.
pub fn lenient_tags<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tags, D::Error> {
    let mut tags = Tags::default();
    deserializer
        .deserialize_any(Lenient { many: true, each: |found: Cow<'_, str>| push_tag(&mut tags, "", &found) })?;
    Ok(tags)
}

/// Accepts any JSON value and hands its strings to `each`: one string, or (`many`) those of an array.
struct Lenient<F> {
    many: bool,
    each: F,
}

impl<'de, F: FnMut(Cow<'de, str>)> Visitor<'de> for Lenient<F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(mut self, text: &'de str) -> Result<(), E> {
        (self.each)(Cow::Borrowed(text));
        Ok(())
    }

    fn visit_str<E: de::Error>(mut self, text: &str) -> Result<(), E> {
        (self.each)(Cow::Owned(text.to_owned()));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        while let Some(item) = items.next_element::<LenientItem<'de>>()? {
            if let Some(text) = item.0.filter(|_| self.many) {
                (self.each)(text);
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<(), A::Error> {
        while fields.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// One array element: a string, or anything else skipped.
struct LenientItem<'de>(Option<Cow<'de, str>>);

impl<'de> de::Deserialize<'de> for LenientItem<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Nested arrays are skipped whole: a category is a string, not a list of lists.
        let mut text = None;
        deserializer.deserialize_any(Lenient { many: false, each: |found| text = Some(found) })?;
        Ok(LenientItem(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ips_are_literals_or_nothing() {
        assert_eq!(ip(Some(" 198.51.100.7 ")), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(ip(Some("2a00:67a0:a:15::2")), Some("2a00:67a0:a:15::2".parse().unwrap()));
        for bad in ["333.33.33.33", "xxx.xxx.xxx.xxx", "010.1.1.1", "192.0.2.0/24", "[192.0.2.1]", "", "mta1"] {
            assert_eq!(ip(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn a_domain_field_holding_an_address_is_dropped_not_cut() {
        assert_eq!(domain(Some("Mail.Example.COM.")).as_deref(), Some("mail.example.com"));
        assert_eq!(domain(Some("jane@example.com")), None);
        assert_eq!(domain(Some("<example.com>")), None);
        assert_eq!(domain(Some("")), None);
    }

    #[test]
    fn address_domains_keep_only_the_domain() {
        let cases = [
            ("sender@example.com", Some("example.com")),
            ("Sender Name <sender@Example.com>", Some("example.com")),
            ("Acme <onboarding@resend.dev>", Some("resend.dev")),
            ("bounce+abc=x@mg.example.org", Some("mg.example.org")),
            ("Test Sender ", None),
            ("sender@", None),
            ("no-at-sign.example", None),
        ];
        for (text, expected) in cases {
            assert_eq!(address_domain(Some(text)).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn tags_are_bounded_deduplicated_and_never_addresses() {
        let mut tags = Tags::default();
        push_tag(&mut tags, "campaign", "spring");
        push_tag(&mut tags, "", "newsletter");
        push_tag(&mut tags, "", " newsletter ");
        push_tag(&mut tags, "", &"x".repeat(MAX_TAG_CHARS + 1));
        push_tag(&mut tags, "", "jane@example.com");
        push_tag(&mut tags, "", "line\nbreak");
        push_tag(&mut tags, "", "");
        push_tag(&mut tags, "", &"é".repeat(MAX_TAG_CHARS));
        let long = "é".repeat(MAX_TAG_CHARS);
        assert_eq!(tags.iter().collect::<Vec<_>>(), ["campaign:spring", "newsletter", long.as_str()]);
        let many: Vec<String> = (0..1000).map(|i| format!("t{i}")).collect();
        push_tags(&mut tags, "", many.iter().map(String::as_str));
        assert_eq!(tags.len(), MAX_TAGS);
        assert_eq!(tags.iter().nth(3), Some("t0"));
    }

    #[test]
    fn tags_keep_their_order_refuse_newlines_and_are_a_json_array() {
        let mut tags = Tags::default();
        assert!(tags.push(&["campaign", ":", "a"]));
        assert!(!tags.push(&["campaign:a"]), "the same tag, however it is put together");
        assert!(!tags.push(&["two\nlines"]));
        assert!(tags.push(&["b"]));
        assert_eq!((tags.len(), tags.contains("b"), tags.contains("campaign")), (2, true, false));
        let json = serde_json::to_string(&tags).unwrap();
        assert_eq!(json, r#"["campaign:a","b"]"#);
        assert_eq!(serde_json::from_str::<Tags>(&json).unwrap(), tags);
        assert!(Tags::default().is_empty());
    }

    #[test]
    fn tag_pairs_from_objects_and_name_value_lists() {
        let mut tags = Tags::default();
        let ses = json!({"ses:configuration-set": ["ConfigSet"], "campaign": ["spring", "b"], "n": 5});
        push_pairs(&mut tags, Some(&ses), |name| name.starts_with("ses:"));
        let resend = json!([{"name": " category ", "value": "welcome"}, {"name": 1}, {"name": "a@b", "value": "c"}]);
        push_pairs(&mut tags, Some(&resend), |_| false);
        assert_eq!(tags.iter().collect::<Vec<_>>(), ["campaign:spring", "campaign:b", "category:welcome"]);
    }

    #[test]
    fn lenient_fields_skip_what_is_not_a_string() {
        #[derive(serde::Deserialize)]
        struct Fields<'a> {
            #[serde(borrow, default, deserialize_with = "lenient_text")]
            ip: Option<Cow<'a, str>>,
            #[serde(default, deserialize_with = "lenient_tags")]
            category: Tags,
        }
        let read = |text: &str| -> (Option<String>, Vec<String>) {
            let fields: Fields<'_> = serde_json::from_str(text).expect("any value is accepted");
            (fields.ip.map(Cow::into_owned), fields.category.iter().map(str::to_owned).collect())
        };
        assert_eq!(read(r#"{"ip":"192.0.2.1","category":"a"}"#), (Some("192.0.2.1".into()), vec!["a".into()]));
        assert_eq!(
            read(r#"{"ip":7,"category":["a",1,["b"],{"c":2},"d\u00e9","a","x@y.z"]}"#),
            (None, vec!["a".into(), "dé".into()])
        );
        assert_eq!(read(r#"{"ip":{"v":[1]},"category":{"a":"b"}}"#), (None, vec![]));
        assert_eq!(read(r#"{"ip":null,"category":null}"#), (None, vec![]));
        let thousand =
            format!(r#"{{"category":[{}]}}"#, (0..1000).map(|i| format!("\"t{i}\"")).collect::<Vec<_>>().join(","));
        assert_eq!(read(&thousand).1.len(), MAX_TAGS);
    }
}
