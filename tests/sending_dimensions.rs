//! The sending side of every saved ESP payload (`tests/fixtures/webhooks/samples`, sources in
//! `SOURCES.md`): which IP, pool, domain and tags each ESP's real samples name, and that what is malformed
//! is dropped while the event still counts (src/esp/sending.rs).

mod common;

use std::collections::BTreeSet;

use bouncewatch::esp::{self, Delivery, EspError};
use bouncewatch::event::{Esp, NormalizedEvent, Sending, MAX_TAGS};
use common::parse_sample;
use proptest::prelude::*;

/// `(sending_ip, ip_pool, sending_domain, tags)` of one event.
type Dims = (Option<&'static str>, Option<&'static str>, Option<&'static str>, &'static [&'static str]);

const NONE: &[&str] = &[];

/// Every sample whose events name a dimension, with what each event names, in order. Comments say what
/// a sample carries that is dropped.
const SAMPLES: &[(Esp, &str, &[Dims])] = &[
    (Esp::Brevo, "brevo_hard_bounce_anymail.json", &[(None, None, None, &["header-tag"])]),
    // `sending_ip: "333.33.33.33"` is no IPv4 address; `tag` repeats `tags` as JSON text.
    (Esp::Brevo, "brevo_request_full_anymail.json", &[(None, None, None, &["tag1", "tag2"])]),
    // `envelope.sending-ip: "333.123.123.200"` is no IPv4 address either.
    (Esp::Mailgun, "mailgun_delivered_anymail.json", &[(None, None, Some("example.org"), NONE)]),
    (
        Esp::Mailgun,
        "mailgun_eventdata_failed_permanent_delayed_bounce_docs.json",
        &[(None, None, Some("test.com"), NONE)],
    ),
    (Esp::Mailgun, "mailgun_eventdata_failed_permanent_suppress_docs.json", &[(None, None, Some("example.org"), NONE)]),
    // `sending-ip: "xxx.xxx.xxx.xxx"`, the documentation's placeholder.
    (Esp::Mailgun, "mailgun_eventdata_failed_temporary_docs.json", &[(None, None, Some("test.com"), NONE)]),
    (Esp::Mailgun, "mailgun_webhook_failed_temporary_signed_selfgen.json", &[(None, None, Some("test.com"), NONE)]),
    // `invalid@invalid` is no recipient domain: the event is reported invalid, not counted, dimensions and all.
    (Esp::Mailjet, "mailjet_bounce_anymail.json", &[]),
    // `customcampaign` is empty: Mailjet's own campaign id stands in (0, "no campaign", in the others).
    (Esp::Mailjet, "mailjet_bounce_greylisted_anymail.json", &[(None, None, None, &["campaign:1234567890"])]),
    (
        Esp::Mailjet,
        "mailjet_sent_batch_docs.json",
        &[(None, None, None, &["campaign:7257"]), (None, None, None, &["campaign:7257"])],
    ),
    (Esp::Mailjet, "mailjet_single_event_not_grouped_anymail.json", &[(None, None, None, &["campaign:1234567890"])]),
    // Only the deferral has an SMTP event, so only it names the IP it was sent from.
    (
        Esp::Mandrill,
        "mandrill_events_test_batch_subset.json",
        &[
            (Some("127.0.0.1"), None, Some("mandrillapp.com"), &["webhook-example"]),
            (None, None, Some("mandrillapp.com"), &["webhook-example"]),
            (None, None, Some("mandrillapp.com"), &["webhook-example"]),
        ],
    ),
    (Esp::Mandrill, "mandrill_hard_bounce_anymail.json", &[(None, None, Some("example.com"), NONE)]),
    (Esp::Postal, "postal_message_bounced_anymail.json", &[(None, None, Some("example.com"), NONE)]),
    (Esp::Postal, "postal_message_delayed_anymail.json", &[(None, None, Some("postal.example.com"), NONE)]),
    (Esp::Postal, "postal_message_delivery_failed_anymail.json", &[(None, None, Some("example.com"), NONE)]),
    (
        Esp::Postmark,
        "postmark_bounce_docs.json",
        &[(None, None, Some("example.com"), &["stream:outbound", "server:23", "Test"])],
    ),
    (Esp::Postmark, "postmark_bounce_hardbounce_anymail.json", &[(None, None, Some("example.com"), &["server:23"])]),
    // "Sender <from@example.com>": the domain only.
    (Esp::Resend, "resend_bounced_anymail.json", &[(None, None, Some("example.com"), NONE)]),
    (Esp::Resend, "resend_bounced_suppressed_anymail.json", &[(None, None, Some("example.com"), NONE)]),
    (Esp::Resend, "resend_delivery_delayed_anymail.json", &[(None, None, Some("resend.dev"), NONE)]),
    (
        Esp::Resend,
        "resend_delivery_delayed_docs.json",
        &[(
            None,
            None,
            Some("resend.dev"),
            &["broadcast:8b146471-e88e-4322-86af-016cd36fd216", "category:confirm_email"],
        )],
    ),
    (Esp::Sendgrid, "sendgrid_blocked_docs.json", &[(None, None, None, &["cat facts"])]),
    (Esp::Sendgrid, "sendgrid_bounce_anymail.json", &[(Some("167.89.17.173"), None, None, NONE)]),
    (Esp::Sendgrid, "sendgrid_bounce_classification_docs_mirror.json", &[(None, None, None, &["cat facts"])]),
    (Esp::Sendgrid, "sendgrid_bounce_docs.json", &[(None, None, None, &["cat facts"])]),
    (Esp::Sendgrid, "sendgrid_deferred_docs.json", &[(None, None, None, &["cat facts"])]),
    (
        Esp::Sendgrid,
        "sendgrid_delivered_marketing_campaign_docs.json",
        &[(None, None, None, &["campaign:unique args ab"])],
    ),
    (Esp::Sendgrid, "sendgrid_dropped_bounced_address_anymail.json", &[(None, None, None, &["cat facts"])]),
    (Esp::Sendgrid, "sendgrid_dropped_docs.json", &[(None, None, None, &["cat facts"])]),
    (Esp::Sendgrid, "sendgrid_processed_pool_docs.json", &[(None, Some("new_MY_test"), None, NONE)]),
    // `ses:source-ip` is the API caller's IP, not SES's: only `ses:outgoing-ip` (deliveries) is the sending IP.
    (Esp::Ses, "ses_event_bounce.json", &[(None, None, Some("example.com"), &["config-set:ConfigSet"])]),
    (Esp::Ses, "ses_event_complaint.json", &[(None, None, Some("example.com"), &["config-set:ConfigSet"])]),
    (
        Esp::Ses,
        "ses_event_delivery.json",
        &[(
            Some("192.0.2.0"),
            None,
            Some("example.com"),
            &["config-set:ConfigSet", "myCustomTag1:myCustomTagValue1", "myCustomTag2:myCustomTagValue2"],
        )],
    ),
    (Esp::Ses, "ses_event_deliverydelay.json", &[(None, None, Some("example.com"), &["config-set:ConfigSet"])]),
    (
        Esp::Ses,
        "ses_event_reject.json",
        &[(
            None,
            None,
            Some("example.com"),
            &["config-set:ConfigSet", "myCustomTag1:myCustomTagValue1", "myCustomTag2:myCustomTagValue2"],
        )],
    ),
    // Identity notifications carry no message tags: the domain of `mail.source` alone.
    (
        Esp::Ses,
        "ses_notification_bounce_no_dsn.json",
        &[(None, None, Some("example.com"), NONE), (None, None, Some("example.com"), NONE)],
    ),
    (Esp::Ses, "ses_notification_bounce_with_dsn.json", &[(None, None, Some("example.com"), NONE)]),
    (Esp::Ses, "ses_notification_complaint.json", &[(None, None, Some("example.com"), NONE)]),
    (Esp::Ses, "ses_notification_delivery.json", &[(None, None, Some("example.com"), NONE)]),
    (Esp::Ses, "ses_sns_envelope_bounce_anymail.json", &[(None, None, Some("example.com"), NONE)]),
    (
        Esp::Sparkpost,
        "sparkpost_bounce_sample_docs.json",
        &[(
            Some("127.0.0.1"),
            Some("Example-Ip-Pool"),
            Some("example.com"),
            &["campaign:Example Campaign Name", "subaccount:101"],
        )],
    ),
];

fn dims(sending: &Sending) -> (Option<String>, Option<String>, Option<String>, Vec<String>) {
    (
        sending.sending_ip.map(|ip| ip.to_string()),
        sending.ip_pool.clone(),
        sending.sending_domain.clone(),
        sending.tags.iter().map(str::to_owned).collect(),
    )
}

#[test]
fn every_sample_names_the_sending_side_its_esp_reports() {
    for (esp, name, expected) in SAMPLES {
        let events = parse_sample(*esp, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let found: Vec<_> = events.iter().map(|e| dims(&e.sending)).collect();
        let expected: Vec<_> = expected
            .iter()
            .map(|(ip, pool, domain, tags)| {
                (
                    ip.map(str::to_owned),
                    pool.map(str::to_owned),
                    domain.map(str::to_owned),
                    tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(found, expected, "{name}");
    }
}

#[test]
fn samples_outside_the_table_name_no_sending_side() {
    let listed: BTreeSet<&str> = SAMPLES.iter().map(|(_, name, _)| *name).collect();
    let mut checked = 0;
    for entry in std::fs::read_dir(format!("{}/samples", common::FIXTURES)).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(esp) = esp_of(&name) else { continue };
        if listed.contains(name.as_str()) {
            continue;
        }
        // Some samples are not event bodies (Postal's bare payload): those have nothing to check.
        let Ok(events) = parse_sample(esp, &name) else { continue };
        for event in &events {
            assert!(event.sending.is_empty(), "{name} names {:?}: add it to the table", event.sending);
        }
        checked += 1;
    }
    assert!(checked > 15, "only {checked} samples checked");
}

/// The ESP a sample belongs to, by its file name.
fn esp_of(name: &str) -> Option<Esp> {
    match name.split('_').next()? {
        "sns" => Some(Esp::Ses),
        "svix" => Some(Esp::Resend),
        prefix => Esp::from_name(prefix),
    }
}

#[test]
fn without_a_sending_side_the_json_is_what_it_was() {
    let events = parse_sample(Esp::Sendgrid, "sendgrid_deferred_anymail.json").unwrap();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert!(json.get("sending").is_none(), "{json}");
    let named = parse_sample(Esp::Sendgrid, "sendgrid_bounce_anymail.json").unwrap();
    assert_eq!(serde_json::to_value(&named[0]).unwrap()["sending"], serde_json::json!({"sending_ip": "167.89.17.173"}));
}

#[test]
fn sendgrid_reads_no_sending_ip_from_opens_and_clicks_where_it_is_the_readers() {
    let body = br#"[{"event":"open","email":"a@example.com","timestamp":1,"ip":"203.0.113.9","category":"news"},
        {"event":"deferred","email":"a@example.com","timestamp":1,"ip":"198.51.100.7","response":"451 later"}]"#;
    let events = esp::parse(Esp::Sendgrid, &Delivery { body, headers: &[], now: 1 }).unwrap();
    assert_eq!(events[0].sending, tags(&["news"]));
    assert_eq!(events[1].sending.sending_ip, Some("198.51.100.7".parse().unwrap()));
}

fn generic(event: serde_json::Value) -> Result<Vec<NormalizedEvent>, EspError> {
    let body = serde_json::to_vec(&event).unwrap();
    esp::parse(Esp::Generic, &Delivery { body: &body, headers: &[], now: 1_700_000_000 })
}

fn generic_deferral(sending: serde_json::Value) -> serde_json::Value {
    let mut event = serde_json::json!({
        "event": "deferred", "recipient": "someone@gmail.com", "timestamp": 1_700_000_000,
        "reply": "451 4.7.1 Try again later",
    });
    event.as_object_mut().unwrap().extend(sending.as_object().unwrap().clone());
    event
}

#[test]
fn the_generic_form_takes_the_four_dimensions() {
    let events = generic(generic_deferral(serde_json::json!({
        "sending_ip": "2001:DB8::7", "ip_pool": "newsletter", "sending_domain": "News.Example.com",
        "tags": ["campaign:spring", "promo"],
    })))
    .unwrap();
    assert_eq!(
        dims(&events[0].sending),
        (
            Some("2001:db8::7".into()),
            Some("newsletter".into()),
            Some("news.example.com".into()),
            vec!["campaign:spring".into(), "promo".into()]
        )
    );
}

#[test]
fn malformed_dimensions_are_dropped_and_the_event_still_counts() {
    let long_tag = "x".repeat(5000);
    let thousand_tags: Vec<String> = (0..1000).map(|i| format!("tag-{i}")).collect();
    let cases = [
        ("a malformed IP", serde_json::json!({"sending_ip": "198.51.100.300"}), Sending::default()),
        ("an IP that is not a string", serde_json::json!({"sending_ip": 3_325_256_711u64}), Sending::default()),
        ("a 5,000-character tag", serde_json::json!({"tags": [long_tag, "kept"]}), tags(&["kept"])),
        ("1,000 tags", serde_json::json!({"tags": thousand_tags}), tags(&thousand_tags[..MAX_TAGS])),
        (
            "an address in place of a domain",
            serde_json::json!({"sending_domain": "jane.doe@example.com"}),
            Sending::default(),
        ),
        ("an address as a tag", serde_json::json!({"tags": ["jane.doe@example.com"]}), Sending::default()),
        ("an address as a pool", serde_json::json!({"ip_pool": "jane.doe@example.com"}), Sending::default()),
        ("tags that are not a list of strings", serde_json::json!({"tags": {"a": 1}}), Sending::default()),
    ];
    for (what, sending, expected) in cases {
        let events = generic(generic_deferral(sending)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(events.len(), 1, "{what}: the event is counted");
        assert_eq!(events[0].smtp_code, Some(451), "{what}");
        assert_eq!(events[0].sending, expected, "{what}");
        assert!(!serde_json::to_string(&events[0]).unwrap().contains("jane.doe"), "{what}: no local part");
    }
}

fn tags<S: AsRef<str>>(values: &[S]) -> Sending {
    Sending { tags: values.iter().map(AsRef::as_ref).collect(), ..Sending::default() }
}

#[test]
fn an_esp_field_of_the_wrong_type_drops_the_dimension_not_the_batch() {
    let body = br#"[{"event":"deferred","email":"a@example.com","timestamp":1,"response":"451 later",
        "ip":{"v":4},"pool":"not-an-object","category":[1,["x"],{"y":2},"ok"],"marketing_campaign_name":7,
        "marketing_campaign_id":{"id":1},"asm_group_id":[3]}]"#;
    let events = esp::parse(Esp::Sendgrid, &Delivery { body, headers: &[], now: 1 }).expect("the batch is read");
    assert_eq!(events[0].sending, tags(&["ok"]));
}

/// A local part no dimension may keep: long and distinctive enough not to occur by chance.
const LOCAL: &str = "privatelocalpart";

fn dimension_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        "[a-z0-9.]{1,20}".prop_map(|d| format!("{LOCAL}@{d}")),
        "[a-z0-9.]{1,20}".prop_map(|d| format!("Name <{LOCAL}@{d}>")),
        "[0-9a-f:.]{1,45}",
        Just("x".repeat(5000)),
    ]
}

proptest! {
    #[test]
    fn any_dimension_values_leave_the_event_counted_and_no_local_part_stored(
        ip in dimension_text(),
        pool in dimension_text(),
        domain in dimension_text(),
        tag_list in prop::collection::vec(dimension_text(), 0..30),
    ) {
        let sending = serde_json::json!({"sending_ip": ip, "ip_pool": pool, "sending_domain": domain, "tags": tag_list});
        let events = generic(generic_deferral(sending)).expect("dimensions never refuse an event");
        prop_assert_eq!(events.len(), 1);
        let kept = &events[0].sending;
        prop_assert!(kept.tags.len() <= MAX_TAGS);
        let json = serde_json::to_string(&events[0]).unwrap();
        prop_assert!(!json.contains(LOCAL), "{}", json);
        prop_assert!(!json.contains('@'), "{}", json);
        // The same values where an ESP puts addresses: the domain is kept, the local part never.
        let mailgun = serde_json::json!({"event-data": {
            "event": "failed", "severity": "temporary", "recipient": "someone@gmail.com", "timestamp": 1,
            "envelope": {"sender": domain, "sending-ip": ip}, "tags": tag_list, "campaigns": [pool],
        }});
        let body = serde_json::to_vec(&mailgun).unwrap();
        let events = esp::parse(Esp::Mailgun, &Delivery { body: &body, headers: &[], now: 1 }).unwrap();
        prop_assert_eq!(events.len(), 1);
        let json = serde_json::to_string(&events[0]).unwrap();
        prop_assert!(!json.contains(LOCAL), "{}", json);
    }
}
