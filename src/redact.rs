//! Redaction of email addresses in free text: replies quote the recipient (`550 5.1.1 <jane@example.com>...
//! User unknown`), and we keep replies but never addresses. Every address becomes `<…@domain>`: the domain
//! stays because it is what we count, the local part goes because it identifies a person.

use std::ops::Range;

/// Replaces the local part of every address in `text` with `…`, written as `<…@domain>`. Handles
/// `<a@b>` (the brackets are kept once), bare `a@b`, quoted local parts (`"john doe"@b`) and non-ASCII
/// local parts and domains.
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
        if chars[at].into() != '@' {
            at += 1;
            continue;
        }
        let local_start = local_part_start(chars, at);
        let domain_end = domain_end(chars, at + 1);
        let is_address = local_start < at && domain_end > at + 1 && local_start >= copied;
        if !is_address {
            at += 1;
            continue;
        }
        let is = |index: usize, wanted: char| chars.get(index).is_some_and(|&c| c.into() == wanted);
        let bracketed = local_start > 0 && is(local_start - 1, '<') && is(domain_end, '>');
        let (start, end) = if bracketed { (local_start - 1, domain_end + 1) } else { (local_start, domain_end) };
        append(&mut out, copied..start);
        out.push_str("<…@");
        append(&mut out, at + 1..domain_end);
        out.push('>');
        copied = end;
        at = end;
    }
    append(&mut out, copied.min(chars.len())..chars.len());
    out
}

/// Where the local part ending just before `at` begins: a quoted string, or a run of characters that
/// cannot appear around an address in prose.
fn local_part_start<T: Copy + Into<char>>(chars: &[T], at: usize) -> usize {
    if at > 0 && chars[at - 1].into() == '"' {
        // A quoted local part may hold spaces: find its opening quote.
        if let Some(open) = chars[..at - 1].iter().rposition(|&c| c.into() == '"') {
            return open;
        }
    }
    let mut start = at;
    while start > 0 && is_local_char(chars[start - 1].into()) {
        start -= 1;
    }
    start
}

fn is_local_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '"' | '\'' | '@' | '`'))
}

/// One past the last character of the domain starting at `from` (letters, digits, `-`, `.`, any
/// non-ASCII alphanumeric), without a trailing dot (the end of a sentence).
fn domain_end<T: Copy + Into<char>>(chars: &[T], from: usize) -> usize {
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
        empty_text: "" => "";
    }
}
