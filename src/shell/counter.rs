//! The counting objects as both Workers reach them: the front for webhooks, reads and cron, shard 0 for
//! its peers. The objects themselves are in [`super::object`].

use std::cell::RefCell;

use worker::{js_sys, Env, Headers, Method, ObjectNamespace, Request, RequestInit};

use crate::config::Config;
use crate::counting::{Answer, Counter};
use crate::error::AppError;
use crate::metrics::WebhookTally;
use crate::store::{Faults, StoreError};

/// The Durable Object namespace binding named in both Workers' configs.
pub const COUNTER_BINDING: &str = "COUNTER";
/// Which shard a request is for: objects are named `counter-<n>`, and the name is not visible inside.
pub(super) const SHARD_HEADER: &str = "x-bouncewatch-shard";
/// The calling isolate's webhook answers ([`crate::metrics::tally`]).
pub(super) const ANSWERS_HEADER: &str = "x-bouncewatch-webhook-answers";
/// The front Worker's vars and secrets ([`Config::encode`]), which are the objects' too.
pub(super) const CONFIG_HEADER: &str = "x-bouncewatch-config";

thread_local! {
    /// This isolate's webhook answers not yet handed to an object: wasm statics live as long as the
    /// isolate, which is what the tally must span.
    static UNTOLD: RefCell<WebhookTally> = RefCell::default();
}

/// The counting objects as the Worker (and shard 0) reach them: `counter-<n>` by name.
pub struct WorkerCounter {
    namespace: ObjectNamespace,
    faults: Faults,
    config: String,
}

impl WorkerCounter {
    #[cfg(feature = "front")]
    pub fn bind(env: &Env, config: &Config) -> Result<WorkerCounter, AppError> {
        Self::bind_encoded(env, config, config.encode())
    }

    /// [`WorkerCounter::bind`] with `config` already encoded: an object hands its peers the header it
    /// was given rather than encoding again what it has just decoded.
    pub fn bind_encoded(env: &Env, config: &Config, encoded: String) -> Result<WorkerCounter, AppError> {
        let faults = Faults::from_config(config)?;
        env.durable_object(COUNTER_BINDING)
            .map(|namespace| WorkerCounter { namespace, faults, config: encoded })
            .map_err(|e| AppError::Internal(format!("Durable Object binding {COUNTER_BINDING} is missing: {e}")))
    }
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("counting object: {err}"))
}

impl Counter for WorkerCounter {
    async fn send(&self, shard: u32, body: Vec<u8>, answers: &str) -> Result<Answer, StoreError> {
        self.faults.before_object()?;
        let stub = self.namespace.get_by_name(&format!("counter-{shard}")).map_err(unavailable)?;
        let headers = Headers::new();
        headers.set(SHARD_HEADER, &shard.to_string()).map_err(unavailable)?;
        headers.set(CONFIG_HEADER, &self.config).map_err(unavailable)?;
        if !answers.is_empty() {
            headers.set(ANSWERS_HEADER, answers).map_err(unavailable)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        let request = Request::new_with_init("https://counter.internal/", &init).map_err(unavailable)?;
        // An overloaded or broken object throws here: the webhook answers 503 and the ESP retries.
        let mut response = stub.fetch_with_request(request).await.map_err(unavailable)?;
        let status = response.status_code();
        let body = response.bytes().await.map_err(unavailable)?;
        self.faults.after_object()?;
        Ok(Answer { status, body })
    }

    fn with_untold<T>(&self, f: impl FnOnce(&mut WebhookTally) -> T) -> T {
        UNTOLD.with(|untold| f(&mut untold.borrow_mut()))
    }
}
