//! From a domain's MX answer to its provider: the lowest-preference exchange decides (it is where mail is
//! delivered while it answers), matched against suffix rules; a host no rule names is grouped under its
//! registrable domain, the way KumoMTA rolls domains up by shared MX hosts.
//!
//! Suffixes match at a label boundary: `protection.outlook.com` matches `x.mail.protection.outlook.com`
//! and `protection.outlook.com` itself, never `evilprotection.outlook.com.example`. Wildcards like
//! `zoho.*` are written out as Zoho's own regional domains instead: `zoho.xyz` may belong to anyone, and a
//! wrong provider is worse than `other:`.

use super::doh::{Mx, MxAnswer};
use super::Platform::{self, *};
use super::{Provider, Reason, Resolution};

/// MX hosts under `suffix` belong to `platform`.
#[derive(Debug)]
pub struct MxRule {
    pub suffix: &'static str,
    pub platform: Platform,
    /// A real MX host of this platform; resolving it must yield this rule (tests prove it).
    pub example: &'static str,
    pub source: &'static str,
}

const KUMO_SHAPING: &str =
    "https://github.com/KumoCorp/kumomta/blob/main/assets/policy-extras/shaping.toml (provider MXSuffix rules)";
const SISIMAI_RHOST: &str = "https://github.com/sisimai/go-sisimai/blob/main/rhost/lib.go (RhostClass)";
const ISSUE_13: &str = "issue 13 (the project's own brief lists this suffix)";

/// First match wins; no suffix here is a suffix of another rule's, so the order only reads better.
pub const MX_RULES: &[MxRule] = &[
    MxRule { suffix: "google.com", platform: Google, example: "aspmx.l.google.com", source: KUMO_SHAPING },
    MxRule { suffix: "googlemail.com", platform: Google, example: "aspmx2.googlemail.com", source: KUMO_SHAPING },
    // Consumer (olc.) and Microsoft 365 (mail.) edges; mail.eo.outlook.com is an older 365 endpoint.
    MxRule {
        suffix: "protection.outlook.com",
        platform: Microsoft,
        example: "contoso-com.mail.protection.outlook.com",
        source: KUMO_SHAPING,
    },
    MxRule {
        suffix: "eo.outlook.com",
        platform: Microsoft,
        example: "contoso.mail.eo.outlook.com",
        source: "https://www.spamresource.com/2024/04/mbp-spotlight-outlookcom.html",
    },
    // Microsoft 365 with inbound DANE.
    MxRule { suffix: "mx.microsoft", platform: Microsoft, example: "contoso-com.s-v1.mx.microsoft", source: KUMO_SHAPING },
    MxRule { suffix: "hotmail.com", platform: Microsoft, example: "mx1.hotmail.com", source: SISIMAI_RHOST },
    MxRule { suffix: "yahoodns.net", platform: Yahoo, example: "mta5.am0.yahoodns.net", source: KUMO_SHAPING },
    MxRule { suffix: "mx.aol.com", platform: Yahoo, example: "mailin-01.mx.aol.com", source: SISIMAI_RHOST },
    MxRule {
        suffix: "biz.mail.yahoo.com",
        platform: Yahoo,
        example: "mx1.biz.mail.yahoo.com",
        source: "https://suped.com/email-deliverability/answers/what-are-the-current-yahoo-mail-server-names-and-infrastructure",
    },
    MxRule { suffix: "icloud.com", platform: Apple, example: "mx01.mail.icloud.com", source: KUMO_SHAPING },
    MxRule { suffix: "me.com", platform: Apple, example: "mx.me.com", source: SISIMAI_RHOST },
    MxRule { suffix: "comcast.net", platform: Comcast, example: "mx1a1.comcast.net", source: SISIMAI_RHOST },
    MxRule { suffix: "gmx.net", platform: Gmx, example: "mx00.emig.gmx.net", source: "https://smtp.codes/unitedinternet/" },
    MxRule { suffix: "gmx.com", platform: Gmx, example: "mx00.gmx.com", source: "https://smtp.codes/unitedinternet/" },
    MxRule { suffix: "web.de", platform: Gmx, example: "mx-ha03.web.de", source: "https://smtp.codes/unitedinternet/" },
    MxRule { suffix: "orange.fr", platform: Orange, example: "smtp-in.orange.fr", source: SISIMAI_RHOST },
    MxRule { suffix: "wanadoo.fr", platform: Orange, example: "smtp.wanadoo.fr", source: SISIMAI_RHOST },
    MxRule { suffix: "t-online.de", platform: TOnline, example: "mx00.t-online.de", source: "https://postmaster.t-online.de" },
    MxRule { suffix: "mail.ru", platform: MailRu, example: "mxs.mail.ru", source: "https://help.mail.ru/mail/security/" },
    MxRule { suffix: "yandex.ru", platform: Yandex, example: "mx.yandex.ru", source: "https://yandex.ru/support/mail/" },
    MxRule { suffix: "yandex.net", platform: Yandex, example: "mx.yandex.net", source: "https://yandex.ru/support/mail/" },
    MxRule { suffix: "zoho.com", platform: Zoho, example: "mx.zoho.com", source: ISSUE_13 },
    MxRule { suffix: "zoho.eu", platform: Zoho, example: "mx.zoho.eu", source: ISSUE_13 },
    MxRule { suffix: "zoho.in", platform: Zoho, example: "mx.zoho.in", source: ISSUE_13 },
    MxRule { suffix: "zoho.com.au", platform: Zoho, example: "mx.zoho.com.au", source: ISSUE_13 },
    MxRule { suffix: "zoho.jp", platform: Zoho, example: "mx.zoho.jp", source: ISSUE_13 },
    MxRule { suffix: "zohomail.com", platform: Zoho, example: "mx.zohomail.com", source: ISSUE_13 },
    MxRule {
        suffix: "qq.com",
        platform: Qq,
        example: "mxbiz1.qq.com",
        source: "https://www.spamresource.com/2024/05/mbp-spotlight-qqcom.html",
    },
    // NetEase's free mail (163.com, 126.com, yeah.net) is received by *.mxmail.netease.com; its business
    // mail by mx.qiye.163.com.
    MxRule { suffix: "netease.com", platform: Netease, example: "163mx01.mxmail.netease.com", source: "http://163yunyou.com/newsitem/597.html" },
    MxRule { suffix: "qiye.163.com", platform: Netease, example: "mx.qiye.163.com", source: "http://163yunyou.com/newsitem/597.html" },
    MxRule { suffix: "libero.it", platform: Libero, example: "smtp-in.libero.it", source: "https://info.libero.it/contratti/libero-mail-personal" },
    MxRule { suffix: "free.fr", platform: FreeFr, example: "mx1.free.fr", source: "https://www.free.fr/assistance/" },
    MxRule { suffix: "seznam.cz", platform: Seznam, example: "mx1.seznam.cz", source: "https://napoveda.seznam.cz/cz/email/" },
    MxRule { suffix: "naver.com", platform: Naver, example: "mx1.naver.com", source: "https://mail.naver.com" },
    MxRule {
        suffix: "secureserver.net",
        platform: GoDaddy,
        example: "mx1.secureserver.net",
        source: SISIMAI_RHOST,
    },
    MxRule { suffix: "pphosted.com", platform: Proofpoint, example: "mx0a-00123401.pphosted.com", source: ISSUE_13 },
    // Proofpoint Essentials.
    MxRule { suffix: "ppe-hosted.com", platform: Proofpoint, example: "mx1-us1.ppe-hosted.com", source: ISSUE_13 },
    MxRule { suffix: "mimecast.com", platform: Mimecast, example: "eu-smtp-inbound-1.mimecast.com", source: KUMO_SHAPING },
    MxRule { suffix: "mimecast.co.za", platform: Mimecast, example: "za-smtp-inbound-1.mimecast.co.za", source: KUMO_SHAPING },
    MxRule {
        suffix: "mimecast-offshore.com",
        platform: Mimecast,
        example: "je-smtp-inbound-1.mimecast-offshore.com",
        source: KUMO_SHAPING,
    },
    MxRule {
        suffix: "barracudanetworks.com",
        platform: Barracuda,
        example: "d123456a.ess.barracudanetworks.com",
        source: ISSUE_13,
    },
    MxRule { suffix: "iphmx.com", platform: Cisco, example: "mx1.hc1234-56.iphmx.com", source: ISSUE_13 },
    MxRule { suffix: "messagelabs.com", platform: MessageLabs, example: "cluster1.eu.messagelabs.com", source: SISIMAI_RHOST },
];

/// The rule naming `host` (lower-case, no trailing dot), if any.
pub fn rule_for_host(host: &str) -> Option<&'static MxRule> {
    MX_RULES
        .iter()
        .find(|rule| host.strip_suffix(rule.suffix).is_some_and(|head| head.is_empty() || head.ends_with('.')))
}

/// The provider of one mail host: a rule's platform, else its registrable domain as
/// [`Provider::Other`], else `None` (a name with no registrable part, such as a bare public suffix).
pub fn provider_of_host(host: &str) -> Option<Provider> {
    match rule_for_host(host) {
        Some(rule) => Some(rule.platform.into()),
        None => registrable_domain(host).map(Provider::Other),
    }
}

/// The provider an MX answer names, and why.
///
/// * Exchanges: the one with the lowest preference decides (ties by name, so the answer's order does not
///   matter).
/// * No MX records but the name exists: RFC 5321 §5.1's implicit MX, the domain itself.
/// * Null MX: [`Provider::NoMail`].
/// * No such domain: nobody receives its mail, but that is a typo or a dead domain rather than a
///   provider, so it stays [`Provider::Unknown`] (cached like any answer, so it is not asked again soon).
pub fn provider_of_mx(answer: &MxAnswer) -> Resolution {
    let host = match &answer.mx {
        Mx::Exchanges(records) => records
            .iter()
            .min_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)))
            .map(|r| r.exchange.as_str()),
        Mx::NoRecords => Some(answer.domain.as_str()),
        Mx::Null => return Resolution { provider: Provider::NoMail, reason: Reason::NullMx },
        Mx::NoSuchDomain => None,
    };
    match host.and_then(|host| Some((host, provider_of_host(host)?))) {
        Some((host, provider)) => Resolution { provider, reason: Reason::Mx { host: host.to_owned() } },
        None => Resolution::unresolved(),
    }
}

/// Second-level labels that the Public Suffix List's ICANN section makes public suffixes under many
/// country-code TLDs (`co.uk`, `com.au`, `ne.jp`, `gob.mx`, …): the most common such labels in
/// https://publicsuffix.org/list/public_suffix_list.dat (as shipped in the `psl` crate 2.1.247).
const CC_SECOND_LEVEL: &[&str] = &[
    "ac", "art", "asso", "biz", "co", "com", "coop", "ed", "edu", "firm", "gen", "go", "gob", "gouv", "gov", "gv",
    "id", "ind", "inf", "info", "int", "k12", "ltd", "me", "med", "mil", "mobi", "name", "ne", "net", "ngo", "nic",
    "nom", "nt", "or", "org", "plc", "pp", "priv", "pro", "rec", "sc", "sch", "school", "store", "tm", "tv", "web",
];

/// The registrable domain of a host name: `mx1.example-hosting.net` → `example-hosting.net`,
/// `mx.example.co.uk` → `example.co.uk`. `None` for a public suffix itself or a name that is not
/// lower-case ASCII DNS.
///
/// A compact form of the Public Suffix List rather than the list: the `psl` crate cost 273 KB of the
/// Worker's 500 KB gzip budget. The last label is a suffix, and so is a [`CC_SECOND_LEVEL`] label under a
/// two-letter (country-code) TLD. Where it differs from the list it groups *finer*, never coarser, for
/// those labels (`mx.co.de` stays `mx.co.de`), so hosts of different companies are not merged; the gap is
/// geographic second levels (`mx.a.tokyo.jp` groups under `tokyo.jp`), rare for MX hosts.
/// `tests/providers.rs` compares it with the full list.
pub fn registrable_domain(host: &str) -> Option<String> {
    if !super::is_dns_name(host) {
        return None;
    }
    let labels: Vec<&str> = host.rsplit('.').collect();
    let suffix_len = match labels.as_slice() {
        [tld, second, ..] if tld.len() == 2 && CC_SECOND_LEVEL.contains(second) => 2,
        _ => 1,
    };
    let keep = suffix_len + 1;
    if labels.len() < keep {
        return None;
    }
    let start = labels[..keep].iter().map(|l| l.len() + 1).sum::<usize>() - 1;
    Some(host[host.len() - start..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::doh::MxRecord;

    fn answer(records: &[(u16, &str)]) -> MxAnswer {
        MxAnswer {
            domain: "corp.example".into(),
            mx: Mx::Exchanges(
                records
                    .iter()
                    .map(|&(preference, exchange)| MxRecord { preference, exchange: exchange.into() })
                    .collect(),
            ),
            ttl: 300,
        }
    }

    #[test]
    fn every_mx_rule_is_reachable_through_its_own_example() {
        for rule in MX_RULES {
            let found = rule_for_host(rule.example).map(|r| r.suffix);
            assert_eq!(found, Some(rule.suffix), "{} is shadowed on {}", rule.suffix, rule.example);
            assert!(!rule.source.is_empty());
        }
    }

    #[test]
    fn suffixes_match_only_at_a_label_boundary() {
        assert_eq!(rule_for_host("protection.outlook.com").map(|r| r.platform), Some(Microsoft));
        assert!(rule_for_host("evilprotection.outlook.com.example").is_none());
        assert!(rule_for_host("notgoogle.com").is_none());
        assert!(rule_for_host("google.com.evil.example").is_none());
    }

    #[test]
    fn the_lowest_preference_exchange_decides_whatever_the_order() {
        let mixed = answer(&[(20, "backup.example-hosting.net"), (10, "corp-example.mail.protection.outlook.com")]);
        let resolution = provider_of_mx(&mixed);
        assert_eq!(resolution.provider, Microsoft.into());
        assert_eq!(resolution.reason, Reason::Mx { host: "corp-example.mail.protection.outlook.com".into() });
        let reversed = answer(&[(10, "corp-example.mail.protection.outlook.com"), (20, "backup.example-hosting.net")]);
        assert_eq!(provider_of_mx(&reversed), resolution);
    }

    #[test]
    fn unknown_hosts_group_by_registrable_domain() {
        let one = provider_of_mx(&answer(&[(10, "mx1.example-hosting.net")]));
        let two = provider_of_mx(&answer(&[(10, "mx2.example-hosting.net")]));
        assert_eq!(one.provider, Provider::Other("example-hosting.net".into()));
        assert_eq!(two.provider, one.provider);
        assert_eq!(registrable_domain("mx.example.co.uk").as_deref(), Some("example.co.uk"));
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(registrable_domain("MX.Example.com"), None);
    }

    #[test]
    fn an_implicit_mx_is_the_domain_itself_and_no_such_domain_stays_unknown() {
        let implicit = MxAnswer { domain: "mail.example-hosting.net".into(), mx: Mx::NoRecords, ttl: 60 };
        assert_eq!(provider_of_mx(&implicit).provider, Provider::Other("example-hosting.net".into()));
        let missing = MxAnswer { domain: "nx.example".into(), mx: Mx::NoSuchDomain, ttl: 60 };
        assert_eq!(provider_of_mx(&missing), Resolution::unresolved());
        let null = MxAnswer { domain: "example.com".into(), mx: Mx::Null, ttl: 60 };
        assert_eq!(provider_of_mx(&null), Resolution { provider: Provider::NoMail, reason: Reason::NullMx });
    }
}
