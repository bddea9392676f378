//! The counters in KV under concurrency, redelivery, crashes, paging and failures, against the
//! fault-injecting `MemoryStore`.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::counters::{BucketRange, Counts};
use bouncewatch::cron::run_cron;
use bouncewatch::event::{EventKind, NormalizedEvent};
use bouncewatch::ingest::record;
use bouncewatch::ledger::read_range;
use bouncewatch::settings::Settings;
use bouncewatch::store::{Faults, MemoryStore};
use pollster::block_on;

/// Mid-bucket, so the events' bucket is still open at `NOW` and closed ten minutes later.
const NOW: u64 = 1_700_000_100;
const LATER: u64 = NOW + 600;

/// Request `i`'s 20 events: 15 deliveries and 5 deferrals with 451, over four domains.
fn request(i: usize) -> Vec<NormalizedEvent> {
    (0..20)
        .map(|j| {
            let domain = ["gmail.com", "outlook.com", "yahoo.com", "web.de"][(i + j) % 4];
            let kind = if j % 4 == 0 { EventKind::Deferred } else { EventKind::Delivered };
            let category = (kind == EventKind::Deferred).then_some(Category::PolicyRejected);
            common::synthetic_event(domain, kind, NOW - 60 - (j as u64), category)
        })
        .collect()
}

fn send(store: &MemoryStore, i: usize) {
    block_on(record(store, &Config::new(), &format!("body-{i}"), &request(i), NOW)).expect("record");
}

fn cron(store: &MemoryStore, now: u64) {
    block_on(run_cron(store, &Config::new(), now)).expect("cron");
}

/// Everything counted in the last day, all domains together.
fn totals(store: &MemoryStore, now: u64) -> Counts {
    let settings = Settings::default();
    let range = BucketRange::ending_at(now, 86_400, &settings);
    let mut sum = Counts::default();
    for domains in block_on(read_range(store, &settings, range, now)).expect("read").values() {
        for counts in domains.values() {
            sum.merge(counts);
        }
    }
    sum
}

fn assert_exact(store: &MemoryStore, requests: u64, now: u64) {
    let sum = totals(store, now);
    assert_eq!((sum.delivered, sum.deferred, sum.smtp_451), (15 * requests, 5 * requests, 5 * requests));
}

#[test]
fn fifty_concurrent_requests_of_twenty_events_are_counted_exactly() {
    let store = MemoryStore::new();
    for i in 0..50 {
        send(&store, i);
    }
    assert_exact(&store, 50, NOW);
    for now in [LATER, LATER + 60, LATER + 120] {
        cron(&store, now);
        assert_exact(&store, 50, now);
    }
    assert!(store.keys().iter().all(|k| !k.starts_with("shard:")), "merged shards are deleted");
}

#[test]
fn a_cron_run_in_the_middle_of_the_burst_loses_nothing() {
    let store = MemoryStore::new();
    for i in 0..25 {
        send(&store, i);
    }
    cron(&store, LATER);
    for i in 25..50 {
        send(&store, i);
    }
    assert_exact(&store, 50, LATER);
    cron(&store, LATER + 60);
    cron(&store, LATER + 120);
    assert_exact(&store, 50, LATER + 120);
}

#[test]
fn the_same_body_delivered_twice_counts_once() {
    let store = MemoryStore::new();
    send(&store, 7);
    send(&store, 7);
    assert_exact(&store, 1, NOW);
    cron(&store, LATER);
    cron(&store, LATER + 60);
    // A redelivery after the shard was merged and deleted is recognised by the page.
    send(&store, 7);
    cron(&store, LATER + 120);
    assert_exact(&store, 1, LATER + 120);
}

#[test]
fn a_crash_between_page_write_and_shard_delete_counts_nothing_twice() {
    let store = MemoryStore::new();
    for i in 0..5 {
        send(&store, i);
    }
    store.set_faults(Faults { fail_deletes: true, ..Faults::default() });
    cron(&store, LATER);
    cron(&store, LATER + 60);
    assert!(store.keys().iter().any(|k| k.starts_with("shard:")), "deletes failed, shards remain");
    assert_exact(&store, 5, LATER + 60);
    store.set_faults(Faults::default());
    cron(&store, LATER + 120);
    assert_exact(&store, 5, LATER + 120);
    assert!(store.keys().iter().all(|k| !k.starts_with("shard:")));
}

#[test]
fn listing_follows_cursors_across_pages() {
    let store = MemoryStore::new();
    store.set_list_page_size(3);
    for i in 0..10 {
        send(&store, i);
    }
    assert_exact(&store, 10, NOW);
    cron(&store, LATER);
    cron(&store, LATER + 60);
    assert_exact(&store, 10, LATER + 60);
}

#[test]
fn a_kv_failure_on_the_webhook_path_is_an_error_and_counts_nothing() {
    let store = MemoryStore::new();
    store.set_faults(Faults { fail_puts: true, ..Faults::default() });
    assert!(block_on(record(&store, &Config::new(), "body", &request(0), NOW)).is_err());
    store.set_faults(Faults::default());
    assert!(store.is_empty());
    assert_exact(&store, 0, NOW);
}

#[test]
fn writes_that_landed_but_reported_failure_count_once_after_the_retries() {
    let store = MemoryStore::new();
    store.set_faults(Faults { fail_puts_after_write: true, ..Faults::default() });
    for i in 0..5 {
        assert!(block_on(record(&store, &Config::new(), &format!("body-{i}"), &request(i), NOW)).is_err());
    }
    assert!(block_on(run_cron(&store, &Config::new(), LATER)).is_err(), "the page write reports failure");
    store.set_faults(Faults::default());
    for i in 0..5 {
        send(&store, i);
    }
    assert_exact(&store, 5, LATER);
    cron(&store, LATER + 60);
    cron(&store, LATER + 120);
    assert_exact(&store, 5, LATER + 120);
    assert!(store.keys().iter().all(|k| !k.starts_with("shard:")));
}

/// KV fails every operation past the 1,000th of an invocation; a run that deleted a bucket's 1,500 merged
/// shards at once used to go past them, so its state write would have failed.
#[test]
fn a_backlog_of_merged_shards_is_deleted_over_several_runs_each_within_kvs_operation_limit() {
    let store = MemoryStore::new();
    for i in 0..1500u64 {
        // One small event per request, as Mailgun posts them: the shard rides in the listing's metadata.
        let event =
            common::synthetic_event(&format!("d{}.example", i % 7), EventKind::Delivered, NOW - 60 - i % 40, None);
        block_on(record(&store, &Config::new(), &format!("single-{i}"), &[event], NOW)).expect("record");
    }
    let mut runs = 0;
    let mut now = LATER;
    while store.keys().iter().any(|k| k.starts_with("shard:")) {
        store.reset_ops();
        cron(&store, now);
        let ops = store.ops();
        assert!(ops.gets + ops.puts + ops.lists + ops.deletes <= 1000, "run {runs}: {ops:?}");
        assert_eq!(totals(&store, now).delivered, 1500, "run {runs}");
        runs += 1;
        now += 60;
        assert!(runs <= 5, "the backlog drains");
    }
    assert_eq!(runs, 4, "a merge, then three runs of at most 500 deletes");
}

#[test]
fn stale_events_are_reported_and_future_ones_counted_now() {
    let store = MemoryStore::new();
    let events = [
        common::synthetic_event("gmail.com", EventKind::Delivered, NOW - 9 * 86_400, None),
        common::synthetic_event("gmail.com", EventKind::Delivered, NOW + 86_400, None),
        common::synthetic_event("gmail.com", EventKind::Delivered, NOW, None),
    ];
    let recorded = block_on(record(&store, &Config::new(), "body", &events, NOW)).unwrap();
    assert_eq!((recorded.accepted, recorded.stale, recorded.clamped, recorded.writes), (2, 1, 1, 1));
    assert_eq!(totals(&store, NOW).delivered, 2);
}

#[test]
fn a_request_with_nothing_to_count_writes_nothing() {
    let store = MemoryStore::new();
    let events = [common::synthetic_event("gmail.com", EventKind::Delivered, NOW - 30 * 86_400, None)];
    let recorded = block_on(record(&store, &Config::new(), "body", &events, NOW)).unwrap();
    assert_eq!((recorded.stale, recorded.writes), (1, 0));
    assert_eq!(store.ops().puts, 0);
}

#[test]
fn every_key_expires() {
    let store = MemoryStore::new();
    for i in 0..3 {
        send(&store, i);
    }
    cron(&store, LATER);
    let settings = Settings::default();
    let keys = store.keys();
    assert!(keys.iter().any(|k| k.starts_with("page:")) && keys.iter().any(|k| k == "state"), "{keys:?}");
    for key in keys {
        let ttl = store.ttl_of(&key).unwrap_or(0);
        assert!((60..=settings.retention_secs + 3_600).contains(&ttl), "{key} has TTL {ttl}");
    }
}

#[test]
fn a_corrupt_stored_state_is_an_error_not_a_panic() {
    use bouncewatch::store::{Put, Store};
    let store = MemoryStore::new();
    block_on(store.put(Put { key: "state", value: "{not json", ttl_seconds: 60, metadata: None })).unwrap();
    let err = block_on(run_cron(&store, &Config::new(), NOW)).unwrap_err();
    assert!(err.0.contains("corrupt"), "{err}");
}
