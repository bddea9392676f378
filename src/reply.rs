//! Parsing one SMTP failure reply as an ESP reports it.
//!
//! ESPs hand us the receiver's reply in many wrappings: multi-line (`550-5.7.1 …` continuations), behind a
//! relay's words (`host mx.example.com[1.2.3.4] said: … (in reply to RCPT TO command)`, `smtp;550 …`,
//! `Remote Server returned '…'`), or without any code at all (`Connection timed out`). Rather than peel
//! each wrapper, we look for the first thing that *is* a reply code and keep the whole text for the rules:
//! the wrappers carry the SMTP stage, which the classifier reads with its other literals.
//!
//! Parsing never fails and never panics: a reply is free text from the network. Only the first
//! [`MAX_SCANNED_BYTES`] are read, so a huge payload costs no more than a normal one.

use std::cell::RefCell;
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

impl EnhancedCode {
    /// `"4.7.650"`. Written digit by digit: every classified reply needs it, and the formatting machinery
    /// of `to_string` cost more than the rest of building the verdict.
    pub fn to_dotted(self) -> String {
        let mut dotted = String::with_capacity(7);
        dotted.push(char::from(b'0' + self.class % 10));
        dotted.push('.');
        dotted.push(char::from(b'0' + self.subject % 10));
        dotted.push('.');
        let detail = self.detail % 1000;
        for (scale, significant) in [(100, detail >= 100), (10, detail >= 10), (1, true)] {
            if significant {
                dotted.push(char::from(b'0' + (detail / scale % 10) as u8));
            }
        }
        dotted
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dotted())
    }
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
}

/// Parses one reply as an ESP reports it.
pub fn parse(raw: &str) -> Reply {
    let mut reply = Reply { basic: None, enhanced: None, text: String::new() };
    parse_into(raw, &mut reply);
    reply
}

/// Runs `f` on `raw` parsed into one reply per thread, reused: its text buffer keeps its capacity, so
/// classifying a reply allocates only the enhanced code's string.
pub fn with_parsed<T>(raw: &str, f: impl FnOnce(&Reply) -> T) -> T {
    thread_local! {
        static REPLY: RefCell<Reply> = RefCell::new(parse(""));
    }
    REPLY.with(|cell| match cell.try_borrow_mut() {
        Ok(mut reply) => {
            parse_into(raw, &mut reply);
            f(&reply)
        }
        // Only reachable if `f` parsed another reply the same way; stay correct rather than panic.
        Err(_) => f(&parse(raw)),
    })
}

/// [`parse`] into an existing reply, reusing its text buffer: the classifier parses every reply into
/// one per thread, so the hot path allocates nothing.
pub fn parse_into(raw: &str, reply: &mut Reply) {
    normalize_into(cap(raw), &mut reply.text);
    let text = reply.text.as_bytes();
    (reply.basic, reply.enhanced) = match after_wrapper(&reply.text) {
        Some(inner) => match find_codes(inner) {
            (None, None) => find_codes(text),
            found => found,
        },
        None => find_codes(text),
    };
}

/// What follows a reporter's `smtp;` when something precedes it: exports and NDRs put their own status
/// first (`failed,5.1.1 (bad destination mailbox address),smtp;553 relaying disallowed`), and the
/// regenerated status would otherwise be read as the receiver's. At the very start (`smtp; 550 5.1.1 …`,
/// the usual Diagnostic-Code) nothing precedes it and the whole text is read as before.
fn after_wrapper(text: &str) -> Option<&[u8]> {
    // Found by its `;`, which most replies lack.
    let bytes = text.as_bytes();
    memchr::memchr_iter(b';', bytes)
        .find(|&semicolon| bytes[..semicolon].ends_with(b"smtp"))
        .and_then(|semicolon| (semicolon > 4).then(|| &bytes[semicolon + 1..]))
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

/// Lower-cases once (regex-lite folds ASCII only), joins continuation lines (`550-5.7.1 first\r\n550-5.7.1
/// second` reads as one sentence) and collapses ASCII whitespace.
///
/// Most replies are one ASCII line with single spaces, for which this is a copy and a lower-casing that
/// the compiler vectorizes; only text with other whitespace takes the byte-by-byte pass. Non-ASCII text is
/// lower-cased as `str::to_lowercase` does (see [`push_lowercase`]); joining and collapsing stay safe on it
/// because ASCII bytes never occur inside a multi-byte character.
fn normalize_into(raw: &str, out: &mut String) {
    out.clear();
    // An OR over every byte, which the compiler turns into vector instructions: `str::is_ascii` reads
    // what follows its last 64-byte block one byte at a time, most of a short reply.
    if raw.bytes().fold(0, |seen, byte| seen | byte).is_ascii() {
        out.push_str(raw);
        out.make_ascii_lowercase();
    } else {
        push_lowercase(raw, out);
    }
    if !is_collapsed(out.as_bytes()) {
        let mut bytes = std::mem::take(out).into_bytes();
        collapse_whitespace(&mut bytes);
        // Only ASCII whitespace and continuation codes were removed and single spaces written, so the
        // bytes are still UTF-8; the lossy branch only keeps this total.
        *out = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }
}

/// Blocks without case, whose every character lower-cases to itself (a test checks each one): Hebrew,
/// Arabic and the scripts of South and South-East Asia and Tibet; general punctuation (the marks that
/// order right-to-left text, dashes, quotes); CJK and Hangul. Together they hold nearly every character of
/// Hebrew, Arabic, Persian, Hindi, Thai, Japanese, Chinese and Korean replies.
const CASELESS: [std::ops::RangeInclusive<char>; 4] =
    ['\u{0590}'..='\u{0FFF}', '\u{2000}'..='\u{206F}', '\u{3000}'..='\u{9FFF}', '\u{AC00}'..='\u{D7A3}'];

/// Appends `str::to_lowercase(text)` to `out`, without looking up the case tables for the [`CASELESS`]
/// blocks. Only capital sigma lower-cases by its context, so text holding one is left to the standard
/// library.
fn push_lowercase(text: &str, out: &mut String) {
    if text.contains('Σ') {
        out.push_str(&text.to_lowercase());
        return;
    }
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if CASELESS.iter().any(|block| block.contains(&c)) {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// Whether `text` has no whitespace but single spaces between words: no byte below 0x20 (tabs, line
/// breaks, controls), no two spaces in a row, none at either end. This runs on every reply, so it is
/// written without an early exit, as an OR over the bytes that the compiler turns into vector
/// instructions: replies are short, and a test per byte or per word cost more than reading them all.
fn is_collapsed(text: &[u8]) -> bool {
    if text.first() == Some(&b' ') || text.last() == Some(&b' ') {
        return false;
    }
    let controls = text.iter().fold(false, |found, &byte| found | (byte < b' '));
    let following = text.get(1..).unwrap_or_default();
    let doubled = text.iter().zip(following).fold(false, |found, (&a, &b)| found | ((a == b' ') & (b == b' ')));
    !(controls | doubled)
}

/// Rewrites `text` in place to its words one space apart; on every line after the first, a leading
/// continuation code (`550-5.7.1 text`, `550 text`) is dropped: it was already read from the first line,
/// and repeating it would split the sentences the rules look for.
fn collapse_whitespace(text: &mut Vec<u8>) {
    // In place: each byte written stands for a byte already read, so `written <= at` throughout.
    let mut written = 0;
    let mut space_pending = false;
    let mut line_start = false;
    let mut at = 0;
    while at < text.len() {
        let byte = text[at];
        if byte.is_ascii_whitespace() {
            line_start |= byte == b'\n';
            space_pending = true;
            at += 1;
            continue;
        }
        if line_start {
            line_start = false;
            if starts_with_continuation_code(&text[at..]) {
                at += 4;
                continue;
            }
        }
        if space_pending && written > 0 {
            text[written] = b' ';
            written += 1;
        }
        space_pending = false;
        text[written] = byte;
        written += 1;
        at += 1;
    }
    text.truncate(written);
}

/// `550-…` or `550 …`: three digits then a hyphen or a space.
fn starts_with_continuation_code(line: &[u8]) -> bool {
    line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && matches!(line[3], b'-' | b' ')
}

fn digit_value(b: &[u8]) -> u16 {
    b.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
}

/// The first basic and the first enhanced code, in one pass: both start with 2, 4 or 5, a byte that
/// most of a reply's text is not, so the pass stops rarely (found a vector at a time) and ends as soon as
/// both are found.
fn find_codes(b: &[u8]) -> (Option<u16>, Option<EnhancedCode>) {
    let (mut basic, mut enhanced) = (None, None);
    for at in memchr::memchr3_iter(b'2', b'4', b'5', b) {
        basic = basic.or_else(|| basic_at(b, at));
        enhanced = enhanced.or_else(|| enhanced_at(b, at));
        if basic.is_some() && enhanced.is_some() {
            break;
        }
    }
    (basic, enhanced)
}

/// The basic code that the `[245]` at `at` starts, if it stands alone: not part of a longer number, an IP
/// or a dotted code, and followed by a space, `-`, punctuation or the end (`ERROR_CODE :550,`,
/// `smtp;550 5.1.1`, `#550 4.4.7`).
fn basic_at(b: &[u8], at: usize) -> Option<u16> {
    let code = b.get(at..at + 3)?;
    let shaped = code[1].is_ascii_digit() && code[2].is_ascii_digit();
    let before_ok = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'.');
    let after_ok = b.get(at + 3).is_none_or(|&c| matches!(c, b' ' | b'-' | b',' | b';' | b')' | b'\''));
    (shaped && before_ok && after_ok).then(|| digit_value(code))
}

/// The `[245].\d.\d{1,3}` that the `[245]` at `at` starts, if it is not part of an IP address or a
/// version number (`4.16.55.1`, `192.0.2.5`): no digit or dot before, no digit or `.digit` after.
fn enhanced_at(b: &[u8], at: usize) -> Option<EnhancedCode> {
    let head = b.get(at..at + 4)?;
    if head[1] != b'.' || !head[2].is_ascii_digit() || head[3] != b'.' {
        return None;
    }
    if at > 0 && (b[at - 1].is_ascii_digit() || b[at - 1] == b'.') {
        return None;
    }
    let detail_len = b[at + 4..].iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    let end = at + 4 + detail_len;
    let continues_as_number = b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit);
    ((1..=3).contains(&detail_len) && !continues_as_number).then(|| EnhancedCode {
        class: head[0] - b'0',
        subject: head[2] - b'0',
        detail: digit_value(&b[at + 4..end]),
    })
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
    fn wrapped_replies_find_the_receivers_code() {
        let r = parse("host mx.example.com[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)");
        assert_eq!(r.basic, Some(550));
        assert_eq!(enhanced("host mx.example.com[192.0.2.1] said: 550 5.1.1 x").as_deref(), Some("5.1.1"));
        assert_eq!(parse("smtp;550 5.1.1 user unknown").basic, Some(550));
        assert_eq!(parse("Invalid Address, ERROR_CODE :550, ERROR_CODE :5.2.2 full").basic, Some(550));
        assert_eq!(parse("did not like our final DATA:554 5.7.9 policy").basic, Some(554));
        assert_eq!(parse("Remote Server returned '550 5.1.351 unknown'").basic, Some(550));
    }

    #[test]
    fn an_exports_own_status_before_smtp_is_not_the_receivers() {
        // The shape of ESP exports and Exchange NDRs: the reporter's status, then `smtp;` and the reply.
        let r = parse("failed,5.1.1 (bad destination mailbox address),smtp;553 sorry, relaying denied");
        assert_eq!((r.basic, r.enhanced), (Some(553), None));
        let r = parse("#< #5.0.0 smtp;550 5.7.1 blocked> #SMTP#");
        assert_eq!((r.basic, r.enhanced.map(|e| e.to_string())), (Some(550), Some("5.7.1".into())));
        assert_eq!(parse("smtp; 550 5.1.1 user unknown").enhanced.map(|e| e.to_string()).as_deref(), Some("5.1.1"));
        assert_eq!(parse("5.1.1 x smtp; no code here").enhanced.map(|e| e.to_string()).as_deref(), Some("5.1.1"));
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
        assert_eq!(enhanced("550 5.0.0 rejected").as_deref(), Some("5.0.0"));
        assert_eq!(enhanced("550 5.1.10 RESOLVER.ADR.RecipientNotFound").as_deref(), Some("5.1.10"));
        let r = parse("Connection timed out");
        assert_eq!((r.basic, r.enhanced), (None, None));
    }

    /// What [`is_collapsed`] computes eight bytes at a time, written the obvious way.
    fn collapsed_by_definition(text: &str) -> bool {
        !text.contains("  ") && !text.bytes().any(|b| b < b' ') && !text.starts_with(' ') && !text.ends_with(' ')
    }

    #[test]
    fn collapsed_text_is_recognised_across_word_boundaries() {
        for (text, collapsed) in [
            ("550 5.1.1 user unknown", true),
            ("", true),
            ("abcdefg  hij", false),
            ("abcdefgh  ij", false),
            ("abcdefghijklmno  p", false),
            ("abcdefghijklmnop  ", false),
            (" abc", false),
            ("abc ", false),
            ("abcdefgh\tij", false),
            ("abcdefghijklmnop\u{7f}q", true),
            ("abc\r\ndef", false),
            ("über gröẞe straße ok", true),
            ("über  größe", false),
        ] {
            assert_eq!(is_collapsed(text.as_bytes()), collapsed, "{text:?}");
            assert_eq!(collapsed, collapsed_by_definition(text), "{text:?}: the table itself");
        }
    }

    proptest::proptest! {
        #[test]
        fn collapsed_means_no_control_no_double_space_no_edge_space(text in "[ ab\t\n\u{e9}]{0,40}") {
            proptest::prop_assert_eq!(is_collapsed(text.as_bytes()), collapsed_by_definition(&text));
        }
    }

    #[test]
    fn the_caseless_blocks_have_no_case() {
        for block in CASELESS {
            for c in block {
                assert!(c.to_lowercase().eq([c]), "{c:?} ({:04X}) has a lower case", u32::from(c));
            }
        }
    }

    #[test]
    fn lowercasing_is_unicode_aware() {
        assert_eq!(parse("550 ÜBERSCHRITTEN Ärger").text, "550 überschritten ärger");
        for text in
            ["ΟΔΟΣ Σ", "メールボックスが一杯です ＡＢＣ", "사용자 없음 İSTANBUL", "Ⓐ Ω K", "שלום ΑΒΓ مرحبًا नमस्कार ÉTÉ"]
        {
            assert_eq!(parse(text).text, text.to_lowercase(), "{text}");
        }
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
