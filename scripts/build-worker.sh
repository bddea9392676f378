#!/usr/bin/env bash
# Builds the Worker (Rust → wasm → JS shim) without any download: worker-build would fetch wasm-bindgen,
# wasm-opt and esbuild from GitHub, which this environment cannot reach, so we hand it the cargo-installed
# wasm-bindgen and the npm-installed binaryen and esbuild.
# BOUNCEWATCH_FAST_BUILD=1 skips wasm-opt (about 10 s) for dev servers and tests; deploys keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/@esbuild/linux-x64/bin/esbuild}"
flags=(--release)
if [ "${BOUNCEWATCH_FAST_BUILD:-0}" = 1 ]; then flags+=(--no-opt); fi
exec "${WORKER_BUILD_BIN:-worker-build}" "${flags[@]}"
