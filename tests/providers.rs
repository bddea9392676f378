//! The provider tables as specifications: the consumer domains, the reply signatures and the MX suffix
//! rules, each row reachable and sourced; and every reply of `provider_replies.tsv` whose provider we know
//! is never given a *different* provider.

mod common;

use std::collections::HashSet;

use bouncewatch::classify::{all_rules, classify};
use bouncewatch::provider::consumer::{consumer_platform, CONSUMER_DOMAINS};
use bouncewatch::provider::mx::{provider_of_host, registrable_domain, MX_RULES};
use bouncewatch::provider::signature::{BY_CLASSIFIER_RULE, SIGNATURES};
use bouncewatch::provider::{provider_of_rule, resolve, signed_by, Platform, Provider, Reason};
use common::tsv;

/// What the webhook path decides for one event's reply: its signature, given the rule that classified it.
fn reply_provider(reply: &str) -> Option<Platform> {
    signed_by(reply, Some(classify(reply).rule))
}

#[test]
fn every_consumer_row_has_a_source_and_domains_as_the_adapters_store_them() {
    let mut seen = HashSet::new();
    for row in CONSUMER_DOMAINS {
        assert!(row.source.starts_with("http"), "{:?} has no source URL", row.domains);
        for domain in row.domains {
            assert!(bouncewatch::provider::is_dns_name(domain) && domain.contains('.'), "{domain:?}");
            assert!(seen.insert(*domain), "{domain} is listed twice");
        }
    }
    println!("{} consumer domains", seen.len());
}

macro_rules! consumer_cases {
    ($($domain:literal => $platform:expr,)*) => {
        #[test]
        fn consumer_domains_and_their_country_variants_need_no_lookup() {
            $(
                let resolution = resolve($domain, None, None);
                assert_eq!(resolution.provider, Provider::Platform($platform), "{}", $domain);
                assert_eq!(resolution.reason, Reason::ConsumerTable, "{}", $domain);
            )*
        }
    };
}

consumer_cases! {
    "gmail.com" => Platform::Google,
    "googlemail.com" => Platform::Google,
    "outlook.com" => Platform::Microsoft,
    "hotmail.com" => Platform::Microsoft,
    "hotmail.co.uk" => Platform::Microsoft,
    "outlook.fr" => Platform::Microsoft,
    "live.com" => Platform::Microsoft,
    "live.fr" => Platform::Microsoft,
    "msn.com" => Platform::Microsoft,
    "yahoo.com" => Platform::Yahoo,
    "yahoo.co.uk" => Platform::Yahoo,
    "ymail.com" => Platform::Yahoo,
    "aol.com" => Platform::Yahoo,
    "verizon.net" => Platform::Yahoo,
    "icloud.com" => Platform::Apple,
    "me.com" => Platform::Apple,
    "mac.com" => Platform::Apple,
    "comcast.net" => Platform::Comcast,
    "att.net" => Platform::Att,
    "sbcglobal.net" => Platform::Att,
    "gmx.de" => Platform::Gmx,
    "gmx.net" => Platform::Gmx,
    "gmx.at" => Platform::Gmx,
    "web.de" => Platform::Gmx,
    "orange.fr" => Platform::Orange,
    "wanadoo.fr" => Platform::Orange,
    "t-online.de" => Platform::TOnline,
    "mail.ru" => Platform::MailRu,
    "yandex.ru" => Platform::Yandex,
    "yandex.com" => Platform::Yandex,
    "zoho.com" => Platform::Zoho,
    "qq.com" => Platform::Qq,
    "163.com" => Platform::Netease,
    "126.com" => Platform::Netease,
    "libero.it" => Platform::Libero,
    "free.fr" => Platform::FreeFr,
    "seznam.cz" => Platform::Seznam,
    "naver.com" => Platform::Naver,
}

#[test]
fn look_alikes_of_consumer_domains_are_not_in_the_table() {
    // Yahoo Japan is another company; gmail.com.br holds no mailboxes; sub-domains are not the domain.
    for domain in ["yahoo.co.jp", "gmail.com.br", "mail.gmail.com", "hotmail.com.evil.example", "example.com", ""] {
        assert_eq!(consumer_platform(domain), None, "{domain}");
    }
}

#[test]
fn every_mx_rule_has_a_source_and_its_example_host_resolves_to_it() {
    for rule in MX_RULES {
        assert!(!rule.source.is_empty(), "{} has no source", rule.suffix);
        assert_eq!(provider_of_host(rule.example), Some(Provider::Platform(rule.platform)), "{}", rule.example);
    }
    println!("{} MX rules", MX_RULES.len());
}

macro_rules! mx_cases {
    ($($host:literal => $provider:literal,)*) => {
        #[test]
        fn mx_hosts_name_their_provider_or_group_by_registrable_domain() {
            $(
                let got = provider_of_host($host).map(|p| p.id().into_owned());
                assert_eq!(got.as_deref(), Some($provider), "{}", $host);
            )*
        }
    };
}

mx_cases! {
    "aspmx.l.google.com" => "google",
    "alt4.aspmx.l.google.com" => "google",
    "smtp.google.com" => "google",
    "aspmx3.googlemail.com" => "google",
    "contoso-com.mail.protection.outlook.com" => "microsoft",
    "outlook-com.olc.protection.outlook.com" => "microsoft",
    "contoso-com.s-v1.mx.microsoft" => "microsoft",
    "mta7.am0.yahoodns.net" => "yahoo",
    "mx-aol.mail.gm0.yahoodns.net" => "yahoo",
    "mx01.mail.icloud.com" => "apple",
    "mx0b-00190b01.pphosted.com" => "proofpoint",
    "mx2-us1.ppe-hosted.com" => "proofpoint",
    "us-smtp-inbound-2.mimecast.com" => "mimecast",
    "d329469a.ess.barracudanetworks.com" => "barracuda",
    "mx2.hc4489-37.iphmx.com" => "cisco",
    "mx2.zoho.eu" => "zoho",
    "mx.zoho.com" => "zoho",
    "mx00.emig.gmx.net" => "gmx",
    "mx1.example-hosting.net" => "other:example-hosting.net",
    "mx2.example-hosting.net" => "other:example-hosting.net",
    "mail.example.co.uk" => "other:example.co.uk",
    // Not Zoho's: anyone may register zoho.<tld>.
    "mx.zoho.example" => "other:zoho.example",
    "mx.google.com.evil.example" => "other:evil.example",
}

#[test]
fn every_reply_signature_is_reachable_through_its_own_example() {
    for signature in SIGNATURES {
        assert_eq!(reply_provider(signature.example), Some(signature.platform), "{}", signature.literal);
        assert!(!signature.source.is_empty());
    }
}

#[test]
fn every_classifier_rule_named_for_a_provider_exists_and_its_example_names_it() {
    for (id, platform) in BY_CLASSIFIER_RULE {
        let rule = all_rules().find(|r| r.id == *id).unwrap_or_else(|| panic!("no classifier rule {id}"));
        assert_eq!(classify(rule.example).rule, *id);
        assert_eq!(provider_of_rule(id), Some(*platform));
        assert_eq!(reply_provider(rule.example), Some(*platform), "{id}: {}", rule.example);
    }
}

macro_rules! reply_cases {
    ($($name:ident: $reply:literal => $platform:expr,)*) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(reply_provider($reply), $platform);
            }
        )*
    };
}

reply_cases! {
    a_postfix_relay_naming_google_s_mx_is_google:
        "host gmail-smtp-in.l.google.com[192.0.2.27] said: 550-5.7.26 Unauthenticated email is not accepted (in reply to end of DATA command)" => Some(Platform::Google),
    an_exim_relay_naming_a_proofpoint_mx_is_proofpoint:
        "SMTP error from remote mail server after RCPT TO:<x@corp.example>: host mx0a-00190b01.pphosted.com [192.0.2.8]: 550 5.1.1 User Unknown" => Some(Platform::Proofpoint),
    a_qmail_report_opening_with_a_microsoft_host_is_microsoft:
        "outlook-com.olc.protection.outlook.com [52.101.42.17] did not like our final DATA:550 5.7.509 Access denied" => Some(Platform::Microsoft),
    a_relay_naming_an_unknown_host_names_no_provider:
        "host mx1.example-hosting.net[192.0.2.1] said: 451 4.7.1 Try again later" => None,
    a_postfix_rbl_reply_linking_barracuda_is_not_barracuda:
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1" => None,
    icloud_linking_proofpoint_s_blocklist_is_not_proofpoint:
        "550 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.1.2" => None,
    a_bare_451_names_no_provider:
        "451 4.7.1 Greylisting in action, please come back later" => None,
}

/// The fixture's provider labels we can tell apart, and the platform each must get if it gets one.
fn platform_of_label(label: &str) -> Option<Option<Platform>> {
    let l = label.to_ascii_lowercase();
    if l.contains("yahoo japan") || l.contains("yahoo.co.jp") {
        return Some(None); // another company: must not be Yahoo
    }
    let known = [
        ("gmail", Platform::Google),
        ("google", Platform::Google),
        ("microsoft", Platform::Microsoft),
        ("outlook", Platform::Microsoft),
        ("exchange online", Platform::Microsoft),
        ("yahoo", Platform::Yahoo),
        ("icloud", Platform::Apple),
        ("apple", Platform::Apple),
        ("orange", Platform::Orange),
        ("godaddy", Platform::GoDaddy),
        ("mimecast", Platform::Mimecast),
        ("gmx", Platform::Gmx),
        ("web.de", Platform::Gmx),
        ("united internet", Platform::Gmx),
        ("t-online", Platform::TOnline),
        ("mail.ru", Platform::MailRu),
        ("zoho", Platform::Zoho),
        ("qq", Platform::Qq),
        ("tencent", Platform::Qq),
        ("163.com", Platform::Netease),
        ("comcast", Platform::Comcast),
        ("proofpoint", Platform::Proofpoint),
        ("messagelabs", Platform::MessageLabs),
    ];
    known.iter().find(|(needle, _)| l.contains(needle)).map(|&(_, p)| Some(p))
}

#[test]
fn no_provider_reply_in_the_fixtures_is_given_a_different_provider() {
    let mut named = 0;
    let mut labelled = 0;
    let mut wrong = Vec::new();
    for row in tsv("provider_replies.tsv") {
        let got = reply_provider(&row[0]);
        match platform_of_label(&row[1]) {
            Some(expected) => {
                labelled += 1;
                match (got, expected) {
                    (None, _) => {}
                    (Some(g), Some(e)) if g == e => named += 1,
                    (Some(g), _) => wrong.push(format!("{:?} labelled {:?} got {g:?}", row[0], row[1])),
                }
            }
            // Rows of generic hosts, blocklists and unlisted providers: a provider must come from the
            // text itself, so only a signature we know may name one.
            None => {
                if let Some(g) = got {
                    named += 1;
                    println!("unlabelled row named {g:?}: {:?} ({})", row[0], row[1]);
                }
            }
        }
    }
    println!("reply signatures named {named} of {labelled} labelled provider replies");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Most rows are documentation templates with no server name in them; when this was written the
    // signatures named 94 of 367. A fifth is the floor, so a signature table that stops matching fails.
    assert!(named * 5 >= labelled, "only {named} of {labelled} named");
}

#[test]
fn the_compact_registrable_domain_agrees_with_the_public_suffix_list_on_real_mx_hosts() {
    let hosts = [
        "mx1.example-hosting.net",
        "mx.example.co.uk",
        "mail.example.com.au",
        "mx01.example.co.jp",
        "smtp.example.ne.jp",
        "mx.example.com.br",
        "mx.example.co.za",
        "mx.example.co.nz",
        "mx.example.com.mx",
        "mx.example.gob.mx",
        "mx1.example.de",
        "mx.example.fr",
        "mx.example.ac.uk",
        "mx.example.org.uk",
        "mx.example.com.cn",
        "mx.example.co.in",
        "mx.example.co.kr",
        "mx.example.com.tw",
        "mx.example.com.sg",
        "mx.example.co.il",
        "mail.example.io",
        "mx.example.ovh",
    ];
    for host in hosts {
        assert_eq!(registrable_domain(host).as_deref(), psl::domain_str(host), "{host}");
    }
}

#[test]
fn where_the_compact_rule_differs_from_the_list_it_groups_finer_never_coarser() {
    let mut coarser = Vec::new();
    for cc in ["uk", "de", "fr", "jp", "au", "br", "in", "za", "mx", "nz", "it", "es", "pl", "cn", "kr", "ru"] {
        for second in ["co", "com", "net", "org", "ac", "gov", "ne", "or", "gob", "ltd", "plc", "info", "example"] {
            let host = format!("mx.a.{second}.{cc}");
            let ours = registrable_domain(&host).unwrap_or_default();
            let list = psl::domain_str(&host).unwrap_or_default();
            // Coarser means fewer labels: hosts of different companies would merge.
            if ours.split('.').count() < list.split('.').count() {
                coarser.push(format!("{host}: ours {ours}, the list {list}"));
            }
        }
    }
    assert!(coarser.is_empty(), "{}", coarser.join("\n"));
}
