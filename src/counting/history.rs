//! Daily history: every recipient domain's counts per UTC day, kept `HISTORY_DAYS` (400 by default) in
//! the counting object's SQLite, where the hourly counts last `RETENTION_DAYS`.
//!
//! ## Tables ([`super::schema`])
//! - `days`: one row per (day, domain) with traffic: the day's whole [`Counts`] (samples, rules and
//!   sending dimensions included, each bounded as in an hour's row), what a domain's page reads over a
//!   long window (a row a day).
//! - `day_totals`: one row per day (in parts of at most [`PART_BYTES`]) holding every domain's counts of
//!   that day without samples, rules or dimensions: what a list of every domain reads (a row a day, not a
//!   row per domain and day).
//! - `day_dirty`: the (day, domain)s changed since their day was folded, refolded by the next cron run.
//!
//! ## How a day gets there
//! - **Folded** when it closes: from the first cron run [`FOLD_GRACE_SECS`] after midnight UTC, each run
//!   reads the day's hourly rows of the next [`FOLD_DOMAINS_PER_RUN`] domains and writes their `days` rows
//!   and a `day_totals` part (a day of 1,000 domains is one run, of 100,000 a hundred). The fold is a
//!   snapshot of the hourly rows, so folding again (a crash between the fold and its bookkeeping, or a
//!   late event) writes the same values: idempotent by construction. On the first run of this version
//!   every closed day still wholly in the retention is folded, one after the other.
//! - **Late events** (a day already folded, still in the retention) are counted in the hourly rows as
//!   always, and the (day, domain) is marked in `day_dirty`; the next run refolds that domain's day from
//!   its hourly rows and replaces its entry in the day's totals.
//! - **The retention's edge**: the day the retention's edge falls in is no longer whole in the hourly rows
//!   and is never refolded; a new event for it (its hours tell it from a repeat) is added to its day's row
//!   as well.
//! - **Backfill**: an event older than the retention but inside the history (an ESP replaying a month, an
//!   import) is counted straight into its (day, domain) row, whose `ids` hold the ids of the events
//!   counted that way, so a replay of the replay counts nothing. A (day, domain) that was folded from live
//!   hourly rows (`live`) takes no backfill: the ids of its events expired with its hours, so an event
//!   arriving for it now cannot be told from one already counted, and is answered as a duplicate. A
//!   day bouncewatch did not count (before it was installed, or a domain it never saw that day) takes it.
//!
//! ## What it costs (one shard, `D` domains with traffic a day)
//! | what | rows read | rows written |
//! |---|---|---|
//! | the daily fold | the day's hourly rows (`D` × active hours), at most 24 × 1,000 a run | `D` + a totals part per 1,000 domains + the state per run |
//! | a late event for a folded day | 1 (the history state) | 1 the first time its (day, domain) is marked, 1 to clear it, and the refold: its hourly rows read, its day row and the totals part rewritten |
//! | a backfilled event | its (day, domain) row + the history state | that row, and its mark as above |
//! | expiry, once `HISTORY_DAYS` have passed | none | `D` + parts a day |
//! | a list over N days (`/api/domains?window=30d`) | N totals rows (2N with the period before) | none |
//! | one domain over N days | N rows (2N with the period before) | none |

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::counters::{Counts, DomainCounts};
use crate::settings::Settings;
use crate::sql::{column, Sql, SqlError, SqlValue};

use super::delta::{Delta, DeltaEvent};
use super::object::{bad_delta, CounterObject, HOUR};
use super::schema;

/// Seconds in a day.
pub const DAY: u64 = 86_400;
/// How long after midnight a day is folded: most late events (an ESP's batching, its first retries)
/// arrive within it, and each later one costs a refold of its domain's day.
pub const FOLD_GRACE_SECS: u64 = 3600;
/// The largest part of a day's totals, in bytes of JSON: a SQLite row may hold 2 MB.
pub const PART_BYTES: usize = 512 * 1024;
/// (day, domain)s refolded per run at most; more (a big replay) wait for the next run.
const MAX_REFOLDS_PER_RUN: usize = 500;

const META: &str = "history";

/// The start of the UTC day holding `t`.
pub fn day_of(t: u64) -> u64 {
    t - t % DAY
}

/// The history's bookkeeping: one `meta` row, rewritten by each run that folds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryState {
    /// The last day folded whole from its hours (none yet: 0).
    #[serde(default)]
    pub folded: u64,
    /// The day being folded, when it takes more than one run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folding: Option<Folding>,
}

/// How far the fold of a day has come: a run folds at most [`FOLD_DOMAINS_PER_RUN`] domains, so a day
/// of 100,000 domains is folded over a hundred runs and no run reads more than a bounded number of rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folding {
    pub day: u64,
    /// The last domain folded (in byte order).
    pub after: String,
    /// The totals parts written so far.
    pub parts: u64,
}

impl HistoryState {
    /// Whether `domain`'s row of `day` has been folded: a later change needs a refold.
    fn has_folded(&self, day: u64, domain: &str) -> bool {
        day <= self.folded || self.folding.as_ref().is_some_and(|f| f.day == day && domain <= f.after.as_str())
    }
}

/// Domains a run folds at most: it reads at most this many rows per hour of the day.
pub const FOLD_DOMAINS_PER_RUN: usize = 1_000;

impl HistoryState {
    pub fn load<Q: Sql>(sql: &Q) -> Result<HistoryState, SqlError> {
        schema::load_meta(sql, META)
    }
}

/// What a cron run did to the history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldReport {
    /// The day folded whole this run, if one closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded: Option<u64>,
    /// (day, domain)s refolded after late or backfilled events.
    pub refolded: usize,
    /// Rows deleted past `HISTORY_DAYS`.
    pub expired_rows: u64,
}

/// The first day whose buckets are all still in the hourly rows: only such a day can be folded (or
/// refolded) from them.
pub fn first_whole_day(settings: &Settings, now: u64) -> u64 {
    oldest_hourly(settings, now).div_ceil(DAY) * DAY
}

/// The oldest bucket the hourly rows keep: an event before it is backfilled.
pub fn oldest_hourly(settings: &Settings, now: u64) -> u64 {
    settings.bucket_of(now.saturating_sub(settings.retention_secs))
}

/// The oldest day the history keeps: an event before it is `stale`.
pub fn first_kept_day(settings: &Settings, now: u64) -> u64 {
    day_of(now).saturating_sub(settings.history_secs)
}

/// The cron's share: fold the day that closed, refold what changed, expire what left the history. No
/// await inside, so the whole is one atomic unit of the object's storage.
pub fn fold<Q: Sql>(object: &CounterObject<'_, Q>, now: u64) -> Result<FoldReport, SqlError> {
    let sql = object.sql;
    let before = HistoryState::load(sql)?;
    let mut state = before.clone();
    let mut report = FoldReport::default();
    let first_whole = first_whole_day(object.settings, now);
    let next = if state.folded == 0 { first_whole } else { (state.folded + DAY).max(first_whole) };
    if state.folding.is_some() || next + DAY + FOLD_GRACE_SECS <= now {
        let mut folding = state.folding.take().unwrap_or(Folding { day: next, ..Folding::default() });
        if fold_batch(object, &mut folding)? {
            state.folded = folding.day;
            report.folded = Some(folding.day);
        } else {
            state.folding = Some(folding);
        }
    }
    report.refolded = refold(object, state.folded, first_whole)?;
    let first_kept = first_kept_day(object.settings, now);
    let written = sql.ops().rows_written;
    for table in ["days", "day_totals", "day_dirty"] {
        sql.exec(&format!("DELETE FROM {table} WHERE day < ?"), &[first_kept.into()])?;
    }
    report.expired_rows = sql.ops().rows_written - written;
    schema::save_meta(sql, META, &before, &state)?;
    Ok(report)
}

/// Folds the next domains of `folding.day` after `folding.after`: their rows of the day and a totals part.
/// Each hour gives its first rows past the cursor; every domain before the first name a full hour stopped
/// at has all its rows in hand, so those are folded and the cursor moves past them. Returns whether the
/// day is done. Folding a batch again (a crash before the state was saved) writes the same rows.
fn fold_batch<Q: Sql>(object: &CounterObject<'_, Q>, folding: &mut Folding) -> Result<bool, SqlError> {
    let sql = object.sql;
    let day = folding.day;
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut bound: Option<String> = None;
    let query = format!(
        "SELECT domain, counts FROM counts WHERE hour = ? AND domain > ? ORDER BY domain, part LIMIT {FOLD_DOMAINS_PER_RUN}"
    );
    for hour in (day..day + DAY).step_by(HOUR as usize) {
        let found = sql.exec(&query, &[hour.into(), folding.after.as_str().into()])?;
        let full = found.len() == FOLD_DOMAINS_PER_RUN;
        for row in &found {
            rows.push((column(row, 0, SqlValue::as_text)?.to_owned(), column(row, 1, SqlValue::as_text)?.to_owned()));
        }
        if full {
            let last = rows.last().map(|(d, _)| d.clone()).unwrap_or_default();
            bound = Some(bound.map_or(last.clone(), |b: String| b.min(last)));
        }
    }
    let mut per_domain = DomainCounts::new();
    for (domain, counts) in rows {
        if bound.as_ref().is_some_and(|b| domain >= *b) {
            continue;
        }
        let buckets: BTreeMap<u64, Counts> = parse(&counts)?;
        let into = per_domain.entry(domain).or_default();
        buckets.values().for_each(|c| into.merge(c));
    }
    // One domain with more rows in an hour than a run reads (millions of events in it): alone, whole.
    if let (true, Some(domain)) = (per_domain.is_empty(), &bound) {
        per_domain.insert(domain.clone(), merged(object.domain_range(domain, day, day + DAY - 1)?.values()));
    }
    per_domain.retain(|_, counts| !counts.is_empty());
    for (domain, counts) in &per_domain {
        write_day(sql, day, domain, counts, true, &[])?;
    }
    let totals: DomainCounts = per_domain.iter().map(|(d, c)| (d.clone(), totals_of(c))).collect();
    folding.parts += write_totals(sql, day, &totals, folding.parts)?;
    let done = bound.is_none();
    if done {
        // Parts a different fold of the day left beyond these.
        sql.exec("DELETE FROM day_totals WHERE day = ? AND part >= ?", &[day.into(), folding.parts.into()])?;
    } else if let Some(last) = per_domain.keys().next_back() {
        folding.after = last.clone();
    }
    Ok(done)
}

/// Refolds the marked (day, domain)s of days already folded: from the hourly rows while the day is whole
/// in them, from the day's own row otherwise (backfill wrote it). Returns how many.
fn refold<Q: Sql>(object: &CounterObject<'_, Q>, folded: u64, first_whole: u64) -> Result<usize, SqlError> {
    let sql = object.sql;
    let rows = sql.exec(
        &format!("SELECT day, domain FROM day_dirty WHERE day <= ? ORDER BY day LIMIT {MAX_REFOLDS_PER_RUN}"),
        &[folded.into()],
    )?;
    let mut by_day: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for row in &rows {
        by_day
            .entry(column(row, 0, SqlValue::as_u64)?)
            .or_default()
            .push(column(row, 1, SqlValue::as_text)?.to_owned());
    }
    for (day, domains) in &by_day {
        let mut totals = read_totals(sql, *day)?;
        for domain in domains {
            let counts = if *day >= first_whole {
                let counts = merged(object.domain_range(domain, *day, day + DAY - 1)?.values());
                if !counts.is_empty() {
                    write_day(sql, *day, domain, &counts, true, &[])?;
                }
                counts
            } else {
                read_day(sql, *day, domain)?.map(|row| row.counts).unwrap_or_default()
            };
            if counts.is_empty() {
                totals.remove(domain);
            } else {
                totals.insert(domain.clone(), totals_of(&counts));
            }
            sql.exec("DELETE FROM day_dirty WHERE day = ? AND domain = ?", &[(*day).into(), domain.as_str().into()])?;
        }
        let parts = write_totals(sql, *day, &totals, 0)?;
        sql.exec("DELETE FROM day_totals WHERE day = ? AND part >= ?", &[(*day).into(), parts.into()])?;
    }
    Ok(rows.len())
}

/// Marks (day, domain)s of days already folded for the next run's refold. Reads the history state only
/// when a request touched a day before today (a late event): the usual request pays nothing.
pub fn mark_late<Q: Sql>(sql: &Q, touched: &BTreeSet<(u64, &str)>, now: u64) -> Result<(), SqlError> {
    let today = day_of(now);
    let mut late = touched.iter().filter(|(day, _)| *day < today).peekable();
    if late.peek().is_none() {
        return Ok(());
    }
    let state = HistoryState::load(sql)?;
    for (day, domain) in late.filter(|(day, domain)| state.has_folded(*day, domain)) {
        sql.exec("INSERT OR IGNORE INTO day_dirty (day, domain) VALUES (?, ?)", &[(*day).into(), (*domain).into()])?;
    }
    Ok(())
}

/// One (day, domain) row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayRow {
    pub counts: Counts,
    /// Folded from live hourly rows: takes no backfill.
    pub live: bool,
    /// The ids of the events backfilled into it, sorted.
    pub ids: Vec<u64>,
}

fn read_day<Q: Sql>(sql: &Q, day: u64, domain: &str) -> Result<Option<DayRow>, SqlError> {
    let rows =
        sql.exec("SELECT counts, live, ids FROM days WHERE day = ? AND domain = ?", &[day.into(), domain.into()])?;
    let Some(row) = rows.first() else { return Ok(None) };
    Ok(Some(DayRow {
        counts: parse(column(row, 0, SqlValue::as_text)?)?,
        live: column(row, 1, SqlValue::as_u64)? == 1,
        ids: decode_ids(column(row, 2, SqlValue::as_blob)?)?,
    }))
}

fn write_day<Q: Sql>(
    sql: &Q,
    day: u64,
    domain: &str,
    counts: &Counts,
    live: bool,
    ids: &[u64],
) -> Result<(), SqlError> {
    let text = serde_json::to_string(counts).map_err(|e| SqlError(format!("cannot encode a day's counts: {e}")))?;
    let ids: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
    sql.exec(
        "INSERT INTO days (day, domain, counts, live, ids) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (day, domain) DO UPDATE SET counts = excluded.counts, live = excluded.live, ids = excluded.ids",
        &[day.into(), domain.into(), text.into(), u64::from(live).into(), ids.into()],
    )?;
    Ok(())
}

/// A day's counts as a list shows them: without rule hits, sending dimensions or samples, which a list of
/// every domain never shows and which would make the totals row several times longer; but with the
/// samples no rule but the code-class fallback classified (at most three per category, and rare), which
/// the weekly digest lists as the replies to write rules for.
fn totals_of(counts: &Counts) -> Counts {
    Counts {
        samples: counts.samples.iter().filter(|s| s.is_fallback()).cloned().collect(),
        rules: BTreeMap::new(),
        streams: Default::default(),
        ..counts.clone()
    }
}

fn read_totals<Q: Sql>(sql: &Q, day: u64) -> Result<DomainCounts, SqlError> {
    let mut totals = DomainCounts::new();
    for row in &sql.exec("SELECT totals FROM day_totals WHERE day = ?", &[day.into()])? {
        let part: DomainCounts = parse(column(row, 0, SqlValue::as_text)?)?;
        totals.extend(part);
    }
    Ok(totals)
}

/// Writes `totals` as parts of at most [`PART_BYTES`] from part `first` on; returns how many.
fn write_totals<Q: Sql>(sql: &Q, day: u64, totals: &DomainCounts, first: u64) -> Result<u64, SqlError> {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::from("{");
    for (domain, counts) in totals {
        let entry = format!(
            "{}:{}",
            serde_json::to_string(domain).map_err(|e| SqlError(e.to_string()))?,
            serde_json::to_string(counts).map_err(|e| SqlError(e.to_string()))?
        );
        if current.len() + entry.len() + 2 > PART_BYTES && current.len() > 1 {
            current.push('}');
            parts.push(std::mem::replace(&mut current, String::from("{")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&entry);
    }
    if current.len() > 1 {
        current.push('}');
        parts.push(current);
    }
    for (part, text) in parts.iter().enumerate() {
        sql.exec(
            "INSERT INTO day_totals (day, part, totals) VALUES (?, ?, ?)
             ON CONFLICT (day, part) DO UPDATE SET totals = excluded.totals",
            &[day.into(), (first + part as u64).into(), text.as_str().into()],
        )?;
    }
    Ok(parts.len() as u64)
}

/// What backfilling a request's old events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfilled {
    pub accepted: usize,
    pub duplicates: usize,
}

/// Counts `events` (all older than the retention, inside the history) into their (day, domain) rows,
/// each once by id. A (day, domain) counted live takes none (see the module docs).
pub fn backfill<Q: Sql>(sql: &Q, delta: &Delta, events: &[&DeltaEvent]) -> Result<Backfilled, SqlError> {
    let mut done = Backfilled::default();
    for (day, domain, events) in by_day(delta, events)? {
        let mut row = read_day(sql, day, domain)?.unwrap_or_default();
        if row.live {
            done.duplicates += events.len();
            continue;
        }
        let mut added = false;
        for event in events {
            if let Err(at) = row.ids.binary_search(&event.id) {
                let mut streams = Vec::new();
                let (sample, rule) = delta.resolve(event, &mut streams).map_err(bad_delta)?;
                if row.counts.add(event.counted(sample, rule, &streams)) {
                    row.ids.insert(at, event.id);
                    done.accepted += 1;
                    added = true;
                }
            } else {
                done.duplicates += 1;
            }
        }
        if added {
            write_day(sql, day, domain, &row.counts, false, &row.ids)?;
            sql.exec(
                "INSERT OR IGNORE INTO day_dirty (day, domain) VALUES (?, ?)",
                &[day.into(), domain.as_str().into()],
            )?;
        }
    }
    Ok(done)
}

/// Adds `events`, new ones counted in the hourly rows of the day the retention's edge falls in, to their
/// (day, domain) rows as well: that day is no longer whole in the hourly rows, so it is never refolded,
/// and the hourly rows have just told these events from repeats. The rows stay `live`.
pub fn add_to_edge_day<Q: Sql>(sql: &Q, delta: &Delta, events: &[&DeltaEvent]) -> Result<(), SqlError> {
    for (day, domain, events) in by_day(delta, events)? {
        let mut row = read_day(sql, day, domain)?.unwrap_or_default();
        for event in events {
            let mut streams = Vec::new();
            let (sample, rule) = delta.resolve(event, &mut streams).map_err(bad_delta)?;
            row.counts.add(event.counted(sample, rule, &streams));
        }
        write_day(sql, day, domain, &row.counts, true, &row.ids)?;
        sql.exec("INSERT OR IGNORE INTO day_dirty (day, domain) VALUES (?, ?)", &[day.into(), domain.as_str().into()])?;
    }
    Ok(())
}

/// Events of one (day, domain): the day, the domain's name, the events.
type DayGroup<'d, 'e> = (u64, &'d String, Vec<&'e DeltaEvent>);

/// `events` grouped by (day, domain), with the domain's name.
fn by_day<'d, 'e>(delta: &'d Delta, events: &[&'e DeltaEvent]) -> Result<Vec<DayGroup<'d, 'e>>, SqlError> {
    let mut groups: BTreeMap<(u64, u32), Vec<&DeltaEvent>> = BTreeMap::new();
    for event in events {
        groups.entry((day_of(event.bucket), event.domain)).or_default().push(event);
    }
    groups
        .into_iter()
        .map(|((day, index), events)| {
            let domain = delta.domains.get(index as usize).ok_or_else(|| bad_delta("domain index"))?;
            Ok((day, domain, events))
        })
        .collect()
}

/// `counts` added up.
fn merged<'c>(counts: impl IntoIterator<Item = &'c Counts>) -> Counts {
    let mut sum = Counts::default();
    counts.into_iter().for_each(|c| sum.merge(c));
    sum
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, SqlError> {
    crate::json::parse(text).map_err(|e| SqlError(format!("stored history is corrupt: {e}")))
}

fn decode_ids(bytes: &[u8]) -> Result<Vec<u64>, SqlError> {
    if bytes.len() % 8 != 0 {
        return Err(SqlError("stored event ids are corrupt".into()));
    }
    Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8"))).collect())
}

/// Whose history a read asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum HistoryScope {
    /// Every domain's totals (a list).
    #[default]
    All,
    /// One domain's days, whole.
    Domain { domain: String },
    /// A provider's domains summed per day, and each of them over the span.
    Provider { provider: String },
}

/// What a read of the history asks one object: the days `first..=last` (day starts), and with
/// `previous` the same number of days before them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    pub first: u64,
    pub last: u64,
    #[serde(default)]
    pub previous: bool,
    #[serde(default)]
    pub scope: HistoryScope,
    /// Also answer the providers of the domains in `totals` (a row read per domain not in the consumer
    /// table): a list of providers needs them all, a list of domains only those it shows.
    #[serde(default)]
    pub providers: bool,
}

impl HistoryQuery {
    fn previous_span(&self) -> Option<(u64, u64)> {
        let days = (self.last - self.first) / DAY + 1;
        self.previous.then(|| (self.first.saturating_sub(days * DAY), self.first.saturating_sub(DAY)))
    }
}

/// One object's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryAnswer {
    /// Per day: the domain's counts (one domain) or its domains' summed (a provider); empty for a list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub days: BTreeMap<u64, Counts>,
    /// The same for the period before, when asked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous_days: BTreeMap<u64, Counts>,
    /// Per domain over the span: every domain (a list), the provider's, or the one.
    pub totals: DomainCounts,
    /// Per domain over the period before, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<DomainCounts>,
    /// The providers of `totals`' domains, when asked (`unknown` ones left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, crate::provider::Provider>,
    /// Shard 0's open alerts, as [`super::read::ReadAnswer`] carries them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phases: BTreeMap<String, crate::detect::Phase>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_phases: BTreeMap<String, crate::detect::Phase>,
}

impl HistoryAnswer {
    /// Adds another object's answer in: days summed, domains (one object each) joined.
    pub fn merge(&mut self, other: HistoryAnswer) {
        for (into, from) in [(&mut self.days, other.days), (&mut self.previous_days, other.previous_days)] {
            for (day, counts) in from {
                into.entry(day).or_default().merge(&counts);
            }
        }
        self.totals.extend(other.totals);
        if let Some(previous) = other.previous {
            self.previous.get_or_insert_with(DomainCounts::new).extend(previous);
        }
        self.providers.extend(other.providers);
        self.phases.extend(other.phases);
        self.provider_phases.extend(other.provider_phases);
    }

    /// `domain`'s provider: the consumer table, else the resolution answered, else `unknown`.
    pub fn provider_of(&self, domain: &str) -> crate::provider::Provider {
        super::read::provider_of(&self.providers, domain)
    }
}

/// The object's side of a history read.
pub fn answer<Q: Sql>(sql: &Q, query: &HistoryQuery) -> Result<HistoryAnswer, SqlError> {
    if query.first > query.last || (query.last - query.first) / DAY > 3 * 366 {
        return Err(SqlError("a history read must name at most three years, first day first".into()));
    }
    let mut answer = HistoryAnswer::default();
    match &query.scope {
        HistoryScope::Domain { domain } => {
            answer.days = domain_days(sql, domain, query.first, query.last)?;
            answer.totals = total_of(domain, &answer.days);
            if let Some((first, last)) = query.previous_span() {
                answer.previous_days = domain_days(sql, domain, first, last)?;
                answer.previous = Some(total_of(domain, &answer.previous_days));
            }
        }
        HistoryScope::All => {
            answer.totals = sum_totals(sql, query.first, query.last)?;
            if let Some((first, last)) = query.previous_span() {
                answer.previous = Some(sum_totals(sql, first, last)?);
            }
        }
        HistoryScope::Provider { provider } => {
            let wanted = crate::provider::Provider::from_id(provider)
                .ok_or_else(|| SqlError(format!("{provider:?} is not a provider id")))?;
            let mut of_provider = ProviderFilter { sql, wanted, known: BTreeMap::new() };
            answer.totals = provider_totals(&mut of_provider, query.first, query.last, &mut answer.days)?;
            if let Some((first, last)) = query.previous_span() {
                answer.previous = Some(provider_totals(&mut of_provider, first, last, &mut answer.previous_days)?);
            }
        }
    }
    if query.providers {
        let domains: Vec<String> = answer
            .totals
            .keys()
            .filter(|d| crate::provider::consumer::consumer_platform(d).is_none())
            .cloned()
            .collect();
        answer.providers = super::providers::known_providers(sql, &domains)?;
    }
    Ok(answer)
}

/// One domain's rows of `first..=last`, a seek per day (an `IN` list: a range on the day would scan
/// every domain's rows of the range).
fn domain_days<Q: Sql>(sql: &Q, domain: &str, first: u64, last: u64) -> Result<BTreeMap<u64, Counts>, SqlError> {
    let days = (first..=last).step_by(DAY as usize).map(SqlValue::from);
    let mut found = BTreeMap::new();
    let query = "SELECT day, counts FROM days WHERE domain = ? AND day IN ({})";
    crate::sql::exec_in(sql, query, &[domain.into()], days, |rows| {
        for row in &rows {
            found.insert(column(row, 0, SqlValue::as_u64)?, parse(column(row, 1, SqlValue::as_text)?)?);
        }
        Ok(true)
    })?;
    Ok(found)
}

fn total_of(domain: &str, days: &BTreeMap<u64, Counts>) -> DomainCounts {
    let sum = merged(days.values());
    if sum.is_empty() {
        DomainCounts::new()
    } else {
        [(domain.to_owned(), sum)].into()
    }
}

/// Hands every (day, domain, counts) of the totals of `first..=last` to `each`: a totals row read per
/// day and part.
fn each_total<Q: Sql>(
    sql: &Q,
    first: u64,
    last: u64,
    mut each: impl FnMut(u64, String, Counts) -> Result<(), SqlError>,
) -> Result<(), SqlError> {
    let rows =
        sql.exec("SELECT day, totals FROM day_totals WHERE day >= ? AND day <= ?", &[first.into(), last.into()])?;
    for row in &rows {
        let day = column(row, 0, SqlValue::as_u64)?;
        let part: DomainCounts = parse(column(row, 1, SqlValue::as_text)?)?;
        for (domain, counts) in part {
            each(day, domain, counts)?;
        }
    }
    Ok(())
}

/// Every domain's totals over `first..=last`.
fn sum_totals<Q: Sql>(sql: &Q, first: u64, last: u64) -> Result<DomainCounts, SqlError> {
    let mut sum = DomainCounts::new();
    each_total(sql, first, last, |_, domain, counts| {
        add_into(&mut sum, domain, counts);
        Ok(())
    })?;
    Ok(sum)
}

/// Adds `counts` under `domain`, moving the string in only when it is new.
fn add_into(sum: &mut DomainCounts, domain: String, counts: Counts) {
    match sum.get_mut(&domain) {
        Some(into) => into.merge(&counts),
        None => {
            sum.insert(domain, counts);
        }
    }
}

/// Which domains are a provider's, as known now (the consumer table, else the object's resolution),
/// each looked up once per read.
struct ProviderFilter<'q, Q: Sql> {
    sql: &'q Q,
    wanted: crate::provider::Provider,
    known: BTreeMap<String, bool>,
}

impl<Q: Sql> ProviderFilter<'_, Q> {
    fn holds(&mut self, domain: &str) -> Result<bool, SqlError> {
        if let Some(&is) = self.known.get(domain) {
            return Ok(is);
        }
        let provider = match crate::provider::consumer::consumer_platform(domain) {
            Some(platform) => platform.into(),
            None => super::providers::known_providers(self.sql, &[domain.to_owned()])?
                .remove(domain)
                .unwrap_or(crate::provider::Provider::Unknown),
        };
        let is = provider == self.wanted;
        self.known.insert(domain.to_owned(), is);
        Ok(is)
    }
}

/// The provider's domains over `first..=last`, each summed, and all of them summed per day into `days`.
fn provider_totals<Q: Sql>(
    filter: &mut ProviderFilter<'_, Q>,
    first: u64,
    last: u64,
    days: &mut BTreeMap<u64, Counts>,
) -> Result<DomainCounts, SqlError> {
    let mut totals = DomainCounts::new();
    let sql = filter.sql;
    each_total(sql, first, last, |day, domain, counts| {
        if filter.holds(&domain)? {
            days.entry(day).or_default().merge(&counts);
            add_into(&mut totals, domain, counts);
        }
        Ok(())
    })?;
    Ok(totals)
}
