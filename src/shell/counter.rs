//! The counting object as a Durable Object, and the Worker's way to reach it. The logic is
//! [`crate::counting::handle`]; this only binds the object's SQLite, KV, email and the other shards to it.

use std::cell::Cell;

use worker::{
    durable_object, js_sys, DurableObject, Env, Headers, Method, ObjectNamespace, Request, RequestInit, Response,
    SqlStorage, SqlStorageValue, State,
};

use crate::config::Config;
use crate::counting::{handle, Answer, Counter, ObjectEnv};
use crate::error::AppError;
use crate::sql::{OpsCounter, Row, Sql, SqlError, SqlOps, SqlValue};
use crate::store::{Faults, StoreError};

use crate::provider::{DohResolver, DEFAULT_DOH_URL, DOH_URL_VAR};

use super::{fetch::WorkerDohGet, kv::KvStore, mail::WorkerNotifier, now_seconds, read_config, KV_BINDING};

/// The Durable Object namespace binding named in `wrangler.toml`.
pub const COUNTER_BINDING: &str = "COUNTER";
/// Which shard a request is for: objects are named `counter-<n>`, and the name is not visible inside.
const SHARD_HEADER: &str = "x-bouncewatch-shard";

#[durable_object]
pub struct CountingObject {
    state: State,
    env: Env,
    ready: Cell<bool>,
}

impl DurableObject for CountingObject {
    fn new(state: State, env: Env) -> Self {
        CountingObject { state, env, ready: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let config = read_config(&self.env);
        let shard = req.headers().get(SHARD_HEADER)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let body = req.bytes().await?;
        let answer = match (KvStore::bind(&self.env, KV_BINDING, &config), WorkerCounter::bind(&self.env, &config)) {
            (Ok(kv), Ok(peers)) => {
                let notifier = WorkerNotifier::bind(&self.env);
                let doh_url = config.get(DOH_URL_VAR).unwrap_or(DEFAULT_DOH_URL).to_owned();
                let resolver = DohResolver::new(doh_url, WorkerDohGet);
                let sql = DoSql { sql: self.state.storage().sql(), ops: OpsCounter::default() };
                let env = ObjectEnv {
                    shard,
                    kv: &kv,
                    notifier: &notifier,
                    peers: &peers,
                    resolver: &resolver,
                    config: &config,
                    email_binding: notifier.has_email_binding(),
                    now: now_seconds(),
                    ready: &self.ready,
                };
                handle(&sql, &env, &body).await
            }
            (Err(err), _) | (_, Err(err)) => Answer::error(503, err.message()),
        };
        Ok(Response::from_bytes(answer.body)?.with_status(answer.status))
    }
}

/// The object's SQLite behind the core's [`Sql`].
struct DoSql {
    sql: SqlStorage,
    ops: OpsCounter,
}

fn to_runtime(value: &SqlValue) -> SqlStorageValue {
    match value {
        SqlValue::Null => SqlStorageValue::Null,
        SqlValue::Integer(n) => SqlStorageValue::Integer(*n),
        SqlValue::Real(x) => SqlStorageValue::Float(*x),
        SqlValue::Text(t) => SqlStorageValue::String(t.clone()),
        SqlValue::Blob(b) => SqlStorageValue::Blob(b.clone()),
    }
}

fn from_runtime(value: SqlStorageValue) -> SqlValue {
    match value {
        SqlStorageValue::Null => SqlValue::Null,
        SqlStorageValue::Boolean(b) => SqlValue::Integer(i64::from(b)),
        SqlStorageValue::Integer(n) => SqlValue::Integer(n),
        SqlStorageValue::Float(x) => SqlValue::Real(x),
        SqlStorageValue::String(t) => SqlValue::Text(t),
        SqlStorageValue::Blob(b) => SqlValue::Blob(b),
    }
}

impl Sql for DoSql {
    fn exec(&self, query: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        let bindings: Vec<SqlStorageValue> = params.iter().map(to_runtime).collect();
        let cursor = self.sql.exec(query, bindings).map_err(|e| SqlError(e.to_string()))?;
        let rows = cursor
            .raw()
            .map(|row| row.map(|values| values.into_iter().map(from_runtime).collect()))
            .collect::<worker::Result<Vec<Row>>>()
            .map_err(|e| SqlError(e.to_string()))?;
        self.ops.add(cursor.rows_read() as u64, cursor.rows_written() as u64);
        Ok(rows)
    }

    fn ops(&self) -> SqlOps {
        self.ops.get()
    }
}

/// The counting objects as the Worker (and shard 0) reach them: `counter-<n>` by name.
pub struct WorkerCounter {
    namespace: ObjectNamespace,
    faults: Faults,
}

impl WorkerCounter {
    pub fn bind(env: &Env, config: &Config) -> Result<WorkerCounter, AppError> {
        let faults = Faults::from_config(config)?;
        env.durable_object(COUNTER_BINDING)
            .map(|namespace| WorkerCounter { namespace, faults })
            .map_err(|e| AppError::Internal(format!("Durable Object binding {COUNTER_BINDING} is missing: {e}")))
    }
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("counting object: {err}"))
}

impl Counter for WorkerCounter {
    async fn send(&self, shard: u32, body: Vec<u8>) -> Result<Answer, StoreError> {
        self.faults.before_object()?;
        let stub = self.namespace.get_by_name(&format!("counter-{shard}")).map_err(unavailable)?;
        let headers = Headers::new();
        headers.set(SHARD_HEADER, &shard.to_string()).map_err(unavailable)?;
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
}
