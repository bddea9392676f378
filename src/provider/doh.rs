//! DNS-over-HTTPS in its JSON form (`GET {DOH_URL}?name=…&type=MX`, `accept: application/dns-json`, as
//! Cloudflare and Google serve it): the query URL, and the answer parsed into an [`MxAnswer`] or a
//! [`DohError`] that says what was wrong.
//!
//! An answer is network input: it is size-checked before it is parsed, every record is checked, and
//! anything doubtful is an error rather than a guess, because an error is retried later while a wrong
//! MX would file a domain under a wrong provider until its TTL ran out. In particular one malformed MX
//! record fails the whole answer: skipping it could let a backup MX decide.

use std::fmt;

use serde::Deserialize;

use super::{is_dns_name, MAX_NAME_LEN};

/// The var naming the DoH endpoint.
pub const DOH_URL_VAR: &str = "DOH_URL";
/// Used when [`DOH_URL_VAR`] is unset.
pub const DEFAULT_DOH_URL: &str = "https://cloudflare-dns.com/dns-query";
/// The media type of the JSON form, sent as `accept`.
pub const DNS_JSON: &str = "application/dns-json";
/// An answer larger than this is refused unread. A real MX answer is well under 2 KB.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long the shell waits for an answer before counting the look-up as failed.
pub const DOH_TIMEOUT_SECS: u64 = 3;
/// Longest CNAME chain followed to the MX records (resolvers already follow them; this bounds the walk).
const MAX_CNAME_HOPS: usize = 8;

/// The RR type numbers we read (RFC 1035 §3.2.2).
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const TYPE_MX: u16 = 15;

/// One MX record: lower-case exchange without the trailing dot; `""` for the null target `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    pub preference: u16,
    pub exchange: String,
}

/// What DNS said about a domain's mail exchangers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mx {
    /// At least one real exchange (a null target among them is dropped: RFC 7505 §3 forbids mixing).
    Exchanges(Vec<MxRecord>),
    /// The null MX of RFC 7505 (`0 .`): the domain accepts no mail.
    Null,
    /// The name exists but has no MX records (NODATA).
    NoRecords,
    /// NXDOMAIN.
    NoSuchDomain,
}

/// A parsed answer for `domain`, with the TTL it may be cached for (the smallest TTL of the records
/// used; for a negative answer, the SOA's, per RFC 2308 §5; 0 when the answer gave none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxAnswer {
    pub domain: String,
    pub mx: Mx,
    pub ttl: u32,
}

/// Why a look-up gave no answer. Every variant but [`DohError::InvalidName`] is worth retrying later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DohError {
    /// The domain cannot be asked about (not a DNS name, too long).
    InvalidName(String),
    /// The configured `DOH_URL` is not an http(s) URL without a query or fragment.
    InvalidUrl(String),
    /// The request failed or timed out, or the server answered a non-2xx status.
    Fetch(String),
    /// The body exceeded [`MAX_ANSWER_BYTES`].
    TooLarge(usize),
    /// Not the dns-json shape, or a record that does not parse.
    Malformed(String),
    /// SERVFAIL (RCODE 2): the resolver could not get an answer.
    ServFail,
    /// Any other RCODE but NOERROR and NXDOMAIN (REFUSED, FORMERR, …).
    Rcode(u64),
    /// The TC bit: the answer is incomplete.
    Truncated,
}

impl DohError {
    /// Retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, DohError::InvalidName(_))
    }
}

impl fmt::Display for DohError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DohError::InvalidName(why) => write!(f, "not a domain name to look up: {why}"),
            DohError::InvalidUrl(url) => write!(f, "{DOH_URL_VAR} must be an http(s) URL without ? or #, not {url:?}"),
            DohError::Fetch(why) => write!(f, "DoH request failed: {why}"),
            DohError::TooLarge(bytes) => {
                write!(f, "DoH answer of {bytes} bytes exceeds the {MAX_ANSWER_BYTES}-byte limit")
            }
            DohError::Malformed(why) => write!(f, "malformed DoH answer: {why}"),
            DohError::ServFail => {
                f.write_str("DoH answer SERVFAIL: the resolver could not reach the domain's name servers")
            }
            DohError::Rcode(code) => write!(f, "DoH answer with DNS status {code} (neither NOERROR nor NXDOMAIN)"),
            DohError::Truncated => f.write_str("DoH answer truncated (TC set)"),
        }
    }
}

impl std::error::Error for DohError {}

/// The name to ask about: lower-case ASCII (an IDN as punycode, as the adapters store it), no trailing
/// dot, a valid DNS name of at most [`MAX_NAME_LEN`] characters.
pub fn query_name(domain: &str) -> Result<String, DohError> {
    let name = crate::domain::normalize(domain)
        .map_err(|why| DohError::InvalidName(format!("{:?}: {why}", first_chars(domain, 80))))?;
    if name.len() > MAX_NAME_LEN {
        return Err(DohError::InvalidName(format!("{} characters, more than {MAX_NAME_LEN}", name.len())));
    }
    if !is_dns_name(&name) {
        return Err(DohError::InvalidName(format!("{:?}", first_chars(&name, 80))));
    }
    Ok(name)
}

/// `GET {base}?name={name}&type=MX`. A DNS name needs no percent-encoding: it is letters, digits, `-`,
/// `_` and dots only.
pub fn query_url(base: &str, domain: &str) -> Result<String, DohError> {
    let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
    if !scheme_ok || base.contains(['?', '#']) || base.chars().any(char::is_whitespace) {
        return Err(DohError::InvalidUrl(first_chars(base, 120).to_owned()));
    }
    Ok(format!("{base}?name={}&type=MX", query_name(domain)?))
}

/// The dns-json fields we read; others are ignored.
#[derive(Deserialize)]
struct Message {
    #[serde(rename = "Status")]
    status: u64,
    #[serde(rename = "TC", default)]
    truncated: bool,
    #[serde(rename = "Answer", default)]
    answer: Vec<Record>,
    #[serde(rename = "Authority", default)]
    authority: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    name: String,
    #[serde(rename = "type")]
    rr_type: u16,
    #[serde(rename = "TTL", default)]
    ttl: u64,
    #[serde(default)]
    data: String,
}

/// Parses a dns-json answer to the MX query for `domain` (as [`query_name`] returns it).
pub fn parse_answer(domain: &str, body: &str) -> Result<MxAnswer, DohError> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(DohError::TooLarge(body.len()));
    }
    let message: Message = crate::json::parse(body).map_err(|e| DohError::Malformed(e.to_string()))?;
    if message.truncated {
        return Err(DohError::Truncated);
    }
    let answer = |mx, ttl: u64| Ok(MxAnswer { domain: domain.to_owned(), mx, ttl: saturate(ttl) });
    match message.status {
        0 => {}
        2 => return Err(DohError::ServFail),
        3 => return answer(Mx::NoSuchDomain, negative_ttl(&message.authority)),
        code => return Err(DohError::Rcode(code)),
    }
    let (owner, chain_ttl) = follow_cnames(domain, &message.answer)?;
    let mut ttl = chain_ttl;
    let mut exchanges = Vec::new();
    for record in message.answer.iter().filter(|r| r.rr_type == TYPE_MX && owner_name(&r.name) == owner) {
        exchanges.push(parse_mx(&record.data)?);
        ttl = ttl.min(record.ttl);
    }
    if exchanges.is_empty() {
        return answer(Mx::NoRecords, negative_ttl(&message.authority));
    }
    let real: Vec<MxRecord> = exchanges.iter().filter(|r| !r.exchange.is_empty()).cloned().collect();
    match real.is_empty() {
        true => answer(Mx::Null, ttl),
        false => answer(Mx::Exchanges(real), ttl),
    }
}

/// Walks CNAMEs from `domain` to the name that owns the MX records, and the smallest TTL on the way
/// (`u64::MAX` when there was no CNAME).
fn follow_cnames(domain: &str, records: &[Record]) -> Result<(String, u64), DohError> {
    let mut owner = domain.to_owned();
    let mut ttl = u64::MAX;
    for _ in 0..=MAX_CNAME_HOPS {
        let Some(cname) = records.iter().find(|r| r.rr_type == TYPE_CNAME && owner_name(&r.name) == owner) else {
            return Ok((owner, ttl));
        };
        let target = owner_name(cname.data.trim());
        if !is_dns_name(&target) {
            return Err(DohError::Malformed(format!("CNAME of {owner} to {:?}", first_chars(&cname.data, 80))));
        }
        ttl = ttl.min(cname.ttl);
        owner = target;
    }
    Err(DohError::Malformed(format!("CNAME chain from {domain} longer than {MAX_CNAME_HOPS} (or a loop)")))
}

/// `"10 aspmx.l.google.com."` → preference 10, exchange `aspmx.l.google.com`; `"0 ."` → the null target.
fn parse_mx(data: &str) -> Result<MxRecord, DohError> {
    let bad = || DohError::Malformed(format!("MX data {:?}", first_chars(data, 80)));
    let mut fields = data.split_ascii_whitespace();
    let (Some(preference), Some(exchange), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(bad());
    };
    let preference: u16 = preference.parse().map_err(|_| bad())?;
    let exchange = owner_name(exchange);
    if !exchange.is_empty() && !is_dns_name(&exchange) {
        return Err(bad());
    }
    Ok(MxRecord { preference, exchange })
}

/// A name as dns-json writes it (any case, trailing dot) in the form we compare: lower-case, no dot.
fn owner_name(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

/// RFC 2308 §5: a negative answer is cached for the SOA record's TTL (resolvers already lower it to the
/// SOA minimum). 0 without an SOA.
fn negative_ttl(authority: &[Record]) -> u64 {
    authority.iter().filter(|r| r.rr_type == TYPE_SOA).map(|r| r.ttl).min().unwrap_or(0)
}

fn saturate(ttl: u64) -> u32 {
    match ttl {
        u64::MAX => 0,
        ttl => u32::try_from(ttl).unwrap_or(u32::MAX),
    }
}

fn first_chars(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(end, _)| &text[..end])
}
