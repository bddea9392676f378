//! Cron evaluation for 1,000 active domains with 24 hours of 5-minute buckets, natively.
//!
//! Setup posts one webhook request per bucket (each with a delivery, a deferral and a 451 for every
//! domain) and lets the cron merge them, so the store holds what a day of traffic leaves behind. Then:
//! * `first run` — a fresh detector learning the day's baselines (25 hour-pages), timed once;
//! * `steady run` — the every-minute evaluation: state + window pages, 1,000 domains judged.

use std::time::Instant;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::cron::{run_cron, STATE_KEY};
use bouncewatch::event::{Esp, EventKind, NormalizedEvent};
use bouncewatch::ingest::record;
use bouncewatch::store::{MemoryStore, Store};
use criterion::{criterion_group, criterion_main, Criterion};
use pollster::block_on;

const DOMAINS: usize = 1000;
const BUCKETS: u64 = 24 * 12;
const NOW: u64 = 1_700_006_400 + 30;

fn day_of_traffic() -> MemoryStore {
    let store = MemoryStore::new();
    let config = Config::new();
    for b in 0..BUCKETS {
        let at = NOW - (BUCKETS - b) * 300;
        let events: Vec<NormalizedEvent> = (0..DOMAINS)
            .flat_map(|d| {
                [EventKind::Delivered, EventKind::Delivered, EventKind::Deferred].map(|kind| NormalizedEvent {
                    esp: Esp::Generic,
                    event_id: String::new(),
                    kind,
                    occurred_at: at,
                    recipient_domain: format!("domain{d}.example"),
                    smtp_code: (kind == EventKind::Deferred).then_some(451),
                    enhanced_code: None,
                    reply: (kind == EventKind::Deferred).then(|| "451 4.7.1 Try again later".into()),
                    category: (kind == EventKind::Deferred).then_some(Category::Greylisted),
                    permanence: None,
                    sending: Default::default(),
                })
            })
            .collect();
        block_on(record(&store, &config, &format!("bucket-{b}"), &events, at + 10)).expect("record");
    }
    // Merge every shard into pages, then delete them, as a day of cron runs would have.
    block_on(run_cron(&store, &config, NOW)).expect("merge");
    block_on(run_cron(&store, &config, NOW)).expect("confirm");
    block_on(store.delete(STATE_KEY)).expect("forget state");
    store
}

fn cron(c: &mut Criterion) {
    let store = day_of_traffic();
    let config = Config::new();
    let started = Instant::now();
    let report = block_on(run_cron(&store, &config, NOW)).expect("first run");
    println!("first run, {DOMAINS} domains: {:?}; {report:?}", started.elapsed());
    store.reset_ops();
    block_on(run_cron(&store, &config, NOW + 60)).expect("steady run");
    println!("steady run KV operations: {:?}", store.ops());

    let mut group = c.benchmark_group("cron");
    group.sample_size(10);
    group.bench_function("steady run, 1000 domains x 24 h", |b| {
        b.iter(|| block_on(run_cron(&store, &config, NOW + 60)).expect("steady run"))
    });
    group.finish();
}

criterion_group!(benches, cron);
criterion_main!(benches);
