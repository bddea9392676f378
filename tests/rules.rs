//! Properties of the rule tables themselves: every rule is reachable (its own example is classified by
//! it, so no earlier rule shadows it), ids are unique, and literals can match the lower-cased text.

use std::collections::HashSet;

use bouncewatch::classify::{all_rules, classify};
use proptest::prelude::*;

#[test]
fn every_rule_is_reachable_through_its_own_example() {
    let shadowed: Vec<String> = all_rules()
        .filter_map(|rule| {
            let got = classify(rule.example);
            (got.rule != rule.id).then(|| format!("{} is shadowed by {} on {:?}", rule.id, got.rule, rule.example))
        })
        .collect();
    assert!(shadowed.is_empty(), "{}", shadowed.join("\n"));
}

#[test]
fn rule_ids_are_unique_and_examples_present() {
    let mut seen = HashSet::new();
    for rule in all_rules() {
        assert!(seen.insert(rule.id), "duplicate rule id {}", rule.id);
        assert!(!rule.example.is_empty(), "{} has no example", rule.id);
    }
    println!("{} rules", seen.len());
}

#[test]
fn rule_literals_are_lower_case_because_the_text_is() {
    for rule in all_rules() {
        for literal in rule.any.iter().chain(rule.all).chain(rule.none) {
            assert_eq!(*literal, literal.to_lowercase(), "rule {} literal {literal:?}", rule.id);
        }
        // An exact text is compared with the whole normalized reply, so it must be one already.
        for text in rule.exact {
            assert_eq!(bouncewatch::reply::parse(text).text, *text, "rule {} exact text {text:?}", rule.id);
        }
    }
}

proptest! {
    #[test]
    fn classify_never_panics_on_arbitrary_text(reply in any::<String>()) {
        let verdict = classify(&reply);
        prop_assert!(!verdict.rule.is_empty());
    }

    #[test]
    fn classify_never_panics_on_reply_like_text(reply in "[245][0-9]{2}[ -][245]\\.[0-9]{1,3}\\.[0-9]{1,4}[ -~\n\u{e9}]{0,80}") {
        let verdict = classify(&reply);
        prop_assert!(verdict.smtp_code.is_some());
    }
}

#[test]
fn a_huge_reply_is_classified_from_its_start() {
    let reply = format!("550 5.1.1 user unknown {}", "ü".repeat(1 << 20));
    assert_eq!(classify(&reply).rule, "code.x.1.1");
}

/// Hostile replies (issue 15, "Bad input"): every one gets a category, in bounded time, without a panic.
#[test]
fn hostile_replies_get_a_category_in_bounded_time() {
    let nul = format!("550 5.1.1 user\0unknown{}", "\0".repeat(10_000));
    let lossy = String::from_utf8_lossy(b"550 5.7.1 \xff\xfe blocked using zen.spamhaus.org \xc3\x28").into_owned();
    let lines = "451 4.7.1 greylisted\r\n".repeat(10_000);
    let rtl = "\u{202e}550 5.1.1 \u{200f}user unknown\u{202c}\u{2067}".to_owned();
    let megabyte = format!("421 4.7.0 {}", "too many connections ".repeat(50_000));
    for reply in [nul, lossy, lines, rtl, megabyte] {
        let started = std::time::Instant::now();
        let verdict = bouncewatch::classify::classify_as(&reply, Some(bouncewatch::event::EventKind::Deferred));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", &reply[..40.min(reply.len())]);
        assert!(!verdict.rule.is_empty());
        assert_eq!(verdict.permanence, bouncewatch::classify::Permanence::Transient);
    }
}

proptest! {
    #[test]
    fn every_kind_yields_a_category_and_a_deferral_is_never_expired_or_permanent(
        reply in "[245][0-9]{2}[ -][245]\\.[0-9]\\.[0-9]{1,3} [ -~\u{0}\u{200f}\u{e9}]{0,120}",
        kind in 0usize..5,
    ) {
        use bouncewatch::event::EventKind::*;
        let kind = [None, Some(Deferred), Some(Bounced), Some(Dropped), Some(Delivered)][kind];
        let verdict = bouncewatch::classify::classify_as(&reply, kind);
        prop_assert!(!verdict.rule.is_empty());
        if kind == Some(Deferred) {
            prop_assert_ne!(verdict.category, bouncewatch::classify::Category::Expired);
            prop_assert_eq!(verdict.permanence, bouncewatch::classify::Permanence::Transient);
        }
    }
}

/// Where this round's rules stop (issue 15): each row is a reply beside one a new rule takes, and the
/// rule that must answer it. Texts are the rules' sources' own (see the comments beside each rule), not
/// rows of the evaluation sets.
#[test]
fn new_rules_take_their_family_and_leave_its_neighbours() {
    let table = [
        // ImprovMX's #id-5.9.4 "sender should retry" is greylisting under a 4xx, a spam verdict under a 5xx.
        ("451 4.7.1 Anti-Spam Failure - The sender should retry transmission (#id-5.9.4)", "improvmx.4.x-5.9.4-retry-check", "greylisted"),
        ("550 5.7.1 Anti-Spam Failure (#id-5.9.4)", "improvmx.5.9.4-anti-spam", "spam_content"),
        ("550 5.7.1 Bounce Prevention (#id-5.9.1)", "improvmx.5.9.0-1-loop-or-bounce", "system_error"),
        ("550 5.7.1 Forwarding Configuration Issue (#id-5.9.5)", "improvmx.5.9.3-5-forwarding-configuration", "system_error"),
        // A host name said not to exist is the domain; an address said not to exist is the mailbox, and
        // a rejected MAIL FROM stays the sender's whatever it says.
        ("553 mx.neko.example.com does not exist", "text.host-does-not-exist", "domain_not_found"),
        ("550 5.1.1 <kijitora@neko.example.com> does not exist", "code.x.1.1", "mailbox_unknown"),
        ("550 kijitora@neko.example.com does not exist", "text.mailbox-unknown", "mailbox_unknown"),
        ("550 mailbox kijitora does not exist", "text.mailbox-unknown", "mailbox_unknown"),
        (
            "SMTP error from remote mail server after MAIL FROM:<kijitora@neko.example.com>: 553 neko.example.com does not exist",
            "stage.mail-from-rejected",
            "sender_rejected",
        ),
        // Amazon SES's SMTP endpoint refusing an unverified identity, and an outbound gateway's unknown sender.
        (
            "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com",
            "text.relay-denied",
            "relay_denied",
        ),
        ("550 'sender@example.com' is not a registered gateway user", "text.sender-rejected", "sender_rejected"),
        // Advice to check the address is about the address.
        ("Unable to deliver message to <x@example.jp>. Please check if address is correct.", "text.mailbox-unknown", "mailbox_unknown"),
    ];
    let wrong: Vec<String> = table
        .iter()
        .filter_map(|&(reply, rule, category)| {
            let got = classify(reply);
            (got.rule != rule || got.category.as_str() != category)
                .then(|| format!("{reply:?}: want {rule} ({category}), got {} ({})", got.rule, got.category.as_str()))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
