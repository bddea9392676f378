//! The normalized event every ESP adapter produces: one per recipient, whatever the ESP's shape.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::classify::{Category, Permanence, RuleId};

/// The email service providers we accept webhooks from, plus the generic form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Esp {
    Sendgrid,
    Mailgun,
    Postmark,
    Ses,
    Sparkpost,
    Mailjet,
    Brevo,
    Mandrill,
    Resend,
    Postal,
    Generic,
}

impl Esp {
    pub const ALL: [Esp; 11] = [
        Esp::Sendgrid,
        Esp::Mailgun,
        Esp::Postmark,
        Esp::Ses,
        Esp::Sparkpost,
        Esp::Mailjet,
        Esp::Brevo,
        Esp::Mandrill,
        Esp::Resend,
        Esp::Postal,
        Esp::Generic,
    ];

    /// The path segment in `/webhooks/{esp}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Esp::Sendgrid => "sendgrid",
            Esp::Mailgun => "mailgun",
            Esp::Postmark => "postmark",
            Esp::Ses => "ses",
            Esp::Sparkpost => "sparkpost",
            Esp::Mailjet => "mailjet",
            Esp::Brevo => "brevo",
            Esp::Mandrill => "mandrill",
            Esp::Resend => "resend",
            Esp::Postal => "postal",
            Esp::Generic => "generic",
        }
    }

    pub fn from_name(name: &str) -> Option<Esp> {
        Esp::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// What happened to the message for this recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Delivered,
    /// The receiver answered 4xx (or the ESP says it will retry).
    Deferred,
    /// The receiver refused for good, or the ESP gave up.
    Bounced,
    /// The ESP refused to send (suppression list, invalid address): never a remote reply.
    Dropped,
    Complaint,
    Other,
}

impl EventKind {
    /// The snake_case name used in JSON (and in log lines).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Delivered => "delivered",
            EventKind::Deferred => "deferred",
            EventKind::Bounced => "bounced",
            EventKind::Dropped => "dropped",
            EventKind::Complaint => "complaint",
            EventKind::Other => "other",
        }
    }
}

/// The longest DNS name (RFC 1035 §2.3.4): the longest recipient domain counted or looked up.
pub const MAX_DOMAIN_LEN: usize = 253;

/// One recipient's outcome, normalized. Holds the recipient's *domain* only, never the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedEvent {
    pub esp: Esp,
    /// The ESP's own id where it has one; otherwise a hash of the ESP's fields, stable across redeliveries.
    pub event_id: String,
    pub kind: EventKind,
    /// Unix seconds, from the ESP's timestamp.
    pub occurred_at: u64,
    /// Lower-case, IDN as punycode.
    pub recipient_domain: String,
    pub smtp_code: Option<u16>,
    pub enhanced_code: Option<String>,
    /// The remote server's text, with address local parts redacted.
    pub reply: Option<String>,
    /// Set for deferred and bounced events.
    pub category: Option<Category>,
    pub permanence: Option<Permanence>,
    /// The rule that decided the category (counted per rule for `/api/rules`). Not read back from JSON:
    /// rule ids are static, and an event is only ever built by an adapter.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
    /// Which of the sender's streams the message went out on, where the ESP says; absent from the JSON
    /// when the ESP says nothing.
    #[serde(default, skip_serializing_if = "Sending::is_empty")]
    pub sending: Sending,
}

/// The sending side of one event: the sender's own IP, pool, domain and groupings, for breaking a spike
/// down by stream ([`crate::breakdown`]). Every value was validated by the adapter
/// (`src/esp/sending.rs`): anything malformed was dropped, never stored, and no field holds an address
/// local part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    /// The IP the ESP sent from (an IPv4 or IPv6 literal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_ip: Option<IpAddr>,
    /// The ESP's name for the group of IPs it sent from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_pool: Option<String>,
    /// The domain of the From or envelope sender, lower-case, IDN as punycode: never the local part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_domain: Option<String>,
    /// The sender's own labels as given (SendGrid categories, Mailgun tags…) and the ESP's groupings with
    /// their kind in front: `campaign:…`, `stream:…`, `subaccount:…`, `server:…`, `config-set:…`,
    /// `broadcast:…`, `group:…` (see `src/esp/sending.rs`). At most [`MAX_TAGS`], each at most
    /// [`MAX_TAG_CHARS`] characters, no duplicates.
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

/// Tags kept per event; further ones are dropped (the ESP's groupings come first, so they are kept).
pub const MAX_TAGS: usize = 10;
/// Longest tag or IP pool name kept, in characters; a longer one is dropped, not cut.
pub const MAX_TAG_CHARS: usize = 100;

/// An event's tags, in order, kept in one string with a newline after each (no tag holds one): one
/// allocation per event however many tags it has, which a 1,000-event batch notices. In JSON, an array
/// of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    text: String,
    count: usize,
}

impl Tags {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        // Split on the byte: every tag is followed by one newline, so each piece is whole UTF-8.
        self.text
            .as_bytes()
            .split(|b| *b == b'\n')
            .filter(|t| !t.is_empty())
            .filter_map(|t| std::str::from_utf8(t).ok())
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn contains(&self, tag: &str) -> bool {
        self.iter().any(|t| t == tag)
    }

    /// Appends `parts` joined as one tag (`["campaign", ":", "spring"]`) without building it first.
    /// Refused (false) when it would hold a newline, or is already there.
    pub fn push(&mut self, parts: &[&str]) -> bool {
        let has_newline = parts.iter().any(|p| p.as_bytes().contains(&b'\n'));
        if has_newline || (self.count > 0 && self.iter().any(|t| is_joined(t, parts))) {
            return false;
        }
        if self.text.capacity() == 0 {
            // Room for a couple of typical tags in the first allocation.
            self.text.reserve(48);
        }
        parts.iter().for_each(|part| self.text.push_str(part));
        self.text.push('\n');
        self.count += 1;
        true
    }
}

/// `tag == parts.concat()`, without concatenating.
fn is_joined(tag: &str, parts: &[&str]) -> bool {
    let mut rest = tag;
    for part in parts {
        match rest.strip_prefix(part) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

impl<S: AsRef<str>> FromIterator<S> for Tags {
    /// The tags in order, without duplicates or any holding a newline (unchecked otherwise: the adapters
    /// validate what they read, `src/esp/sending.rs`).
    fn from_iter<I: IntoIterator<Item = S>>(tags: I) -> Self {
        let mut all = Tags::default();
        for tag in tags {
            all.push(&[tag.as_ref()]);
        }
        all
    }
}

impl Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<String>::deserialize(deserializer)?.into_iter().collect())
    }
}

impl Sending {
    /// Nothing known about the sending side.
    pub fn is_empty(&self) -> bool {
        self.sending_ip.is_none() && self.ip_pool.is_none() && self.sending_domain.is_none() && self.tags.is_empty()
    }
}
