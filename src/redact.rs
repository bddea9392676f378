//! Redaction of email addresses in free text: replies quote the recipient (`550 5.1.1 <jane@example.com>...
//! User unknown`), and we keep replies but never addresses. Every address becomes `<…@domain>`: the domain
//! stays because it is what we count, the local part goes because it identifies a person.
//!
//! Every mailbox form of RFC 5321 §4.1.2 loses its local part: a dot-atom (`jane.doe+tag@…`, with any
//! `atext`, including `'`, `/`, `=`), a quoted string (`"jane doe"@…`, `"jane\"x"@…`, `"a@b"@…`), an
//! RFC 6531 UTF-8 local part (`josé@…`); the domain may be a name (also an IDN), or an address literal
//! (`jane@[192.0.2.1]`, `jane@[IPv6:2001:db8::1]`), which is kept like a domain. `mailto:jane@…` keeps its
//! scheme: the local part stops at the `:`.

use std::ops::Range;

/// RFC 5321 §4.5.3.1.1 limits a local part to 64 octets. A quoted string is looked for over four times
/// that (escapes double its length), and an address literal over as many: enough for any real one, and
/// it bounds the scan a text full of quotes or brackets costs.
const MAX_SCAN: usize = 256;

/// Replaces the local part of every address in `text` with `…`, written as `<…@domain>`. Handles
/// `<a@b>` (the brackets are kept once), bare `a@b`, quoted local parts (`"john doe"@b`), non-ASCII
/// local parts and domains, and address literals (`a@[192.0.2.1]`).
pub fn redact_addresses(text: &str) -> String {
    if !text.contains('@') {
        return text.to_owned();
    }
    // Nearly every reply is ASCII, where bytes are chars: no need to decode into a vector of chars,
    // which cost more than the scan itself on a thousand-event batch, and runs of text are copied as
    // slices rather than char by char.
    if text.is_ascii() {
        redact(text.as_bytes(), |out, run| out.push_str(&text[run]))
    } else {
        let chars: Vec<char> = text.chars().collect();
        redact(&chars, |out, run| out.extend(&chars[run]))
    }
}

/// [`redact_addresses`] over a text's chars, or its bytes when it is ASCII; `append` copies a run of them.
fn redact<T: Copy + Into<char>>(chars: &[T], append: impl Fn(&mut String, Range<usize>)) -> String {
    let mut out = String::with_capacity(chars.len());
    // `copied` is the index of the first char not yet written to `out`.
    let mut copied = 0;
    let mut at = 0;
    while at < chars.len() {
        // A quoted local part is found from its opening quote, since it may hold `@` and escaped quotes;
        // a dot-atom one from its `@`, backwards.
        let local = match chars[at].into() {
            '"' => quoted_local_part(chars, at).map(|at_sign| (at, at_sign)),
            '@' => Some((local_part_start(chars, at), at)).filter(|&(start, _)| start < at && start >= copied),
            _ => None,
        };
        let Some((local_start, at_sign)) = local else {
            at += 1;
            continue;
        };
        let domain_end = domain_end(chars, at_sign + 1);
        if domain_end == at_sign + 1 {
            at += 1;
            continue;
        }
        let is = |index: usize, wanted: char| chars.get(index).is_some_and(|&c| c.into() == wanted);
        let bracketed = local_start > 0 && is(local_start - 1, '<') && is(domain_end, '>');
        let (start, end) = if bracketed { (local_start - 1, domain_end + 1) } else { (local_start, domain_end) };
        append(&mut out, copied..start);
        out.push_str("<…@");
        append(&mut out, at_sign + 1..domain_end);
        out.push('>');
        copied = end;
        at = end;
    }
    append(&mut out, copied.min(chars.len())..chars.len());
    out
}

/// The index of the `@` after the quoted string opening at `open` (`"jane \"doe\""@`), if that is what
/// follows it. Backslash escapes the next character (RFC 5321 `quoted-pairSMTP`). A line break ends the
/// search, as it cannot be inside a quoted string, and so does `<` or `>`: in a reply they are far more
/// likely prose around another address (`"x" <jane@example.com> "y"@…`) than part of a local part, and a
/// quoted local part that does hold one is still found from its `@` (see [`local_part_start`]).
fn quoted_local_part<T: Copy + Into<char>>(chars: &[T], open: usize) -> Option<usize> {
    let mut index = open + 1;
    while index < chars.len().min(open + MAX_SCAN) {
        match chars[index].into() {
            '\\' => index += 2,
            '"' => return (chars.get(index + 1)?.to_owned().into() == '@').then_some(index + 1),
            '\r' | '\n' | '<' | '>' => return None,
            _ => index += 1,
        }
    }
    None
}

/// Where the local part ending just before the `@` at `at` begins: back to the previous quote when it
/// ends in one (a quoted local part the forward search did not take), else a dot-atom.
fn local_part_start<T: Copy + Into<char>>(chars: &[T], at: usize) -> usize {
    if at > 0 && chars[at - 1].into() == '"' {
        let from = at.saturating_sub(MAX_SCAN);
        if let Some(open) = chars[from..at - 1].iter().rposition(|&c| c.into() == '"') {
            return from + open;
        }
    }
    let mut start = at;
    while start > 0 && is_local_char(chars[start - 1].into()) {
        start -= 1;
    }
    start
}

/// RFC 5321 `atext` and the dot, and any non-ASCII character but a space (RFC 6531 `UTF8-non-ascii`).
fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".!#$%&'*+-/=?^_`{|}~".contains(c) || (!c.is_ascii() && !c.is_whitespace())
}

/// One past the last character of the domain starting at `from`: an address literal `[…]` whole, or a
/// name (letters, digits, `-`, `.`, any non-ASCII alphanumeric) without a trailing dot (the end of a
/// sentence). `from` itself when there is neither.
fn domain_end<T: Copy + Into<char>>(chars: &[T], from: usize) -> usize {
    if chars.get(from).is_some_and(|&c| c.into() == '[') {
        // RFC 5321 `dcontent`: printable ASCII but `[`, `\` and `]`.
        let is_dcontent = |c: char| matches!(c, '!'..='Z' | '^'..='~');
        let close = chars.iter().skip(from + 1).take(MAX_SCAN).position(|&c| !is_dcontent(c.into()));
        return match close.map(|offset| from + 1 + offset) {
            Some(close) if close > from + 1 && chars[close].into() == ']' => close + 1,
            _ => from,
        };
    }
    let in_domain = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let mut end = from;
    while end < chars.len() && in_domain(chars[end].into()) {
        end += 1;
    }
    while end > from && chars[end - 1].into() == '.' {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::redact_addresses;

    macro_rules! redacts {
        ($($name:ident: $input:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(redact_addresses($input), $expected);
            }
        )*};
    }

    redacts! {
        bracketed_address_keeps_one_pair_of_brackets:
            "550 5.1.1 <jane@example.com>... User unknown" => "550 5.1.1 <…@example.com>... User unknown";
        bare_address_is_bracketed:
            "mailbox jane.doe+tag@Example.ORG is full" => "mailbox <…@Example.ORG> is full";
        quoted_local_part_with_spaces:
            "rcpt \"john doe\"@example.com rejected" => "rcpt <…@example.com> rejected";
        unicode_local_part_and_domain:
            "unknown user josé@bücher.de." => "unknown user <…@bücher.de>.";
        several_addresses:
            "a@x.org, <b@y.org>; c@z.org" => "<…@x.org>, <…@y.org>; <…@z.org>";
        text_without_address_is_untouched:
            "451 4.7.1 try again @ later" => "451 4.7.1 try again @ later";
        lone_at_signs_are_untouched:
            "@@ a@ @b" => "@@ a@ @b";
        ipv4_address_literal_loses_its_local_part:
            "550 5.1.1 jane@[192.0.2.1]: user unknown" => "550 5.1.1 <…@[192.0.2.1]>: user unknown";
        ipv6_address_literal_loses_its_local_part:
            "550 <jane@[IPv6:2001:db8::1]> unknown" => "550 <…@[IPv6:2001:db8::1]> unknown";
        unclosed_address_literal_is_untouched:
            "jane@[192.0.2.1 is not a literal" => "jane@[192.0.2.1 is not a literal";
        quoted_local_part_with_escaped_quote_and_at_sign:
            r#"rcpt "jane \"x\" a@b"@example.com rejected"# => "rcpt <…@example.com> rejected";
        quoted_local_part_holding_an_angle_bracket_is_found_from_its_at_sign:
            r#"rcpt "a<b"@example.com rejected"# => "rcpt <…@example.com> rejected";
        quoted_text_before_an_address_is_not_taken_for_its_local_part:
            r#""x" <jane@example.org> "y"@a.example"# => r#""x" <…@example.org> <…@a.example>"#;
        quoted_text_that_is_no_local_part_is_kept:
            r#"said "hi" to jane@example.com"# => r#"said "hi" to <…@example.com>"#;
        every_atext_character_is_part_of_the_local_part:
            "user o'brien/x=y?z@example.com unknown" => "user <…@example.com> unknown";
        mailto_keeps_its_scheme:
            "see mailto:jane@example.com." => "see mailto:<…@example.com>.";
        idn_domain_is_kept_as_written:
            "jane@例え.テスト unknown" => "<…@例え.テスト> unknown";
        empty_text: "" => "";
    }
}
