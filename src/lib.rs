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
//!   normalized [`event::NormalizedEvent`]s; [`redact`] strips address local parts from every reply kept,
//!   and [`domain`] is the one validator of recipient domains (UTS #46), shared with the read API.
//! * [`counters`] counts events per recipient domain in fixed buckets by event time; [`counting`] keeps
//!   those counts in a SQLite Durable Object, the only writer, idempotent per event, and publishes them
//!   to KV hour pages for readers.
//! * [`detect`] is the 451 spike state machine; [`counting::detection`] runs it every minute over the
//!   candidates' exact counts. [`settings`] lists every threshold with its default. [`drift`] is the
//!   weekly check for a ratio that creeps up over weeks, which no spike would reveal.
//! * [`store`] (KV) and [`sql`] (the object's SQLite) are the small storage traits the core talks to;
//!   the runtime implements them in the shell, [`store::MemoryStore`] and rusqlite in tests.
//! * [`breakdown`] counts attempts and 451s per sending IP, IP pool, sending domain and tag (each event's
//!   [`event::Sending`]), bounded per dimension, and says which one a spike comes from.
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
//! ours, and binds KV, the Durable Object, cron and email. That keeps `cargo test` native and fast, and lets the same core run
//! in the `bouncewatch` CLI and the benchmarks.

pub mod action;
pub mod advice;
pub mod alert;
pub mod breakdown;
pub mod classify;
pub mod config;
pub mod counters;
pub mod counting;
pub mod detect;
pub mod domain;
pub mod drift;
pub mod error;
pub mod esp;
pub mod event;
pub mod http;
mod json;
pub mod metrics;
pub mod mime;
pub mod notify;
pub mod outbound;
pub mod period;
pub mod provider;
pub mod redact;
pub mod reply;
pub mod settings;
pub mod silence;
mod sort;
pub mod sql;
pub mod store;

#[cfg(all(target_arch = "wasm32", feature = "shell"))]
mod shell;

/// The crate version, reported by `GET /api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
