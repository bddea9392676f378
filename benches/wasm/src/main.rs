//! Times the pipeline natively, exactly as `bench.mjs` times it in wasm, and prints the medians as JSON.

use std::time::Instant;

use bouncewatch_wasm_bench::{check_pipeline, parse_classify, request, verify_parse_classify};
use pollster::block_on;

const WARMUP: usize = 20;
const SAMPLES: usize = 200;

/// Median milliseconds of one call over `SAMPLES` calls, after `WARMUP` untimed ones.
fn median_ms(run: impl Fn() -> u32) -> f64 {
    for _ in 0..WARMUP {
        std::hint::black_box(run());
    }
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(run());
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

fn main() {
    block_on(check_pipeline()).expect("the benchmark batch is accepted");
    let request = median_ms(|| block_on(request()));
    let verify = median_ms(|| block_on(verify_parse_classify()));
    let parse = median_ms(parse_classify);
    println!(r#"{{"request_ms":{request},"verify_parse_classify_ms":{verify},"parse_classify_ms":{parse}}}"#);
}
