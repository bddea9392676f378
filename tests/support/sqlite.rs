//! The counting object's [`Sql`] natively: an in-memory SQLite through rusqlite, counting rows read and
//! written as Cloudflare bills them. Shared by the integration tests and the benchmarks (`#[path]`).
//!
//! Rows written are SQLite's own count of rows a statement inserted, updated or deleted (`changes()`),
//! which is what the runtime's `rowsWritten` reports, plus the index entries they move ([`index_entries`]). Rows read are the rows a statement returns, plus
//! one per row it changed (an upsert reads the row it updates); every query the object makes seeks a
//! primary-key range without a filter on other columns except the domain of a row it already seeks, so
//! returned rows are the rows scanned, bar the domain-filtered reads, where this undercounts (noted in
//! the README's figures).

#![allow(dead_code)]

use bouncewatch::sql::{OpsCounter, Row, Sql, SqlError, SqlOps, SqlValue};
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

/// Prepared statements kept per connection (see [`SqliteSql::new`]).
const STATEMENTS_KEPT: usize = 512;

pub struct SqliteSql {
    conn: rusqlite::Connection,
    ops: OpsCounter,
}

impl SqliteSql {
    pub fn new() -> SqliteSql {
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
        // Every statement the object makes stays prepared: rusqlite keeps 16 by default, fewer than the
        // object's 39 statements (and their `IN` lists of each length), which were parsed again and again.
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        SqliteSql { conn, ops: OpsCounter::default() }
    }

    /// The size of the largest value stored in any column, for the "no value over 1 MB" check.
    pub fn largest_value(&self) -> usize {
        let mut largest = 0;
        for query in [
            "SELECT MAX(LENGTH(counts)), MAX(LENGTH(ids)) FROM counts",
            "SELECT MAX(LENGTH(value)), 0 FROM meta",
            "SELECT MAX(LENGTH(tokens)), 0 FROM nonces",
            "SELECT MAX(LENGTH(sum)), 0 FROM provider_sums",
            "SELECT MAX(LENGTH(counts)), MAX(LENGTH(ids)) FROM days",
            "SELECT MAX(LENGTH(totals)), 0 FROM day_totals",
        ] {
            let (a, b): (Option<i64>, Option<i64>) =
                self.conn.query_row(query, [], |row| Ok((row.get(0)?, row.get(1)?))).unwrap_or((None, None));
            largest = largest.max(a.unwrap_or(0) as usize).max(b.unwrap_or(0) as usize);
        }
        largest
    }

    /// A query's one number (`SELECT SUM(LENGTH(…))`, `COUNT(*)`), 0 for none.
    pub fn stored_bytes(&self, query: &str) -> u64 {
        self.conn.query_row(query, [], |row| row.get::<_, Option<i64>>(0)).ok().flatten().unwrap_or(0) as u64
    }

    /// Rows in a table.
    pub fn count(&self, table: &str) -> u64 {
        self.conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get::<_, i64>(0)).unwrap_or(0)
            as u64
    }
}

impl Default for SqliteSql {
    fn default() -> Self {
        SqliteSql::new()
    }
}

/// A parameter bound as it is: SQLite copies it anyway, and copying each `counts` row's text and ids into
/// an owned value first was work the cost simulation (tests/volume.rs) did for every event.
struct Param<'a>(&'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Integer(n) => ValueRef::Integer(*n),
            SqlValue::Real(x) => ValueRef::Real(*x),
            SqlValue::Text(t) => ValueRef::Text(t.as_bytes()),
            SqlValue::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn from_sqlite(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Integer(n),
        ValueRef::Real(x) => SqlValue::Real(x),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

/// Index entries a statement writes per row it changes, which `changes()` leaves out and Cloudflare bills
/// as rows written: the schema's one secondary index, `providers_due` on `providers (due_at)`, gets an
/// entry per insert and delete and moves (two) when an update sets `due_at`.
fn index_entries(query: &str) -> u64 {
    let query = query.trim_start();
    let sets_due = query.contains("due_at =");
    if query.starts_with("INSERT") && query.contains("INTO providers ") {
        if sets_due {
            2
        } else {
            1
        }
    } else if query.starts_with("UPDATE providers ") {
        if sets_due {
            2
        } else {
            0
        }
    } else if query.starts_with("DELETE FROM providers ") {
        1
    } else {
        0
    }
}

impl Sql for SqliteSql {
    fn exec(&self, query: &str, params: &[SqlValue]) -> Result<Vec<Row>, SqlError> {
        let error = |e: rusqlite::Error| SqlError(e.to_string());
        // The runtime's limit, which SQLite's own (32,766) would let a native test pass beyond.
        if params.len() > bouncewatch::sql::MAX_PARAMS {
            return Err(SqlError(format!("too many SQL variables: {} bound", params.len())));
        }
        let mut statement = self.conn.prepare_cached(query).map_err(error)?;
        let columns = statement.column_count();
        let changes_before = self.conn.total_changes();
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter().map(Param))).map_err(error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            out.push((0..columns).map(|i| row.get_ref(i).map(from_sqlite).unwrap_or(SqlValue::Null)).collect());
        }
        drop(rows);
        let changed = self.conn.total_changes() - changes_before;
        let written = changed * (1 + index_entries(query));
        self.ops.add(out.len() as u64 + changed, written);
        Ok(out)
    }

    fn ops(&self) -> SqlOps {
        self.ops.get()
    }
}
