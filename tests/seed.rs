//! The seed table the product started from (issue 2): each reply, its meaning and what to do.

use bouncewatch::classify::{classify, Category, Permanence};

fn assert_seed(reply: &str, category: Category, permanence: Permanence, action_mentions: &[&str]) {
    let verdict = classify(reply);
    assert_eq!((verdict.category, verdict.permanence), (category, permanence), "{reply}: {verdict:?}");
    for word in action_mentions {
        assert!(verdict.action.contains(word), "{reply}: action {:?} lacks {word:?}", verdict.action);
    }
}

#[test]
fn greylisting_451_4_3_0_is_benign() {
    assert_seed(
        "451 4.3.0 greylisted, please retry in 300 seconds",
        Category::Greylisted,
        Permanence::Transient,
        &["Nothing to do", "don't resend faster"],
    );
}

#[test]
fn local_policy_451_4_7_1_asks_to_lighten_content_and_check_reputation() {
    assert_seed(
        "451 4.7.1 local policy violation",
        Category::PolicyRejected,
        Permanence::Transient,
        &["Lighten the content", "links", "reputation"],
    );
}

#[test]
fn rate_limit_asks_to_slow_down_and_segment() {
    assert_seed(
        "421 4.7.0 rate limit exceeded, try again later",
        Category::RateLimited,
        Permanence::Transient,
        &["Slow the send", "segment"],
    );
}

#[test]
fn spf_dkim_not_aligned_asks_to_check_authentication() {
    assert_seed(
        "550 5.7.26 SPF/DKIM not aligned with the From domain",
        Category::AuthFailed,
        Permanence::Permanent,
        &["SPF", "DKIM", "DMARC"],
    );
}

#[test]
fn bare_550_is_a_hard_bounce_remove_the_address() {
    assert_seed(
        "550 Requested action not taken: mailbox unavailable",
        Category::MailboxUnknown,
        Permanence::Permanent,
        &["Remove the address"],
    );
    assert_seed("550", Category::MailboxUnknown, Permanence::Permanent, &["Remove the address"]);
}

#[test]
fn code_552_separates_a_full_mailbox_from_a_too_large_message() {
    assert_seed("552 5.2.2 Mailbox full", Category::MailboxFull, Permanence::Transient, &["full"]);
    assert_seed("552 5.3.4 Message too large", Category::MessageTooLarge, Permanence::Permanent, &["too large"]);
    assert_seed("552", Category::MailboxFull, Permanence::Transient, &["full"]);
}

#[test]
fn code_553_asks_to_fix_the_address() {
    assert_seed(
        "553 mailbox name not allowed",
        Category::MailboxNameInvalid,
        Permanence::Permanent,
        &["Fix the address"],
    );
    assert_seed("553", Category::MailboxNameInvalid, Permanence::Permanent, &["Fix the address"]);
}

#[test]
fn code_554_without_known_words_asks_to_find_the_cause_in_the_text() {
    assert_seed(
        "554 Transaction not completed",
        Category::Unclassified,
        Permanence::Permanent,
        &["the cause in the text"],
    );
}

#[test]
fn outlook_4_7_650_is_a_rate_limit_and_a_reputation_signal() {
    let verdict =
        classify("451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation.");
    assert_eq!((verdict.category, verdict.reputation_signal), (Category::RateLimited, true));
    assert_eq!(verdict.enhanced_code.as_deref(), Some("4.7.650"));
}

#[test]
fn microsoft_5_1_10_and_5_4_1_mean_unknown_recipient() {
    let a = classify("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup");
    let b = classify("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)");
    assert_eq!((a.category, b.category), (Category::MailboxUnknown, Category::MailboxUnknown));
}

#[test]
fn a_codeless_connection_failure_is_classified_without_codes() {
    let verdict = classify("Connection timed out");
    assert_eq!((verdict.smtp_code, verdict.enhanced_code.as_deref()), (None, None));
    assert_eq!(verdict.category, Category::Expired);
}

#[test]
fn json_has_the_documented_fields() {
    let json = serde_json::to_value(classify("451 4.3.0 greylisted")).unwrap();
    for field in ["category", "permanence", "smtp_code", "enhanced_code", "action", "reputation_signal", "rule"] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    assert_eq!(json["category"], "greylisted");
    assert_eq!(json["permanence"], "transient");
}

#[test]
fn a_codeless_connection_refusal_is_a_transient_network_error() {
    let verdict = classify("connect to mx.example.com[192.0.2.1]:25: Connection refused");
    assert_eq!((verdict.category, verdict.permanence), (Category::NetworkError, Permanence::Transient));
}

#[test]
fn a_5xx_block_is_permanent_for_the_message_but_no_verdict_on_the_address() {
    let verdict = classify("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org");
    assert_eq!((verdict.category, verdict.permanence), (Category::ReputationBlocked, Permanence::Permanent));
    assert!(verdict.reputation_signal);
}

#[test]
fn a_deferral_timeout_is_a_network_error_never_expired() {
    use bouncewatch::classify::classify_as;
    use bouncewatch::event::EventKind;
    // SES DeliveryDelay with a receiver's timeout (issue 15).
    let verdict = classify_as("421 4.4.1 Connection timed out", Some(EventKind::Deferred));
    assert_eq!((verdict.category, verdict.permanence), (Category::NetworkError, Permanence::Transient));
    let verdict =
        classify_as("connect to mx.example.com[192.0.2.1]:25: Connection timed out", Some(EventKind::Deferred));
    assert_eq!((verdict.category, verdict.permanence), (Category::NetworkError, Permanence::Transient));
    assert_eq!(classify("connect to mx.example.com[192.0.2.1]:25: Connection timed out").category, Category::Expired);
}

#[test]
fn a_bounce_after_a_temporary_reply_is_expired_but_a_full_mailbox_stays_full() {
    use bouncewatch::classify::classify_as;
    use bouncewatch::event::EventKind;
    let verdict = classify_as("451 4.3.0 Temporary system failure", Some(EventKind::Bounced));
    assert_eq!((verdict.category, verdict.permanence), (Category::Expired, Permanence::Permanent));
    assert!(verdict.context.is_some());
    let verdict =
        classify_as("452 4.2.2 The email account that you tried to reach is over quota.", Some(EventKind::Bounced));
    assert_eq!(verdict.category, Category::MailboxFull);
    let verdict = classify_as("550 5.1.1 user unknown", Some(EventKind::Deferred));
    assert_eq!((verdict.category, verdict.permanence), (Category::MailboxUnknown, Permanence::Transient));
}

#[test]
fn a_drop_is_the_esps_own_reason_and_final() {
    let verdict = bouncewatch::classify::classify_as("Bounced Address", Some(bouncewatch::event::EventKind::Dropped));
    assert_eq!(verdict.permanence, Permanence::Permanent);
    assert!(verdict.context.is_some_and(|c| c.contains("never sent")));
}
