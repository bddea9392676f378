//! Every categorized row of `provider_replies.tsv`: real replies (`full`), provider documentation
//! templates (`template`) and KumoMTA's reply regexes turned into samples (`regex`).

mod common;

use bouncewatch::classify::{classify, Category};
use common::{deregex, tsv};

/// Rows whose label we believe is wrong, each with our category and (in a comment) why. Matched on a
/// prefix of the reply text.
const MISLABELED: &[(&str, Category)] = &[
    // The same Gmail 4.7.28 "unusual rate" template as the rate_limited rows; the DKIM and SPF domains
    // are listed as the entities whose rate was measured, not as failing authentication.
    ("421 4.7.28 Gmail has detected an unusual rate of mail", Category::RateLimited),
    // A generic SMTP syntax error; the same text is also labelled protocol_error in the file.
    ("501 Syntax error in parameters or arguments", Category::ProtocolError),
    // RFC 3463 X.1.3 and the taxonomy: a syntactically invalid address is mailbox_name_invalid.
    ("553 5.1.3 The recipient address <address> is not a valid", Category::MailboxNameInvalid),
    // The recipient *domain* was not found (X.1.2): domain_not_found, per the taxonomy.
    ("553 5.1.2 We weren", Category::DomainNotFound),
    // X.1.7 is the *sender* address; it is not a content problem.
    ("553 5.1.7 The sender address address is not a valid", Category::SenderRejected),
    // A receiver's 4xx about a connection is a network error; only the event's kind (a bounce after the
    // retries ran out, `classify_as` with `EventKind::Bounced`) makes it expired (issue 15).
    ("451 4.4.2 Timeout - closing connection", Category::NetworkError),
    (
        "[Status: Error, Address: <kijitora@6kaku.example.co.jp>, ResponseCode 421, , Host not reachable.]",
        Category::NetworkError,
    ),
    ("Error, ERROR_CODE :421, ERROR_CODE :, Host not reachable.", Category::NetworkError),
];

fn expected_for(reply: &str, label: Category) -> Category {
    MISLABELED.iter().find(|(prefix, _)| reply.starts_with(prefix)).map_or(label, |&(_, ours)| ours)
}

#[test]
fn every_full_and_template_provider_reply_is_classified_as_labelled() {
    let mut counts = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    let mut failures = Vec::new();
    let rows = tsv("provider_replies.tsv");
    for row in &rows {
        let Some(label) = Category::from_name(&row[2]) else {
            continue;
        };
        let kind = row[4].split_whitespace().next().unwrap_or("");
        let (sample, expected) = match kind {
            "full" | "template" => (row[0].clone(), expected_for(&row[0], label)),
            "regex" => (deregex(&row[0]), label),
            _ => continue,
        };
        let got = classify(&sample);
        let entry = counts.entry(kind).or_default();
        entry.1 += 1;
        if got.category == expected {
            entry.0 += 1;
        } else if kind != "regex" {
            failures.push(format!("{kind}: {sample}\n  expected {expected:?}, got {:?} by {}", got.category, got.rule));
        } else {
            println!("regex miss: {sample} (KumoMTA says {expected:?}, we say {:?} by {})", got.category, got.rule);
        }
    }
    for (kind, (pass, total)) in &counts {
        println!("provider_replies {kind}: {pass}/{total}");
    }
    assert!(failures.is_empty(), "{} misclassified:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_mislabeled_exception_names_a_row_that_exists() {
    let rows = tsv("provider_replies.tsv");
    for (prefix, _) in MISLABELED {
        assert!(rows.iter().any(|r| r[0].starts_with(prefix)), "no row starts with {prefix:?}");
    }
}

#[test]
fn deregex_makes_concrete_samples() {
    assert_eq!(deregex(r"^550.+User Unknown$"), "550 x User Unknown");
    assert_eq!(deregex(r"Messages from \d+\.\d+\.\d+\.\d+ temporarily"), "Messages from 1.1.1.1 temporarily");
    assert_eq!(deregex(r"\[TS?S04\]"), "[TSS04]");
    assert_eq!(deregex(r"^(?!.*KumoMTA internal).*RL000010"), " x RL000010");
    assert_eq!(deregex(r"(foo|bar) baz"), "foo baz");
}
