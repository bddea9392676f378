//! Classification of SMTP failure replies into a fixed taxonomy.
//!
//! (Skeleton: the decision procedure is being written; see issue 2.)

use serde::{Deserialize, Serialize};

/// What a failure reply says went wrong. Exactly one per reply; the meanings, typical codes and text
/// signals are in `tests/fixtures/replies/taxonomy.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Greylisted,
    RateLimited,
    ReputationBlocked,
    AuthFailed,
    ReverseDnsFailed,
    TlsRequired,
    PolicyRejected,
    SpamContent,
    ContentInvalid,
    MessageTooLarge,
    MailboxUnknown,
    MailboxDisabled,
    MailboxFull,
    MailboxNameInvalid,
    DomainNotFound,
    RelayDenied,
    SenderRejected,
    NetworkError,
    Expired,
    SystemError,
    ProtocolError,
    Unclassified,
}

impl Category {
    /// Every category, in taxonomy order.
    pub const ALL: [Category; 22] = [
        Category::Greylisted,
        Category::RateLimited,
        Category::ReputationBlocked,
        Category::AuthFailed,
        Category::ReverseDnsFailed,
        Category::TlsRequired,
        Category::PolicyRejected,
        Category::SpamContent,
        Category::ContentInvalid,
        Category::MessageTooLarge,
        Category::MailboxUnknown,
        Category::MailboxDisabled,
        Category::MailboxFull,
        Category::MailboxNameInvalid,
        Category::DomainNotFound,
        Category::RelayDenied,
        Category::SenderRejected,
        Category::NetworkError,
        Category::Expired,
        Category::SystemError,
        Category::ProtocolError,
        Category::Unclassified,
    ];

    /// The snake_case name used in JSON and KV keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Greylisted => "greylisted",
            Category::RateLimited => "rate_limited",
            Category::ReputationBlocked => "reputation_blocked",
            Category::AuthFailed => "auth_failed",
            Category::ReverseDnsFailed => "reverse_dns_failed",
            Category::TlsRequired => "tls_required",
            Category::PolicyRejected => "policy_rejected",
            Category::SpamContent => "spam_content",
            Category::ContentInvalid => "content_invalid",
            Category::MessageTooLarge => "message_too_large",
            Category::MailboxUnknown => "mailbox_unknown",
            Category::MailboxDisabled => "mailbox_disabled",
            Category::MailboxFull => "mailbox_full",
            Category::MailboxNameInvalid => "mailbox_name_invalid",
            Category::DomainNotFound => "domain_not_found",
            Category::RelayDenied => "relay_denied",
            Category::SenderRejected => "sender_rejected",
            Category::NetworkError => "network_error",
            Category::Expired => "expired",
            Category::SystemError => "system_error",
            Category::ProtocolError => "protocol_error",
            Category::Unclassified => "unclassified",
        }
    }

    /// The inverse of [`Category::as_str`].
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Whether the receiver's reply means "try again" or "don't". This is about the *message*; whether the
/// *address* should be suppressed is a separate decision that follows from the [`Category`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permanence {
    Transient,
    Permanent,
}

/// The verdict on one reply, serialized as the JSON of `/api/classify` and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub category: Category,
    pub permanence: Permanence,
    pub smtp_code: Option<u16>,
    pub enhanced_code: Option<String>,
    pub action: &'static str,
    pub reputation_signal: bool,
    /// The stable id of the rule that decided.
    pub rule: &'static str,
}

/// Classifies one SMTP failure reply as an ESP reports it.
pub fn classify(reply: &str) -> Classification {
    let _ = reply;
    Classification {
        category: Category::Unclassified,
        permanence: Permanence::Transient,
        smtp_code: None,
        enhanced_code: None,
        action: "",
        reputation_signal: false,
        rule: "skeleton",
    }
}
