//! The storage the core talks to: a key-value store shaped like Workers KV (no atomic increment, last write
//! wins, every key expires), so that logic proven against [`MemoryStore`] holds on KV.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;

/// A storage failure. KV reports these as opaque JavaScript errors, so a message is all there is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// One key returned by [`Store::list`], with the metadata stored beside it (KV returns metadata with the
/// listing, which saves a read per key).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedKey {
    pub name: String,
    pub metadata: Option<serde_json::Value>,
}

/// One page of a listing; `cursor` is `Some` while more pages remain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub keys: Vec<ListedKey>,
    pub cursor: Option<String>,
}

/// A write. KV refuses a `ttl_seconds` below 60.
#[derive(Debug, Clone, PartialEq)]
pub struct Put<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub ttl_seconds: u64,
    pub metadata: Option<serde_json::Value>,
}

/// Key-value storage with KV's semantics.
#[allow(async_fn_in_trait)] // single-threaded wasm: the futures need not be Send
pub trait Store {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put(&self, put: Put<'_>) -> Result<(), StoreError>;
    /// Keys starting with `prefix`, in lexicographic order, at most 1,000 a page.
    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListPage, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Counts of operations, so tests and benchmarks can report KV cost per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpCounts {
    pub gets: u64,
    pub puts: u64,
    pub lists: u64,
    pub deletes: u64,
}

/// Which operations [`MemoryStore`] should fail, to test that nothing is lost or double-counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    pub fail_gets: bool,
    pub fail_puts: bool,
    pub fail_lists: bool,
    pub fail_deletes: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    metadata: Option<serde_json::Value>,
}

/// An in-memory [`Store`] with operation counters and fault injection. TTLs are recorded, not enforced.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, Entry>>,
    ttls: RefCell<BTreeMap<String, u64>>,
    ops: Cell<OpCounts>,
    faults: Cell<Faults>,
    page_size: Cell<Option<usize>>,
}

const KV_LIST_PAGE: usize = 1000;

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.faults.set(faults);
    }

    /// Makes listings page after `size` keys, to exercise cursor handling with few keys.
    pub fn set_list_page_size(&self, size: usize) {
        self.page_size.set(Some(size.max(1)));
    }

    pub fn ops(&self) -> OpCounts {
        self.ops.get()
    }

    pub fn reset_ops(&self) {
        self.ops.set(OpCounts::default());
    }

    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// Every key, for assertions.
    pub fn keys(&self) -> Vec<String> {
        self.entries.borrow().keys().cloned().collect()
    }

    /// The TTL a key was last written with.
    pub fn ttl_of(&self, key: &str) -> Option<u64> {
        self.ttls.borrow().get(key).copied()
    }

    fn count(&self, bump: impl FnOnce(&mut OpCounts)) {
        let mut ops = self.ops.get();
        bump(&mut ops);
        self.ops.set(ops);
    }

    fn injected(failing: bool, op: &str) -> Result<(), StoreError> {
        if failing {
            Err(StoreError(format!("injected {op} failure")))
        } else {
            Ok(())
        }
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.count(|o| o.gets += 1);
        Self::injected(self.faults.get().fail_gets, "get")?;
        Ok(self.entries.borrow().get(key).map(|e| e.value.clone()))
    }

    async fn put(&self, put: Put<'_>) -> Result<(), StoreError> {
        self.count(|o| o.puts += 1);
        Self::injected(self.faults.get().fail_puts, "put")?;
        if put.ttl_seconds < 60 {
            return Err(StoreError(format!("expiration_ttl {} is below KV's minimum of 60", put.ttl_seconds)));
        }
        let entry = Entry { value: put.value.to_owned(), metadata: put.metadata };
        self.entries.borrow_mut().insert(put.key.to_owned(), entry);
        self.ttls.borrow_mut().insert(put.key.to_owned(), put.ttl_seconds);
        Ok(())
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListPage, StoreError> {
        self.count(|o| o.lists += 1);
        Self::injected(self.faults.get().fail_lists, "list")?;
        let page_size = self.page_size.get().unwrap_or(KV_LIST_PAGE);
        let entries = self.entries.borrow();
        let mut keys = Vec::new();
        let mut next = None;
        let after = cursor.unwrap_or("");
        for (name, entry) in entries.range(prefix.to_owned()..) {
            if !name.starts_with(prefix) {
                break;
            }
            if !after.is_empty() && name.as_str() <= after {
                continue;
            }
            if keys.len() == page_size {
                next = keys.last().map(|k: &ListedKey| k.name.clone());
                break;
            }
            keys.push(ListedKey { name: name.clone(), metadata: entry.metadata.clone() });
        }
        Ok(ListPage { keys, cursor: next })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count(|o| o.deletes += 1);
        Self::injected(self.faults.get().fail_deletes, "delete")?;
        self.entries.borrow_mut().remove(key);
        self.ttls.borrow_mut().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollster::block_on;

    fn put<'a>(key: &'a str, value: &'a str) -> Put<'a> {
        Put { key, value, ttl_seconds: 60, metadata: None }
    }

    #[test]
    fn listing_pages_through_a_prefix_in_order() {
        let store = MemoryStore::new();
        store.set_list_page_size(2);
        for key in ["a:3", "a:1", "b:1", "a:2"] {
            block_on(store.put(put(key, "v"))).unwrap();
        }
        let first = block_on(store.list("a:", None)).unwrap();
        let names: Vec<_> = first.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a:1", "a:2"]);
        let second = block_on(store.list("a:", first.cursor.as_deref())).unwrap();
        let names: Vec<_> = second.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a:3"]);
        assert_eq!(second.cursor, None);
    }

    #[test]
    fn injected_put_failure_writes_nothing() {
        let store = MemoryStore::new();
        store.set_faults(Faults { fail_puts: true, ..Faults::default() });
        assert!(block_on(store.put(put("k", "v"))).is_err());
        assert!(store.is_empty());
        assert_eq!(store.ops().puts, 1);
    }

    #[test]
    fn ttl_below_kv_minimum_is_refused() {
        let store = MemoryStore::new();
        let short = Put { key: "k", value: "v", ttl_seconds: 30, metadata: None };
        assert!(block_on(store.put(short)).is_err());
    }
}
