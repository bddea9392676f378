//! Replies classified per second, natively, on the whole corpus (both reply fixtures), one core.
//!
//! `cargo bench --bench classify`; criterion prints the figure as throughput (elements = replies).
//!
//! Recorded 2026-11-29 on the project's 2-core VM (its speed varies from second to second; the fastest
//! criterion sample is the code's cost, `node benches/criterion_summary.mjs`): whole corpus (1,134 replies)
//! 1.00–1.01 ms per pass, 1.1 M replies/s (median 1.11–1.30 ms); parsing alone 0.37–0.38 ms. The day before,
//! on a quiet run, 1.07–1.10 ms (2.76 ms the session before that); under callgrind a reply then cost ~6.7 K
//! instructions: ~2.1 K parsing, ~4.5 K matching, of which ~1.6 K is the byte-pair pass over the text. Rules
//! gated by their codes are now looked up by the reply's code rather than compared one by one.
//!
//! 2026-12 (issue 15: entity markers in the same pass, the `smtp;` wrapper check, more literals), on a busy
//! VM: whole corpus 1.15 ms fastest (0.99 M replies/s), median 1.70–1.81 ms; parsing alone 0.42 ms fastest.
//!
//! 2026-12-02, the literal pass over every other position (src/classify/literals.rs), memchr for codes,
//! vectorizable whitespace checks; three back-to-back pairs of runs on the busy VM (load 3–4): before,
//! 1.23 ms fastest each time (0.92 M replies/s), median 1.77–1.88 ms; after, 0.91–0.95 ms fastest
//! (1.19–1.24 M replies/s), median 1.25–1.38 ms; parsing alone 0.42–0.46 ms before, 0.22–0.23 ms after.
//! Under callgrind the literal pass costs about as many instructions as before (~2.8 K a reply, ~3.0 K
//! before) but tests each visited position without a branch that the pair alone mispredicted; parsing
//! (with finding the codes) costs ~1.4 K instructions instead of ~2.5 K.

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
