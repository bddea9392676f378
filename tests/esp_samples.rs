//! Every saved ESP payload in `tests/fixtures/webhooks/samples`, normalized: kinds, domains and codes are
//! asserted per event. Sources of each sample: `tests/fixtures/webhooks/SOURCES.md`.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::event::{Esp, EventKind, NormalizedEvent};
use common::parse_sample;
use EventKind::{Bounced, Complaint, Deferred, Delivered, Dropped, Other};

/// `(kind, recipient_domain, smtp_code, enhanced_code)` per event, in order.
type Expected = &'static [(EventKind, &'static str, Option<u16>, Option<&'static str>)];

const SAMPLES: &[(Esp, &str, Expected)] = &[
    (Esp::Brevo, "brevo_blocked_anymail.json", &[(Dropped, "example.com", None, None)]),
    (Esp::Brevo, "brevo_deferred_anymail.json", &[(Deferred, "example.com", Some(550), Some("5.1.1"))]),
    (Esp::Brevo, "brevo_hard_bounce_anymail.json", &[(Bounced, "example.com", Some(550), Some("5.5.0"))]),
    (Esp::Brevo, "brevo_request_full_anymail.json", &[(Other, "example.com", None, None)]),
    (Esp::Brevo, "brevo_soft_bounce_anymail.json", &[(Bounced, "no-mx.example.com", None, None)]),
    (Esp::Mailgun, "mailgun_delivered_anymail.json", &[(Delivered, "example.com", Some(250), None)]),
    (
        Esp::Mailgun,
        "mailgun_eventdata_failed_permanent_delayed_bounce_docs.json",
        &[(Bounced, "test.com", Some(550), Some("5.1.1"))],
    ),
    // reason suppress-bounce, code 605: Mailgun's own refusal, no remote reply.
    (Esp::Mailgun, "mailgun_eventdata_failed_permanent_suppress_docs.json", &[(Dropped, "mailgun.com", None, None)]),
    (
        Esp::Mailgun,
        "mailgun_eventdata_failed_temporary_docs.json",
        &[(Deferred, "test.com", Some(451), Some("4.7.652"))],
    ),
    (Esp::Mailgun, "mailgun_failed_greylisted_anymail.json", &[(Deferred, "mx.example.com", Some(450), None)]),
    (Esp::Mailgun, "mailgun_failed_permanent_anymail.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    // code 498 is Mailgun's "no MX", not an SMTP reply: dropped from smtp_code.
    (Esp::Mailgun, "mailgun_failed_temporary_anymail.json", &[(Deferred, "nomx.example.com", None, None)]),
    (
        Esp::Mailgun,
        "mailgun_webhook_failed_temporary_signed_selfgen.json",
        &[(Deferred, "test.com", Some(451), Some("4.7.652"))],
    ),
    (Esp::Mailjet, "mailjet_blocked_anymail.json", &[(Dropped, "example.com", None, None)]),
    (Esp::Mailjet, "mailjet_blocked_docs.json", &[(Dropped, "mailjet.com", None, None)]),
    // `invalid@invalid`: a domain of one label (RFC 2606's reserved TLD), refused by `domain` and reported
    // as invalid, not counted.
    (Esp::Mailjet, "mailjet_bounce_anymail.json", &[]),
    (Esp::Mailjet, "mailjet_bounce_docs.json", &[(Bounced, "mailjet.com", None, None)]),
    (Esp::Mailjet, "mailjet_bounce_greylisted_anymail.json", &[(Deferred, "example.com", None, None)]),
    (
        Esp::Mailjet,
        "mailjet_sent_batch_docs.json",
        &[(Delivered, "mailjet.com", Some(250), Some("2.0.0")), (Delivered, "mailjet.com", Some(250), Some("2.0.0"))],
    ),
    (
        Esp::Mailjet,
        "mailjet_single_event_not_grouped_anymail.json",
        &[(Delivered, "example.com", Some(250), Some("2.0.0"))],
    ),
    (
        Esp::Mandrill,
        "mandrill_events_test_batch_subset.json",
        &[
            (Deferred, "mandrillapp.com", Some(451), Some("4.3.5")),
            (Bounced, "mandrillapp.com", Some(550), Some("5.1.1")),
            (Bounced, "mandrillapp.com", Some(552), Some("5.2.2")),
        ],
    ),
    (Esp::Mandrill, "mandrill_hard_bounce_anymail.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    // The documented envelope with a placeholder payload: no message, no event.
    (Esp::Postal, "postal_envelope_docs.json", &[]),
    (Esp::Postal, "postal_message_bounced_anymail.json", &[(Bounced, "example.com", None, None)]),
    (Esp::Postal, "postal_message_delayed_anymail.json", &[(Deferred, "example.com", None, None)]),
    (Esp::Postal, "postal_message_delivery_failed_anymail.json", &[(Bounced, "example.com", None, None)]),
    (Esp::Postmark, "postmark_bounce_docs.json", &[(Bounced, "example.com", None, None)]),
    (Esp::Postmark, "postmark_bounce_hardbounce_anymail.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    // anymail #447: a bounce record without Email; nothing to count it against.
    (Esp::Postmark, "postmark_bounce_unsubscribe_variant_anymail.json", &[]),
    (Esp::Resend, "resend_bounced_anymail.json", &[(Bounced, "resend.dev", None, None)]),
    (Esp::Resend, "resend_bounced_suppressed_anymail.json", &[(Dropped, "example.org", None, None)]),
    (Esp::Resend, "resend_delivery_delayed_anymail.json", &[(Deferred, "resend.dev", None, None)]),
    (Esp::Resend, "resend_delivery_delayed_docs.json", &[(Deferred, "resend.dev", None, None)]),
    // The Standard Webhooks vector body `{"test":…}` has no recipient.
    (Esp::Resend, "svix_standard_webhooks_vector.body", &[]),
    // SendGrid's "blocked" is a remote refusal (event bounce, type blocked), not a drop.
    (Esp::Sendgrid, "sendgrid_blocked_docs.json", &[(Bounced, "test.com", Some(500), Some("5.0.0"))]),
    (Esp::Sendgrid, "sendgrid_bounce_anymail.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    (
        Esp::Sendgrid,
        "sendgrid_bounce_classification_docs_mirror.json",
        &[(Bounced, "example.com", Some(500), Some("5.0.0"))],
    ),
    (Esp::Sendgrid, "sendgrid_bounce_docs.json", &[(Bounced, "test.com", Some(500), Some("5.0.0"))]),
    (Esp::Sendgrid, "sendgrid_deferred_anymail.json", &[(Deferred, "example.com", None, None)]),
    (Esp::Sendgrid, "sendgrid_deferred_docs.json", &[(Deferred, "test.com", Some(400), None)]),
    (
        Esp::Sendgrid,
        "sendgrid_delivered_marketing_campaign_docs.json",
        &[(Delivered, "stbase-018.sjc1.sendgrid.net", Some(250), None)],
    ),
    (Esp::Sendgrid, "sendgrid_dropped_bounced_address_anymail.json", &[(Dropped, "example.com", None, None)]),
    (Esp::Sendgrid, "sendgrid_dropped_docs.json", &[(Dropped, "test.com", None, None)]),
    // `invalid@invalid`, as in mailjet_bounce_anymail.json: reported invalid, not counted.
    (Esp::Sendgrid, "sendgrid_dropped_invalid_anymail.json", &[]),
    (Esp::Sendgrid, "sendgrid_processed_pool_docs.json", &[(Other, "sendgrid.com", None, None)]),
    (Esp::Sendgrid, "sendgrid_signed_dropped_pythonsdk.body", &[(Dropped, "world.com", None, None)]),
    (Esp::Sendgrid, "sendgrid_signed_processed_production_issue1193.body", &[(Other, "stack-labs.com", None, None)]),
    (Esp::Sendgrid, "sendgrid_signed_test_event_nodesdk.body", &[]),
    (Esp::Ses, "ses_event_bounce.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    (Esp::Ses, "ses_event_complaint.json", &[(Complaint, "example.com", None, None)]),
    (Esp::Ses, "ses_event_delivery.json", &[(Delivered, "example.com", Some(250), Some("2.6.0"))]),
    (Esp::Ses, "ses_event_deliverydelay.json", &[(Deferred, "example.com", Some(421), Some("4.4.1"))]),
    // SES refused (virus): its own decision.
    (Esp::Ses, "ses_event_reject.json", &[(Dropped, "example.com", None, None)]),
    // One event per bounced recipient, not per destination (listmonk's bug).
    (
        Esp::Ses,
        "ses_notification_bounce_no_dsn.json",
        &[(Bounced, "example.com", None, None), (Bounced, "example.com", None, None)],
    ),
    (Esp::Ses, "ses_notification_bounce_with_dsn.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    (Esp::Ses, "ses_notification_complaint.json", &[(Complaint, "example.com", None, None)]),
    (Esp::Ses, "ses_notification_delivery.json", &[(Delivered, "example.com", Some(250), None)]),
    (Esp::Ses, "ses_sns_envelope_bounce_anymail.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    (Esp::Ses, "ses_sns_subscription_confirmation_anymail.json", &[]),
    // Signed SNS vectors carry "Hello world", not an SES record.
    (Esp::Ses, "sns_signed_notification_sigv1.json", &[]),
    (Esp::Ses, "sns_signed_notification_sigv2.json", &[]),
    (Esp::Ses, "sns_signed_notification_subject_sigv1.json", &[]),
    (Esp::Ses, "sns_signed_notification_subject_sigv2.json", &[]),
    (Esp::Sparkpost, "sparkpost_bounce_anymail.json", &[(Bounced, "example.com", Some(550), Some("5.1.1"))]),
    // bounce_class 60: an auto-reply, not a failure.
    (Esp::Sparkpost, "sparkpost_bounce_challenge_response_anymail.json", &[(Other, "example.com", None, None)]),
    (Esp::Sparkpost, "sparkpost_bounce_sample_docs.json", &[(Bounced, "example.com", Some(554), None)]),
    (Esp::Sparkpost, "sparkpost_delay_anymail.json", &[(Deferred, "nomx.example.com", Some(454), Some("4.4.4"))]),
];

fn summary(events: &[NormalizedEvent]) -> Vec<(EventKind, String, Option<u16>, Option<String>)> {
    events.iter().map(|e| (e.kind, e.recipient_domain.clone(), e.smtp_code, e.enhanced_code.clone())).collect()
}

#[test]
fn every_sample_normalizes_to_its_expected_events() {
    for (esp, name, expected) in SAMPLES {
        let events = parse_sample(*esp, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: Vec<_> =
            expected.iter().map(|(k, d, c, x)| (*k, d.to_string(), *c, x.map(str::to_owned))).collect();
        assert_eq!(summary(&events), expected, "{name}");
        for event in &events {
            assert_eq!(event.esp, *esp, "{name}");
            assert!(!event.event_id.is_empty(), "{name}");
            assert!(event.occurred_at > 1_000_000_000, "{name}: occurred_at from the ESP's timestamp");
            let classified = matches!(event.kind, Deferred | Bounced);
            if !classified {
                assert_eq!(
                    (event.category, event.permanence),
                    (None, None),
                    "{name}: only deferrals/bounces are classified"
                );
            }
            if let Some(reply) = &event.reply {
                assert!(!reply.contains('@') || reply.contains("<…@"), "{name}: address not redacted: {reply}");
            }
        }
    }
}

#[test]
fn every_sample_file_is_in_the_table() {
    let mut files: Vec<String> = std::fs::read_dir(format!("{}/samples", common::FIXTURES))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    // The one body that is not an event payload: the Postal `payload` object alone (no envelope).
    files.retain(|f| f != "postal_message_status_payload_docs.json");
    let mut listed: Vec<String> = SAMPLES.iter().map(|(_, name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn postal_payload_without_envelope_is_malformed_naming_the_field() {
    let err = parse_sample(Esp::Postal, "postal_message_status_payload_docs.json").unwrap_err();
    assert!(err.to_string().contains("`event`"), "{err}");
}

#[test]
fn dropped_events_never_carry_a_remote_reply() {
    let events = parse_sample(Esp::Sendgrid, "sendgrid_dropped_bounced_address_anymail.json").unwrap();
    assert_eq!((events[0].reply.as_deref(), events[0].smtp_code), (None, None));
}

#[test]
fn ids_come_from_the_esp_where_it_has_one() {
    let id = |esp, name| parse_sample(esp, name).unwrap()[0].event_id.clone();
    assert_eq!(id(Esp::Sendgrid, "sendgrid_bounce_anymail.json"), "lC0Rc-FuQmKbnxCWxX1jRQ");
    // Postmark's ID exceeds 2^53 and must survive exactly.
    assert_eq!(id(Esp::Postmark, "postmark_bounce_docs.json"), "Bounce:4323372036854775807");
    assert_eq!(id(Esp::Sparkpost, "sparkpost_bounce_anymail.json"), "84345317653491230");
    assert_eq!(id(Esp::Postal, "postal_message_delivery_failed_anymail.json"), "5fec5077-dae7-4989-94d5-e1963f3e9181");
    assert_eq!(id(Esp::Mailgun, "mailgun_eventdata_failed_temporary_docs.json"), "xYrATi63Rke8EC_s7EoJeA");
    assert_eq!(id(Esp::Ses, "ses_sns_envelope_bounce_anymail.json"), "19ba9823-d7f2-53c1-860e-cb10e0d13dfc:0");
}

#[test]
fn synthesized_ids_are_stable_and_distinct_per_recipient() {
    let first = parse_sample(Esp::Ses, "ses_notification_bounce_no_dsn.json").unwrap();
    let again = parse_sample(Esp::Ses, "ses_notification_bounce_no_dsn.json").unwrap();
    assert_eq!(first[0].event_id, again[0].event_id);
    assert_ne!(first[0].event_id, first[1].event_id);
    let mailjet = parse_sample(Esp::Mailjet, "mailjet_sent_batch_docs.json").unwrap();
    assert_ne!(mailjet[0].event_id, mailjet[1].event_id, "MessageIDs differ beyond 2^53");
}

#[test]
fn replies_are_redacted() {
    let events = parse_sample(Esp::Ses, "ses_sns_envelope_bounce_anymail.json").unwrap();
    assert_eq!(events[0].reply.as_deref(), Some("smtp; 550 5.1.1 <…@example.com>... User unknown"));
    let events = parse_sample(Esp::Brevo, "brevo_deferred_anymail.json").unwrap();
    assert!(events[0].reply.as_deref().unwrap().contains("<…@example.com>: Recipient address rejected"));
}

#[test]
fn timestamps_come_from_the_esp() {
    let at = |esp, name| parse_sample(esp, name).unwrap()[0].occurred_at;
    assert_eq!(at(Esp::Postmark, "postmark_bounce_docs.json"), 1_572_971_634); // 2019-11-05T16:33:54.9070259Z
    assert_eq!(at(Esp::Brevo, "brevo_deferred_anymail.json"), 1_520_363_423); // ts_epoch is milliseconds
    assert_eq!(at(Esp::Ses, "ses_event_deliverydelay.json"), 1_592_267_140); // deliveryDelay.timestamp
}

// What the classifier makes of the ESPs' own payloads: the structured fields and the reply text together.
const CATEGORIES: &[(Esp, &str, Category)] = &[
    (Esp::Sendgrid, "sendgrid_bounce_anymail.json", Category::MailboxUnknown),
    (Esp::Mailgun, "mailgun_failed_permanent_anymail.json", Category::MailboxUnknown),
    (Esp::Mailgun, "mailgun_failed_greylisted_anymail.json", Category::Greylisted),
    (Esp::Mailgun, "mailgun_eventdata_failed_temporary_docs.json", Category::RateLimited),
    (Esp::Mailjet, "mailjet_bounce_greylisted_anymail.json", Category::Greylisted),
    (Esp::Mandrill, "mandrill_hard_bounce_anymail.json", Category::MailboxUnknown),
    (Esp::Postmark, "postmark_bounce_hardbounce_anymail.json", Category::MailboxUnknown),
    (Esp::Ses, "ses_event_bounce.json", Category::MailboxUnknown),
    (Esp::Ses, "ses_event_deliverydelay.json", Category::NetworkError),
    (Esp::Sparkpost, "sparkpost_bounce_anymail.json", Category::MailboxUnknown),
    (Esp::Sparkpost, "sparkpost_delay_anymail.json", Category::DomainNotFound),
    (Esp::Brevo, "brevo_soft_bounce_anymail.json", Category::DomainNotFound),
];

#[test]
fn samples_are_classified_from_their_reply_text() {
    for (esp, name, category) in CATEGORIES {
        let events = parse_sample(*esp, name).unwrap();
        assert_eq!(events[0].category, Some(*category), "{name}");
    }
    let generic = |reply: &str| {
        let body = format!(r#"{{"event":"deferred","domain":"example.org","reply":"{reply}","timestamp":1700000000}}"#);
        let delivery = bouncewatch::esp::Delivery { body: body.as_bytes(), headers: &[], now: 0 };
        bouncewatch::esp::parse(Esp::Generic, &delivery).unwrap()[0].category
    };
    assert_eq!(generic("550 5.1.1 user unknown"), Some(Category::MailboxUnknown));
    assert_eq!(generic("451 4.7.1 local policy"), Some(Category::PolicyRejected));
    assert_eq!(generic("451 4.3.0 greylisted, try again later"), Some(Category::Greylisted));
}
