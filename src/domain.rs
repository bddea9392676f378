//! The one recipient-domain validator: every adapter, the generic form and the read API's
//! `GET /api/domains/{domain}` go through it, so every domain the Worker counts is one the API answers.
//! What it stores is also a pattern ([`PATTERN`]), which the OpenAPI document declares for that route.
//!
//! A name is processed as browsers and mail systems do, by UTS #46 as the URL standard applies it (see
//! [`uts46`]) with the STD3 rules checked here: the mapping first (case folding, fullwidth forms, the
//! ideographic full stop `。` and its kin become `.`, ignorable characters such as U+200B ZERO WIDTH SPACE
//! are dropped), then the STD3 rules (letters, digits and
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
    // One root dot is allowed and dropped, in any of the forms UTS #46 maps to `.`, so `example.com.` and
    // `example.com。` are `example.com`; `example.com..` still fails (an empty label).
    let name = name.strip_suffix(['.', '\u{3002}', '\u{ff0e}', '\u{ff61}']).unwrap_or(name);
    // An ASCII character is mapped by UTS #46 to itself (or its lower case), so one outside letters,
    // digits, hyphen and dot fails STD3 whatever surrounds it; refusing it here also keeps `%`, `/`, `@`
    // and the like away from the URL parser that maps the rest in the Worker.
    if name.bytes().any(|b| b.is_ascii() && !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.')) {
        return Err(InvalidDomain::NotDnsName);
    }
    let ascii = if name.is_ascii() && !name.split('.').any(is_punycode) {
        name.to_ascii_lowercase()
    } else {
        uts46::to_ascii(name).ok_or(InvalidDomain::NotDnsName)?
    };
    if ascii.len() > crate::event::MAX_DOMAIN_LEN || !ascii.split('.').all(is_ldh_label) {
        return Err(InvalidDomain::NotDnsName);
    }
    let top_label = match ascii.rsplit_once('.') {
        Some((_, top)) => top,
        None => return Err(InvalidDomain::SingleLabel),
    };
    if !top_label.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(InvalidDomain::NumericTopLabel);
    }
    Ok(ascii)
}

fn is_punycode(label: &str) -> bool {
    label.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("xn--"))
}

/// STD3 and the hyphen rule on one label of the mapped name: 1 to 63 characters of ASCII letters, digits
/// and hyphens, no hyphen first or last. An `xn--` label must also be what UTS #46 makes of the label it
/// decodes to, which holds the same rules (its ASCII characters): `xn--a_-yka` (`a_ä`) and `xn----eha`
/// (`-ü`) are refused like `a_ä` and `-ü`, and `xn--wca` (`ß` as a capital) because it maps to another.
/// Checked here, not left to the URL parser: workerd's takes an ASCII `xn--` label as it is.
fn is_ldh_label(label: &str) -> bool {
    let ldh = |text: &str| {
        !text.starts_with('-')
            && !text.ends_with('-')
            && text.chars().all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '-')
    };
    let valid_punycode = || match label.strip_prefix("xn--").map(idna::punycode::decode_to_string) {
        None => true,
        Some(None) => false,
        Some(Some(decoded)) => ldh(&decoded) && uts46::to_ascii(&decoded).is_some_and(|again| again == label),
    };
    (1..=63).contains(&label.len()) && label.is_ascii() && ldh(label) && valid_punycode()
}

/// UTS #46 processing of a name with non-ASCII characters or `xn--` labels, as the WHATWG URL standard
/// applies it to a host (nontransitional, CheckBidi and CheckJoiners on, STD3 rules, hyphens and lengths
/// off: [`normalize`] checks those on the result). `None` when UTS #46 refuses the name.
///
/// In the Worker this is the runtime's own URL parser: the Unicode tables would add 45 KB gzip to the
/// wasm (worker/Cargo.toml pins `idna_adapter` to the version without them). Natively it is the `idna`
/// crate, the `url` crate's implementation of the same standard. tests/hardening.rs and
/// tests/e2e/hostile_recipients.test.mjs check both against one table of names.
mod uts46 {
    #[cfg(target_arch = "wasm32")]
    mod url {
        use wasm_bindgen::prelude::wasm_bindgen;
        use wasm_bindgen::JsValue;

        #[wasm_bindgen]
        extern "C" {
            #[wasm_bindgen(js_name = URL)]
            pub type Url;
            #[wasm_bindgen(catch, constructor, js_class = "URL")]
            pub fn new(url: &str) -> Result<Url, JsValue>;
            #[wasm_bindgen(method, getter)]
            pub fn hostname(this: &Url) -> String;
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub fn to_ascii(name: &str) -> Option<String> {
        // A last label of our own: the URL parser reads a host whose last label is a number as an IPv4
        // address, which would refuse `bücher.12` where the caller wants to say why (a numeric top label).
        const SENTINEL: &str = ".invalid";
        let host = url::Url::new(&format!("http://{name}{SENTINEL}/")).ok()?.hostname();
        host.strip_suffix(SENTINEL).map(str::to_owned)
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_ascii(name: &str) -> Option<String> {
        use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
        let ascii = Uts46::new().to_ascii(name.as_bytes(), AsciiDenyList::URL, Hyphens::Allow, DnsLength::Ignore);
        ascii.ok().map(|ascii| ascii.into_owned())
    }
}
