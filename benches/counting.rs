//! The counting object's side of a webhook, natively: a 1,000-event batch applied to its SQLite (rusqlite
//! here, the Durable Object's SQLite in the Worker), and one cron run over a day of stored traffic.
//!
//! `cargo bench --bench counting`. The Worker's own side of the same request (verify, parse, classify,
//! cut the delta) is `benches/webhooks.rs` natively and `make bench-wasm` in wasm.

#[path = "../tests/support/sqlite.rs"]
mod sqlite;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::counting::{self, call, Applied, LocalCounter, Request};
use bouncewatch::event::{Esp, EventKind, NormalizedEvent};
use bouncewatch::notify::{Fetched, Notifier, SendError};
use bouncewatch::outbound::OutboundRequest;
use bouncewatch::settings::Settings;
use bouncewatch::store::MemoryStore;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sqlite::SqliteSql;

const NOW: u64 = 1_700_000_000;

struct Silent;

impl Notifier for Silent {
    async fn send_email(&self, _: &str, _: &str, _: &str) -> Result<(), SendError> {
        Ok(())
    }
    async fn fetch(&self, _: &OutboundRequest) -> Result<Fetched, SendError> {
        Ok(Fetched { status: 200, body: String::new() })
    }
}

/// A SendGrid-sized batch: 1,000 events over 200 domains in the last ten minutes, a tenth of them 451s.
fn batch(seed: u64) -> Vec<NormalizedEvent> {
    (0..1_000)
        .map(|i| {
            let deferred = i % 10 == 0;
            NormalizedEvent {
                esp: Esp::Sendgrid,
                event_id: format!("sg-{seed}-{i}"),
                kind: if deferred { EventKind::Deferred } else { EventKind::Delivered },
                occurred_at: NOW - 600 + i % 600,
                recipient_domain: format!("d{}.example", i % 200),
                smtp_code: deferred.then_some(451),
                enhanced_code: None,
                reply: deferred.then(|| format!("451 4.7.1 try again later [{}]", i % 7)),
                category: deferred.then_some(Category::RateLimited),
                permanence: None,
                rule: deferred.then_some("fallback.subject.x.7"),
                sending: Default::default(),
            }
        })
        .collect()
}

fn apply(objects: &[SqliteSql], kv: &MemoryStore, events: &[NormalizedEvent]) -> usize {
    let counter = LocalCounter::new(objects, kv, &Silent, Config::new());
    counter.now.set(NOW);
    let prepared = counting::prepare(events, NOW, &Settings::default());
    let mut accepted = 0;
    for (shard, delta) in prepared.deltas {
        let applied: Applied = pollster::block_on(call(&counter, shard, &Request::Apply { delta })).expect("applied");
        accepted += applied.accepted;
    }
    accepted
}

fn bench(c: &mut Criterion) {
    let kv = MemoryStore::new();
    c.bench_function("counting/apply_1000_event_batch_new_rows", |b| {
        b.iter_batched(
            || (vec![SqliteSql::new()], batch(0)),
            |(objects, events)| assert_eq!(apply(&objects, &kv, &events), 1_000),
            BatchSize::SmallInput,
        )
    });
    // Into rows that already hold five batches' ids (a busy hour's rows), and the same batch again.
    let preloaded = || {
        let objects = vec![SqliteSql::new()];
        for seed in 0..5 {
            apply(&objects, &kv, &batch(seed));
        }
        objects
    };
    c.bench_function("counting/apply_1000_event_batch_existing_rows", |b| {
        b.iter_batched(preloaded, |objects| assert_eq!(apply(&objects, &kv, &batch(5)), 1_000), BatchSize::PerIteration)
    });
    c.bench_function("counting/redelivered_1000_event_batch", |b| {
        b.iter_batched(preloaded, |objects| assert_eq!(apply(&objects, &kv, &batch(1)), 0), BatchSize::PerIteration)
    });
    let objects = preloaded();
    c.bench_function("counting/cron_run", |b| {
        b.iter(|| {
            let counter = LocalCounter::new(&objects, &kv, &Silent, Config::new());
            counter.now.set(NOW);
            let report: counting::detection::TickReport =
                pollster::block_on(call(&counter, 0, &Request::Tick)).expect("tick");
            report
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
