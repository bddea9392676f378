//! DoH answers as Cloudflare's and Google's JSON API write them, good and bad (issue 13, "Bad input and
//! faults"): every bad one is a clear error or a safe answer, never a panic and never a wrong provider.

use bouncewatch::provider::doh::MAX_ANSWER_BYTES;
use bouncewatch::provider::{
    parse_answer, provider_of_mx, query_url, DohError, Mx, MxAnswer, MxRecord, Platform, Provider, Reason,
};
use proptest::prelude::*;

const DOMAIN: &str = "corp.example";

fn mx(records: &[(u16, &str)]) -> Mx {
    Mx::Exchanges(
        records.iter().map(|&(preference, exchange)| MxRecord { preference, exchange: exchange.into() }).collect(),
    )
}

fn ok(mx: Mx, ttl: u32) -> Result<MxAnswer, DohError> {
    Ok(MxAnswer { domain: DOMAIN.into(), mx, ttl })
}

fn malformed(answer: &Result<MxAnswer, DohError>) -> bool {
    matches!(answer, Err(DohError::Malformed(_)))
}

macro_rules! answers {
    ($($name:ident: $body:expr => $expected:expr,)*) => {
        $(
            #[test]
            fn $name() {
                let got = parse_answer(DOMAIN, &$body);
                let expected: &dyn Fn(&Result<MxAnswer, DohError>) -> bool = &$expected;
                assert!(expected(&got), "got {got:?}");
                if let Err(err) = &got {
                    assert!(!err.to_string().is_empty());
                }
            }
        )*
    };
}

answers! {
    google_workspace_mx_records_in_any_order_with_the_smallest_ttl:
        r#"{"Status":0,"TC":false,"RD":true,"RA":true,"AD":false,"CD":false,"Question":[{"name":"corp.example","type":15}],
           "Answer":[{"name":"corp.example.","type":15,"TTL":3600,"data":"10 alt3.aspmx.l.google.com."},
                     {"name":"corp.example.","type":15,"TTL":300,"data":"1 aspmx.l.google.com."}]}"#
        => |a| *a == ok(mx(&[(10, "alt3.aspmx.l.google.com"), (1, "aspmx.l.google.com")]), 300),
    names_in_any_case_are_compared_lower_case:
        r#"{"Status":0,"Answer":[{"name":"CORP.Example.","type":15,"TTL":60,"data":"10 ASPMX.L.GOOGLE.COM."}]}"#
        => |a| *a == ok(mx(&[(10, "aspmx.l.google.com")]), 60),
    a_null_mx_is_rfc_7505_s_no_mail:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":86400,"data":"0 ."}]}"#
        => |a| *a == ok(Mx::Null, 86400),
    a_null_target_among_real_exchanges_is_dropped:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"0 ."},
                                 {"name":"corp.example.","type":15,"TTL":60,"data":"10 mx.example-hosting.net."}]}"#
        => |a| *a == ok(mx(&[(10, "mx.example-hosting.net")]), 60),
    nxdomain_takes_the_soa_ttl:
        r#"{"Status":3,"Authority":[{"name":"example.","type":6,"TTL":900,"data":"ns1.example. hostmaster.example. 1 7200 3600 1209600 900"}]}"#
        => |a| *a == ok(Mx::NoSuchDomain, 900),
    noerror_without_mx_records_is_no_records:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":1,"TTL":60,"data":"192.0.2.1"}],
           "Authority":[{"name":"corp.example.","type":6,"TTL":120,"data":"ns1.example. hostmaster.example. 1 2 3 4 120"}]}"#
        => |a| *a == ok(Mx::NoRecords, 120),
    servfail_is_an_error_to_retry:
        r#"{"Status":2,"Comment":"upstream timed out"}"# => |a| *a == Err(DohError::ServFail),
    refused_is_an_error_naming_the_status:
        r#"{"Status":5}"# => |a| *a == Err(DohError::Rcode(5)),
    a_truncated_answer_is_not_trusted:
        r#"{"Status":0,"TC":true,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"10 aspmx.l.google.com."}]}"#
        => |a| *a == Err(DohError::Truncated),
    a_cname_chain_is_followed_to_its_mx_records_and_its_ttl_counts:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":5,"TTL":30,"data":"alias.example."},
                                 {"name":"alias.example.","type":5,"TTL":600,"data":"mail.example-hosting.net."},
                                 {"name":"mail.example-hosting.net.","type":15,"TTL":600,"data":"5 mx1.example-hosting.net."}]}"#
        => |a| *a == ok(mx(&[(5, "mx1.example-hosting.net")]), 30),
    a_cname_loop_is_malformed:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":5,"TTL":30,"data":"b.example."},
                                 {"name":"b.example.","type":5,"TTL":30,"data":"corp.example."}]}"#
        => malformed,
    a_cname_to_garbage_is_malformed:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":5,"TTL":30,"data":"not a name"}]}"# => malformed,
    mx_records_of_another_name_are_ignored:
        r#"{"Status":0,"Answer":[{"name":"attacker.example.","type":15,"TTL":60,"data":"10 aspmx.l.google.com."}]}"#
        => |a| *a == ok(Mx::NoRecords, 0),
    a_missing_ttl_is_zero_and_a_huge_one_saturates:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"data":"10 mx.example-hosting.net."},
                                 {"name":"corp.example.","type":15,"TTL":99999999999,"data":"20 mx2.example-hosting.net."}]}"#
        => |a| matches!(a, Ok(MxAnswer { ttl: 0, .. })),
    a_ttl_beyond_u32_saturates:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":99999999999,"data":"10 mx.example-hosting.net."}]}"#
        => |a| matches!(a, Ok(MxAnswer { ttl: u32::MAX, .. })),
    an_empty_body_is_malformed: "" => malformed,
    html_from_a_captive_portal_is_malformed: "<html><body>Log in to continue</body></html>" => malformed,
    a_json_array_is_malformed: "[]" => malformed,
    an_object_without_status_is_malformed: "{}" => malformed,
    a_status_as_text_is_malformed: r#"{"Status":"NOERROR"}"# => malformed,
    a_negative_ttl_is_malformed:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":-1,"data":"10 mx.example.com."}]}"# => malformed,
    mx_data_without_an_exchange_is_malformed:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"10"}]}"# => malformed,
    mx_data_with_a_preference_beyond_16_bits_is_malformed:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"70000 mx.example.com."}]}"# => malformed,
    mx_data_with_three_fields_is_malformed:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"10 mx.example.com. extra"}]}"# => malformed,
    an_exchange_that_is_not_a_host_name_fails_the_whole_answer:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"1 evil host!.example."},
                                 {"name":"corp.example.","type":15,"TTL":60,"data":"10 aspmx.l.google.com."}]}"# => malformed,
    an_unparsable_backup_mx_fails_the_whole_answer:
        r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"1 mx.example-hosting.net."},
                                 {"name":"corp.example.","type":15,"TTL":60,"data":"ten aspmx.l.google.com."}]}"# => malformed,
    an_answer_over_64_kib_is_refused_unread:
        format!(r#"{{"Status":0,"Comment":"{}"}}"#, "x".repeat(MAX_ANSWER_BYTES))
        => |a| matches!(a, Err(DohError::TooLarge(n)) if *n > MAX_ANSWER_BYTES),
}

#[test]
fn a_cname_chain_longer_than_eight_hops_is_malformed() {
    let hops: Vec<String> = (0..10)
        .map(|n| {
            let from = if n == 0 { DOMAIN.to_owned() } else { format!("hop{n}.example") };
            format!(r#"{{"name":"{from}.","type":5,"TTL":60,"data":"hop{}.example."}}"#, n + 1)
        })
        .collect();
    let body = format!(r#"{{"Status":0,"Answer":[{}]}}"#, hops.join(","));
    assert!(malformed(&parse_answer(DOMAIN, &body)));
}

#[test]
fn a_null_mx_answer_files_the_domain_under_no_mail() {
    let answer =
        parse_answer(DOMAIN, r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":60,"data":"0 ."}]}"#);
    let resolution = provider_of_mx(&answer.unwrap());
    assert_eq!((resolution.provider, resolution.reason), (Provider::NoMail, Reason::NullMx));
}

#[test]
fn the_lowest_preference_mx_of_a_real_answer_names_microsoft() {
    let body = r#"{"Status":0,"Answer":[{"name":"corp.example.","type":15,"TTL":3600,"data":"20 backup.example-hosting.net."},
        {"name":"corp.example.","type":15,"TTL":3600,"data":"0 corp-example.mail.protection.outlook.com."}]}"#;
    let resolution = provider_of_mx(&parse_answer(DOMAIN, body).unwrap());
    assert_eq!(resolution.provider, Provider::Platform(Platform::Microsoft));
    assert_eq!(resolution.reason, Reason::Mx { host: "corp-example.mail.protection.outlook.com".into() });
}

#[test]
fn the_query_url_is_the_json_form_with_a_punycode_name() {
    let url = query_url("https://cloudflare-dns.com/dns-query", "Bücher.DE.").unwrap();
    assert_eq!(url, "https://cloudflare-dns.com/dns-query?name=xn--bcher-kva.de&type=MX");
    assert!(matches!(query_url("https://cloudflare-dns.com/dns-query", "a..b"), Err(DohError::InvalidName(_))));
    assert!(matches!(query_url("https://cloudflare-dns.com/dns-query", ""), Err(DohError::InvalidName(_))));
}

/// A record in dns-json form with any of the shapes a server (or an attacker) might send.
fn record() -> impl Strategy<Value = String> {
    let name = prop_oneof![Just("corp.example.".to_owned()), "[a-zA-Z0-9.\\-]{0,20}"];
    let rr_type = prop_oneof![
        Just("15".to_owned()),
        Just("5".to_owned()),
        Just("6".to_owned()),
        "-?[0-9]{1,6}",
        Just("\"x\"".to_owned())
    ];
    let ttl = prop_oneof![Just(String::new()), "-?[0-9]{1,12}".prop_map(|t| format!(r#","TTL":{t}"#))];
    let data = prop_oneof!["[0-9]{1,6} [a-zA-Z0-9.\\-_!]{0,30}", Just("0 .".to_owned()), "\\PC{0,30}",];
    (name, rr_type, ttl, data).prop_map(|(name, rr_type, ttl, data)| {
        format!(r#"{{"name":{},"type":{rr_type}{ttl},"data":{}}}"#, serde_json::json!(name), serde_json::json!(data))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn no_answer_text_panics(body in "\\PC{0,200}") {
        let _ = parse_answer(DOMAIN, &body);
    }

    #[test]
    fn no_dns_json_answer_panics_or_yields_an_exchange_that_is_not_a_host_name(
        status in prop_oneof![Just(0u64), Just(2), Just(3), 0u64..10],
        tc in any::<bool>(),
        records in proptest::collection::vec(record(), 0..8),
    ) {
        let body = format!(r#"{{"Status":{status},"TC":{tc},"Answer":[{}]}}"#, records.join(","));
        if let Ok(answer) = parse_answer(DOMAIN, &body) {
            if let Mx::Exchanges(exchanges) = &answer.mx {
                prop_assert!(!exchanges.is_empty());
                for exchange in exchanges {
                    prop_assert!(bouncewatch::provider::is_dns_name(&exchange.exchange), "{:?}", exchange);
                }
            }
            let _ = provider_of_mx(&answer);
        }
    }

    #[test]
    fn no_domain_text_panics_the_query_url(domain in "\\PC{0,300}") {
        if let Ok(url) = query_url("https://doh.test/dns-query", &domain) {
            prop_assert!(url.len() < 300 + 40);
        }
    }

    #[test]
    fn no_reply_text_panics_the_signature_match(reply in "\\PC{0,300}") {
        let _ = bouncewatch::provider::signed_by(&reply, Some("apple.cs-local-policy"));
    }
}
