//! The counting object's logic over its SQLite: apply a request's events exactly once, answer reads of
//! what is not yet published, expire old buckets. Plain Rust over [`Sql`]; the Durable Object binding in
//! `src/shell` only turns requests into calls here.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::counters::{Buckets, Counts, Totals};
use crate::settings::{Settings, SpikeCodes};
use crate::sql::{column, exec_in, Sql, SqlError, SqlValue};

use crate::esp::{mailgun_nonce_seconds as nonce_window, Nonce};

use super::delta::Delta;
use super::publish::PublishState;

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

/// One `counts` row in memory: one part of an (hour, domain).
#[derive(Debug, Default)]
struct Part {
    part: u32,
    /// Counts by bucket start, the buckets of this hour only. Parsed for the newest part alone: events
    /// are only ever added to it, the older (full) parts are read for their ids.
    buckets: BTreeMap<u64, Counts>,
    /// The part's watched replies (451s by default) as stored (its `smtp_451` column).
    stored_451: u64,
    /// The ids of the events counted in this part, as stored: sorted `u64`s, little-endian, searched in
    /// place so that a busy hour's full parts are never decoded.
    ids: Vec<u8>,
    /// Ids added by this request.
    added: HashSet<u64>,
    changed: bool,
}

impl Part {
    fn holds(&self, id: u64) -> bool {
        self.added.contains(&id) || stored_ids_contain(&self.ids, id)
    }

    fn full(&self) -> bool {
        self.ids.len() / 8 + self.added.len() >= MAX_IDS_PER_PART
    }

    fn watched(&self, codes: &SpikeCodes) -> u64 {
        if self.changed {
            self.buckets.values().map(|c| c.watched(codes)).sum()
        } else {
            self.stored_451
        }
    }
}

/// Every part of one (hour, domain), as loaded by a request.
#[derive(Debug, Default)]
struct Group {
    parts: Vec<Part>,
    /// The hour's 451s as stored, before this request.
    stored_451: u64,
    /// Rows stored before this request: none means the request opens the domain's hour.
    stored_parts: usize,
}

impl Group {
    fn watched(&self, codes: &SpikeCodes) -> u64 {
        self.parts.iter().map(|p| p.watched(codes)).sum()
    }

    fn holds(&self, id: u64) -> bool {
        self.parts.iter().any(|p| p.holds(id))
    }

    /// Where the next event goes: the newest part, or a new one once it is full, so that a hot domain's
    /// hour is several rows of bounded size and an event still rewrites only one of them.
    fn writable(&mut self) -> &mut Part {
        if self.parts.last().is_none_or(Part::full) {
            let part = self.parts.last().map_or(0, |p| p.part + 1);
            self.parts.push(Part { part, ..Part::default() });
        }
        self.parts.last_mut().expect("pushed above")
    }
}

/// The counting object over its SQL storage.
pub struct CounterObject<'a, Q: Sql> {
    pub sql: &'a Q,
    pub settings: &'a Settings,
}

impl<'a, Q: Sql> CounterObject<'a, Q> {
    /// Over tables [`super::schema::migrate`] has created.
    pub fn new(sql: &'a Q, settings: &'a Settings) -> Self {
        CounterObject { sql, settings }
    }

    /// Counts every event of `delta` whose id this object has not counted yet, in one atomic unit (no
    /// await in here: the runtime commits it whole, and answers only once it is durable).
    pub fn apply(&self, delta: &Delta, now: u64) -> Result<Applied, SqlError> {
        let before = self.sql.ops().rows_written;
        let mut applied = Applied::default();
        let mut groups: HashMap<(u64, u32), Group> = HashMap::new();
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
        let oldest_hourly = super::history::oldest_hourly(self.settings, now);
        let first_whole = super::history::first_whole_day(self.settings, now);
        let mut old = Vec::new();
        let mut edge = Vec::new();
        for event in &delta.events {
            if event.bucket < oldest_hourly {
                old.push(event);
                continue;
            }
            let domain = delta.domains.get(event.domain as usize).ok_or_else(|| bad_delta("domain index"))?;
            let id_key = (hour_of(event.id_bucket()), event.domain);
            let id_group = self.group(&mut groups, id_key, domain, now)?;
            if id_group.holds(event.id) {
                applied.duplicates += 1;
                continue;
            }
            let mut streams = Vec::new();
            let (sample, rule) = delta.resolve(event, &mut streams).map_err(bad_delta)?;
            // Usually the same part: only an event stamped in the future is counted in another hour than
            // the one its id is kept under.
            let id_part = id_group.writable();
            id_part.added.insert(event.id);
            id_part.changed = true;
            let count_group = self.group(&mut groups, (hour_of(event.bucket), event.domain), domain, now)?;
            let part = count_group.writable();
            if part.buckets.entry(event.bucket).or_default().add(event.counted(sample, rule, &streams)) {
                part.changed = true;
                applied.accepted += 1;
                if event.bucket < first_whole {
                    edge.push(event);
                }
            }
        }
        let mut hours = BTreeSet::new();
        let hot = hot_threshold(self.settings);
        let mut opened = Vec::new();
        let mut touched = BTreeSet::new();
        for ((hour, domain), group) in groups {
            let name = &delta.domains[domain as usize];
            if group.parts.iter().any(|p| p.changed) {
                touched.insert((super::history::day_of(hour), name.as_str()));
                if group.stored_parts == 0 {
                    opened.push((hour, name.as_str()));
                }
            }
            let now_watched = group.watched(&self.settings.spike_codes);
            if group.stored_451 < hot && now_watched >= hot {
                // Once per (hour, domain) that gets busy: the cron looks at these domains, not at all.
                self.sql.exec(
                    "INSERT OR IGNORE INTO hot (hour, domain) VALUES (?, ?)",
                    &[hour.into(), name.as_str().into()],
                )?;
            }
            for part in group.parts.into_iter().filter(|p| p.changed) {
                self.write_part(hour, name, part, now)?;
                hours.insert(hour);
            }
        }
        super::providers::record(self.sql, &opened, now)?;
        super::history::mark_late(self.sql, &touched, now)?;
        super::history::add_to_edge_day(self.sql, delta, &edge)?;
        let backfilled = super::history::backfill(self.sql, delta, &old)?;
        applied.accepted += backfilled.accepted;
        applied.duplicates += backfilled.duplicates;
        let mut signed = Vec::with_capacity(delta.signed.len());
        for (index, provider) in &delta.signed {
            signed.push((
                delta.domains.get(*index as usize).ok_or_else(|| bad_delta("signed domain index"))?.as_str(),
                provider,
            ));
        }
        // After the rows are written: a domain filed under a provider now is summed with this request in.
        hours.extend(super::providers::sign(self, &signed, now)?);
        PublishState::mark_dirty(self.sql, hours)?;
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

    fn group<'g>(
        &self,
        groups: &'g mut HashMap<(u64, u32), Group>,
        key: (u64, u32),
        domain: &str,
        now: u64,
    ) -> Result<&'g mut Group, SqlError> {
        match groups.entry(key) {
            std::collections::hash_map::Entry::Occupied(entry) => Ok(entry.into_mut()),
            std::collections::hash_map::Entry::Vacant(entry) => Ok(entry.insert(self.load_group(key.0, domain, now)?)),
        }
    }

    fn load_group(&self, hour: u64, domain: &str, now: u64) -> Result<Group, SqlError> {
        let found = self.sql.exec(
            "SELECT part, counts, ids, written, smtp_451 FROM counts WHERE hour = ? AND domain = ? ORDER BY part",
            &[hour.into(), domain.into()],
        )?;
        let mut group = Group::default();
        for (i, row) in found.iter().enumerate() {
            let written = column(row, 3, SqlValue::as_u64)?;
            // Every id in the part arrived at or before its last write: once that is DEDUP_HOURS ago, all
            // of them are past the window, and the part sheds them the next time it is written anyway.
            let ids = if written + self.settings.dedup_secs <= now {
                Vec::new()
            } else {
                let ids = column(row, 2, SqlValue::as_blob)?;
                if ids.len() % 8 != 0 {
                    return Err(SqlError("stored event ids are corrupt".into()));
                }
                ids.to_vec()
            };
            let newest = i + 1 == found.len();
            group.parts.push(Part {
                part: u32::try_from(column(row, 0, SqlValue::as_u64)?)
                    .map_err(|_| SqlError("stored part number is out of range".into()))?,
                buckets: if newest { parse_counts(column(row, 1, SqlValue::as_text)?)? } else { BTreeMap::new() },
                stored_451: column(row, 4, SqlValue::as_u64)?,
                ids,
                added: HashSet::new(),
                changed: false,
            });
        }
        group.stored_451 = group.watched(&self.settings.spike_codes);
        group.stored_parts = found.len();
        Ok(group)
    }

    fn write_part(&self, hour: u64, domain: &str, part: Part, now: u64) -> Result<(), SqlError> {
        let mut ids = decode_ids(&part.ids)?;
        ids.extend(part.added);
        ids.sort_unstable();
        let mut totals = Totals::default();
        for counts in part.buckets.values() {
            totals += Totals::of(counts, &self.settings.spike_codes);
        }
        let counts =
            serde_json::to_string(&part.buckets).map_err(|e| SqlError(format!("cannot encode counts: {e}")))?;
        self.sql.exec(
            "INSERT INTO counts (hour, domain, part, smtp_451, attempts, delivered, counts, ids, written)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (hour, domain, part) DO UPDATE SET smtp_451 = excluded.smtp_451,
               attempts = excluded.attempts, delivered = excluded.delivered, counts = excluded.counts,
               ids = excluded.ids, written = excluded.written",
            &[
                hour.into(),
                domain.into(),
                u64::from(part.part).into(),
                totals.smtp_451.into(),
                totals.attempts.into(),
                totals.delivered.into(),
                counts.into(),
                encode_ids(&ids).into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// Every bucket of the hours starting at `hours` (hour starts), per domain; empty counts (ids only)
    /// left out.
    pub fn hours(&self, hours: impl IntoIterator<Item = u64>, domain: Option<&str>) -> Result<Buckets, SqlError> {
        let mut buckets = Buckets::new();
        for hour in hours {
            let rows = match domain {
                Some(domain) => self.sql.exec(
                    "SELECT domain, counts FROM counts WHERE hour = ? AND domain = ?",
                    &[hour.into(), domain.into()],
                )?,
                None => self.sql.exec("SELECT domain, counts FROM counts WHERE hour = ?", &[hour.into()])?,
            };
            for row in &rows {
                let domain = column(row, 0, SqlValue::as_text)?;
                for (bucket, counts) in parse_counts(column(row, 1, SqlValue::as_text)?)? {
                    if counts.is_empty() {
                        continue;
                    }
                    // Moved in when it is the (bucket, domain)'s first row, as nearly always: merging into an
                    // empty Counts would copy every sample and stream value (the cron's publish reads every
                    // row of an hour this way).
                    match buckets.entry(bucket).or_default().entry(domain.to_owned()) {
                        Entry::Vacant(slot) => {
                            slot.insert(counts);
                        }
                        Entry::Occupied(mut slot) => slot.get_mut().merge(&counts),
                    }
                }
            }
        }
        Ok(buckets)
    }

    /// Deletes the hours that left the retention whole (one row written per row deleted); returns how
    /// many. The hour the retention's edge falls in stays until its last bucket has gone: reads are by
    /// range, so its older buckets are never shown.
    pub fn expire(&self, now: u64) -> Result<u64, SqlError> {
        let oldest_kept = self.settings.bucket_of(now.saturating_sub(self.settings.retention_secs));
        let before = self.sql.ops().rows_written;
        self.sql.exec("DELETE FROM counts WHERE hour < ?", &[hour_of(oldest_kept).into()])?;
        self.sql.exec("DELETE FROM hot WHERE hour < ?", &[hour_of(oldest_kept).into()])?;
        self.sql.exec("DELETE FROM provider_sums WHERE hour < ?", &[hour_of(oldest_kept).into()])?;
        self.sql.exec("DELETE FROM nonces WHERE minute < ?", &[(now.saturating_sub(NONCE_SECONDS) / 60).into()])?;
        Ok(self.sql.ops().rows_written - before)
    }

    /// The domains that may have [`Settings::min_451`] 451s in `first..=last`: those with an hour
    /// overlapping it that reached [`hot_threshold`]. A superset of the domains that can alert, read
    /// without touching the rows of the others.
    pub fn hot_domains(&self, first: u64, last: u64) -> Result<BTreeSet<String>, SqlError> {
        let rows = self.sql.exec(
            "SELECT domain FROM hot WHERE hour >= ? AND hour <= ?",
            &[hour_of(first).into(), hour_of(last).into()],
        )?;
        let mut domains = BTreeSet::new();
        for row in &rows {
            domains.insert(column(row, 0, SqlValue::as_text)?.to_owned());
        }
        Ok(domains)
    }

    /// Whether `domain` has a row in an hour of `first..=last`: at most one row read (each hour's row of
    /// the domain is sought, newest first, and the first found ends it).
    pub fn has_counts(&self, domain: &str, first: u64, last: u64) -> Result<bool, SqlError> {
        let hours = (hour_of(first)..=hour_of(last)).rev().step_by(HOUR as usize).map(SqlValue::from);
        let mut found = false;
        let query = "SELECT 1 FROM counts WHERE domain = ? AND hour IN ({}) LIMIT 1";
        exec_in(self.sql, query, &[domain.into()], hours, |rows| {
            found = !rows.is_empty();
            Ok(!found)
        })?;
        Ok(found)
    }

    /// `domain`'s counts of every bucket in `first..=last`. Seeks each hour's rows of the domain (an
    /// `IN` list of hours: a range on the hour would scan every domain's rows of the range).
    pub fn domain_range(&self, domain: &str, first: u64, last: u64) -> Result<BTreeMap<u64, Counts>, SqlError> {
        let hours = (hour_of(first)..=hour_of(last)).step_by(HOUR as usize).map(SqlValue::from);
        let mut by_bucket: BTreeMap<u64, Counts> = BTreeMap::new();
        let query = "SELECT counts FROM counts WHERE domain = ? AND hour IN ({})";
        exec_in(self.sql, query, &[domain.into()], hours, |rows| {
            for row in &rows {
                for (bucket, counts) in parse_counts(column(row, 0, SqlValue::as_text)?)? {
                    if (first..=last).contains(&bucket) {
                        by_bucket.entry(bucket).or_default().merge(&counts);
                    }
                }
            }
            Ok(true)
        })?;
        Ok(by_bucket)
    }
}

/// The hour's 451s at which a domain is marked hot: a window overlaps at most this many hours, so a
/// domain with [`Settings::min_451`] 451s in it has an hour with at least this share of them.
pub fn hot_threshold(settings: &Settings) -> u64 {
    let hours = settings.window_secs.div_ceil(HOUR) + 1;
    settings.min_451.div_ceil(hours).max(1)
}

/// Ids a part holds before the next event opens a new part: 64 KB of ids, so a one-event webhook on the
/// busiest domain rewrites a bounded row (a row may hold 2 MB), and a domain's hour can take any volume.
const MAX_IDS_PER_PART: usize = 8_192;

/// How long a nonce is remembered.
const NONCE_SECONDS: u64 = nonce_window();

/// Seconds in an hour page.
pub const HOUR: u64 = 3600;

/// The start of the hour page holding `bucket`.
pub fn hour_of(bucket: u64) -> u64 {
    bucket - bucket % HOUR
}

fn parse_counts(text: &str) -> Result<BTreeMap<u64, Counts>, SqlError> {
    crate::json::parse(text).map_err(|e| SqlError(format!("stored counts are corrupt: {e}")))
}

pub(super) fn bad_delta(what: &str) -> SqlError {
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

/// Binary search over stored ids without decoding them (`bytes` is a whole number of ids, checked at load).
fn stored_ids_contain(bytes: &[u8], id: u64) -> bool {
    let at = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let (mut low, mut high) = (0, bytes.len() / 8);
    while low < high {
        let mid = (low + high) / 2;
        match at(mid).cmp(&id) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => low = mid + 1,
            std::cmp::Ordering::Greater => high = mid,
        }
    }
    false
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
