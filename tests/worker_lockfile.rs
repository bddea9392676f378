//! The Worker (worker/) is a workspace of its own so that it can pin `idna_adapter` without Unicode tables
//! (worker/Cargo.toml); everything else it links must be the very versions the native tests ran.

use std::collections::BTreeSet;

/// `(name, version)` of every package a lockfile holds.
fn packages(lockfile: &str) -> BTreeSet<(String, String)> {
    let path = format!("{}/{lockfile}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut packages = BTreeSet::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let (Some(value), Some(name)) = (line.strip_prefix("version = "), name.take()) {
            packages.insert((name, value.trim_matches('"').to_owned()));
        }
    }
    packages
}

#[test]
fn the_worker_links_the_versions_the_native_tests_ran_but_for_the_idna_adapter() {
    let native = packages("Cargo.lock");
    let worker = packages("worker/Cargo.lock");
    assert!(worker.len() > 100, "{} packages read from worker/Cargo.lock", worker.len());
    assert!(worker.contains(&("idna_adapter".to_owned(), "1.0.0".to_owned())), "{worker:?}");
    let differing: Vec<_> = worker
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "idna_adapter" | "bouncewatch-worker"))
        .filter(|package| !native.contains(*package))
        .collect();
    assert!(differing.is_empty(), "worker/Cargo.lock differs from Cargo.lock in {differing:?}: copy Cargo.lock to worker/ and run `cargo update -p idna_adapter --precise 1.0.0` there");
}
