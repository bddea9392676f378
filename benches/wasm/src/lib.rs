//! The Worker's part of the SendGrid pipeline, as `benches/webhooks.rs` times it natively: one signed
//! 1,000-event batch through the router (verify + parse + classify + `counting::prepare` + the delta
//! serialized for the counting object + the answer), the same without the router and the object, and
//! parsing alone. Compiled to wasm, it is what the Worker runs minus the shell's `Request`/`Response`
//! conversions and the Durable Object call itself, with the signature checked by WebCrypto as in the
//! Worker; `bench.mjs` times it under Node and `main.rs` natively.
//!
//! The counting object is [`CannedObject`]: it takes the request body the Worker serialized and answers a
//! canned `Applied`, as the Durable Object's answer would arrive, so what is timed is the Worker's CPU
//! alone. The object's own apply (parsing the delta, SQLite) runs in another isolate and is billed there;
//! it is timed natively in `benches/counting.rs`.
//!
//! The calls are async because WebCrypto is; natively their futures are ready at once.

#[path = "../../support/fixtures.rs"]
mod fixtures;

use std::cell::RefCell;
use std::rc::Rc;

use bouncewatch::config::Config;
use bouncewatch::counting::{Answer, Applied, Counter, Request};
use bouncewatch::esp::{self, Delivery, NoFetch};
use bouncewatch::event::Esp;
use bouncewatch::http::{self, Context, HttpRequest};
use bouncewatch::store::{MemoryStore, StoreError};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::wasm_bindgen;

/// A signed batch, the config that accepts it and the object's answer, made once: signing is not part of
/// what is timed.
struct Pipeline {
    request: HttpRequest,
    config: Config,
    answer: Vec<u8>,
}

thread_local! {
    static PIPELINE: Rc<Pipeline> = Rc::new(Pipeline {
        request: fixtures::sendgrid_request(0, fixtures::NOW),
        config: fixtures::sendgrid_config(),
        // What the object answers a new batch; its numbers do not change the Worker's work.
        answer: serde_json::to_vec(&Applied { accepted: fixtures::EVENTS_PER_BATCH, ..Applied::default() })
            .expect("an Applied serializes"),
    });
}

fn pipeline() -> Rc<Pipeline> {
    PIPELINE.with(Rc::clone)
}

impl Pipeline {
    fn delivery(&self) -> Delivery<'_> {
        Delivery { body: &self.request.body, headers: &self.request.headers, now: fixtures::NOW }
    }
}

/// The counting object seen from the Worker: the serialized request goes out, a canned answer comes back.
/// `sent` keeps the bodies when asked to, for [`check_pipeline`].
struct CannedObject<'a> {
    answer: &'a [u8],
    sent: Option<RefCell<Vec<Vec<u8>>>>,
}

impl Counter for CannedObject<'_> {
    async fn send(&self, _shard: u32, body: Vec<u8>) -> Result<Answer, StoreError> {
        match &self.sent {
            Some(sent) => sent.borrow_mut().push(body),
            None => drop(std::hint::black_box(body)),
        }
        Ok(Answer { status: 200, body: self.answer.to_vec() })
    }
}

/// Checks once that the batch verifies and reaches the object in full, so that nothing timed is a refusal.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub async fn check_pipeline() -> Result<(), String> {
    let pipeline = pipeline();
    let store = MemoryStore::new();
    let counter = CannedObject { answer: &pipeline.answer, sent: Some(RefCell::new(Vec::new())) };
    let ctx =
        Context { store: &store, counter: &counter, config: &pipeline.config, now: fixtures::NOW, fetcher: &NoFetch };
    let status = http::handle(&pipeline.request, &ctx).await.status;
    let sent = counter.sent.map(RefCell::into_inner).unwrap_or_default();
    let events: usize = sent
        .iter()
        .map(|body| match serde_json::from_slice(body) {
            Ok(Request::Apply { delta }) => delta.events.len(),
            _ => 0,
        })
        .sum();
    match (status, events) {
        (200, n) if n == fixtures::EVENTS_PER_BATCH => Ok(()),
        other => Err(format!(
            "the batch must verify and send {} events to the object, got (status, events) {other:?}",
            fixtures::EVENTS_PER_BATCH
        )),
    }
}

/// The whole request, up to and including the delta sent to the object and its answer read; returns the
/// response's status.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub async fn request() -> u32 {
    let pipeline = pipeline();
    let store = MemoryStore::new();
    let counter = CannedObject { answer: &pipeline.answer, sent: None };
    let ctx =
        Context { store: &store, counter: &counter, config: &pipeline.config, now: fixtures::NOW, fetcher: &NoFetch };
    http::handle(&pipeline.request, &ctx).await.status.into()
}

/// Signature check, parsing and classification only; returns the events parsed.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub async fn verify_parse_classify() -> u32 {
    let pipeline = pipeline();
    let store = MemoryStore::new();
    let delivery = pipeline.delivery();
    let verified = esp::verify_and_parse(Esp::Sendgrid, &delivery, &pipeline.config, &store, &NoFetch);
    verified.await.map_or(0, |v| v.events.len() as u32)
}

/// Parsing and classification without the signature check; returns the events parsed.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub fn parse_classify() -> u32 {
    esp::parse(Esp::Sendgrid, &pipeline().delivery()).map_or(0, |events| events.len() as u32)
}

/// The body of the `request`-th batch stamped at `now` (unix seconds), for `benches/worker_latency.mjs`.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub fn sendgrid_batch(request: u32, now: u32) -> Vec<u8> {
    fixtures::sendgrid_batch(request, now.into())
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub fn sendgrid_signature(body: &[u8], timestamp: &str) -> String {
    fixtures::sendgrid_signature(body, timestamp)
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub fn sendgrid_public_key() -> String {
    fixtures::sendgrid_public_key()
}
