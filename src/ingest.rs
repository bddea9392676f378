//! The contract between the webhook route and the counters: hand a verified request's events to storage.
//! The storage design (one immutable shard per request, no reads) is in [`crate::ledger`].

use crate::config::Config;
use crate::event::NormalizedEvent;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// What storing one request's events did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Recorded {
    /// Events counted.
    pub accepted: usize,
    /// Events older than the retention: not stored.
    pub stale: usize,
    /// Events stamped in the future, counted at the time of receipt.
    pub clamped: usize,
    /// Events of a kind that is not counted (`other`).
    pub ignored: usize,
    /// KV writes made: 1, or 0 when nothing was left to count.
    pub writes: u32,
}

/// Stores the events of one webhook request. `request_key` identifies the request's content (a hash of
/// the body), so a redelivery overwrites its own earlier write instead of counting twice.
pub async fn record<S: Store>(
    store: &S,
    config: &Config,
    request_key: &str,
    events: &[NormalizedEvent],
    now: u64,
) -> Result<Recorded, StoreError> {
    let settings = Settings::from_config(config).map_err(|e| StoreError(format!("{e:?}")))?;
    crate::ledger::record(store, &settings, request_key, events, now).await
}
