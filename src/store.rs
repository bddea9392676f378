//! The storage the core talks to: a key-value store shaped like Workers KV (no atomic increment, last write
//! wins, every key expires), so that logic proven against [`MemoryStore`] holds on KV.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;

use crate::config::Config;
use crate::error::AppError;

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

/// Which operations fail, to test that nothing is lost or double-counted. [`MemoryStore`] takes them
/// directly; under `wrangler dev` the shell's KV store takes them from the test-only var
/// [`FAULTS_VAR`], so that the end-to-end tests can fail the real KV binding too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    pub fail_gets: bool,
    pub fail_puts: bool,
    /// Puts take effect but report failure, as when KV times out after the write landed: the case where
    /// a retry could count twice.
    pub fail_puts_after_write: bool,
    pub fail_lists: bool,
    pub fail_deletes: bool,
    /// Calls to the counting object fail before they reach it (the object is unreachable).
    pub fail_object: bool,
    /// Calls to the counting object take effect but report failure: the case where a retry must not
    /// count twice.
    pub fail_object_after_commit: bool,
}

/// The var holding a fault plan for [`Faults::from_config`]. Test-only: never set it in production.
pub const FAULTS_VAR: &str = "BOUNCEWATCH_FAULTS";

/// A storage operation, for [`Faults::before`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Put,
    List,
    Delete,
}

impl Faults {
    /// Reads [`FAULTS_VAR`]: a comma-separated list of `get`, `put`, `put-after-write`, `list`, `delete`,
    /// `object` and `object-after-commit`. Unset means no faults; an unknown name is an error, so a typo cannot pass for a clean run.
    pub fn from_config(config: &Config) -> Result<Faults, AppError> {
        let mut faults = Faults::default();
        for name in config.get(FAULTS_VAR).unwrap_or("").split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let flag = match name {
                "get" => &mut faults.fail_gets,
                "put" => &mut faults.fail_puts,
                "put-after-write" => &mut faults.fail_puts_after_write,
                "list" => &mut faults.fail_lists,
                "delete" => &mut faults.fail_deletes,
                "object" => &mut faults.fail_object,
                "object-after-commit" => &mut faults.fail_object_after_commit,
                other => {
                    return Err(AppError::Internal(format!(
                        "{FAULTS_VAR} lists get, put, put-after-write, list, delete, object or object-after-commit, not {other:?}"
                    )))
                }
            };
            *flag = true;
        }
        Ok(faults)
    }

    /// Fails `op` before it is made, when it is to fail.
    pub fn before(&self, op: Op) -> Result<(), StoreError> {
        let (failing, name) = match op {
            Op::Get => (self.fail_gets, "get"),
            Op::Put => (self.fail_puts, "put"),
            Op::List => (self.fail_lists, "list"),
            Op::Delete => (self.fail_deletes, "delete"),
        };
        if failing {
            Err(StoreError(format!("injected {name} failure")))
        } else {
            Ok(())
        }
    }

    /// Fails a call to the counting object before it is sent, when the object is to be unreachable.
    pub fn before_object(&self) -> Result<(), StoreError> {
        if self.fail_object {
            Err(StoreError("injected counting object failure".to_owned()))
        } else {
            Ok(())
        }
    }

    /// Fails a call to the counting object that has been answered, when its answer is to be lost.
    pub fn after_object(&self) -> Result<(), StoreError> {
        if self.fail_object_after_commit {
            Err(StoreError("injected counting object failure after the commit".to_owned()))
        } else {
            Ok(())
        }
    }

    /// Fails a put that has been made, when its acknowledgement is to be lost.
    pub fn after_put(&self) -> Result<(), StoreError> {
        if self.fail_puts_after_write {
            Err(StoreError("injected put failure after the write".to_owned()))
        } else {
            Ok(())
        }
    }
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

    /// The size of the largest value stored, for the "no value grows with the domains" checks.
    pub fn largest_value(&self) -> usize {
        self.entries.borrow().values().map(|e| e.value.len()).max().unwrap_or(0)
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
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.count(|o| o.gets += 1);
        self.faults.get().before(Op::Get)?;
        Ok(self.entries.borrow().get(key).map(|e| e.value.clone()))
    }

    async fn put(&self, put: Put<'_>) -> Result<(), StoreError> {
        self.count(|o| o.puts += 1);
        self.faults.get().before(Op::Put)?;
        if put.ttl_seconds < 60 {
            return Err(StoreError(format!("expiration_ttl {} is below KV's minimum of 60", put.ttl_seconds)));
        }
        let entry = Entry { value: put.value.to_owned(), metadata: put.metadata };
        self.entries.borrow_mut().insert(put.key.to_owned(), entry);
        self.ttls.borrow_mut().insert(put.key.to_owned(), put.ttl_seconds);
        self.faults.get().after_put()
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListPage, StoreError> {
        self.count(|o| o.lists += 1);
        self.faults.get().before(Op::List)?;
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
        self.faults.get().before(Op::Delete)?;
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
    fn a_put_failing_after_the_write_has_stored_the_value() {
        let store = MemoryStore::new();
        store.set_faults(Faults { fail_puts_after_write: true, ..Faults::default() });
        assert!(block_on(store.put(put("k", "v"))).is_err());
        assert_eq!(block_on(store.get("k")), Ok(Some("v".to_owned())));
    }

    #[test]
    fn fault_plan_is_read_from_its_var_and_a_typo_is_an_error() {
        let plan = |value: &str| Faults::from_config(&Config::from_pairs([(FAULTS_VAR, value)]));
        assert_eq!(Faults::from_config(&Config::new()), Ok(Faults::default()));
        let all = Faults {
            fail_gets: true,
            fail_puts: true,
            fail_puts_after_write: true,
            fail_lists: true,
            fail_deletes: true,
            fail_object: true,
            fail_object_after_commit: true,
        };
        assert_eq!(plan("get, put,put-after-write,list ,delete,object, object-after-commit"), Ok(all));
        assert_eq!(plan("list"), Ok(Faults { fail_lists: true, ..Faults::default() }));
        let err = plan("puts").unwrap_err();
        assert!(err.message().contains("\"puts\""), "{err:?}");
    }

    #[test]
    fn the_fault_plan_is_never_set_by_the_shipped_configuration() {
        let front = include_str!("../wrangler.toml");
        for shipped in [front, include_str!("../wrangler.counting.toml"), include_str!("../.dev.vars.example")] {
            assert!(!shipped.contains(FAULTS_VAR));
        }
    }

    #[test]
    fn ttl_below_kv_minimum_is_refused() {
        let store = MemoryStore::new();
        let short = Put { key: "k", value: "v", ttl_seconds: 30, metadata: None };
        assert!(block_on(store.put(short)).is_err());
    }
}
