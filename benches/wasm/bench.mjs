// The wasm/native ratio of the pure SendGrid pipeline (src/lib.rs): times the wasm build under this Node
// (V8, as workerd is) and runs the native build of the same code, both with the Worker's release profile.
// Usage: node bench.mjs <wasm-bindgen --target nodejs output dir> <native binary>; `make bench-wasm` runs it.
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const WARMUP = 20;
const SAMPLES = 200;

const [pkgDir, nativeBin] = process.argv.slice(2);

// workerd runs a WebCrypto call inline, on the isolate's thread, and hands back a settled promise (`js.evalNow`
// in its src/workerd/api/crypto/crypto.c++); Node runs it on its thread pool, so awaiting it adds a hand-off to
// the wall clock that a Worker's CPU time does not have (it made the median twice the fastest call). The same
// three calls are done here the workerd way: the same work by Node's own crypto (OpenSSL; workerd has
// BoringSSL), synchronously.
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");
const inlineSubtle = {
  importKey: async (format, point, algorithm) => {
    if (format !== "raw" || algorithm.name !== "ECDSA" || algorithm.namedCurve !== "P-256") throw new Error("unexpected key");
    return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, point]), format: "der", type: "spki" });
  },
  verify: async (algorithm, key, signature, data) => {
    if (algorithm.name !== "ECDSA" || algorithm.hash !== "SHA-256") throw new Error("unexpected algorithm");
    return cryptoVerify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
  },
  digest: async (algorithm, data) => {
    if (algorithm !== "SHA-256") throw new Error("unexpected digest");
    return new Uint8Array(createHash("sha256").update(data).digest()).buffer;
  },
};
Object.defineProperty(globalThis, "crypto", { value: { subtle: inlineSubtle }, configurable: true });
const core = createRequire(import.meta.url)(resolve(pkgDir, "bouncewatch_wasm_bench.js"));

/**
 * The fastest and the median milliseconds of one call (awaited: WebCrypto answers with a promise), as
 * src/main.rs measures them. On a shared machine the median moves with the neighbours' load; the fastest
 * call is the code's own cost, so the ratio is taken between the fastest calls.
 */
async function timingsMs(run) {
  for (let i = 0; i < WARMUP; i++) await run();
  const samples = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { min: samples[0], median: samples[SAMPLES >> 1] };
}

await core.check_pipeline();
const wasm = {
  request_ms: await timingsMs(core.request),
  verify_parse_classify_ms: await timingsMs(core.verify_parse_classify),
  parse_classify_ms: await timingsMs(core.parse_classify),
};
const native = JSON.parse(execFileSync(nativeBin, { encoding: "utf8" }));

const ms = (t) => `${t.min.toFixed(2)} / ${t.median.toFixed(2)}`;
console.log(`SendGrid 1,000-event batch, ${SAMPLES} calls each (Node ${process.versions.node}, opt-level "s" + LTO)`);
console.log("what".padEnd(42), "wasm min / median ms".padStart(21), "native min / median ms".padStart(23), "wasm/native".padStart(12));
for (const [key, label] of [
  ["request_ms", "request: verify+parse+classify+aggregate"],
  ["verify_parse_classify_ms", "verify+parse+classify"],
  ["parse_classify_ms", "parse+classify"],
]) {
  const ratio = wasm[key].min / native[key].min;
  console.log(label.padEnd(42), ms(wasm[key]).padStart(21), ms(native[key]).padStart(23), ratio.toFixed(2).padStart(12));
}
