//! Which system produced a verdict, where the reply says so: a public blocklist, a filtering gateway or
//! a mailbox provider. A blocklist hit is fixed at the list ("delist at Spamhaus"), a filter's verdict
//! with the recipient's administrator, a provider's with its postmaster pages; naming it tells the
//! sender whom to talk to.
//!
//! Markers are lower-case fragments of the reply, found in the matcher's one pass over the text (see
//! `rule::Matcher`). The table is in priority order: a blocklist named inside a provider's reply
//! ("MailFrom domain is listed in Spamhaus … outlook.com") is the more useful answer, so blocklists come
//! first, then filters, then providers. Each marker is a name or host the entity's own replies carry.

use serde::Serialize;

/// What kind of system an [`Entity`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A public DNS blocklist of IPs, domains or URLs.
    Blocklist,
    /// A filtering gateway or reputation service in front of the recipient's mailboxes.
    Filter,
    /// The recipient's mailbox provider itself.
    MailboxProvider,
}

/// A system that can produce a verdict, serialized in a classification as `{"name", "kind", "lookup"}`.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Entity {
    pub name: &'static str,
    pub kind: EntityKind,
    /// Where a sender can look up or request removal of its IP or domain, when the entity offers a
    /// public page for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup: Option<&'static str>,
    #[serde(skip)]
    pub markers: &'static [&'static str],
}

const fn entity(
    name: &'static str,
    kind: EntityKind,
    lookup: Option<&'static str>,
    markers: &'static [&'static str],
) -> Entity {
    Entity { name, kind, lookup, markers }
}

use EntityKind::*;

/// Every entity in priority order.
pub static ENTITIES: [Entity; 27] = [
    // The CBL (abuseat.org) was folded into Spamhaus's XBL in 2020.
    entity("spamhaus", Blocklist, Some("https://check.spamhaus.org/"), &["spamhaus", "abuseat"]),
    entity("spamcop", Blocklist, Some("https://www.spamcop.net/bl.shtml"), &["spamcop"]),
    entity("barracuda", Blocklist, Some("https://www.barracudacentral.org/lookups"), &["barracuda"]),
    // SORBS shut down in 2024; replies naming it are still in circulation.
    entity("sorbs", Blocklist, None, &["sorbs"]),
    entity("uceprotect", Blocklist, Some("https://www.uceprotect.net/en/rblcheck.php"), &["uceprotect"]),
    entity("invaluement", Blocklist, Some("https://www.invaluement.com/lookup/"), &["invaluement"]),
    entity("surbl", Blocklist, Some("https://www.surbl.org/surbl-analysis"), &["surbl"]),
    entity("uribl", Blocklist, Some("https://admin.uribl.com/"), &["uribl"]),
    entity("manitu", Blocklist, Some("https://www.dnsbl.manitu.net/"), &["dnsbl.manitu"]),
    entity("proofpoint", Filter, Some("https://ipcheck.proofpoint.com/"), &["proofpoint", "pphosted"]),
    entity("mimecast", Filter, None, &["mimecast"]),
    entity("cloudmark", Filter, Some("https://csi.cloudmark.com/en/reset/"), &["cloudmark"]),
    entity(
        "cisco",
        Filter,
        Some("https://talosintelligence.com/reputation_center"),
        &["ironport", "senderbase", "talos"],
    ),
    entity(
        "trend_micro",
        Filter,
        Some("https://ers.trendmicro.com/"),
        &["trend micro", "trendmicro", "mail-abuse.com"],
    ),
    entity("messagelabs", Filter, None, &["messagelabs"]),
    entity("sophos", Filter, None, &["sophos"]),
    entity("google", MailboxProvider, None, &["gsmtp", "support.google.com", "google.com/mail"]),
    entity(
        "microsoft",
        MailboxProvider,
        Some("https://sender.office.com/"),
        &["outlook.com", "sender.office.com", "postmaster.live.com", "hotmail", "aka.ms/"],
    ),
    entity("yahoo", MailboxProvider, None, &["yahoo", "yahoodns"]),
    entity("apple", MailboxProvider, None, &["icloud", "support.apple.com"]),
    entity("comcast", MailboxProvider, None, &["comcast"]),
    entity("orange", MailboxProvider, None, &["orange.fr", "wanadoo", "ofr_", "ofr0"]),
    entity("gmx_webde", MailboxProvider, None, &["gmx", "web.de"]),
    entity("yandex", MailboxProvider, None, &["yandex", "ya.cc/"]),
    entity("mail_ru", MailboxProvider, None, &["mail.ru"]),
    entity("tencent_qq", MailboxProvider, None, &["qq.com"]),
    entity("zoho", MailboxProvider, None, &["zoho"]),
];

/// Every marker with the index of its entity, in priority order: the matcher's input.
pub fn markers() -> Vec<(&'static str, u16)> {
    ENTITIES
        .iter()
        .enumerate()
        .flat_map(|(index, entity)| entity.markers.iter().map(move |&marker| (marker, index as u16)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;

    fn entity_of(reply: &str) -> Option<&'static str> {
        classify(reply).entity.map(|e| e.name)
    }

    #[test]
    fn blocklists_filters_and_providers_are_named_from_the_text() {
        let cases = [
            // Postfix's RBL template (research/classification.md, provider_replies.tsv).
            (
                "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
                Some("spamhaus"),
            ),
            ("554 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.225", Some("proofpoint")),
            ("451 Internal resources are temporarily unavailable", None),
            ("550 5.1.1 The email account that you tried to reach does not exist. - gsmtp", Some("google")),
            ("550 5.1.1 user unknown", None),
        ];
        for (reply, expected) in cases {
            assert_eq!(entity_of(reply), expected, "{reply}");
        }
    }

    #[test]
    fn a_blocklist_named_inside_a_providers_reply_wins() {
        // Exchange Online's DNSBL template (Microsoft Learn, "Email non-delivery reports … in Exchange Online").
        let reply = "550 5.7.1 Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 AS(1450) [BN3NAM04FT049.eop-NAM04.prod.protection.outlook.com]";
        assert_eq!(entity_of(reply), Some("spamhaus"));
        let spamhaus = classify(reply).entity.expect("named");
        assert_eq!((spamhaus.kind, spamhaus.lookup), (EntityKind::Blocklist, Some("https://check.spamhaus.org/")));
    }

    #[test]
    fn every_marker_is_lower_case_and_long_enough_to_anchor() {
        for (marker, _) in markers() {
            assert_eq!(marker, marker.to_lowercase());
            assert!(marker.len() >= 3, "{marker}");
        }
    }

    #[test]
    fn the_json_names_kind_and_lookup() {
        let json = serde_json::to_value(classify("554 5.7.1 blocked using bl.spamcop.net")).unwrap();
        assert_eq!(
            json["entity"],
            serde_json::json!({"name": "spamcop", "kind": "blocklist", "lookup": "https://www.spamcop.net/bl.shtml"})
        );
        assert!(serde_json::to_value(classify("550 5.1.1 user unknown")).unwrap().get("entity").is_none());
    }
}
