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
