//! Which mailbox provider receives a recipient domain's mail: Microsoft defers a sender on outlook.com,
//! hotmail.com and every company hosted on Microsoft 365 at once, so a spike must be seen per provider as
//! well as per domain (issue 13).
//!
//! # Decision order, with the reason kept
//!
//! 1. [`consumer`]: a built-in table of consumer domains (gmail.com, hotmail.co.uk, …): no look-up at all.
//! 2. [`signature`]: the reply text's own signature (Gmail's `gsmtp`, `protection.outlook.com`, Yahoo's
//!    `[TSS04]`, the host a relay names in `host X[…] said:`), reusing the classifier's provider rules.
//!    Read on the webhook path from the events' replies (no look-up: a text match), filed by the counting
//!    object with the counts, so a hosted domain joins its provider from its first signed deferral; it
//!    holds a week, then the MX answer decides again until a signed reply comes back.
//! 3. [`mx`]: the domain's MX records, looked up over DNS-over-HTTPS ([`doh`]) by the cron or the counting
//!    object, never on the webhook path; the lowest-preference MX host decides through suffix rules
//!    (`.mail.protection.outlook.com` → Microsoft, `.pphosted.com` → Proofpoint), and an unknown host is
//!    grouped under its registrable domain (`mx1.example-hosting.net` → `other:example-hosting.net`).
//!    A null MX (`0 .`, RFC 7505) is [`Provider::NoMail`].
//!
//! A domain nobody has resolved yet is [`Provider::Unknown`]. [`resolve`] applies the order; [`cache`]
//! says how long an answer holds and when a failed look-up is retried; [`plan`] picks which domains a run
//! resolves; [`aggregate`] sums per-domain counts per provider and words a provider for an alert.
//!
//! A security gateway (Proofpoint, Mimecast, Barracuda, Cisco) in front of a company is that company's
//! provider for deferral purposes: it is the server that answers, and throttles, the sender.
//!
//! Nothing here stores anything or makes a request: [`resolver::DohResolver`] takes a [`resolver::DohGet`]
//! the shell implements with Workers `fetch`.

pub mod aggregate;
pub mod cache;
pub mod consumer;
pub mod doh;
pub mod mx;
pub mod plan;
pub mod resolver;
pub mod signature;

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use aggregate::{by_provider, describe, ProviderTotals};
pub use cache::{expires_at, next_attempt, CachedResolution, MAX_TTL_SECS, MIN_TTL_SECS};
pub use doh::{parse_answer, query_name, query_url, DohError, Mx, MxAnswer, MxRecord, DEFAULT_DOH_URL, DOH_URL_VAR};
pub use mx::{provider_of_mx, registrable_domain};
pub use plan::{plan, Candidate};
pub use resolver::{DohGet, DohResolver, Lookup, MemoryResolver, Offline, Resolver};
pub use signature::{provider_of_rule, signed_by};

/// A named mailbox platform or security gateway, with a stable snake_case id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Google,
    Microsoft,
    /// Yahoo, AOL and Verizon's consumer mail, on one platform since 2018.
    Yahoo,
    Apple,
    Comcast,
    Att,
    /// GMX, Web.de, mail.com and 1&1: United Internet's one platform.
    Gmx,
    Orange,
    TOnline,
    MailRu,
    Yandex,
    Zoho,
    Qq,
    Netease,
    /// Libero, Virgilio and the other Italiaonline brands.
    Libero,
    FreeFr,
    Seznam,
    Naver,
    GoDaddy,
    Proofpoint,
    Mimecast,
    Barracuda,
    /// Cisco Secure Email (IronPort), hosted under iphmx.com.
    Cisco,
    /// Broadcom (Symantec) Email Security.cloud, formerly MessageLabs.
    MessageLabs,
}

impl Platform {
    /// Every platform, in declaration order.
    pub const ALL: [Platform; 24] = [
        Platform::Google,
        Platform::Microsoft,
        Platform::Yahoo,
        Platform::Apple,
        Platform::Comcast,
        Platform::Att,
        Platform::Gmx,
        Platform::Orange,
        Platform::TOnline,
        Platform::MailRu,
        Platform::Yandex,
        Platform::Zoho,
        Platform::Qq,
        Platform::Netease,
        Platform::Libero,
        Platform::FreeFr,
        Platform::Seznam,
        Platform::Naver,
        Platform::GoDaddy,
        Platform::Proofpoint,
        Platform::Mimecast,
        Platform::Barracuda,
        Platform::Cisco,
        Platform::MessageLabs,
    ];

    /// The stable id used in JSON, KV keys and URLs.
    pub fn id(self) -> &'static str {
        self.describe().0
    }

    /// The name a person reads.
    pub fn name(self) -> &'static str {
        self.describe().1
    }

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Platform::Google => ("google", "Google"),
            Platform::Microsoft => ("microsoft", "Microsoft"),
            Platform::Yahoo => ("yahoo", "Yahoo"),
            Platform::Apple => ("apple", "Apple iCloud"),
            Platform::Comcast => ("comcast", "Comcast"),
            Platform::Att => ("att", "AT&T"),
            Platform::Gmx => ("gmx", "GMX / Web.de (United Internet)"),
            Platform::Orange => ("orange", "Orange"),
            Platform::TOnline => ("t_online", "T-Online"),
            Platform::MailRu => ("mail_ru", "Mail.ru"),
            Platform::Yandex => ("yandex", "Yandex"),
            Platform::Zoho => ("zoho", "Zoho"),
            Platform::Qq => ("qq", "QQ Mail (Tencent)"),
            Platform::Netease => ("netease", "NetEase"),
            Platform::Libero => ("libero", "Libero (Italiaonline)"),
            Platform::FreeFr => ("free_fr", "Free"),
            Platform::Seznam => ("seznam", "Seznam"),
            Platform::Naver => ("naver", "Naver"),
            Platform::GoDaddy => ("godaddy", "GoDaddy"),
            Platform::Proofpoint => ("proofpoint", "Proofpoint"),
            Platform::Mimecast => ("mimecast", "Mimecast"),
            Platform::Barracuda => ("barracuda", "Barracuda"),
            Platform::Cisco => ("cisco", "Cisco Secure Email (IronPort)"),
            Platform::MessageLabs => ("messagelabs", "Broadcom Email Security (MessageLabs)"),
        }
    }

    /// The inverse of [`Platform::id`].
    pub fn from_id(id: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.id() == id)
    }
}

/// Who receives a domain's mail. Serialized as its id: `"microsoft"`, `"other:example-hosting.net"`,
/// `"unknown"`, `"no_mail"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Platform(Platform),
    /// MX hosts no rule names, grouped by their registrable domain (lower-case ASCII).
    Other(String),
    /// Not resolved yet (or the look-up keeps failing): counted apart until it is.
    Unknown,
    /// The domain publishes a null MX (RFC 7505): it accepts no mail at all.
    NoMail,
}

/// The id prefix of [`Provider::Other`].
pub const OTHER_PREFIX: &str = "other:";

impl Provider {
    /// `"google"`, `"other:example-hosting.net"`, `"unknown"`, `"no_mail"`.
    pub fn id(&self) -> Cow<'static, str> {
        match self {
            Provider::Platform(p) => Cow::Borrowed(p.id()),
            Provider::Other(domain) => Cow::Owned(format!("{OTHER_PREFIX}{domain}")),
            Provider::Unknown => Cow::Borrowed("unknown"),
            Provider::NoMail => Cow::Borrowed("no_mail"),
        }
    }

    /// The name a person reads: the platform's name, or the MX hosts' registrable domain.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Provider::Platform(p) => Cow::Borrowed(p.name()),
            Provider::Other(domain) => Cow::Owned(domain.clone()),
            Provider::Unknown => Cow::Borrowed("Not resolved yet"),
            Provider::NoMail => Cow::Borrowed("Accepts no mail (null MX)"),
        }
    }

    /// The inverse of [`Provider::id`]; `None` for anything else, including `other:` with no domain.
    pub fn from_id(id: &str) -> Option<Provider> {
        match id {
            "unknown" => Some(Provider::Unknown),
            "no_mail" => Some(Provider::NoMail),
            _ => match id.strip_prefix(OTHER_PREFIX) {
                Some(domain) if is_dns_name(domain) => Some(Provider::Other(domain.to_owned())),
                Some(_) => None,
                None => Platform::from_id(id).map(Provider::Platform),
            },
        }
    }
}

impl From<Platform> for Provider {
    fn from(platform: Platform) -> Self {
        Provider::Platform(platform)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id())
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = Cow::<'de, str>::deserialize(deserializer)?;
        Provider::from_id(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown provider id {id:?}")))
    }
}

/// Why a domain has its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The domain is in [`consumer::CONSUMER_DOMAINS`].
    ConsumerTable,
    /// A reply from the domain's receiver carried the provider's signature.
    ReplySignature,
    /// The lowest-preference MX host, as DNS named it (without the trailing dot).
    Mx { host: String },
    /// The domain's MX is the null MX of RFC 7505.
    NullMx,
    /// Nothing decided yet.
    Unresolved,
}

/// A domain's provider and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub provider: Provider,
    pub reason: Reason,
}

impl Resolution {
    /// Nothing is known: [`Provider::Unknown`], [`Reason::Unresolved`].
    pub fn unresolved() -> Resolution {
        Resolution { provider: Provider::Unknown, reason: Reason::Unresolved }
    }
}

/// Applies the decision order to what is known about `domain`: the consumer table first, then a provider
/// the domain's replies were signed with (from [`signed_by`]), then its MX answer (from a
/// [`Resolver`]; `None` while it has not been looked up or the look-up failed).
pub fn resolve(domain: &str, signed_by: Option<Platform>, mx: Option<&MxAnswer>) -> Resolution {
    if let Some(platform) = consumer::consumer_platform(domain) {
        return Resolution { provider: platform.into(), reason: Reason::ConsumerTable };
    }
    if let Some(platform) = signed_by {
        return Resolution { provider: platform.into(), reason: Reason::ReplySignature };
    }
    match mx {
        Some(answer) => provider_of_mx(answer),
        None => Resolution::unresolved(),
    }
}

/// Longest DNS name in its dotted text form (RFC 1035 §2.3.4: 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;

/// A lower-case ASCII host name: LDH labels (underscores allowed, as some MX hosts have them) of 1 to 63
/// characters, at most [`MAX_NAME_LEN`] in all, no trailing dot.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_id_round_trips_through_json() {
        let mut all: Vec<Provider> = Platform::ALL.into_iter().map(Provider::from).collect();
        all.extend([Provider::Unknown, Provider::NoMail, Provider::Other("example-hosting.net".into())]);
        for provider in all {
            let json = serde_json::to_string(&provider).unwrap();
            assert_eq!(json, format!("\"{}\"", provider.id()));
            assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), provider);
        }
    }

    #[test]
    fn platform_ids_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for platform in Platform::ALL {
            assert!(seen.insert(platform.id()), "duplicate id {}", platform.id());
            assert!(platform.id().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", platform.id());
        }
    }

    #[test]
    fn an_other_id_without_a_plausible_domain_is_refused() {
        for id in ["other:", "other:Example.com", "other:a..b", "other:-a.com", "google2", ""] {
            assert_eq!(Provider::from_id(id), None, "{id:?}");
        }
        assert!(serde_json::from_str::<Provider>("\"nope\"").is_err());
    }

    #[test]
    fn the_consumer_table_beats_a_signature_and_a_signature_beats_the_mx() {
        let mx = MxAnswer {
            domain: "corp.example".into(),
            mx: Mx::Exchanges(vec![MxRecord { preference: 10, exchange: "mx1.example-hosting.net".into() }]),
            ttl: 3600,
        };
        let table = resolve("hotmail.co.uk", Some(Platform::Google), Some(&mx));
        assert_eq!(table, Resolution { provider: Platform::Microsoft.into(), reason: Reason::ConsumerTable });
        let signed = resolve("corp.example", Some(Platform::Google), Some(&mx));
        assert_eq!(signed, Resolution { provider: Platform::Google.into(), reason: Reason::ReplySignature });
        let by_mx = resolve("corp.example", None, Some(&mx));
        assert_eq!(by_mx.provider, Provider::Other("example-hosting.net".into()));
        assert_eq!(resolve("corp.example", None, None), Resolution::unresolved());
    }
}
