//! Turns what an adapter read from its ESP into a [`NormalizedEvent`]: the recipient's domain (checked and
//! normalized by [`crate::domain`]), the SMTP codes (structured fields first, then the text), the redacted reply and, for
//! deferrals and bounces, the classification.

use std::borrow::Cow;

use crate::classify::event_verdict;
use crate::domain::{self, InvalidDomain};
use crate::event::{Esp, EventKind, NormalizedEvent, Sending};
use crate::redact::redact_addresses;
use crate::reply::{self, EnhancedCode};

/// What an adapter found for one recipient, before normalization.
#[derive(Debug, Clone, Default)]
pub struct Draft<'a> {
    pub event_id: String,
    pub kind: Option<EventKind>,
    pub occurred_at: u64,
    /// The recipient address.
    pub recipient: &'a str,
    /// A bare domain, read only when there is no address (Mailgun `recipient-domain`, the generic form's
    /// `domain`).
    pub recipient_domain: Option<&'a str>,
    /// A code from a structured field (Mailgun `delivery-status.code`, SparkPost `error_code`).
    pub smtp_code: Option<u16>,
    /// An enhanced code from a structured field (SES `status`, Mailgun `enhanced-code`).
    pub enhanced_code: Option<&'a str>,
    /// The remote server's reply text.
    pub reply: Option<&'a str>,
    /// The ESP's own description, used to classify when there is no reply (Mailjet `error`, Resend
    /// `bounce.message`); never stored as the reply, since no remote server said it.
    pub hint: Option<&'a str>,
    /// The sending IP, pool, domain and tags, already validated (`super::sending`).
    pub sending: Sending,
}

/// Why a draft became no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// No recipient at all (SendGrid's `processed` test events, SparkPost's empty `msys`): nothing to
    /// count it against, and nothing wrong with it.
    NoRecipient,
    /// A recipient whose domain could never be looked up: reported as `invalid`, not counted.
    Invalid(InvalidDomain),
}

/// The recipient's domain, by [`crate::domain`]: the address when there is one, else the bare domain.
fn recipient_domain(draft: &Draft<'_>) -> Result<String, Skipped> {
    let address = draft.recipient.trim();
    let result = match draft.recipient_domain.map(str::trim) {
        _ if !address.is_empty() => domain::of_address(address),
        Some(bare) if !bare.is_empty() => domain::normalize(bare),
        _ => return Err(Skipped::NoRecipient),
    };
    result.map_err(Skipped::Invalid)
}

/// Normalizes one draft; [`Skipped`] when it names no recipient domain that could be counted.
pub fn normalize(esp: Esp, draft: Draft<'_>) -> Result<NormalizedEvent, Skipped> {
    let recipient_domain = recipient_domain(&draft)?;
    let kind = draft.kind.unwrap_or(EventKind::Other);
    if kind == EventKind::Dropped {
        // The ESP refused to send: whatever text it gave is its own reason, never a remote reply.
        return Ok(NormalizedEvent {
            esp,
            event_id: draft.event_id,
            kind,
            occurred_at: draft.occurred_at,
            recipient_domain,
            smtp_code: None,
            enhanced_code: None,
            reply: None,
            category: None,
            permanence: None,
            rule: None,
            sending: draft.sending,
        });
    }
    let reply = draft.reply.map(str::trim).filter(|r| !r.is_empty());
    let smtp_code = draft.smtp_code.filter(|c| (200..600).contains(c));
    let enhanced_code = draft.enhanced_code.filter(|c| is_enhanced_code(c));
    // The classifier reads the reply with its basic code in front, as an MTA would have said it; when
    // the ESP gave the code in a separate field (Mailgun: 451 + "4.7.652 The mail server…") we put it back.
    let classified_text: Cow<'_, str> = match (smtp_code, reply.or(draft.hint)) {
        (Some(code), Some(text)) if !text.contains(&code.to_string()) => format!("{code} {text}").into(),
        (_, Some(text)) => text.into(),
        (Some(code), None) => format!("{code} {}", enhanced_code.unwrap_or_default()).into(),
        (None, None) => enhanced_code.unwrap_or_default().into(),
    };
    // Only deferrals and bounces are classified; the codes are read from every reply. Delivered events,
    // most of a real batch, cost a parse and no rules.
    let classified = matches!(kind, EventKind::Deferred | EventKind::Bounced);
    let (parsed_basic, parsed_enhanced, verdict) = if classified_text.trim().is_empty() {
        (None, None, None)
    } else {
        reply::with_parsed(&classified_text, |parsed| {
            (parsed.basic, parsed.enhanced, classified.then(|| event_verdict(parsed, Some(kind))))
        })
    };
    let smtp_code = smtp_code.or(parsed_basic);
    let enhanced_code = enhanced_code.map(str::to_owned).or_else(|| parsed_enhanced.map(EnhancedCode::to_dotted));
    Ok(NormalizedEvent {
        esp,
        event_id: draft.event_id,
        kind,
        occurred_at: draft.occurred_at,
        recipient_domain,
        smtp_code,
        enhanced_code,
        reply: reply.map(redact_addresses),
        category: verdict.map(|v| v.category),
        permanence: verdict.map(|v| v.permanence),
        rule: verdict.map(|v| v.rule),
        sending: draft.sending,
    })
}

/// An enhanced status code `class.subject.detail` (RFC 3463; detail may have three digits, `4.7.652`).
fn is_enhanced_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    matches!(parts.as_slice(), [class, subject, detail]
        if matches!(*class, "2" | "4" | "5")
            && (1..=3).contains(&subject.len()) && subject.bytes().all(|b| b.is_ascii_digit())
            && (1..=3).contains(&detail.len()) && detail.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_behind_messy_prefixes() {
        let cases = [
            ("smtp;550 5.1.1 The email account", Some(550), Some("5.1.1")),
            ("550 RecipientError: 550 5.1.1 <…@example.com>", Some(550), Some("5.1.1")),
            (" RecipientError: 550 5.5.0 Requested action", Some(550), Some("5.5.0")),
            ("sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)", Some(250), Some("2.0.0")),
            ("smtp; 550-5.1.1 The email account", Some(550), Some("5.1.1")),
            ("4.7.652 The mail server [10.0.0.1] has exceeded", None, Some("4.7.652")),
            ("Unable to find MX of domain no-mx.example.com", None, None),
            ("connect to 192.0.2.4:25 failed", None, None),
        ];
        for (text, basic, enhanced) in cases {
            let parsed = reply::parse(text);
            assert_eq!(parsed.basic, basic, "{text}");
            assert_eq!(parsed.enhanced.map(EnhancedCode::to_dotted).as_deref(), enhanced, "{text}");
        }
    }

    #[test]
    fn enhanced_code_shape() {
        assert!(is_enhanced_code("4.7.652"));
        assert!(!is_enhanced_code("6.1.1"));
        assert!(!is_enhanced_code("5.1"));
        assert!(!is_enhanced_code("5.1.1234"));
    }
}
