//! Parsing one SMTP failure reply as an ESP reports it.
//!
//! ESPs hand us the receiver's reply in many wrappings: multi-line (`550-5.7.1 …` continuations), behind a
//! relay's words (`host mx.example.com[1.2.3.4] said: … (in reply to RCPT TO command)`, `smtp;550 …`,
//! `Remote Server returned '…'`), or without any code at all (`Connection timed out`). Rather than peel
//! each wrapper, we look for the first thing that *is* a reply code and keep the whole text for the rules:
//! the wrappers carry the SMTP stage, which the rules may use.
//!
//! Parsing never fails and never panics: a reply is free text from the network. Only the first
//! [`MAX_SCANNED_BYTES`] are read, so a huge payload costs no more than a normal one.

use std::fmt;

/// How much of a reply we read. Real replies are a few hundred bytes; everything that decides a category
/// sits at the start.
pub const MAX_SCANNED_BYTES: usize = 4096;

/// An RFC 3463 enhanced status code, `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2, 4 or 5.
    pub class: u8,
    /// 0–9 (the registry uses 0–7).
    pub subject: u8,
    /// 0–999.
    pub detail: u16,
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// The SMTP command a reply answered, when the reporter says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The greeting or the connection itself (`refused to talk to me`, `after initial connection`).
    Connect,
    /// `EHLO`/`HELO`.
    Helo,
    MailFrom,
    RcptTo,
    /// `DATA` or the end of the message data.
    Data,
}

/// One reply, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The first basic reply code, e.g. 550.
    pub basic: Option<u16>,
    /// The first enhanced status code, e.g. 5.1.1.
    pub enhanced: Option<EnhancedCode>,
    /// The text lower-cased (Unicode-aware), continuation lines joined and whitespace collapsed.
    pub text: String,
    /// The SMTP stage named by a relay wrapper, if any.
    pub stage: Option<Stage>,
}

/// Parses one reply as an ESP reports it.
pub fn parse(raw: &str) -> Reply {
    let mut reply = Reply { basic: None, enhanced: None, text: String::new(), stage: None };
    parse_into(raw, &mut reply);
    reply
}

/// [`parse`] into an existing reply, reusing its text buffer: the classifier parses every reply into
/// one per thread, so the hot path allocates nothing.
pub fn parse_into(raw: &str, reply: &mut Reply) {
    normalize_into(cap(raw), &mut reply.text);
    let bytes = reply.text.as_bytes();
    reply.basic = find_basic(bytes);
    reply.enhanced = find_enhanced(bytes);
    reply.stage = find_stage(&reply.text);
}

/// The longest prefix of `raw` within [`MAX_SCANNED_BYTES`] that ends on a char boundary.
fn cap(raw: &str) -> &str {
    if raw.len() <= MAX_SCANNED_BYTES {
        return raw;
    }
    let mut end = MAX_SCANNED_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    &raw[..end]
}

/// Lower-cases once with `str::to_lowercase` (regex-lite folds ASCII only), joins continuation lines
/// (`550-5.7.1 first\r\n550-5.7.1 second` reads as one sentence) and collapses ASCII whitespace.
///
/// Nearly every reply is ASCII, where lower-casing is a per-byte map that commutes with the line and
/// word splitting; those are lower-cased word by word straight into `out`. Other text keeps the
/// whole-string `to_lowercase`, whose context rules (final sigma) a per-word pass could break.
fn normalize_into(raw: &str, out: &mut String) {
    out.clear();
    if raw.is_ascii() {
        join_words(raw, out, |out, word| {
            let start = out.len();
            out.push_str(word);
            out[start..].make_ascii_lowercase();
        });
    } else {
        join_words(&raw.to_lowercase(), out, |out, word| out.push_str(word));
    }
}

/// Appends the words of `text` to `out`, one space apart, continuation codes stripped; `push` writes
/// one word.
fn join_words(text: &str, out: &mut String, push: impl Fn(&mut String, &str)) {
    out.reserve(text.len());
    for (index, line) in text.split('\n').enumerate() {
        let line = if index == 0 { line } else { strip_continuation_code(line) };
        for word in line.split_ascii_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            push(out, word);
        }
    }
}

/// `550-5.7.1 text` or `550 text` on a continuation line → `5.7.1 text` / `text`: the code was already
/// read from the first line, and repeating it would split sentences the rules look for.
fn strip_continuation_code(line: &str) -> &str {
    let trimmed = line.trim_start();
    let b = trimmed.as_bytes();
    if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && matches!(b[3], b'-' | b' ') {
        &trimmed[4..]
    } else {
        line
    }
}

fn digit_value(b: &[u8]) -> u16 {
    b.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
}

/// The first `[245]\d\d` standing alone: not part of a longer number, an IP or a dotted code, and followed
/// by a space, `-`, punctuation or the end (`ERROR_CODE :550,`, `smtp;550 5.1.1`, `#550 4.4.7`).
fn find_basic(b: &[u8]) -> Option<u16> {
    for i in 0..b.len().saturating_sub(2) {
        if !matches!(b[i], b'2' | b'4' | b'5') || !b[i + 1].is_ascii_digit() || !b[i + 2].is_ascii_digit() {
            continue;
        }
        let before_ok = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        let after_ok = b.get(i + 3).is_none_or(|&c| matches!(c, b' ' | b'-' | b',' | b';' | b')' | b'\''));
        if before_ok && after_ok {
            return Some(digit_value(&b[i..i + 3]));
        }
    }
    None
}

/// The first `[245].\d.\d{1,3}` that is not part of an IP address or a version number (`4.16.55.1`,
/// `192.0.2.5`): no digit or dot before, no digit or `.digit` after.
fn find_enhanced(b: &[u8]) -> Option<EnhancedCode> {
    for i in 0..b.len().saturating_sub(4) {
        if !matches!(b[i], b'2' | b'4' | b'5') || b[i + 1] != b'.' || !b[i + 2].is_ascii_digit() || b[i + 3] != b'.' {
            continue;
        }
        if i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.') {
            continue;
        }
        let detail_len = b[i + 4..].iter().take(4).take_while(|c| c.is_ascii_digit()).count();
        let end = i + 4 + detail_len;
        let continues_as_number = b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit);
        if (1..=3).contains(&detail_len) && !continues_as_number {
            return Some(EnhancedCode {
                class: b[i] - b'0',
                subject: b[i + 2] - b'0',
                detail: digit_value(&b[i + 4..end]),
            });
        }
    }
    None
}

/// The stage as Postfix (`in reply to RCPT TO command`), Exim (`after RCPT TO:`), Sendmail and qmail
/// (`did not like our final DATA`) and others write it. Markers are grouped by a word they share, so a
/// reply naming no stage costs five substring searches, not twelve.
fn find_stage(text: &str) -> Option<Stage> {
    const GROUPS: [(&str, &[(&str, Stage)]); 5] = [
        (
            "rcpt to",
            &[("rcpt to command", Stage::RcptTo), ("after rcpt to", Stage::RcptTo), ("our rcpt to", Stage::RcptTo)],
        ),
        ("mail from", &[("mail from command", Stage::MailFrom), ("after mail from", Stage::MailFrom)]),
        ("data", &[("end of data", Stage::Data), ("data command", Stage::Data), ("final data", Stage::Data)]),
        ("talk", &[("refused to talk to me", Stage::Connect)]),
        (
            "after ",
            &[("after initial connection", Stage::Connect), ("after ehlo", Stage::Helo), ("after helo", Stage::Helo)],
        ),
    ];
    GROUPS
        .iter()
        .filter(|(word, _)| text.contains(word))
        .flat_map(|(_, markers)| markers.iter())
        .find(|(marker, _)| text.contains(marker))
        .map(|&(_, stage)| stage)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn enhanced(reply: &str) -> Option<String> {
        parse(reply).enhanced.map(|e| e.to_string())
    }

    #[test]
    fn plain_reply_yields_both_codes() {
        let r = parse("550 5.1.1 <a@b.example>: Recipient address rejected: User unknown");
        assert_eq!(r.basic, Some(550));
        assert_eq!(enhanced("550 5.1.1 user unknown").as_deref(), Some("5.1.1"));
        assert!(r.text.starts_with("550 5.1.1 <a@b.example>: recipient address rejected"));
    }

    #[test]
    fn multi_line_reply_is_joined_into_one_sentence() {
        let r =
            parse("550-5.7.26 This mail is unauthenticated,\r\n550-5.7.26 which poses a security\r\n550 5.7.26 risk");
        assert_eq!(r.basic, Some(550));
        assert_eq!(r.text, "550-5.7.26 this mail is unauthenticated, 5.7.26 which poses a security 5.7.26 risk");
    }

    #[test]
    fn wrapped_replies_find_the_receivers_code_and_stage() {
        let r = parse("host mx.example.com[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)");
        assert_eq!((r.basic, r.stage), (Some(550), Some(Stage::RcptTo)));
        assert_eq!(enhanced("host mx.example.com[192.0.2.1] said: 550 5.1.1 x").as_deref(), Some("5.1.1"));
        assert_eq!(parse("smtp;550 5.1.1 user unknown").basic, Some(550));
        assert_eq!(parse("Invalid Address, ERROR_CODE :550, ERROR_CODE :5.2.2 full").basic, Some(550));
        assert_eq!(parse("did not like our final DATA:554 5.7.9 policy").stage, Some(Stage::Data));
        assert_eq!(parse("Remote Server returned '550 5.1.351 unknown'").basic, Some(550));
    }

    #[test]
    fn ip_addresses_and_versions_are_not_codes() {
        assert_eq!(parse("connect to example.com[192.0.2.5]: Connection timed out").basic, None);
        assert_eq!(enhanced("connect to [203.0.113.22]: refused"), None);
        assert_eq!(enhanced("deferred due to complaints - 4.16.55.1; see"), None);
        assert_eq!(enhanced("Postfix 2.5.12.1 here"), None);
        assert_eq!(enhanced("client 5.5.5.5 blocked"), None);
        assert_eq!(enhanced("ip 25.2.2.1"), None);
    }

    #[test]
    fn hash_prefixed_exchange_codes_are_read() {
        let r = parse("#550 4.4.7 QUEUE.Expired; message expired ##");
        assert_eq!(r.basic, Some(550));
        assert_eq!(r.enhanced.map(|e| e.to_string()).as_deref(), Some("4.4.7"));
    }

    #[test]
    fn three_digit_details_and_codeless_replies() {
        assert_eq!(enhanced("451 4.7.650 rate limited").as_deref(), Some("4.7.650"));
        assert_eq!(enhanced("4.4.316 Connection refused").as_deref(), Some("4.4.316"));
        let r = parse("Connection timed out");
        assert_eq!((r.basic, r.enhanced, r.stage), (None, None, None));
    }

    #[test]
    fn lowercasing_is_unicode_aware() {
        assert_eq!(parse("550 ÜBERSCHRITTEN Ärger").text, "550 überschritten ärger");
    }

    #[test]
    fn huge_and_odd_inputs_are_capped_without_panicking() {
        let huge = "é".repeat(10_000);
        assert!(parse(&huge).text.len() <= MAX_SCANNED_BYTES);
        for odd in ["", "5", "55", "550", "5.", "5.1.", "5.1.1234", "\u{0}\u{ffff}", "4.1.1.", "-550-"] {
            let _ = parse(odd);
        }
        assert_eq!(parse("550").basic, Some(550));
        assert_eq!(enhanced("5.1.1234"), None);
    }
}
