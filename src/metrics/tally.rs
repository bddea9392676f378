//! Webhook answers by ESP and status, counted where they are given — in the isolate that answered — and
//! handed to a counting object with that isolate's next call to one (a webhook's counts, a read, a
//! scrape, the cron), in a request header. So a refused webhook (401, 400, 413, 503 before or without
//! any object call) costs no KV write and no row; the object adds the tally to its in-memory counters
//! ([`super::ObjectStats::webhook_requests`]). An isolate that only refuses still calls an object once
//! [`FLUSH_AFTER_SECS`] after its oldest untold answer ([`crate::counting::client::tally_webhook`]): one
//! Durable Object request a minute at most, however many it refuses.
//!
//! The trade-off: answers given by an isolate that is evicted before its next object call are never
//! counted, and those of an isolate that answers nothing but refusals show up to a minute late.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The longest an isolate keeps a tally no object call has carried before it makes one for it.
pub const FLUSH_AFTER_SECS: u64 = 60;

/// The most (ESP, status) pairs a header may carry: the ESPs, `unknown`, and a handful of statuses each
/// are far fewer; a header with more is not this Worker's.
const MAX_PAIRS: usize = 128;

/// Webhook answers not yet handed to a counting object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookTally {
    /// Requests by ESP name (or `unknown`) and status.
    pub counts: BTreeMap<(String, u16), u64>,
    /// Unix seconds of the oldest answer in [`Self::counts`]; 0 when there is none.
    pub since: u64,
}

impl WebhookTally {
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub fn add(&mut self, esp: &str, status: u16, count: u64, now: u64) {
        if self.is_empty() {
            self.since = now;
        }
        *self.counts.entry((esp.to_owned(), status)).or_default() += count;
    }

    /// Puts back a tally that could not be handed over, keeping the older `since`.
    pub fn merge(&mut self, other: WebhookTally) {
        let since = if self.is_empty() { other.since } else { self.since.min(other.since) };
        for ((esp, status), n) in other.counts {
            self.add(&esp, status, n, since);
        }
        self.since = since;
    }

    /// `esp status count` triples joined by commas: `generic 200 19,generic 401 2`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        for ((esp, status), n) in &self.counts {
            let comma = if text.is_empty() { "" } else { "," };
            let _ = write!(text, "{comma}{esp} {status} {n}");
        }
        text
    }

    /// The pairs of an [`Self::encode`]d header; anything else in it is left out, never an error (the
    /// header comes from this Worker's own isolates, but a malformed one must not cost the request).
    pub fn decode(text: &str) -> BTreeMap<(String, u16), u64> {
        let mut counts = BTreeMap::new();
        for triple in text.split(',').filter(|t| !t.is_empty()).take(MAX_PAIRS) {
            let mut parts = triple.split(' ');
            let (Some(esp), Some(status), Some(n), None) = (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let esp_ok = (1..=32).contains(&esp.len()) && esp.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            match (esp_ok, status.parse::<u16>(), n.parse::<u64>()) {
                (true, Ok(status @ 100..=599), Ok(n)) => *counts.entry((esp.to_owned(), status)).or_default() += n,
                _ => continue,
            }
        }
        counts
    }
}
