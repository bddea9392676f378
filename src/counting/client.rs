//! How the Worker reaches the counting objects: [`Counter`], one method that sends a request to shard `n`.
//! The shell sends it to the Durable Object by name (`counter-<n>`); [`LocalCounter`] runs the objects in
//! process over any [`Sql`] (natively, rusqlite), counting every billed request.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::metrics::tally::FLUSH_AFTER_SECS;
use crate::metrics::{ObjectStats, WebhookTally};
use crate::notify::Notifier;
use crate::provider::{Offline, Resolver};
use crate::sql::{Sql, SqlOps};
use crate::store::{Faults, Store, StoreError};

use super::protocol::{handle, Answer, ObjectEnv, Request};

/// Sends one request to one counting object, and keeps the isolate's webhook answers until one carries
/// them ([`crate::metrics::tally`]).
#[allow(async_fn_in_trait)] // single-threaded wasm: the futures need not be Send
pub trait Counter {
    /// Sends `body` to `shard`, with `answers`, an encoded [`WebhookTally`] (empty when there is none).
    async fn send(&self, shard: u32, body: Vec<u8>, answers: &str) -> Result<Answer, StoreError>;

    /// Runs `f` on the webhook answers this isolate gave that no object call has carried yet.
    fn with_untold<T>(&self, f: impl FnOnce(&mut WebhookTally) -> T) -> T;
}

/// Tallies one webhook answer (`esp` as its path names it) for the objects. When no object call has
/// carried the isolate's tally for [`FLUSH_AFTER_SECS`] — it has refused everything since — this call
/// carries it, to shard 0; a failure only waits for the next try.
pub async fn tally_webhook<C: Counter>(counter: &C, esp: &str, status: u16, now: u64) {
    let esp = crate::event::Esp::from_name(esp).map_or("unknown", crate::event::Esp::as_str);
    let stale = counter.with_untold(|untold| {
        untold.add(esp, status, 1, now);
        untold.since + FLUSH_AFTER_SECS <= now
    });
    if stale && call::<_, serde::de::IgnoredAny>(counter, 0, &Request::Tally).await.is_err() {
        counter.with_untold(|untold| untold.since = now);
    }
}

/// Sends `request` to `shard` and reads its answer. A failed call or a non-200 answer is a
/// [`StoreError`]: the webhook answers 503 and the ESP retries.
pub async fn call<C: Counter, T: DeserializeOwned>(
    counter: &C,
    shard: u32,
    request: &Request,
) -> Result<T, StoreError> {
    let body = serde_json::to_vec(request).map_err(|e| StoreError(format!("cannot encode a counting request: {e}")))?;
    let untold = counter.with_untold(std::mem::take);
    let answer = match counter.send(shard, body, &untold.encode()).await {
        Ok(answer) => answer,
        Err(err) => {
            // Not delivered, as far as this isolate can tell: kept for the next call.
            counter.with_untold(|kept| kept.merge(untold));
            return Err(err);
        }
    };
    if answer.status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(StoreError(format!("counting object {shard} answered {}: {message}", answer.status)));
    }
    serde_json::from_slice(&answer.body)
        .map_err(|e| StoreError(format!("counting object {shard} answered garbage: {e}")))
}

/// The counting objects in process: one [`Sql`] per shard, with the KV store they publish to and the
/// notifier shard 0 sends with. Counts requests as Cloudflare bills them (one per call, shard 0's calls to
/// the other shards included).
pub struct LocalCounter<'a, Q: Sql, S: Store, N: Notifier> {
    pub objects: &'a [Q],
    pub kv: &'a S,
    pub notifier: &'a N,
    /// The MX look-ups the objects' cron runs make: [`Offline`] unless [`Self::with_resolver`] set one.
    pub resolver: &'a dyn Resolver,
    pub config: Config,
    pub now: Cell<u64>,
    pub faults: Cell<Faults>,
    requests: Cell<u64>,
    /// Each object's [`ObjectEnv::ready`]: one instance per object for this counter's life.
    ready: Vec<Cell<bool>>,
    /// Each object's [`ObjectEnv::stats`].
    stats: Vec<RefCell<ObjectStats>>,
    /// The webhook answers of the "isolate" this counter serves ([`Counter::with_untold`]).
    pub untold: RefCell<WebhookTally>,
}

impl<'a, Q: Sql, S: Store, N: Notifier> LocalCounter<'a, Q, S, N> {
    pub fn new(objects: &'a [Q], kv: &'a S, notifier: &'a N, config: Config) -> Self {
        LocalCounter {
            objects,
            kv,
            notifier,
            resolver: &Offline,
            config,
            now: Cell::new(0),
            faults: Cell::new(Faults::default()),
            requests: Cell::new(0),
            ready: objects.iter().map(|_| Cell::new(false)).collect(),
            stats: objects.iter().map(|_| RefCell::default()).collect(),
            untold: RefCell::default(),
        }
    }

    /// The same counter, its objects looking MX records up with `resolver`.
    pub fn with_resolver(self, resolver: &'a dyn Resolver) -> Self {
        LocalCounter { resolver, ..self }
    }

    /// Durable Object requests so far.
    pub fn requests(&self) -> u64 {
        self.requests.get()
    }

    /// Rows read and written by every object so far.
    pub fn sql_ops(&self) -> SqlOps {
        self.objects.iter().map(Sql::ops).fold(SqlOps::default(), |a, b| a + b)
    }

    fn run<'s>(
        &'s self,
        shard: u32,
        body: Vec<u8>,
        answers: &'s str,
    ) -> Pin<Box<dyn Future<Output = Result<Answer, StoreError>> + 's>> {
        // Boxed: shard 0's run calls the other shards through `self`, a future that would contain itself.
        Box::pin(async move {
            self.requests.set(self.requests.get() + 1);
            let faults = self.faults.get();
            faults.before_object()?;
            let missing = || StoreError(format!("no counting object {shard}"));
            let sql = self.objects.get(shard as usize).ok_or_else(missing)?;
            let ready = self.ready.get(shard as usize).ok_or_else(missing)?;
            let stats = self.stats.get(shard as usize).ok_or_else(missing)?;
            let env = ObjectEnv {
                shard,
                kv: self.kv,
                notifier: self.notifier,
                peers: self,
                resolver: self.resolver,
                config: &self.config,
                email_binding: false,
                now: self.now.get(),
                ready,
                stats,
                answers,
            };
            let answer = handle(sql, &env, &body).await;
            faults.after_object()?;
            Ok(answer)
        })
    }
}

impl<Q: Sql, S: Store, N: Notifier> Counter for LocalCounter<'_, Q, S, N> {
    async fn send(&self, shard: u32, body: Vec<u8>, answers: &str) -> Result<Answer, StoreError> {
        self.run(shard, body, answers).await
    }

    fn with_untold<T>(&self, f: impl FnOnce(&mut WebhookTally) -> T) -> T {
        f(&mut self.untold.borrow_mut())
    }
}

/// A counter whose objects cannot be reached: for routes that must not need them, and for tests of the
/// 503 a webhook answers when they fail.
pub struct Unreachable;

impl Counter for Unreachable {
    async fn send(&self, shard: u32, _body: Vec<u8>, _answers: &str) -> Result<Answer, StoreError> {
        Err(StoreError(format!("counting object {shard} is unreachable")))
    }

    /// No object will ever hear of them.
    fn with_untold<T>(&self, f: impl FnOnce(&mut WebhookTally) -> T) -> T {
        f(&mut WebhookTally::default())
    }
}
