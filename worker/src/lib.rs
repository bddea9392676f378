//! The Worker as deployed: `bouncewatch` (its entry points are in `src/shell`) linked into a cdylib, the
//! only crate type here, so LTO may drop or inline whatever the Worker does not call. See Cargo.toml.

// Linked although nothing here names it: the `#[event]` and `#[durable_object]` exports live in it.
extern crate bouncewatch;
