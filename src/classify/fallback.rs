//! When no rule recognized the words: the enhanced code's subject digit (RFC 3463 §3), then the basic
//! code (RFC 5321 §4.2.3), then `unclassified`. These are the least reliable verdicts, which is why they
//! come last.

use super::rule::{Rule, RULE};
use super::Category::*;

pub const RULES: &[Rule] = &[
    // X.1.x Addressing status: almost always the recipient.
    Rule {
        id: "fallback.subject.x.1",
        category: MailboxUnknown,
        codes: &["x.1.*"],
        example: "550 5.1.0 Address rejected",
        ..RULE
    },
    // X.2.1 Mailbox disabled, not accepting messages.
    Rule {
        id: "fallback.subject.x.2.1",
        category: MailboxDisabled,
        codes: &["x.2.1"],
        example: "550 5.2.1 Requested action aborted",
        ..RULE
    },
    // X.2.x Mailbox status: storage.
    Rule {
        id: "fallback.subject.x.2",
        category: MailboxFull,
        codes: &["x.2.*"],
        example: "552 5.2.0 Mailbox status",
        ..RULE
    },
    Rule {
        id: "fallback.subject.x.3",
        category: SystemError,
        codes: &["x.3.*"],
        example: "451 4.3.0 Mail server temporarily rejected message.",
        ..RULE
    },
    Rule {
        id: "fallback.subject.x.4",
        category: NetworkError,
        codes: &["x.4.*"],
        example: "4.4.316 Connection to host failed [Message=Socket error code 10061]",
        ..RULE
    },
    Rule {
        id: "fallback.subject.x.5",
        category: ProtocolError,
        codes: &["x.5.*"],
        example: "501 5.5.4 Invalid arguments",
        ..RULE
    },
    Rule {
        id: "fallback.subject.x.6",
        category: ContentInvalid,
        codes: &["x.6.*"],
        example: "550 5.6.11 SMTPSEND.BareLinefeedsAreIllegal",
        ..RULE
    },
    Rule {
        id: "fallback.subject.x.7",
        category: PolicyRejected,
        codes: &["x.7.*"],
        example: "503 5.7.0 No identity changes permitted.",
        ..RULE
    },
    // 421 service not available, 451 local error in processing, 452 insufficient storage.
    Rule {
        id: "fallback.basic.421-451-452",
        category: SystemError,
        codes: &["421", "451", "452"],
        example: "451 Requested action aborted: local error",
        ..RULE
    },
    // 500–504: the receiver did not understand our command.
    Rule {
        id: "fallback.basic.50x",
        category: ProtocolError,
        codes: &["500", "501", "502", "503", "504"],
        example: "500 Line too long",
        ..RULE
    },
    // RFC 5321: 550 "mailbox unavailable" — the seed's hard bounce.
    Rule {
        id: "fallback.basic.550",
        category: MailboxUnknown,
        codes: &["550"],
        example: "550 Requested action not taken",
        ..RULE
    },
    // RFC 5321: 552 "exceeded storage allocation".
    Rule {
        id: "fallback.basic.552",
        category: MailboxFull,
        codes: &["552"],
        example: "552 Requested mail action aborted",
        ..RULE
    },
    // RFC 5321: 553 "mailbox name not allowed".
    Rule {
        id: "fallback.basic.553",
        category: MailboxNameInvalid,
        codes: &["553"],
        example: "553 Requested action not taken",
        ..RULE
    },
    // RFC 7504 §3: 556 "Domain does not accept mail", the answer for a null MX (RFC 7505) or a domain
    // that refuses mail at all; sisimai's corpus labels a bare "556 SMTP protocol returned a permanent
    // error" `notaccept` (go-sisimai reason/02-includedin_test.go).
    Rule {
        id: "fallback.basic.556",
        category: DomainNotFound,
        codes: &["556"],
        example: "556 SMTP protocol returned a permanent error",
        ..RULE
    },
];

/// What answers when nothing else does. Not in [`RULES`] so that it is never "shadowed".
pub static NONE: Rule =
    Rule { id: "fallback.unclassified", category: Unclassified, example: "554 Transaction not completed", ..RULE };
