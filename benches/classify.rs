//! Replies classified per second, natively, on the whole corpus (both reply fixtures), one core.
//!
//! `cargo bench --bench classify`; criterion prints the figure as throughput (elements = replies).
//!
//! Recorded 2026-11-28 on a shared 2-core AMD EPYC VM (load average ~1): whole corpus (1,134 replies)
//! 3.02 ms per pass, ~375 K replies/s wall-clock (3.67 ms, ~309 K/s before literals were found in one
//! pass and rules pre-selected by them); parsing alone ~980 K replies/s. Under callgrind a reply costs
//! ~14.8 K instructions (~18.4 K before): ~6.2 K parsing, ~8.6 K matching. Still below the 1 M/s
//! target: what remains is the per-byte work of `reply::parse` (word splitting, code and stage scans,
//! `to_lowercase` on the few non-ASCII replies), the byte-pair pass and the surviving rule checks.

use std::path::PathBuf;

use bouncewatch::classify::classify;
use bouncewatch::reply::parse;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// The first column of each fixture: the reply texts, as the classifier sees them.
fn corpus() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
    ["provider_replies.tsv", "sisimai_pairs.tsv"]
        .iter()
        .flat_map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).expect("fixture is readable");
            text.lines().skip(1).filter_map(|l| l.split('\t').next().map(str::to_owned)).collect::<Vec<_>>()
        })
        .collect()
}

fn bench_corpus(c: &mut Criterion) {
    let replies = corpus();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(replies.len() as u64));
    group.bench_function("whole_corpus", |b| {
        b.iter(|| {
            for reply in &replies {
                black_box(classify(black_box(reply)));
            }
        })
    });
    // The share of the time spent taking replies apart, before any rule runs.
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            for reply in &replies {
                black_box(parse(black_box(reply)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_corpus);
criterion_main!(benches);
