//! A small RFC 5322 / MIME builder for the alert email sent through the `send_email` binding.
//!
//! Why hand-written: the binding takes a raw message, and the usual crate (`mail-builder`) stamps `Date`
//! and `Message-ID` from the system clock and RNG, which do not exist on wasm32 (the workers-rs
//! `send-email` example says so). What an alert needs is small: one `multipart/alternative` with a text
//! and an HTML part, both quoted-printable so the raw message stays readable, CRLF everywhere, and
//! a `Message-ID` derived from the content so a retried send carries the same id (receivers dedupe on it).

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// One alert email, as it goes into the raw message.
#[derive(Debug, Clone, Copy)]
pub struct Email<'a> {
    /// `ALERT_FROM`: `alerts@example.com` or `Bouncewatch <alerts@example.com>`.
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// Unix seconds; becomes the `Date` header and feeds the `Message-ID`.
    pub date: u64,
}

/// The raw message: headers, a blank line and a `multipart/alternative` body, all lines CRLF-terminated.
pub fn build(email: &Email<'_>) -> String {
    let digest = content_digest(email);
    // "=_" can never occur in quoted-printable output ("=" is always followed by two hex digits or a
    // line break), so a boundary that starts with it cannot collide with either part (RFC 2045 §6.7).
    let boundary = format!("=_bouncewatch_{}", &digest[..24]);
    let to: Vec<String> = email.to.iter().map(|a| header_safe(a)).collect();
    let mut out = String::new();
    header(&mut out, "From", &encode_mailbox(email.from));
    // One address per folded line keeps the header under the 998-character limit for any list length.
    header(&mut out, "To", &to.join(",\r\n "));
    header(&mut out, "Subject", &encode_header_text(email.subject));
    header(&mut out, "Date", &rfc5322_date(email.date));
    header(&mut out, "Message-ID", &message_id(email, &digest));
    header(&mut out, "MIME-Version", "1.0");
    // RFC 3834: tells vacation responders and ticket systems not to answer an automatic message.
    header(&mut out, "Auto-Submitted", "auto-generated");
    header(&mut out, "Content-Type", &format!("multipart/alternative;\r\n boundary=\"{boundary}\""));
    out.push_str("\r\n");
    for (content_type, body) in [("text/plain", email.text), ("text/html", email.html)] {
        let _ = write!(out, "--{boundary}\r\n");
        header(&mut out, "Content-Type", &format!("{content_type}; charset=utf-8"));
        header(&mut out, "Content-Transfer-Encoding", "quoted-printable");
        out.push_str("\r\n");
        out.push_str(&quoted_printable(body));
        out.push_str("\r\n");
    }
    let _ = write!(out, "--{boundary}--\r\n");
    out
}

/// The bare address of a mailbox: `Name <a@b>` → `a@b`. The binding's envelope sender must be bare.
pub fn bare_address(mailbox: &str) -> &str {
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(open), Some(close)) if open < close => mailbox[open + 1..close].trim(),
        _ => mailbox.trim(),
    }
}

/// A date as RFC 5322 §3.3 writes it, always in UTC: `Sat, 28 Nov 2026 03:57:10 +0000`.
pub fn rfc5322_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let t = UtcTime::from_unix(unix);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[t.weekday as usize],
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

/// A calendar time in UTC, computed by hand because the core has no date library (and needs none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: u64,
    pub month: u64,
    pub day: u64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    /// 0 = Sunday.
    pub weekday: u64,
}

impl UtcTime {
    /// Howard Hinnant's `civil_from_days` (<http://howardhinnant.github.io/date_algorithms.html>), restricted
    /// to dates after 1970 so every quantity stays unsigned.
    pub fn from_unix(unix: u64) -> UtcTime {
        let days = unix / 86_400;
        let secs = unix % 86_400;
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        UtcTime {
            year,
            month,
            day,
            hour: secs / 3_600,
            minute: secs % 3_600 / 60,
            second: secs % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4) % 7,
        }
    }
}

/// A header value as RFC 2047 encoded words when it is not plain ASCII (the "—" in every subject).
/// Words carry at most 39 bytes (52 base64 characters) so each folded line stays under 78 characters,
/// and they split on character boundaries, as §5 requires.
pub fn encode_header_text(value: &str) -> String {
    let value = header_safe(value);
    if value.is_ascii() {
        return value;
    }
    let mut words = Vec::new();
    let mut start = 0;
    while start < value.len() {
        let mut end = (start + 39).min(value.len());
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&value.as_bytes()[start..end]);
        words.push(format!("=?UTF-8?B?{encoded}?="));
        start = end;
    }
    words.join("\r\n ")
}

/// Quoted-printable (RFC 2045 §6.7) with CRLF line breaks and soft breaks keeping lines ≤ 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push_str("\r\n");
        }
        let bytes = line.strip_suffix('\r').unwrap_or(line).as_bytes();
        let mut width = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            // Trailing whitespace must be encoded: transports may strip it (rule 3).
            let trailing = i + 1 == bytes.len();
            let literal = matches!(byte, b'!'..=b'<' | b'>'..=b'~') || (matches!(byte, b' ' | b'\t') && !trailing);
            let token = if literal { 1 } else { 3 };
            if width + token > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            if literal {
                out.push(char::from(byte));
            } else {
                let _ = write!(out, "={byte:02X}");
            }
            width += token;
        }
    }
    out
}

fn header(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "{name}: {value}\r\n");
}

/// Strips CR and LF so no value taken from configuration or data can inject a header.
fn header_safe(value: &str) -> String {
    value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect()
}

/// `Name <addr>` with a non-ASCII display name encoded; the address itself must stay ASCII.
fn encode_mailbox(mailbox: &str) -> String {
    let mailbox = header_safe(mailbox);
    match mailbox.rfind('<') {
        Some(open) if !mailbox[..open].is_ascii() => {
            format!("{} {}", encode_header_text(mailbox[..open].trim()), &mailbox[open..])
        }
        _ => mailbox,
    }
}

fn content_digest(email: &Email<'_>) -> String {
    let mut hasher = Sha256::new();
    for part in [email.from, email.subject, email.text, email.html] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for to in email.to {
        hasher.update(to.as_bytes());
        hasher.update([0]);
    }
    hasher.update(email.date.to_be_bytes());
    hasher.finalize().iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// `<digest.date@from-domain>`: unique per content and time without a random source (RFC 5322 §3.6.4
/// asks for uniqueness, not randomness), and identical when a failed send is retried.
fn message_id(email: &Email<'_>, digest: &str) -> String {
    let domain = bare_address(email.from).rsplit_once('@').map_or("bouncewatch.invalid", |(_, d)| d);
    format!("<{}.{}@{}>", &digest[..32], email.date, header_safe(domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(subject: &str, text: &str) -> String {
        let to = ["ops@example.com".to_owned(), "oncall@example.com".to_owned()];
        build(&Email {
            from: "Bouncewatch <alerts@bw.example>",
            to: &to,
            subject,
            text,
            html: "<p>caf\u{e9} &amp; more</p>",
            date: 1_795_838_230,
        })
    }

    /// The unfolded headers of a raw message, by lower-case name.
    fn headers(raw: &str) -> Vec<(String, String)> {
        let (head, _) = raw.split_once("\r\n\r\n").expect("a blank line ends the headers");
        let unfolded = head.replace("\r\n ", " ");
        unfolded
            .split("\r\n")
            .filter_map(|line| line.split_once(": "))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
            .collect()
    }

    fn header_value(raw: &str, name: &str) -> String {
        headers(raw).into_iter().find(|(n, _)| n == name).map(|(_, v)| v).unwrap_or_default()
    }

    fn decode_encoded_words(value: &str) -> String {
        let bytes: Vec<u8> = value
            .split(' ')
            .flat_map(|word| {
                let b64 = word.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).expect("an encoded word");
                base64::engine::general_purpose::STANDARD.decode(b64).expect("valid base64")
            })
            .collect();
        String::from_utf8(bytes).expect("whole characters per word")
    }

    fn decode_qp(encoded: &str) -> String {
        let joined = encoded.replace("=\r\n", "");
        let mut bytes = Vec::new();
        let mut rest = joined.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'=' {
                let hex = std::str::from_utf8(&tail[..2]).expect("ascii");
                bytes.push(u8::from_str_radix(hex, 16).expect("hex"));
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        String::from_utf8(bytes).expect("utf-8").replace("\r\n", "\n")
    }

    #[test]
    fn dates_match_known_calendar_days() {
        for (unix, expected) in [
            (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_795_838_230, "Sat, 28 Nov 2026 03:57:10 +0000"),
            (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 +0000"),
        ] {
            assert_eq!(rfc5322_date(unix), expected, "unix {unix}");
        }
    }

    #[test]
    fn message_has_the_required_headers_and_crlf_only() {
        let raw = sample("[bouncewatch] gmail.com: 451 deferrals 18 %", "hello");
        for name in ["from", "to", "subject", "date", "message-id", "mime-version", "content-type"] {
            assert!(!header_value(&raw, name).is_empty(), "missing {name}");
        }
        assert_eq!(header_value(&raw, "date"), "Sat, 28 Nov 2026 03:57:10 +0000");
        assert_eq!(header_value(&raw, "to"), "ops@example.com, oncall@example.com");
        assert!(header_value(&raw, "message-id").ends_with("@bw.example>"));
        assert!(raw.split('\n').all(|l| l.is_empty() || l.ends_with('\r')), "a bare LF");
        assert!(raw.lines().all(|l| l.len() <= 78), "a line over 78 characters");
    }

    #[test]
    fn non_ascii_subject_is_rfc2047_encoded_and_decodes_back() {
        let subject = "[bouncewatch] gmail.com: 451 deferrals 18 % (baseline 0.4 %) — local policy, “quoted” ✓";
        let raw = sample(subject, "x");
        let encoded = header_value(&raw, "subject");
        assert!(encoded.is_ascii());
        assert_eq!(decode_encoded_words(&encoded), subject);
    }

    #[test]
    fn ascii_subject_is_left_alone_and_newlines_cannot_inject_headers() {
        let raw = sample("plain\r\nBcc: victim@example.net", "x");
        assert_eq!(header_value(&raw, "subject"), "plain  Bcc: victim@example.net");
        assert!(headers(&raw).iter().all(|(n, _)| n != "bcc"));
    }

    #[test]
    fn both_parts_round_trip_through_quoted_printable() {
        let text = format!("caf\u{e9} = 18 %\ntrailing space \n{}\n", "long line ".repeat(30));
        let raw = sample("s", &text);
        let boundary = header_value(&raw, "content-type")
            .split("boundary=\"")
            .nth(1)
            .unwrap_or("")
            .trim_end_matches('"')
            .to_owned();
        let parts: Vec<&str> = raw.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "preamble, two parts, closing");
        let body_of = |part: &str| {
            decode_qp(part.split_once("\r\n\r\n").map_or("", |(_, b)| b).strip_suffix("\r\n").unwrap_or_default())
        };
        assert!(parts[1].contains("text/plain; charset=utf-8"));
        assert_eq!(body_of(parts[1]), text);
        assert!(parts[2].contains("text/html; charset=utf-8"));
        assert_eq!(body_of(parts[2]), "<p>caf\u{e9} &amp; more</p>");
        assert!(parts[3].starts_with("--"));
    }

    #[test]
    fn message_id_is_stable_for_the_same_content_and_changes_with_it() {
        let id = |raw: &str| header_value(raw, "message-id");
        assert_eq!(id(&sample("a", "b")), id(&sample("a", "b")));
        assert_ne!(id(&sample("a", "b")), id(&sample("a", "c")));
    }

    #[test]
    fn display_names_are_encoded_and_envelope_addresses_are_bare() {
        assert_eq!(bare_address("Bouncewatch <alerts@bw.example>"), "alerts@bw.example");
        assert_eq!(bare_address(" alerts@bw.example "), "alerts@bw.example");
        assert!(encode_mailbox("Bouncé <a@b.example>").starts_with("=?UTF-8?B?"));
        assert!(encode_mailbox("Bouncé <a@b.example>").ends_with(" <a@b.example>"));
    }
}
