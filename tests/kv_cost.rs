//! KV operations per webhook request and per cron run, for 1, 10 and 100 active domains. Prints a table
//! (`cargo test --test kv_cost -- --nocapture`) and pins the properties the design promises.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::cron::run_cron;
use bouncewatch::event::{EventKind, NormalizedEvent};
use bouncewatch::ingest::record;
use bouncewatch::store::{MemoryStore, OpCounts};
use pollster::block_on;

/// Ten seconds into a bucket.
const START: u64 = 1_700_000_100 + 10;
const REQUESTS_PER_MINUTE: usize = 10;

/// One request with a delivery and a 451 deferral for each of `domains` domains.
fn request(domains: usize, at: u64) -> Vec<NormalizedEvent> {
    (0..domains)
        .flat_map(|d| {
            [EventKind::Delivered, EventKind::Deferred].map(|kind| {
                let category = (kind == EventKind::Deferred).then_some(Category::RateLimited);
                common::synthetic_event(&format!("domain{d}.example"), kind, at, category)
            })
        })
        .collect()
}

fn measured(store: &MemoryStore, run: impl FnOnce()) -> OpCounts {
    store.reset_ops();
    run();
    store.ops()
}

fn row(label: &str, ops: OpCounts) -> String {
    format!("{label:<44} {:>5} {:>5} {:>5} {:>7}", ops.gets, ops.lists, ops.puts, ops.deletes)
}

#[test]
fn kv_operations_per_request_and_per_cron_run() {
    let config = Config::new();
    let cron = |store: &MemoryStore, now: u64| block_on(run_cron(store, &config, now)).expect("cron");
    println!("{:<44} {:>5} {:>5} {:>5} {:>7}", "", "gets", "lists", "puts", "deletes");
    for domains in [1, 10, 100] {
        let store = MemoryStore::new();
        let first = measured(&store, || {
            cron(&store, START);
        });
        let webhook = measured(&store, || {
            for i in 0..REQUESTS_PER_MINUTE {
                block_on(record(&store, &config, &format!("{domains}-{i}"), &request(domains, START + 20), START + 30))
                    .expect("record");
            }
        });
        let open = measured(&store, || {
            cron(&store, START + 60);
        });
        let merge = measured(&store, || {
            cron(&store, START + 300);
        });
        let delete = measured(&store, || {
            cron(&store, START + 360);
        });
        let idle = measured(&store, || {
            cron(&store, START + 420);
        });
        let per_request = OpCounts {
            gets: webhook.gets / REQUESTS_PER_MINUTE as u64,
            puts: webhook.puts / REQUESTS_PER_MINUTE as u64,
            lists: webhook.lists,
            deletes: webhook.deletes,
        };
        println!("--- {domains} active domain(s), {REQUESTS_PER_MINUTE} requests in the minute");
        println!("{}", row("webhook request", per_request));
        println!("{}", row("cron, first run (learns 24 h of pages)", first));
        println!("{}", row("cron, shards still open", open));
        println!("{}", row("cron, bucket closed: merge", merge));
        println!("{}", row("cron, next run: confirm and delete", delete));
        println!("{}", row("cron, idle", idle));

        assert_eq!((per_request.gets, per_request.puts, webhook.lists), (0, 1, 0), "webhook: one write, no reads");
        assert!(merge.puts <= 2 && delete.puts <= 1 && idle.puts == 0, "cron writes stay O(1)");
        assert_eq!(delete.deletes, REQUESTS_PER_MINUTE as u64);
        assert!(open.gets <= 2 + REQUESTS_PER_MINUTE as u64);
    }
}
