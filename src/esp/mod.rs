//! One adapter per email service provider: raw body bytes + the headers it needs + its configured secret
//! → verified (or refused with a typed [`EspError`]) → a list of [`NormalizedEvent`]s, one per recipient.
//!
//! Every adapter is pure apart from SES, whose SNS signing certificate is fetched once and cached: it gets
//! the [`Store`] and a [`Fetcher`] passed in; nothing here imports `worker`. Mailgun's tokens, accepted
//! once each, are returned as a [`Nonce`] for the counting object to check with the events.
//!
//! Authenticity is checked over the raw bytes before anything is parsed (SNS is the exception: its
//! signature covers fields of the JSON envelope, so the envelope is parsed first and the canonical
//! string rebuilt from it).

mod brevo;
pub(crate) mod common;

/// Shared with the read API's `READ_TOKEN` check.
pub(crate) use common::constant_time_eq;
mod generic;
mod mailgun;
mod mailjet;
mod mandrill;
mod normalize;
mod p256_sha256;
mod postal;
mod postmark;
mod resend;
mod rsa_pkcs1v15;
mod sendgrid;
mod sending;
mod ses;
mod sparkpost;
#[cfg(target_arch = "wasm32")]
mod webcrypto;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::config::Config;
use crate::domain::InvalidDomain;
use crate::error::AppError;
use crate::event::{Esp, NormalizedEvent};
use crate::store::{Store, StoreError};
use normalize::Skipped;

pub use common::parse_rfc3339;
pub use mailgun::Nonce;

/// How long the counting object must remember a Mailgun token: past it, the timestamp check refuses it.
pub const fn mailgun_nonce_seconds() -> u64 {
    mailgun::NONCE_SECONDS
}
pub use ses::validate_sns_url;

/// Every var and secret the adapters read (merged into [`crate::config::NAMES`]).
pub const SECRET_NAMES: &[&str] = &[
    sendgrid::PUBLIC_KEY,
    mailgun::SIGNING_KEY,
    postmark::CREDENTIALS,
    ses::TOPIC_ARNS,
    sparkpost::CREDENTIALS,
    mailjet::CREDENTIALS,
    brevo::CREDENTIALS,
    mandrill::KEY,
    mandrill::URL,
    resend::SECRET,
    postal::PUBLIC_KEY,
    generic::TOKEN,
];

/// One webhook request as an adapter sees it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub body: &'a [u8],
    /// Lower-case names.
    pub headers: &'a [(String, String)],
    /// Unix seconds, injected so tests can replay old vectors.
    pub now: u64,
}

impl<'a> Delivery<'a> {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why an adapter refused a request. Messages name what was wrong, never a secret, signature or address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EspError {
    /// The ESP's secret is not set: refused until the operator sets the named secret.
    SecretNotConfigured(&'static str),
    /// Credentials or signature missing, wrong or stale.
    Unauthorized(String),
    /// The body is not what this ESP sends.
    Malformed(String),
    /// Storage failed while checking a replay or caching a certificate: the ESP should retry.
    Storage(StoreError),
    /// Fetching the SNS certificate or confirming a subscription failed, or the runtime's WebCrypto did:
    /// not the sender's fault, so the ESP should retry.
    Upstream(String),
}

impl fmt::Display for EspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EspError::SecretNotConfigured(name) => {
                write!(f, "webhook secret not configured: set the {name} secret to accept these webhooks")
            }
            EspError::Unauthorized(why) => write!(f, "unauthorized: {why}"),
            EspError::Malformed(why) => f.write_str(why),
            EspError::Storage(err) => write!(f, "storage failed: {err}"),
            EspError::Upstream(why) => write!(f, "upstream failed: {why}"),
        }
    }
}

impl From<EspError> for AppError {
    fn from(err: EspError) -> Self {
        match err {
            EspError::SecretNotConfigured(_) | EspError::Unauthorized(_) => AppError::Unauthorized(err.to_string()),
            EspError::Malformed(why) => AppError::BadRequest(why),
            EspError::Storage(store) => AppError::from(store),
            // A certificate we could not fetch is not the sender's fault: 503 makes SNS retry.
            EspError::Upstream(why) => AppError::UpstreamUnavailable(format!("upstream failed, retry later: {why}")),
        }
    }
}

impl From<StoreError> for EspError {
    fn from(err: StoreError) -> Self {
        EspError::Storage(err)
    }
}

/// A fetch failure: the message only, as Workers' `fetch` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError(pub String);

/// HTTP GET for the two URLs we ever fetch (the SNS signing certificate and a SubscribeURL), both
/// validated against the SNS host before the call. The shell implements it with Workers `fetch`; tests
/// serve fixtures. Boxed futures keep it object-safe, so the router's context holds a `&dyn Fetcher`.
pub trait Fetcher {
    fn get<'a>(&'a self, url: &'a str) -> Pin<Box<dyn Future<Output = Result<String, FetchError>> + 'a>>;
}

/// A [`Fetcher`] that fetches nothing: for contexts (the CLI, routes other than SES) with no network.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetch;

impl Fetcher for NoFetch {
    fn get<'a>(&'a self, url: &'a str) -> Pin<Box<dyn Future<Output = Result<String, FetchError>> + 'a>> {
        let _ = url;
        Box::pin(async { Err(FetchError("no network in this context".into())) })
    }
}

/// What parsing a body found: the events to count, and why each refused recipient was refused. An
/// invalid recipient does not fail its batch: the other events are still counted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub events: Vec<NormalizedEvent>,
    pub invalid: Vec<InvalidDomain>,
}

impl Parsed {
    fn push(&mut self, outcome: Result<NormalizedEvent, Skipped>) {
        match outcome {
            Ok(event) => self.events.push(event),
            Err(Skipped::Invalid(why)) => self.invalid.push(why),
            Err(Skipped::NoRecipient) => {}
        }
    }
}

impl FromIterator<Result<NormalizedEvent, Skipped>> for Parsed {
    fn from_iter<I: IntoIterator<Item = Result<NormalizedEvent, Skipped>>>(outcomes: I) -> Self {
        let mut parsed = Parsed::default();
        outcomes.into_iter().for_each(|outcome| parsed.push(outcome));
        parsed
    }
}

/// What a verified request carried.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verified {
    pub events: Vec<NormalizedEvent>,
    /// Recipients refused by [`crate::domain`], reported as `invalid` in the webhook's answer.
    pub invalid: Vec<InvalidDomain>,
    /// Mailgun's token: the counting object accepts it once, with the events.
    pub nonce: Option<Nonce>,
    /// The SNS topic whose subscription was confirmed, if this was a SubscriptionConfirmation.
    pub subscription_confirmed: Option<String>,
}

/// Verifies a request for `esp` and parses its events.
pub async fn verify_and_parse<S: Store>(
    esp: Esp,
    delivery: &Delivery<'_>,
    config: &Config,
    store: &S,
    fetcher: &dyn Fetcher,
) -> Result<Verified, EspError> {
    let events_only = |Parsed { events, invalid }| Ok(Verified { events, invalid, ..Verified::default() });
    match esp {
        Esp::Sendgrid => {
            sendgrid::verify(delivery, config).await?;
            events_only(sendgrid::parse(delivery)?)
        }
        Esp::Mailgun => {
            let nonce = mailgun::verify(delivery, config)?;
            let Parsed { events, invalid } = mailgun::parse(delivery)?;
            Ok(Verified { events, invalid, nonce: Some(nonce), ..Verified::default() })
        }
        Esp::Ses => ses::verify_and_parse(delivery, config, store, fetcher).await,
        Esp::Mandrill => {
            mandrill::verify(delivery, config)?;
            events_only(mandrill::parse(delivery)?)
        }
        Esp::Resend => {
            resend::verify(delivery, config)?;
            events_only(resend::parse(delivery)?)
        }
        Esp::Postal => {
            postal::verify(delivery, config).await?;
            events_only(postal::parse(delivery)?)
        }
        Esp::Postmark | Esp::Sparkpost | Esp::Mailjet | Esp::Brevo | Esp::Generic => {
            let secret = common::required_secret(config, credentials_secret(esp))?;
            common::check_authorization(delivery, secret)?;
            events_only(parse_body(esp, delivery)?)
        }
    }
}

/// The secret holding Basic/Bearer credentials for the ESPs that authenticate that way.
fn credentials_secret(esp: Esp) -> &'static str {
    match esp {
        Esp::Postmark => postmark::CREDENTIALS,
        Esp::Sparkpost => sparkpost::CREDENTIALS,
        Esp::Mailjet => mailjet::CREDENTIALS,
        Esp::Brevo => brevo::CREDENTIALS,
        _ => generic::TOKEN,
    }
}

/// Parses a body without checking its authenticity, for the CLI (a payload someone pasted): the events,
/// without the invalid recipients [`parse_body`] also reports.
pub fn parse(esp: Esp, delivery: &Delivery<'_>) -> Result<Vec<NormalizedEvent>, EspError> {
    parse_body(esp, delivery).map(|parsed| parsed.events)
}

/// Parses a body without checking its authenticity: for the adapters themselves once verified.
pub fn parse_body(esp: Esp, delivery: &Delivery<'_>) -> Result<Parsed, EspError> {
    match esp {
        Esp::Sendgrid => sendgrid::parse(delivery),
        Esp::Mailgun => mailgun::parse(delivery),
        Esp::Postmark => postmark::parse(delivery),
        Esp::Ses => ses::parse(delivery),
        Esp::Sparkpost => sparkpost::parse(delivery),
        Esp::Mailjet => mailjet::parse(delivery),
        Esp::Brevo => brevo::parse(delivery),
        Esp::Mandrill => mandrill::parse(delivery),
        Esp::Resend => resend::parse(delivery),
        Esp::Postal => postal::parse(delivery),
        Esp::Generic => generic::parse(delivery),
    }
}
