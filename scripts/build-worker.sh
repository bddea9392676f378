#!/usr/bin/env bash
# Builds the Worker (Rust → wasm → JS shim) into build/ without any download: worker-build would fetch
# wasm-bindgen, wasm-opt and esbuild from GitHub, which this environment cannot reach, so we hand it the
# cargo-installed wasm-bindgen and the npm-installed binaryen and esbuild.
# BOUNCEWATCH_FAST_BUILD=1 skips wasm-opt (minutes with the npm binaryen) for dev servers and tests; deploys keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/@esbuild/linux-x64/bin/esbuild}"
# We run wasm-opt ourselves because worker-build always adds `--debuginfo`, which keeps the function-name
# section: a quarter of the optimized wasm, there only to name frames in panic backtraces. The features are
# worker-build 0.8.7's own list (what workerd supports, plus the exception handling of wasm-bindgen's catch
# wrappers), so no encoding appears that workerd cannot load.
# Cloudflare's limit is on the gzip size, and two of -O's passes make the wasm smaller raw but larger
# gzipped (measured on the Worker of 2026-12: 511 KB gzip before wasm-opt, 557 KB after plain -O, 503 KB
# with these two off). Inlining every function that has one caller (size 0 keeps only the inlining of
# tiny functions) most likely breaks up code that repeated byte for byte, its locals renumbered in each
# caller; sorting functions by call count scatters the monomorphised copies LLVM emits side by side.
# Tried on the Worker of 2026-12 (510-518 KB gzip with these flags) and left out, each larger gzipped: -Oz
# (+1.0 KB), --converge (+0.6 KB), --merge-similar-functions (+0.9 KB).
optimize() {
  "$WASM_OPT_BIN" "$1" -o "$1.opt" -Os --one-caller-inline-max-function-size 0 --skip-pass reorder-functions \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
    --enable-multivalue --enable-reference-types --enable-exception-handling
  mv "$1.opt" "$1"
}

# Two Workers are deployed (README "Deploy"): `front` (wrangler.toml) and `counting`
# (wrangler.counting.toml); the argument names one, none builds both.
# The `worker` profile (worker/Cargo.toml) is `release` optimized for size; the crate is worker/ (the library as a
# cdylib alone, a workspace of its own sharing target/), each Worker's output build/<name>/ here.
workers=("$@")
[ ${#workers[@]} -gt 0 ] || workers=(front counting)
for name in "${workers[@]}"; do
  case "$name" in front | counting) ;; *) echo "build-worker.sh: no Worker named '$name' (front, counting)" >&2; exit 2 ;; esac
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" "${WORKER_BUILD_BIN:-worker-build}" --profile worker --no-opt \
    --out-dir "../build/$name" worker --features "$name"
  if [ "${BOUNCEWATCH_FAST_BUILD:-0}" != 1 ]; then optimize "build/$name/index_bg.wasm"; fi
done
