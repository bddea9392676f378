//! The one recipient-domain validator: every adapter, the generic form and the read API's
//! `GET /api/domains/{domain}` go through it, so every domain the Worker counts is one the API answers.
//! What it stores is also a pattern ([`PATTERN`]), which the OpenAPI document declares for that route.
//!
//! A name is processed as browsers and mail systems do, by UTS #46 (the `idna` crate): the mapping first
//! (case folding, fullwidth forms, the ideographic full stop `。` and its kin become `.`, ignorable
//! characters such as U+200B ZERO WIDTH SPACE are dropped), then the STD3 rules (letters, digits and
//! hyphens only, no hyphen at either end of a label), then the DNS length limits (63 per label, 253 in
//! all), with non-ASCII labels written as punycode. What is left is a name DNS could hold, but two kinds
//! are still not a recipient domain: an address literal (`u@[192.0.2.1]`, RFC 5321 §4.1.3), which names a
//! host rather than a domain, and a name of one label (`a@b`) or whose top label begins with a digit
//! (`u@192.0.2.1`), which no public mail domain has (RFC 7085; "the highest-level component label will be
//! alphabetic", RFC 1123 §2.1).
//!
//! Lookalikes that UTS #46 keeps apart stay apart: `GMAİL.COM` (capital I with dot above) maps to
//! `gmai̇l.com`, a name of its own (`xn--gmal-…`) as a browser would resolve it, not `gmail.com`.

use std::fmt;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// Why a recipient names no domain that can be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidDomain {
    /// An address field without `@` (`no-at-sign`).
    NoAtSign,
    /// `u@[192.0.2.1]`, `u@[IPv6:2001:db8::1]`: a host, not a domain.
    AddressLiteral,
    /// Refused by UTS #46: a character DNS names cannot hold (NUL, `/`, `%`, `<`, an RTL override…),
    /// an empty label (`..`), a hyphen at a label's end, bad punycode, or over the length limits.
    NotDnsName,
    /// One label only (`a@b`): not a public mail domain.
    SingleLabel,
    /// The last label begins with a digit (`u@192.0.2.1`, an IP address written without brackets): every
    /// top-level domain begins with a letter.
    NumericTopLabel,
}

impl InvalidDomain {
    /// The snake_case name, for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidDomain::NoAtSign => "no_at_sign",
            InvalidDomain::AddressLiteral => "address_literal",
            InvalidDomain::NotDnsName => "not_a_dns_name",
            InvalidDomain::SingleLabel => "single_label",
            InvalidDomain::NumericTopLabel => "numeric_top_label",
        }
    }
}

impl fmt::Display for InvalidDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidDomain::NoAtSign => "the address has no @",
            InvalidDomain::AddressLiteral => "an address literal ([…]) is a host, not a domain",
            InvalidDomain::NotDnsName => "not a DNS name (UTS #46: letters, digits, hyphens, 63 per label, 253 in all)",
            InvalidDomain::SingleLabel => "a domain of one label is not a mail domain",
            InvalidDomain::NumericTopLabel => "a top-level domain begins with a letter (an IP address is not a domain)",
        })
    }
}

/// The domain of a recipient address (`jane@Bücher.DE` → `xn--bcher-kva.de`); angle brackets around the
/// address are allowed (`<jane@example.com>`).
pub fn of_address(address: &str) -> Result<String, InvalidDomain> {
    let address = address.trim().trim_matches(|c| c == '<' || c == '>');
    let (_, domain) = address.rsplit_once('@').ok_or(InvalidDomain::NoAtSign)?;
    normalize(domain)
}

/// What [`normalize`] returns, as a regular expression (any case): letters, digits and hyphens in labels
/// of 1 to 63, no hyphen at either end, at least two labels, the last beginning with a letter; 253 in all
/// is [`crate::event::MAX_DOMAIN_LEN`]. What no pattern can say: an `xn--` label must also be valid
/// punycode of a valid label. Without look-arounds, which not every JSON Schema dialect has.
pub const PATTERN: &str =
    "^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";

/// A bare domain name as the adapters store it: lower-case ASCII, IDN labels as punycode, no trailing
/// dot. Storing and looking up both go through this, so `normalize(stored) == Ok(stored)`.
pub fn normalize(name: &str) -> Result<String, InvalidDomain> {
    let name = name.trim();
    if name.starts_with('[') {
        return Err(InvalidDomain::AddressLiteral);
    }
    // The root dot is allowed here and dropped below, so `example.com.` and `example.com。` are
    // `example.com`; `example.com..` still fails (an empty label).
    let ascii = Uts46::new()
        .to_ascii(name.as_bytes(), AsciiDenyList::STD3, Hyphens::CheckFirstLast, DnsLength::VerifyAllowRootDot)
        .map_err(|_| InvalidDomain::NotDnsName)?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    let top_label = match ascii.rsplit_once('.') {
        Some((_, top)) => top,
        None => return Err(InvalidDomain::SingleLabel),
    };
    if !top_label.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(InvalidDomain::NumericTopLabel);
    }
    Ok(ascii.to_owned())
}
