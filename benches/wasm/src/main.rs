//! Times the pipeline natively, exactly as `bench.mjs` times it in wasm, and prints the fastest and the
//! median call of each as JSON.

use std::time::Instant;

use bouncewatch_wasm_bench::{check_pipeline, parse_classify, request, verify_parse_classify};
use pollster::block_on;

const WARMUP: usize = 20;
const SAMPLES: usize = 200;

/// The fastest and the median milliseconds of one call over `SAMPLES` calls, after `WARMUP` untimed ones.
/// On a shared machine the median moves with the neighbours' load; the fastest call is the code's own cost.
fn timings_ms(run: impl Fn() -> u32) -> String {
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
    format!(r#"{{"min":{},"median":{}}}"#, samples[0], samples[SAMPLES / 2])
}

fn main() {
    block_on(check_pipeline()).expect("the benchmark batch is accepted");
    let request = timings_ms(|| block_on(request()));
    let verify = timings_ms(|| block_on(verify_parse_classify()));
    let parse = timings_ms(parse_classify);
    println!(r#"{{"request_ms":{request},"verify_parse_classify_ms":{verify},"parse_classify_ms":{parse}}}"#);
}
