//! MX look-ups behind a small trait: [`DohResolver`] asks a DoH server through a [`DohGet`] the shell
//! implements with Workers `fetch`; [`MemoryResolver`] serves fixed answers in tests; [`Offline`] fails
//! every look-up. How many a run makes is `DOH_LOOKUPS_PER_RUN` ([`crate::counting::providers`]).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::doh::{self, DohError, MxAnswer, DNS_JSON, MAX_ANSWER_BYTES};
use crate::esp::FetchError;

/// HTTP GET with an `accept` header, for the DoH query. Like [`crate::esp::Fetcher`], but the DoH server
/// needs `accept: application/dns-json` and the body must be bounded while it is read.
#[allow(async_fn_in_trait)] // single-threaded wasm: the futures need not be Send
pub trait DohGet {
    /// The body of a 2xx answer to `GET url` sent with `accept`; an error for any other status, a
    /// transport failure, a timeout ([`doh::DOH_TIMEOUT_SECS`]) or a body longer than `max_bytes`.
    async fn get(&self, url: &str, accept: &str, max_bytes: usize) -> Result<String, FetchError>;
}

/// A look-up in progress.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = Result<MxAnswer, DohError>> + 'a>>;

/// Looks up a domain's MX records. Boxed futures keep it object-safe, so the counting object's
/// environment holds a `&dyn Resolver` whatever implements it.
pub trait Resolver {
    fn lookup_mx<'a>(&'a self, domain: &'a str) -> Lookup<'a>;
}

/// A resolver with no network (the CLI, the benchmarks, native tests that do not look up): every
/// look-up fails as a transport failure, so it is retried later like any DoH outage.
pub struct Offline;

impl Resolver for Offline {
    fn lookup_mx<'a>(&'a self, _domain: &'a str) -> Lookup<'a> {
        Box::pin(async { Err(DohError::Fetch("no DNS-over-HTTPS in this context".into())) })
    }
}

/// A [`Resolver`] over DNS-over-HTTPS (JSON form).
pub struct DohResolver<G> {
    base_url: String,
    transport: G,
}

impl<G: DohGet> DohResolver<G> {
    /// `base_url` is `DOH_URL` ([`doh::DEFAULT_DOH_URL`] when unset); checked on every query, so a bad
    /// one is a clear [`DohError::InvalidUrl`] rather than a request somewhere unexpected.
    pub fn new(base_url: impl Into<String>, transport: G) -> DohResolver<G> {
        DohResolver { base_url: base_url.into(), transport }
    }
}

impl<G: DohGet> Resolver for DohResolver<G> {
    fn lookup_mx<'a>(&'a self, domain: &'a str) -> Lookup<'a> {
        Box::pin(async move {
            let name = doh::query_name(domain)?;
            let url = doh::query_url(&self.base_url, &name)?;
            let body = self.transport.get(&url, DNS_JSON, MAX_ANSWER_BYTES).await.map_err(|e| DohError::Fetch(e.0))?;
            doh::parse_answer(&name, &body)
        })
    }
}

/// Fixed answers by domain, for tests; a domain with no answer is NXDOMAIN. Counts its look-ups.
#[derive(Debug, Default)]
pub struct MemoryResolver {
    answers: RefCell<BTreeMap<String, Result<MxAnswer, DohError>>>,
    lookups: Cell<u64>,
}

impl MemoryResolver {
    pub fn new() -> MemoryResolver {
        MemoryResolver::default()
    }

    /// Answers `domain` with `answer` from now on.
    pub fn set(&self, domain: &str, answer: Result<MxAnswer, DohError>) {
        self.answers.borrow_mut().insert(domain.to_owned(), answer);
    }

    /// Look-ups made so far.
    pub fn lookups(&self) -> u64 {
        self.lookups.get()
    }
}

impl Resolver for MemoryResolver {
    fn lookup_mx<'a>(&'a self, domain: &'a str) -> Lookup<'a> {
        self.lookups.set(self.lookups.get() + 1);
        let answer = self.answers.borrow().get(domain).cloned();
        Box::pin(async move {
            answer.unwrap_or_else(|| Ok(MxAnswer { domain: domain.to_owned(), mx: doh::Mx::NoSuchDomain, ttl: 0 }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::doh::{Mx, MxRecord};

    /// Serves one body for every URL and remembers what was asked.
    struct FixedBody {
        body: Result<String, FetchError>,
        asked: RefCell<Vec<(String, String, usize)>>,
    }

    impl DohGet for FixedBody {
        async fn get(&self, url: &str, accept: &str, max_bytes: usize) -> Result<String, FetchError> {
            self.asked.borrow_mut().push((url.to_owned(), accept.to_owned(), max_bytes));
            self.body.clone()
        }
    }

    fn fixed(body: Result<&str, &str>) -> FixedBody {
        FixedBody { body: body.map(str::to_owned).map_err(|e| FetchError(e.to_owned())), asked: RefCell::default() }
    }

    #[test]
    fn the_doh_resolver_asks_for_dns_json_with_a_punycode_name_and_parses_the_answer() {
        let body = r#"{"Status":0,"Answer":[{"name":"xn--bcher-kva.de.","type":15,"TTL":600,"data":"10 mx.example-hosting.net."}]}"#;
        let resolver = DohResolver::new("https://doh.test/dns-query", fixed(Ok(body)));
        let answer = pollster::block_on(resolver.lookup_mx("Bücher.de")).unwrap();
        assert_eq!(
            answer.mx,
            Mx::Exchanges(vec![MxRecord { preference: 10, exchange: "mx.example-hosting.net".into() }])
        );
        assert_eq!(answer.ttl, 600);
        let asked = resolver.transport.asked.borrow();
        assert_eq!(
            asked.as_slice(),
            [(
                "https://doh.test/dns-query?name=xn--bcher-kva.de&type=MX".to_owned(),
                DNS_JSON.to_owned(),
                MAX_ANSWER_BYTES
            )]
        );
    }

    #[test]
    fn a_transport_failure_is_a_fetch_error_and_a_bad_name_is_never_sent() {
        let failing = DohResolver::new("https://doh.test/dns-query", fixed(Err("no answer within 3 s")));
        let err = pollster::block_on(failing.lookup_mx("example.com")).unwrap_err();
        assert_eq!(err, DohError::Fetch("no answer within 3 s".into()));
        let bad_name = pollster::block_on(failing.lookup_mx("a b.example")).unwrap_err();
        assert!(bad_name.is_permanent(), "{bad_name}");
        let too_long = pollster::block_on(failing.lookup_mx(&format!("{}.com", "a.".repeat(130)))).unwrap_err();
        assert!(matches!(too_long, DohError::InvalidName(_)), "{too_long}");
        assert_eq!(failing.transport.asked.borrow().len(), 1);
    }

    #[test]
    fn a_bad_doh_url_is_refused_before_any_request() {
        for url in ["cloudflare-dns.com/dns-query", "https://doh.test/q?x=1", "ftp://doh.test", "https://doh.test/ q"] {
            let resolver = DohResolver::new(url, fixed(Ok("{}")));
            let err = pollster::block_on(resolver.lookup_mx("example.com")).unwrap_err();
            assert!(matches!(err, DohError::InvalidUrl(_)), "{url}: {err}");
            assert!(resolver.transport.asked.borrow().is_empty());
        }
    }
}
