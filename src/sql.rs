//! The SQL the counting object talks to: a Durable Object's SQLite (`state.storage().sql()`) in the Worker,
//! an in-process SQLite (rusqlite, in `tests/support`) natively. The trait is as small as the runtime's own
//! `SqlStorage::exec`: one synchronous statement with positional `?` parameters, its rows back.
//!
//! Synchronous on purpose: a Durable Object commits every write made between two `await`s as one atomic
//! unit, and answers only once that unit is durable (its *output gate*). Keeping every statement of a
//! request free of awaits is what makes a request's counts all-or-nothing.

use std::cell::Cell;
use std::fmt;

/// One SQL value, as SQLite (and the runtime's `SqlStorageValue`) knows them.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl SqlValue {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(n) => Some(*n),
            SqlValue::Real(x) => Some(*x as i64),
            _ => None,
        }
    }

    /// A non-negative integer column; SQLite has no unsigned type.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|n| u64::try_from(n).ok())
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_blob(&self) -> Option<&[u8]> {
        match self {
            SqlValue::Blob(bytes) => Some(bytes),
            // The runtime hands back an empty blob as an empty array, which can read as null.
            SqlValue::Null => Some(&[]),
            _ => None,
        }
    }
}

impl From<u64> for SqlValue {
    /// Every integer we store (times, counts) is far below 2^53, the largest the runtime passes exactly.
    fn from(n: u64) -> Self {
        SqlValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<&str> for SqlValue {
    fn from(text: &str) -> Self {
        SqlValue::Text(text.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(text: String) -> Self {
        SqlValue::Text(text)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(bytes: Vec<u8>) -> Self {
        SqlValue::Blob(bytes)
    }
}

/// A failed statement. The runtime reports SQLite errors as opaque JavaScript errors: a message is all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError(pub String);

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlError {}

/// One row of a result.
pub type Row = Vec<SqlValue>;

/// Parameters one statement may bind: Durable Object SQLite refuses more ("too many SQL variables"),
/// far below SQLite's own default, so every `IN` list is cut to fit.
pub const MAX_PARAMS: usize = 100;

/// Runs `query`, whose one `{}` stands for an `IN` list, once per chunk of `items` that fits
/// [`MAX_PARAMS`] beside `fixed` (bound first), handing each chunk's rows to `each`, which returns
/// whether to go on.
pub fn exec_in<Q: Sql + ?Sized>(
    sql: &Q,
    query: &str,
    fixed: &[SqlValue],
    items: impl IntoIterator<Item = SqlValue>,
    mut each: impl FnMut(Vec<Row>) -> Result<bool, SqlError>,
) -> Result<(), SqlError> {
    let items: Vec<SqlValue> = items.into_iter().collect();
    for chunk in items.chunks(MAX_PARAMS.saturating_sub(fixed.len()).max(1)) {
        let statement = query.replacen("{}", &vec!["?"; chunk.len()].join(", "), 1);
        let params: Vec<SqlValue> = fixed.iter().chain(chunk).cloned().collect();
        if !each(sql.exec(&statement, &params)?)? {
            break;
        }
    }
    Ok(())
}

/// SQLite behind one call.
pub trait Sql {
    /// Runs one statement and returns its rows (none for a write).
    fn exec(&self, query: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError>;

    /// What the statements so far have cost, as Cloudflare bills them.
    fn ops(&self) -> SqlOps;
}

/// Rows read and written, the units Durable Object SQL storage is billed in
/// (<https://developers.cloudflare.com/durable-objects/platform/pricing/>).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqlOps {
    pub statements: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl std::ops::Add for SqlOps {
    type Output = SqlOps;

    fn add(self, other: SqlOps) -> SqlOps {
        SqlOps {
            statements: self.statements + other.statements,
            rows_read: self.rows_read + other.rows_read,
            rows_written: self.rows_written + other.rows_written,
        }
    }
}

impl std::ops::Sub for SqlOps {
    type Output = SqlOps;

    /// What was done between two readings of the same counter.
    fn sub(self, earlier: SqlOps) -> SqlOps {
        SqlOps {
            statements: self.statements - earlier.statements,
            rows_read: self.rows_read - earlier.rows_read,
            rows_written: self.rows_written - earlier.rows_written,
        }
    }
}

/// Accumulates [`SqlOps`] for an implementation.
#[derive(Debug, Default)]
pub struct OpsCounter(Cell<SqlOps>);

impl OpsCounter {
    pub fn add(&self, rows_read: u64, rows_written: u64) {
        let mut ops = self.0.get();
        ops.statements += 1;
        ops.rows_read += rows_read;
        ops.rows_written += rows_written;
        self.0.set(ops);
    }

    pub fn get(&self) -> SqlOps {
        self.0.get()
    }
}

/// Reads column `i` of a row, or says which column of which query was not what the schema promises.
pub fn column<'r, T>(row: &'r Row, i: usize, read: impl FnOnce(&'r SqlValue) -> Option<T>) -> Result<T, SqlError> {
    row.get(i).and_then(read).ok_or_else(|| SqlError(format!("column {i} of a stored row has an unexpected type")))
}
