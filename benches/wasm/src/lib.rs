//! The pure SendGrid pipeline, as `benches/webhooks.rs` times it natively: one signed 1,000-event batch
//! through the Worker's router on a `MemoryStore` (verify + parse + classify + aggregate), the same without
//! the store and response, and parsing alone. Compiled to wasm, it is what the Worker runs minus the
//! shell's KV and `Request`/`Response` conversions, with the signature checked by WebCrypto as in the
//! Worker; `bench.mjs` times it under Node and `main.rs` natively.
//!
//! The calls are async because WebCrypto is; natively their futures are ready at once.

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../support/fixtures.rs"]
mod fixtures;

use std::rc::Rc;

use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery, NoFetch};
use bouncewatch::event::Esp;
use bouncewatch::http::{self, Context, HttpRequest};
use bouncewatch::store::MemoryStore;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::wasm_bindgen;

/// A signed batch and the config that accepts it, made once: signing is not part of what is timed.
struct Pipeline {
    request: HttpRequest,
    config: Config,
}

thread_local! {
    static PIPELINE: Rc<Pipeline> = Rc::new(Pipeline {
        request: fixtures::sendgrid_request(0, fixtures::NOW),
        config: fixtures::sendgrid_config(),
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

/// Checks once that the batch verifies and counts in full, so that nothing timed is a refusal.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub async fn check_pipeline() -> Result<(), String> {
    let pipeline = pipeline();
    let store = MemoryStore::new();
    let ctx = Context { store: &store, config: &pipeline.config, now: fixtures::NOW, fetcher: &NoFetch };
    let accepted = http::handle(&pipeline.request, &ctx).await.json_body()["accepted"].as_u64();
    match accepted {
        Some(n) if n == fixtures::EVENTS_PER_BATCH as u64 => Ok(()),
        other => Err(format!("the batch must verify and count {} events, got {other:?}", fixtures::EVENTS_PER_BATCH)),
    }
}

/// The whole request into a fresh store; returns the response's status.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub async fn request() -> u32 {
    let pipeline = pipeline();
    let store = MemoryStore::new();
    let ctx = Context { store: &store, config: &pipeline.config, now: fixtures::NOW, fetcher: &NoFetch };
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
