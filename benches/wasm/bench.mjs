// The wasm/native ratio of the pure SendGrid pipeline (src/lib.rs): times the wasm build under this Node
// (V8, as workerd is) and runs the native build of the same code, both with the Worker's release profile.
// Usage: node bench.mjs <wasm-bindgen --target nodejs output dir> <native binary>; `make bench-wasm` runs it.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const WARMUP = 20;
const SAMPLES = 200;

const [pkgDir, nativeBin] = process.argv.slice(2);
const core = createRequire(import.meta.url)(resolve(pkgDir, "bouncewatch_wasm_bench.js"));

/** Median milliseconds of one call (awaited: WebCrypto answers with a promise), as src/main.rs measures it. */
async function medianMs(run) {
  for (let i = 0; i < WARMUP; i++) await run();
  const samples = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return samples[SAMPLES >> 1];
}

await core.check_pipeline();
const wasm = {
  request_ms: await medianMs(core.request),
  verify_parse_classify_ms: await medianMs(core.verify_parse_classify),
  parse_classify_ms: await medianMs(core.parse_classify),
};
const native = JSON.parse(execFileSync(nativeBin, { encoding: "utf8" }));

console.log(`SendGrid 1,000-event batch, median of ${SAMPLES} (Node ${process.versions.node}, opt-level "s" + LTO)`);
console.log("what".padEnd(44), "wasm ms".padStart(9), "native ms".padStart(10), "wasm/native".padStart(12));
for (const [key, label] of [
  ["request_ms", "request: verify+parse+classify+aggregate"],
  ["verify_parse_classify_ms", "verify+parse+classify"],
  ["parse_classify_ms", "parse+classify"],
]) {
  const ratio = wasm[key] / native[key];
  console.log(label.padEnd(44), wasm[key].toFixed(2).padStart(9), native[key].toFixed(2).padStart(10), ratio.toFixed(2).padStart(12));
}
