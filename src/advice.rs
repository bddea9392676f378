//! What to tell an operator about each cause of deferrals: one table, used by the detector's alerts, the
//! alert emails and the dashboard's API, so the advice reads the same everywhere.

use crate::breakdown::Dimension;
use crate::classify::Category;

/// A cause as an operator says it.
pub fn cause_name(category: Category) -> &'static str {
    match category {
        Category::Greylisted => "greylisting",
        Category::RateLimited => "rate limiting",
        Category::ReputationBlocked => "IP/domain reputation",
        Category::AuthFailed => "SPF/DKIM/DMARC",
        Category::ReverseDnsFailed => "reverse DNS",
        Category::TlsRequired => "TLS required",
        Category::PolicyRejected => "local policy",
        Category::SpamContent => "spam content",
        Category::ContentInvalid => "invalid content",
        Category::MessageTooLarge => "message too large",
        Category::MailboxUnknown => "unknown mailbox",
        Category::MailboxDisabled => "disabled mailbox",
        Category::MailboxFull => "mailbox full",
        Category::MailboxNameInvalid => "invalid mailbox name",
        Category::DomainNotFound => "domain not found",
        Category::RelayDenied => "relay denied",
        Category::SenderRejected => "sender rejected",
        Category::NetworkError => "network error",
        Category::Expired => "expired in queue",
        Category::SystemError => "receiver system error",
        Category::ProtocolError => "protocol error",
        Category::Unclassified => "unclassified",
    }
}

/// The seed's answer to a greylisting spike.
pub const GREYLISTING_ADVICE: &str = "Nothing to do — the automatic retry succeeds; don't resend faster.";

/// The seed's answer to any other 451 spike, before the advice per cause.
pub const SPIKE_ADVICE: &str =
    "Check IP reputation, authentication and content — and don't resend manually until the cause is identified.";

/// What to do about a cause, in the seed's words where it has them; `None` where the overall advice is all
/// there is to say.
pub fn cause_advice(category: Category) -> Option<&'static str> {
    match category {
        Category::Greylisted => Some(GREYLISTING_ADVICE),
        Category::PolicyRejected | Category::SpamContent | Category::ContentInvalid => {
            Some("Lighten content, drop suspicious links, check IP and domain reputation.")
        }
        Category::RateLimited => Some("Slow the send, segment the campaign."),
        Category::AuthFailed => Some("Check SPF, DKIM and DMARC alignment."),
        Category::ReputationBlocked => Some("Check IP and domain reputation (blocklists, Postmaster Tools, SNDS)."),
        Category::ReverseDnsFailed => Some("Give the sending IP a PTR record that resolves back to it."),
        Category::TlsRequired => Some("Enable STARTTLS on the sending MTA."),
        _ => None,
    }
}

/// What to check when one sending IP, pool, domain or tag carries most of a spike's 451s
/// ([`crate::breakdown`]): the stream that stands out is where the cause is.
pub fn concentration_advice(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::SendingIp => "check that IP's reputation (blocklists, Postmaster Tools, SNDS)",
        Dimension::IpPool => "check the reputation of that pool's IPs",
        Dimension::SendingDomain => "check that domain's SPF, DKIM and DMARC and its reputation",
        Dimension::Tag => "check that campaign's content and list",
    }
}

/// When the 451s fall on every sending IP, domain and tag alike, no stream is the cause.
pub const SPREAD_ADVICE: &str = "look at content and authentication";

/// When there was only one sending IP (or domain…) to compare, it may be the cause or not.
pub const SINGLE_STREAM_ADVICE: &str =
    "nothing to compare them with: check their reputation, then content and authentication";
