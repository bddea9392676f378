//! The Worker glue: the only code that imports `worker`. It converts requests and responses, reads
//! configuration, and binds Workers KV to the core's [`Store`] trait and the counting Durable Object to
//! [`crate::counting`]. No decisions are made here.
//!
//! Two Workers are built from it (Cargo features): the front ([`front`]: webhooks, API, cron) and the
//! counting Worker ([`object`]: the counting Durable Objects). Both reach the objects through [`counter`].

mod counter;
mod fetch;
#[cfg(feature = "front")]
mod front;
mod kv;
#[cfg(feature = "counting")]
mod mail;
#[cfg(feature = "counting")]
mod object;

use worker::{event, Date};

/// The KV namespace binding named in both Workers' configs.
pub(crate) const KV_BINDING: &str = "BOUNCEWATCH";

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

pub(crate) fn now_seconds() -> u64 {
    Date::now().as_millis() / 1000
}
