//! The contract between the webhook route and the counters: hand a verified request's events to storage.
//! (Interim implementation: one write per request holding the events; the counters issue replaces it.)

use crate::config::Config;
use crate::event::NormalizedEvent;
use crate::store::{Put, Store, StoreError};

/// What storing one request's events did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Recorded {
    /// Events counted.
    pub accepted: usize,
    /// Events older than the retention: not stored.
    pub stale: usize,
    /// KV writes made.
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
    let _ = (config, now);
    if events.is_empty() {
        return Ok(Recorded::default());
    }
    let value = serde_json::to_string(events).map_err(|e| StoreError(e.to_string()))?;
    let key = format!("req:{request_key}");
    store
        .put(Put {
            key: &key,
            value: &value,
            ttl_seconds: 8 * 86_400,
            metadata: None,
        })
        .await?;
    Ok(Recorded {
        accepted: events.len(),
        stale: 0,
        writes: 1,
    })
}
