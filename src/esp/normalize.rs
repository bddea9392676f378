//! Turns what an adapter read from its ESP into a [`NormalizedEvent`]: the recipient's domain (lower-case,
//! IDN as punycode), the SMTP codes (structured fields first, then the text), the redacted reply and, for
//! deferrals and bounces, the classification.

use std::borrow::Cow;

use crate::classify::category_and_permanence;
use crate::event::{Esp, EventKind, NormalizedEvent, Sending, MAX_DOMAIN_LEN};
use crate::redact::redact_addresses;
use crate::reply::{self, EnhancedCode};

/// What an adapter found for one recipient, before normalization.
#[derive(Debug, Clone, Default)]
pub struct Draft<'a> {
    pub event_id: String,
    pub kind: Option<EventKind>,
    pub occurred_at: u64,
    /// The recipient address, or a bare domain.
    pub recipient: &'a str,
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

/// Normalizes one draft; `None` when it names no recipient domain (nothing to count it against).
pub fn normalize(esp: Esp, draft: Draft<'_>) -> Option<NormalizedEvent> {
    let recipient_domain = recipient_domain(draft.recipient)?;
    let kind = draft.kind.unwrap_or(EventKind::Other);
    if kind == EventKind::Dropped {
        // The ESP refused to send: whatever text it gave is its own reason, never a remote reply.
        return Some(NormalizedEvent {
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
            (parsed.basic, parsed.enhanced, classified.then(|| category_and_permanence(parsed)))
        })
    };
    let smtp_code = smtp_code.or(parsed_basic);
    let enhanced_code = enhanced_code.map(str::to_owned).or_else(|| parsed_enhanced.map(EnhancedCode::to_dotted));
    Some(NormalizedEvent {
        esp,
        event_id: draft.event_id,
        kind,
        occurred_at: draft.occurred_at,
        recipient_domain,
        smtp_code,
        enhanced_code,
        reply: reply.map(redact_addresses),
        category: verdict.map(|(category, _)| category),
        permanence: verdict.map(|(_, permanence)| permanence),
        sending: draft.sending,
    })
}

/// The domain of an address (or a bare domain): lower-case, without a trailing dot, each label in
/// punycode (RFC 3492) when it is not ASCII. `None` when there is no plausible domain.
pub fn recipient_domain(recipient: &str) -> Option<String> {
    let trimmed = recipient.trim().trim_matches(|c| c == '<' || c == '>');
    let domain = trimmed.rsplit_once('@').map_or(trimmed, |(_, domain)| domain);
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain.is_empty() || domain.chars().any(|c| c.is_whitespace() || c == '@') {
        return None;
    }
    let ascii = if domain.is_ascii() {
        domain
    } else {
        let labels: Option<Vec<String>> = domain.split('.').map(label_to_ascii).collect();
        labels?.join(".")
    };
    // Checked after punycode, which can make a short Unicode name longer than any DNS name (the read API
    // refuses such a domain, so it could be counted but never looked up).
    (ascii.len() <= MAX_DOMAIN_LEN).then_some(ascii)
}

fn label_to_ascii(label: &str) -> Option<String> {
    if label.is_ascii() {
        return Some(label.to_owned());
    }
    punycode_encode(label).map(|encoded| format!("xn--{encoded}"))
}

/// RFC 3492 section 6.3 encoding of one label (without the `xn--` prefix). `None` on overflow.
fn punycode_encode(input: &str) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    fn adapt(mut delta: u32, points: u32, first: bool) -> u32 {
        delta /= if first { DAMP } else { 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - T_MIN) * T_MAX) / 2 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
    }
    fn digit(d: u32) -> char {
        // 0..=25 → a..z, 26..=35 → 0..9
        char::from_u32(if d < 26 { d + 97 } else { d + 22 }).unwrap_or('a')
    }
    let code_points: Vec<u32> = input.chars().map(u32::from).collect();
    let mut output: String = input.chars().filter(char::is_ascii).collect();
    let basic = output.len() as u32;
    let mut handled = basic;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias) = (128u32, 0u32, 72u32);
    while (handled as usize) < code_points.len() {
        let m = code_points.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &code_points {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
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
    fn punycode_matches_rfc_3492_and_idna_examples() {
        assert_eq!(recipient_domain("a@Bücher.DE").as_deref(), Some("xn--bcher-kva.de"));
        assert_eq!(recipient_domain("münchen.de.").as_deref(), Some("xn--mnchen-3ya.de"));
        assert_eq!(recipient_domain("x@例え.テスト").as_deref(), Some("xn--r8jz45g.xn--zckzah"));
        assert_eq!(recipient_domain("<u@EXAMPLE.com>").as_deref(), Some("example.com"));
    }

    #[test]
    fn no_domain_is_none() {
        for bad in ["", "  ", "user@", "a b@c d"] {
            assert_eq!(recipient_domain(bad), None, "{bad:?}");
        }
    }

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
