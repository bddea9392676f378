//! # bouncewatch
//!
//! Tells email senders, within minutes, that a receiving domain has started deferring their mail, why, and
//! what to do.
//!
//! ## Design: a functional core with a thin shell
//!
//! Data flows one way: **bytes → events → counts → detection → alerts / API**.
//!
//! * [`classify`] reads one SMTP failure reply and files it into a fixed taxonomy ([`classify::Category`])
//!   with a permanence and a recommended action. Rules are ordered tables; the first match wins.
//! * [`reply`] takes one SMTP reply apart (basic code, enhanced code, lower-cased text, SMTP stage)
//!   however an ESP wrapped it.
//! * [`esp`] holds one adapter per email service provider: raw body bytes + headers + secret → verified
//!   normalized [`event::NormalizedEvent`]s; [`redact`] strips address local parts from every reply kept.
//! * [`counters`] counts events per recipient domain in fixed buckets by event time; [`ledger`] keeps
//!   those counts in KV without read-modify-write (one immutable shard per webhook request, merged into
//!   hourly pages by the cron), so concurrent and redelivered webhooks are counted exactly once.
//! * [`detect`] is the 451 spike state machine; [`cron`] runs it every minute over the counts and keeps
//!   its state in one key. [`settings`] lists every threshold with its default.
//! * [`store`] is the small storage trait the core talks to; Workers KV implements it in the shell and
//!   [`store::MemoryStore`] in tests.
//! * [`provider`] names the mailbox provider behind each recipient domain (consumer table, reply
//!   signature, MX over DNS-over-HTTPS), so a throttle across many hosted domains is seen as one.
//! * [`advice`] is the one table of what to do per cause, shared by alerts, API and dashboard.
//! * [`alert`] words an alert (subject, text, HTML, advice per cause); [`notify`] decides, with
//!   Alertmanager's semantics, what to send when and retries failed sends; [`mime`] and [`outbound`] turn a
//!   message into a raw email or an HTTP request. The shell only performs them.
//! * [`http`] routes a plain [`http::HttpRequest`] to a plain [`http::HttpResponse`], so every status code
//!   the Worker can answer is tested natively; [`error::AppError`] is the one error type, turned into a JSON
//!   response in exactly one place.
//!
//! Nothing outside `shell` imports the `worker` crate: the shell only converts between `worker` types and
//! ours, and binds KV, cron and email. That keeps `cargo test` native and fast, and lets the same core run
//! in the `bouncewatch` CLI and the benchmarks.

pub mod advice;
pub mod alert;
pub mod classify;
pub mod config;
pub mod counters;
pub mod cron;
pub mod detect;
pub mod error;
pub mod esp;
pub mod event;
pub mod http;
pub mod ingest;
pub mod ledger;
pub mod mime;
pub mod notify;
pub mod outbound;
pub mod provider;
pub mod redact;
pub mod reply;
pub mod settings;
pub mod store;

#[cfg(all(target_arch = "wasm32", feature = "shell"))]
mod shell;

/// The crate version, reported by `GET /api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
