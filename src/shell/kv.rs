//! Workers KV behind the core's [`Store`] trait.

use worker::Env;

use crate::error::AppError;
use crate::store::{ListPage, ListedKey, Put, Store, StoreError};

pub struct KvStore(worker::kv::KvStore);

impl KvStore {
    pub fn bind(env: &Env, binding: &str) -> Result<Self, AppError> {
        env.kv(binding)
            .map(KvStore)
            .map_err(|e| AppError::Internal(format!("KV namespace binding {binding} is missing: {e}")))
    }
}

fn store_error(err: impl std::fmt::Display) -> StoreError {
    StoreError(err.to_string())
}

impl Store for KvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.get(key).text().await.map_err(store_error)
    }

    async fn put(&self, put: Put<'_>) -> Result<(), StoreError> {
        let mut builder = self.0.put(put.key, put.value).map_err(store_error)?.expiration_ttl(put.ttl_seconds);
        if let Some(metadata) = put.metadata {
            builder = builder.metadata(metadata).map_err(store_error)?;
        }
        builder.execute().await.map_err(store_error)
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListPage, StoreError> {
        let mut builder = self.0.list().prefix(prefix.to_owned());
        if let Some(cursor) = cursor {
            builder = builder.cursor(cursor.to_owned());
        }
        let listing = builder.execute().await.map_err(store_error)?;
        let keys = listing.keys.into_iter().map(|k| ListedKey { name: k.name, metadata: k.metadata }).collect();
        let cursor = if listing.list_complete { None } else { listing.cursor };
        Ok(ListPage { keys, cursor })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await.map_err(store_error)
    }
}
