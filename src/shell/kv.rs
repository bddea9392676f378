//! Workers KV behind the core's [`Store`] trait, with the core's [`Faults`] injected when the test-only
//! `BOUNCEWATCH_FAULTS` var asks for them (end-to-end tests of storage failures; unset, they are all off).

use worker::Env;

use crate::config::Config;
use crate::error::AppError;
use crate::store::{Faults, ListPage, ListedKey, Op, Put, Store, StoreError};

pub struct KvStore {
    kv: worker::kv::KvStore,
    faults: Faults,
}

impl KvStore {
    pub fn bind(env: &Env, binding: &str, config: &Config) -> Result<Self, AppError> {
        let faults = Faults::from_config(config)?;
        env.kv(binding)
            .map(|kv| KvStore { kv, faults })
            .map_err(|e| AppError::Internal(format!("KV namespace binding {binding} is missing: {e}")))
    }
}

fn store_error(err: impl std::fmt::Display) -> StoreError {
    StoreError(err.to_string())
}

impl Store for KvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.faults.before(Op::Get)?;
        self.kv.get(key).text().await.map_err(store_error)
    }

    async fn put(&self, put: Put<'_>) -> Result<(), StoreError> {
        self.faults.before(Op::Put)?;
        let mut builder = self.kv.put(put.key, put.value).map_err(store_error)?.expiration_ttl(put.ttl_seconds);
        if let Some(metadata) = put.metadata {
            builder = builder.metadata(metadata).map_err(store_error)?;
        }
        builder.execute().await.map_err(store_error)?;
        self.faults.after_put()
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListPage, StoreError> {
        self.faults.before(Op::List)?;
        let mut builder = self.kv.list().prefix(prefix.to_owned());
        if let Some(cursor) = cursor {
            builder = builder.cursor(cursor.to_owned());
        }
        let listing = builder.execute().await.map_err(store_error)?;
        let keys = listing.keys.into_iter().map(|k| ListedKey { name: k.name, metadata: k.metadata }).collect();
        let cursor = if listing.list_complete { None } else { listing.cursor };
        Ok(ListPage { keys, cursor })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.faults.before(Op::Delete)?;
        self.kv.delete(key).await.map_err(store_error)
    }
}
