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
//! * [`esp`] holds one adapter per email service provider: raw body bytes + headers + secret → verified
//!   normalized [`event::NormalizedEvent`]s.
//! * [`store`] is the small storage trait the core talks to; Workers KV implements it in the shell and
//!   [`store::MemoryStore`] in tests.
//! * [`http`] routes a plain [`http::HttpRequest`] to a plain [`http::HttpResponse`], so every status code
//!   the Worker can answer is tested natively; [`error::AppError`] is the one error type, turned into a JSON
//!   response in exactly one place.
//!
//! Nothing outside `shell` imports the `worker` crate: the shell only converts between `worker` types and
//! ours, and binds KV, cron and email. That keeps `cargo test` native and fast, and lets the same core run
//! in the `bouncewatch` CLI and the benchmarks.

pub mod classify;
pub mod config;
pub mod error;
pub mod esp;
pub mod event;
pub mod http;
pub mod ingest;
pub mod redact;
pub mod store;

#[cfg(target_arch = "wasm32")]
mod shell;

/// The crate version, reported by `GET /api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
