//! The pure SendGrid pipeline, as `benches/webhooks.rs` times it natively: one signed 1,000-event batch
//! through the Worker's router on a `MemoryStore` (verify + parse + classify + aggregate), and the same
//! without the store and response. Compiled to wasm, it is what the Worker runs minus the shell's KV
//! and `Request`/`Response` conversions; `bench.mjs` times it under Node and `main.rs` natively.

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../support/fixtures.rs"]
mod fixtures;

use bouncewatch::config::Config;
use bouncewatch::esp::{self, Delivery, NoFetch};
use bouncewatch::event::Esp;
use bouncewatch::http::{HttpRequest, HttpResponse};
use bouncewatch::store::MemoryStore;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::wasm_bindgen;

/// A signed batch and the config that accepts it, made once: signing is not part of what is timed.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct Pipeline {
    request: HttpRequest,
    config: Config,
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl Pipeline {
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    #[allow(clippy::new_without_default)] // wasm-bindgen constructors take no Default
    pub fn new() -> Pipeline {
        let pipeline =
            Pipeline { request: fixtures::sendgrid_request(0, fixtures::NOW), config: fixtures::sendgrid_config() };
        let accepted = pipeline.send().json_body()["accepted"].as_u64();
        assert_eq!(accepted, Some(fixtures::EVENTS_PER_BATCH as u64), "the batch must verify and count");
        pipeline
    }

    /// The whole request into a fresh store; returns the response's status.
    pub fn request(&self) -> u32 {
        self.send().status.into()
    }

    /// Signature check, parsing and classification only; returns the events parsed.
    pub fn verify_parse_classify(&self) -> u32 {
        let delivery = Delivery { body: &self.request.body, headers: &self.request.headers, now: fixtures::NOW };
        let store = MemoryStore::new();
        let verified = esp::verify_and_parse(Esp::Sendgrid, &delivery, &self.config, &store, &NoFetch);
        pollster::block_on(verified).map_or(0, |v| v.events.len() as u32)
    }
}

impl Pipeline {
    fn send(&self) -> HttpResponse {
        common::send(&self.request, &MemoryStore::new(), &self.config, fixtures::NOW, &NoFetch)
    }
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
