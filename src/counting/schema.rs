//! The counting object's SQLite schema: every table, what a row costs and when it goes.
//!
//! Durable Objects bill SQL by rows read and rows written (a delete is a write; an index is another row
//! written per insert, so there are only the two the provider look-ups need).

use crate::sql::{Sql, SqlError};

/// Tables, created on first use (`IF NOT EXISTS`: every request may run it; it reads and writes nothing
/// once the tables exist).
pub const SCHEMA: &[&str] = &[
    // One row per (hour, recipient domain) with traffic: its buckets' counts, and the ids of the events
    // counted in it, which is what makes counting idempotent per event at no extra row. A one-event webhook
    // reads and rewrites one row; a 1,000-event batch one per (hour, domain) it touches. An hour, not a
    // bucket, because every row is deleted again at expiry (one row written each): twelve buckets a row
    // cut that to one delete per (hour, domain). A busy domain's hour is split in parts of at most
    // 8,192 ids, so no row grows with volume. The number columns are the hour's totals.
    "CREATE TABLE IF NOT EXISTS counts (
        hour INTEGER NOT NULL,
        domain TEXT NOT NULL,
        part INTEGER NOT NULL,
        smtp_451 INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        delivered INTEGER NOT NULL,
        counts TEXT NOT NULL,
        ids BLOB NOT NULL,
        written INTEGER NOT NULL,
        PRIMARY KEY (hour, domain, part)
    ) WITHOUT ROWID",
    // The (hour, domain)s whose 451s reached the hot threshold: the only domains the cron reads the
    // counts of, besides those it tracks. One row written the first time an hour gets busy.
    "CREATE TABLE IF NOT EXISTS hot (
        hour INTEGER NOT NULL,
        domain TEXT NOT NULL,
        PRIMARY KEY (hour, domain)
    ) WITHOUT ROWID",
    // The mailbox provider of each recipient domain seen that the consumer table does not name (those
    // never need a look-up and are not stored): `unknown` from its first event until the cron's MX
    // look-up answers, then the provider, why (JSON `provider::Reason`), when to look it up again and the
    // failures in a row. A row whose domain has no counts left in the retention is deleted when it falls
    // due. A row written when a domain is first seen (2 with its index entry), 3 when it is resolved and
    // per refresh (the row and its moved index entry; at most daily, at least weekly), 2 when forgotten.
    "CREATE TABLE IF NOT EXISTS providers (
        domain TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        reason TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        failures INTEGER NOT NULL
    ) WITHOUT ROWID",
    // The run's look-ups read only the due rows.
    "CREATE INDEX IF NOT EXISTS providers_due ON providers (due_at)",
    // Per (hour, provider), its domains' counts of the hour in this object, summed (JSON
    // `providers::ProviderHour`), and their watched replies (451s), which screen providers without
    // parsing any sum: what the detector reads instead of every domain's rows. Written by publish for
    // the providers whose hour changed, and once for a newly resolved domain's recent hours. Deleted
    // with the hour.
    "CREATE TABLE IF NOT EXISTS provider_sums (
        hour INTEGER NOT NULL,
        provider TEXT NOT NULL,
        watched INTEGER NOT NULL,
        sum TEXT NOT NULL,
        PRIMARY KEY (hour, provider)
    ) WITHOUT ROWID",
    // The daily history (`super::history`): one row per (day, domain) with traffic, the day's whole
    // counts; `live` when folded from the hourly rows (it then takes no backfill), `ids` the events
    // backfilled into it. Written once when its day is folded (and again per late or backfilled
    // change), deleted after HISTORY_DAYS.
    "CREATE TABLE IF NOT EXISTS days (
        day INTEGER NOT NULL,
        domain TEXT NOT NULL,
        counts TEXT NOT NULL,
        live INTEGER NOT NULL,
        ids BLOB NOT NULL,
        PRIMARY KEY (day, domain)
    ) WITHOUT ROWID",
    // Every domain's counts of a day without samples, rules or dimensions (JSON {domain: Counts}), in
    // parts of at most 512 KB: what a list over a long window reads, a row per day.
    "CREATE TABLE IF NOT EXISTS day_totals (
        day INTEGER NOT NULL,
        part INTEGER NOT NULL,
        totals TEXT NOT NULL,
        PRIMARY KEY (day, part)
    ) WITHOUT ROWID",
    // (day, domain)s changed since their day was folded: the next cron run refolds them and deletes the
    // mark (a row written each way, once per (day, domain) however many late events).
    "CREATE TABLE IF NOT EXISTS day_dirty (
        day INTEGER NOT NULL,
        domain TEXT NOT NULL,
        PRIMARY KEY (day, domain)
    ) WITHOUT ROWID",
    // Mailgun's signature tokens, accepted once each: one row per minute of receipt holding that
    // minute's (token, body) hashes, 16 bytes each, rewritten by each Mailgun request (its one extra row written) and deleted
    // ten minutes on, when the signature's timestamp window refuses the token anyway.
    "CREATE TABLE IF NOT EXISTS nonces (
        minute INTEGER PRIMARY KEY,
        tokens BLOB NOT NULL
    )",
    // Small named values, each one row: `publish` (which hours changed since they were last published, and
    // which pages exist), `detector` (the detector's state: only the domains that can alert or have an
    // alert open), `notify` (what the notifications have said), `history` (the last day folded). Each is rewritten only when it changes.
    "CREATE TABLE IF NOT EXISTS meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID",
];

/// Creates the tables if they are missing.
pub fn migrate<Q: Sql>(sql: &Q) -> Result<(), SqlError> {
    for statement in SCHEMA {
        sql.exec(statement, &[])?;
    }
    Ok(())
}

/// Reads a meta value.
pub fn get_meta<Q: Sql>(sql: &Q, name: &str) -> Result<Option<String>, SqlError> {
    let rows = sql.exec("SELECT value FROM meta WHERE name = ?", &[name.into()])?;
    Ok(rows.first().and_then(|row| row.first()).and_then(|v| v.as_text()).map(str::to_owned))
}

/// Writes a meta value (one row written).
pub fn put_meta<Q: Sql>(sql: &Q, name: &str, value: &str) -> Result<(), SqlError> {
    sql.exec(
        "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[name.into(), value.into()],
    )?;
    Ok(())
}

/// A meta value as JSON, or its default when absent.
pub fn load_meta<Q: Sql, T: serde::de::DeserializeOwned + Default>(sql: &Q, name: &str) -> Result<T, SqlError> {
    match get_meta(sql, name)? {
        None => Ok(T::default()),
        Some(text) => crate::json::parse(&text).map_err(|e| SqlError(format!("stored {name} is corrupt: {e}"))),
    }
}

/// Writes a meta value as JSON when it differs from `before`; returns whether it wrote.
pub fn save_meta<Q: Sql, T: serde::Serialize + PartialEq>(
    sql: &Q,
    name: &str,
    before: &T,
    after: &T,
) -> Result<bool, SqlError> {
    if before == after {
        return Ok(false);
    }
    let text = serde_json::to_string(after).map_err(|e| SqlError(format!("cannot encode {name}: {e}")))?;
    put_meta(sql, name, &text)?;
    Ok(true)
}
