//! The provider a reply's own text names, so that a hosted domain can join its provider from its first
//! deferral, before any MX look-up. Three signals, strongest first:
//!
//! 1. The receiving host a relay names in its wrapper (`host aspmx.l.google.com[…] said:`, Exim's
//!    `host mx.example.com [192.0.2.1]:`, qmail's `mx.example.com [192.0.2.1] did not like…` at the
//!    start), matched against the [`super::mx::MX_RULES`].
//! 2. Literal tags only one provider writes ([`SIGNATURES`]): Gmail's `gsmtp`, Microsoft's
//!    `protection.outlook.com` server names.
//! 3. The classifier's provider rules ([`BY_CLASSIFIER_RULE`]), reused rather than copied: when the rule
//!    that classified a reply is one whose literals only that provider sends (Apple's `[CS01]` and
//!    `[HCM1]`, Microsoft's `TenantAttribution`), the reply names its provider.
//!
//! Only what a provider's own servers alone write qualifies: a Postfix host using Barracuda's blocklist
//! links barracudanetworks.com in *its* reply, and iCloud refuses listed IPs with a link to Proofpoint's
//! blocklist, so neither link says who receives.

use super::mx::rule_for_host;
use super::Platform::{self, *};
use crate::reply;

/// A lower-case fragment of the reply text that only `platform` writes.
#[derive(Debug)]
pub struct Signature {
    pub literal: &'static str,
    pub platform: Platform,
    /// A real reply that carries it.
    pub example: &'static str,
    pub source: &'static str,
}

pub const SIGNATURES: &[Signature] = &[
    Signature {
        literal: "gsmtp",
        platform: Google,
        example: "421 4.7.28 [x.xx.xx.xx] Our system has detected an unusual rate of unsolicited mail originating from your IP address. - gsmtp",
        source: "https://support.google.com/a/answer/3726730 (every reply of Google's SMTP servers ends in \"- gsmtp\")",
    },
    Signature {
        literal: "protection.outlook.com",
        platform: Microsoft,
        example: "451 4.7.500 Server busy. Please try again later from [192.0.2.2]. (S77714) [XXX.prod.protection.outlook.com]",
        source: "tests/fixtures/replies/provider_replies.tsv (Outlook.com rows); https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online",
    },
    Signature {
        literal: "prod.outlook.com",
        platform: Microsoft,
        example: "451 4.7.652 The mail server [192.0.2.251] has exceeded the maximum number of connections. (S3115) [Name=Protocol Filter Agent][AGT=PFA][MxId=11BA9B3FA168ABBF] [BN3PEPF0000B370.namprd21.prod.outlook.com 2025-02-20T14:30:32.425Z 08DD4D9FD5AFF45C]",
        source: "https://github.com/sisimai/go-sisimai/blob/main/rhost/lib.go (Microsoft: .prod.outlook.com)",
    },
    Signature {
        literal: "postmaster.yahooinc.com",
        platform: Yahoo,
        example: "554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes",
        source: "https://senders.yahooinc.com/error-codes",
    },
    Signature {
        literal: "senders.yahooinc.com",
        platform: Yahoo,
        example: "451 Message temporarily deferred due to unresolvable RFC.5321 from domain. See https://senders.yahooinc.com/error-codes//unresolvable-from-domain",
        source: "https://senders.yahooinc.com/error-codes",
    },
    Signature {
        literal: "community.mimecast.com",
        platform: Mimecast,
        example: "554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554",
        source: "https://github.com/sisimai/go-sisimai/blob/main/rhost/for-mimecast.go",
    },
];

/// Classifier rules (by id, see `crate::classify`) whose match only that provider's servers produce.
/// Rules matched by a code alone, or by wording other servers share, are left out on purpose. So is
/// `yahoo.tss04-deferred-volume`: Yahoo Japan, another company, sends the same `[TSS04]`/`[IPTS04]` tags
/// (`provider_replies.tsv`), so a Yahoo reply is named by its `yahooinc.com` link instead.
pub const BY_CLASSIFIER_RULE: &[(&str, Platform)] = &[
    ("ms.5.1.10-recipient-not-found", Microsoft),
    ("ms.5.7.64-tenant-attribution-relay", Microsoft),
    ("gmail.overquotaperm-inactive", Google),
    ("gmail.4.7.28-unusual-rate", Google),
    ("yahoo.dd-no-account", Yahoo),
    ("apple.hcm1-deferred", Apple),
    ("apple.cs-local-policy", Apple),
    ("orange.mail-rejected-506", Orange),
    ("orange.service-refused-505", Orange),
    ("godaddy.ib-spam-volume", GoDaddy),
    ("godaddy.ib-sending-limits", GoDaddy),
    ("godaddy.ib-invalid-recipients-block", GoDaddy),
    ("godaddy.ib-invalid-from", GoDaddy),
    ("mimecast.host-network-not-allowed", Mimecast),
];

/// The provider the classifier rule `rule_id` names, if it is one of [`BY_CLASSIFIER_RULE`]: for a
/// caller that already has a reply's [`crate::classify::Classification`].
pub fn provider_of_rule(rule_id: &str) -> Option<Platform> {
    BY_CLASSIFIER_RULE.iter().find(|(id, _)| *id == rule_id).map(|&(_, platform)| platform)
}

/// The provider a reply's text names, if it names one: `rule` is the id of the classifier rule that
/// classified it (the event's, already decided on the webhook path, so nothing is classified twice).
/// Never panics; reads at most [`reply::MAX_SCANNED_BYTES`] of the reply.
pub fn signed_by(raw: &str, rule: Option<&str>) -> Option<Platform> {
    reply::with_parsed(raw, |reply| text_signature(&reply.text)).or_else(|| rule.and_then(provider_of_rule))
}

/// Signals 1 and 2: the host a relay names, then the literal tags.
fn text_signature(text: &str) -> Option<Platform> {
    relay_named_host(text).or_else(|| SIGNATURES.iter().find(|s| text.contains(s.literal)).map(|s| s.platform))
}

/// The platform of the host a relay's wrapper names as the one that answered: `host NAME[`, `host NAME [`
/// (Postfix, Exim) or `NAME [` opening the text (qmail), when an MX rule knows the name.
fn relay_named_host(text: &str) -> Option<Platform> {
    let after_host = text.match_indices("host ").map(|(at, marker)| &text[at + marker.len()..]);
    std::iter::once(text).chain(after_host).find_map(|rest| {
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))?;
        let (name, after) = rest.split_at(end);
        let bracketed = after.starts_with('[') || after.starts_with(" [");
        let name = name.strip_suffix('.').unwrap_or(name);
        if bracketed && name.contains('.') {
            rule_for_host(name).map(|rule| rule.platform)
        } else {
            None
        }
    })
}
