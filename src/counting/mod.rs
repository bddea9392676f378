//! Counting at volume: one SQLite Durable Object per shard is the only writer of counts; KV publishes them
//! for readers.
//!
//! ## The path of an event
//! 1. The Worker verifies, parses and classifies a webhook at the edge, then cuts its events into a
//!    [`delta::Delta`] per shard (recipient domains are spread over `COUNTER_SHARDS` objects by hash): each
//!    event reduced to its kind, code, category, bucket, an 8-byte id, a sample index and the indices of
//!    its sending dimension values (IP, pool, sending domain, tags), each distinct value sent once per delta.
//!    The object counts those per bucket in [`crate::counters::Counts::streams`], at most 20 values per
//!    dimension per (domain, bucket): they make a row's JSON longer, never more rows. Hour pages carry
//!    them summed over the shard's domains per bucket ([`publish`]).
//! 2. It makes one call to each object concerned ([`client::Counter`]); the object applies the delta in one
//!    atomic unit ([`object::CounterObject::apply`]) and answers only once that is durable. The webhook
//!    answers 2xx only after every call succeeded; otherwise 503, and the ESP retries.
//! 3. Idempotent **per event**: the ids of the events counted in an (hour, domain) row are stored in that
//!    row, so the same event is counted once whether it comes again in the same body, in a re-signed
//!    retry, in a regrouped batch or days later (within `DEDUP_HOURS`, and in fact as long as its hour is
//!    kept). Counting and remembering cost the same single row write. Rows are per hour, not per bucket,
//!    because each is deleted at expiry (a row written): that was a quarter of all rows written at 10,000
//!    domains. A busy domain's hour is split into parts of at most 8,192 ids.
//! 4. Every `PUBLISH_MINUTES` the object writes the hour pages that changed to KV ([`publish`]); the API
//!    reads settled hours from KV and asks the objects for the rest ([`read`]), so it is exact within a
//!    minute of a webhook.
//! 5. Every minute the cron asks shard 0 to run ([`detection`]): upkeep (expiry, publish) on every shard,
//!    the candidates (domains that can alert), the detector, the notifications. Detector and notification
//!    state live in shard 0's SQLite. Candidates are found without reading every domain's rows: a write
//!    that takes an (hour, domain) past the hot threshold (`SPIKE_MIN_451` over the hours a window can
//!    overlap) marks it in the `hot` table once; the cron reads only hot and tracked domains' rows.
//!
//! ## What it costs (one shard; the README's "Limits and costs" has the measured figures)
//! | what | Durable Object | KV |
//! |---|---|---|
//! | a one-event webhook | 1 request; 1–2 rows read, 1 row written (+1 when its hour becomes dirty) | none |
//! | a 1,000-event batch | 1 request; a row read and written per (hour, domain) it touches | none |
//! | a cron run | 1 request per shard; rows read: the hot marks of the window's hours, and the rows of hot and tracked domains (their window, plus a baseline span when a domain first becomes a candidate); rows written: expired rows, the detector's row when it changed | a publish every `PUBLISH_MINUTES`: one put per changed hour page (part) |
//! | an API read of every domain | 1 request per shard | one get per settled hour page (part) of the window |
//! | an API read of one domain | 1 request to its shard (+1 to shard 0 for the phases); its rows of the window, one per hour (part) | none |

pub mod client;
pub mod delta;
pub mod detection;
pub mod history;
pub mod object;
pub mod protocol;
pub mod providers;
pub mod publish;
pub mod read;
pub mod schema;
pub mod weekly;

pub use client::{call, Counter, LocalCounter};
pub use delta::{prepare, Delta, Prepared};
pub use object::{Applied, CounterObject};
pub use protocol::{handle, Answer, ObjectEnv, Request};
