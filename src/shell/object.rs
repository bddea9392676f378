//! The counting object as a Durable Object, the counting Worker's one export. The logic is
//! [`crate::counting::handle`]; this only binds the object's SQLite, KV, email and the other shards to it.

use std::cell::{Cell, RefCell};

use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State};

use crate::config::Config;
use crate::counting::{handle, Answer, ObjectEnv};
use crate::metrics::ObjectStats;
use crate::provider::{DohResolver, DEFAULT_DOH_URL, DOH_URL_VAR};
use crate::sql::{OpsCounter, Row, Sql, SqlError, SqlOps, SqlValue};

use super::counter::{WorkerCounter, ANSWERS_HEADER, CONFIG_HEADER, SHARD_HEADER};
use super::{fetch::WorkerDohGet, kv::KvStore, mail::WorkerNotifier, now_seconds, KV_BINDING};

#[durable_object]
pub struct CountingObject {
    state: State,
    env: Env,
    ready: Cell<bool>,
    stats: RefCell<ObjectStats>,
}

impl DurableObject for CountingObject {
    fn new(state: State, env: Env) -> Self {
        CountingObject { state, env, ready: Cell::new(false), stats: RefCell::default() }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let encoded = req.headers().get(CONFIG_HEADER)?.unwrap_or_default();
        let shard = req.headers().get(SHARD_HEADER)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let answers = req.headers().get(ANSWERS_HEADER)?.unwrap_or_default();
        let body = req.bytes().await?;
        let Some(config) = Config::decode(&encoded) else {
            let answer = Answer::error(503, "the request carries no configuration: is the front Worker older?");
            return Ok(Response::from_bytes(answer.body)?.with_status(answer.status));
        };
        let peers = WorkerCounter::bind_encoded(&self.env, &config, encoded);
        let answer = match (KvStore::bind(&self.env, KV_BINDING, &config), peers) {
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
                    stats: &self.stats,
                    answers: &answers,
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
