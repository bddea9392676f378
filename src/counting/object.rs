//! The counting object's logic over its SQLite: apply a request's events exactly once, answer reads of
//! what is not yet published, expire old buckets. Plain Rust over [`Sql`]; the Durable Object binding in
//! `src/shell` only turns requests into calls here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::counters::{Buckets, Counts, Totals};
use crate::settings::Settings;
use crate::sql::{column, Row, Sql, SqlError, SqlValue};

use crate::esp::{mailgun_nonce_seconds as nonce_window, Nonce};

use super::delta::Delta;
use super::publish::PublishState;
use super::schema;

/// What applying one delta did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Events counted for the first time.
    pub accepted: usize,
    /// Events whose id was already counted (a redelivery, a regrouped batch, a repeat in the same body).
    pub duplicates: usize,
    /// Rows this request wrote: the billed unit.
    pub rows_written: u64,
    /// The delta's nonce was already used: nothing was counted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
}

/// One `counts` row in memory.
#[derive(Debug, Default)]
struct CountsRow {
    counts: Counts,
    /// Sorted ids of the events counted in this row, as stored.
    ids: Vec<u64>,
    /// Ids added by this request.
    added: HashSet<u64>,
    changed: bool,
}

impl CountsRow {
    fn holds(&self, id: u64) -> bool {
        self.added.contains(&id) || self.ids.binary_search(&id).is_ok()
    }
}

/// The counting object over its SQL storage.
pub struct CounterObject<'a, Q: Sql> {
    pub sql: &'a Q,
    pub settings: &'a Settings,
}

impl<'a, Q: Sql> CounterObject<'a, Q> {
    pub fn new(sql: &'a Q, settings: &'a Settings) -> Result<Self, SqlError> {
        schema::migrate(sql)?;
        Ok(CounterObject { sql, settings })
    }

    /// Counts every event of `delta` whose id this object has not counted yet, in one atomic unit (no
    /// await in here: the runtime commits it whole, and answers only once it is durable).
    pub fn apply(&self, delta: &Delta, now: u64) -> Result<Applied, SqlError> {
        let before = self.sql.ops().rows_written;
        let mut applied = Applied::default();
        let mut rows: HashMap<(u64, u32), CountsRow> = HashMap::new();
        if let Some(nonce) = delta.nonce {
            match self.accept_nonce(nonce, now)? {
                TokenSeen::New => {}
                // Recorded in the same unit as the counts, so the earlier request's events are all counted:
                // the ESP retried after losing the answer.
                TokenSeen::SameBody => {
                    applied.duplicates = delta.events.len();
                    return Ok(applied);
                }
                TokenSeen::OtherBody => {
                    applied.replay = true;
                    return Ok(applied);
                }
            }
        }
        for event in &delta.events {
            let domain = delta.domains.get(event.domain as usize).ok_or_else(|| bad_delta("domain index"))?;
            let id_key = (event.id_bucket(), event.domain);
            let id_row = self.row(&mut rows, id_key, domain, now)?;
            if id_row.holds(event.id) {
                applied.duplicates += 1;
                continue;
            }
            id_row.added.insert(event.id);
            id_row.changed = true;
            let sample = match event.sample {
                Some(i) => Some(delta.samples.get(i as usize).ok_or_else(|| bad_delta("sample index"))?.as_str()),
                None => None,
            };
            let count_row = self.row(&mut rows, (event.bucket, event.domain), domain, now)?;
            if count_row.counts.add(event.kind, event.smtp_code, event.category, sample) {
                count_row.changed = true;
                applied.accepted += 1;
            }
        }
        let mut hours = BTreeSet::new();
        for ((bucket, domain), row) in rows.into_iter().filter(|(_, row)| row.changed) {
            let name = &delta.domains[domain as usize];
            self.write_row(bucket, name, row, now)?;
            hours.insert(hour_of(bucket));
        }
        let mut publish = PublishState::load(self.sql)?;
        let before_publish = publish.clone();
        publish.dirty.extend(hours);
        publish.save(self.sql, &before_publish)?;
        applied.rows_written = self.sql.ops().rows_written - before;
        Ok(applied)
    }

    /// Records a token with its body unless the token was seen within [`NONCE_SECONDS`].
    fn accept_nonce(&self, nonce: Nonce, now: u64) -> Result<TokenSeen, SqlError> {
        let minute = now / 60;
        let rows = self.sql.exec(
            "SELECT minute, tokens FROM nonces WHERE minute >= ?",
            &[(now.saturating_sub(NONCE_SECONDS) / 60).into()],
        )?;
        let mut current = Vec::new();
        for row in &rows {
            let seen = decode_nonces(column(row, 1, SqlValue::as_blob)?)?;
            if let Some(earlier) = seen.iter().find(|n| n.token == nonce.token) {
                return Ok(if earlier.body == nonce.body { TokenSeen::SameBody } else { TokenSeen::OtherBody });
            }
            if column(row, 0, SqlValue::as_u64)? == minute {
                current = seen;
            }
        }
        current.push(nonce);
        self.sql.exec(
            "INSERT INTO nonces (minute, tokens) VALUES (?, ?) ON CONFLICT (minute) DO UPDATE SET tokens = excluded.tokens",
            &[minute.into(), encode_nonces(&current).into()],
        )?;
        Ok(TokenSeen::New)
    }

    fn row<'r>(
        &self,
        rows: &'r mut HashMap<(u64, u32), CountsRow>,
        key: (u64, u32),
        domain: &str,
        now: u64,
    ) -> Result<&'r mut CountsRow, SqlError> {
        match rows.entry(key) {
            std::collections::hash_map::Entry::Occupied(entry) => Ok(entry.into_mut()),
            std::collections::hash_map::Entry::Vacant(entry) => Ok(entry.insert(self.load_row(key.0, domain, now)?)),
        }
    }

    fn load_row(&self, bucket: u64, domain: &str, now: u64) -> Result<CountsRow, SqlError> {
        let found = self.sql.exec(
            "SELECT counts, ids, written FROM counts WHERE bucket = ? AND domain = ?",
            &[bucket.into(), domain.into()],
        )?;
        let Some(row) = found.first() else {
            return Ok(CountsRow::default());
        };
        let counts = parse_counts(column(row, 0, SqlValue::as_text)?)?;
        let written = column(row, 2, SqlValue::as_u64)?;
        // Every id in the row arrived at or before its last write: once that is DEDUP_HOURS ago, all of
        // them are past the window, and the row sheds them the next time it is written anyway.
        let ids = if written + self.settings.dedup_secs <= now {
            Vec::new()
        } else {
            decode_ids(column(row, 1, SqlValue::as_blob)?)?
        };
        Ok(CountsRow { counts, ids, added: HashSet::new(), changed: false })
    }

    fn write_row(&self, bucket: u64, domain: &str, row: CountsRow, now: u64) -> Result<(), SqlError> {
        let mut ids = row.ids;
        ids.extend(row.added);
        ids.sort_unstable();
        let counts = serde_json::to_string(&row.counts).map_err(|e| SqlError(format!("cannot encode counts: {e}")))?;
        self.sql.exec(
            "INSERT INTO counts (bucket, domain, smtp_451, attempts, delivered, counts, ids, written)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (bucket, domain) DO UPDATE SET smtp_451 = excluded.smtp_451,
               attempts = excluded.attempts, delivered = excluded.delivered, counts = excluded.counts,
               ids = excluded.ids, written = excluded.written",
            &[
                bucket.into(),
                domain.into(),
                row.counts.smtp_451.into(),
                row.counts.attempts().into(),
                row.counts.delivered.into(),
                counts.into(),
                encode_ids(&ids).into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// Every bucket of the hours starting at `hours` (hour starts), per domain; empty rows (ids only) left out.
    pub fn hours(&self, hours: impl IntoIterator<Item = u64>, domain: Option<&str>) -> Result<Buckets, SqlError> {
        let mut buckets = Buckets::new();
        for hour in hours {
            let rows = match domain {
                Some(domain) => self.sql.exec(
                    "SELECT bucket, domain, counts FROM counts WHERE bucket >= ? AND bucket < ? AND domain = ?",
                    &[hour.into(), (hour + HOUR).into(), domain.into()],
                )?,
                None => self.sql.exec(
                    "SELECT bucket, domain, counts FROM counts WHERE bucket >= ? AND bucket < ?",
                    &[hour.into(), (hour + HOUR).into()],
                )?,
            };
            for row in &rows {
                let (bucket, domain, counts) = read_counts_row(row)?;
                if !counts.is_empty() {
                    buckets.entry(bucket).or_default().insert(domain, counts);
                }
            }
        }
        Ok(buckets)
    }

    /// Deletes the buckets that left the retention (one row written per row deleted); returns how many.
    pub fn expire(&self, now: u64) -> Result<u64, SqlError> {
        let oldest_kept = self.settings.bucket_of(now.saturating_sub(self.settings.retention_secs));
        let before = self.sql.ops().rows_written;
        self.sql.exec("DELETE FROM counts WHERE bucket < ?", &[oldest_kept.into()])?;
        self.sql.exec("DELETE FROM nonces WHERE minute < ?", &[(now.saturating_sub(NONCE_SECONDS) / 60).into()])?;
        Ok(self.sql.ops().rows_written - before)
    }

    /// The number columns of every row in `first..=last`: `(bucket, domain, smtp_451, attempts, delivered)`.
    pub fn totals(&self, first: u64, last: u64) -> Result<Vec<(u64, String, Totals)>, SqlError> {
        let rows = self.sql.exec(
            "SELECT bucket, domain, smtp_451, attempts, delivered FROM counts WHERE bucket >= ? AND bucket <= ?",
            &[first.into(), last.into()],
        )?;
        rows.iter()
            .map(|row| {
                Ok((
                    column(row, 0, SqlValue::as_u64)?,
                    column(row, 1, SqlValue::as_text)?.to_owned(),
                    Totals {
                        smtp_451: column(row, 2, SqlValue::as_u64)?,
                        attempts: column(row, 3, SqlValue::as_u64)?,
                        delivered: column(row, 4, SqlValue::as_u64)?,
                    },
                ))
            })
            .collect()
    }

    /// The full counts of the rows in `first..=last` for the domains `wanted` accepts, summed per domain.
    pub fn window_counts(
        &self,
        first: u64,
        last: u64,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, Counts>, SqlError> {
        let rows = self.sql.exec(
            "SELECT bucket, domain, counts FROM counts WHERE bucket >= ? AND bucket <= ?",
            &[first.into(), last.into()],
        )?;
        let mut sums: BTreeMap<String, Counts> = BTreeMap::new();
        for row in &rows {
            let domain = column(row, 1, SqlValue::as_text)?;
            if wanted(domain) {
                let counts = parse_counts(column(row, 2, SqlValue::as_text)?)?;
                sums.entry(domain.to_owned()).or_default().merge(&counts);
            }
        }
        Ok(sums)
    }
}

/// How long a nonce is remembered.
const NONCE_SECONDS: u64 = nonce_window();

/// Seconds in an hour page.
pub const HOUR: u64 = 3600;

/// The start of the hour page holding `bucket`.
pub fn hour_of(bucket: u64) -> u64 {
    bucket - bucket % HOUR
}

fn read_counts_row(row: &Row) -> Result<(u64, String, Counts), SqlError> {
    Ok((
        column(row, 0, SqlValue::as_u64)?,
        column(row, 1, SqlValue::as_text)?.to_owned(),
        parse_counts(column(row, 2, SqlValue::as_text)?)?,
    ))
}

fn parse_counts(text: &str) -> Result<Counts, SqlError> {
    serde_json::from_str(text).map_err(|e| SqlError(format!("stored counts are corrupt: {e}")))
}

fn bad_delta(what: &str) -> SqlError {
    SqlError(format!("the request names a {what} it does not carry"))
}

enum TokenSeen {
    New,
    SameBody,
    OtherBody,
}

fn encode_nonces(nonces: &[Nonce]) -> Vec<u8> {
    nonces.iter().flat_map(|n| [n.token, n.body]).flat_map(u64::to_le_bytes).collect()
}

fn decode_nonces(bytes: &[u8]) -> Result<Vec<Nonce>, SqlError> {
    if bytes.len() % 16 != 0 {
        return Err(SqlError("stored signature tokens are corrupt".into()));
    }
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("chunks of 8"));
    Ok(bytes.chunks_exact(16).map(|c| Nonce { token: word(&c[..8]), body: word(&c[8..]) }).collect())
}

fn encode_ids(ids: &[u64]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_le_bytes()).collect()
}

fn decode_ids(bytes: &[u8]) -> Result<Vec<u64>, SqlError> {
    if bytes.len() % 8 != 0 {
        return Err(SqlError("stored event ids are corrupt".into()));
    }
    let mut ids: Vec<u64> =
        bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8"))).collect();
    // Written sorted; sorting again costs nothing then and keeps a hand-edited row correct.
    ids.sort_unstable();
    Ok(ids)
}
