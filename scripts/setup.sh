#!/usr/bin/env bash
# Installs everything the build, the dev server and the tests need, from the package registries only.
# Idempotent: each step checks first, so a set-up machine passes through in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '[setup] %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo is required (install Rust with rustup)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is required (Node.js 20 or later)" >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The steps below are independent of each other: on a fresh machine the two cargo installs run side by
# side (each leaves a core idle for much of its build) while npm, apt and pip download. Each step that
# has work runs in the background; the script waits for them all and fails if any failed.
pending=()
background() { "$@" & pending+=($!); }

# worker-build's own downloads of these tools fail offline; pin them to what Cargo.lock needs.
# Both are built unoptimized (opt-level 0, no LTO) and only the binary we run: on this 2-core machine the
# two installs took 10 minutes side by side with their own release profiles and 3 without, and the Worker
# they produce is byte-identical (each build takes about 1.5 s longer; 2026-12-02). A fresh CI machine pays
# this once per run.
install_tool() {
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true cargo install "$@"
}
worker_build_version=0.8.7
if [ "$(worker-build --version 2>/dev/null || true)" != "$worker_build_version" ]; then
  step "installing worker-build $worker_build_version (about 3 minutes, once)"
  background install_tool worker-build --version "$worker_build_version" --locked --bin worker-build
fi

bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]; then
  step "installing wasm-bindgen-cli $bindgen_version (about 2 minutes, once)"
  # Without --locked: its lockfile names a webpki-roots release the registry here does not serve.
  background install_tool wasm-bindgen-cli --version "$bindgen_version" --bin wasm-bindgen
fi

# npm ci only when package-lock.json changed since the last install.
if ! cmp -s package-lock.json node_modules/.bouncewatch-lock 2>/dev/null; then
  step "installing wrangler, Node 22 and binaryen from npm"
  background bash -c 'npm ci --no-audit --no-fund && cp package-lock.json node_modules/.bouncewatch-lock'
fi

# apt-get (Chromium, python3-venv) takes one lock, so these two steps run one after the other, beside the rest.
{
# Debian's Chromium for the dashboard's browser test (playwright-core drives it; its own browser download
# cannot work offline). apt-get update only when the package lists have never been fetched.
if [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's chromium for the browser test"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  install_chromium() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }
  # A fresh machine's package lists may be missing or stale (an install then fails on a 404): refresh once.
  if ! apt-cache show chromium >/dev/null 2>&1 || ! install_chromium; then
    $sudo apt-get update
    install_chromium
  fi
fi

# schemathesis for the API contract test (tests/e2e/contract.test.mjs), with every dependency pinned
# (scripts/schemathesis-requirements.txt), from PyPI into a venv of the project's own so that no system
# Python is changed; reinstalled only when that list changes. Debian's python3 needs python3-venv for it.
venv=.venv-schemathesis
requirements=scripts/schemathesis-requirements.txt
if ! cmp -s "$requirements" "$venv/.bouncewatch-requirements" 2>/dev/null; then
  step "installing schemathesis ($(grep '^schemathesis==' "$requirements")) into $venv"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    install_venv() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv; }
    if ! apt-cache show python3-venv >/dev/null 2>&1 || ! install_venv; then
      $sudo apt-get update
      install_venv
    fi
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/.bouncewatch-requirements"
fi
} &
pending+=($!)

if [ ! -f .dev.vars ] && [ -f .dev.vars.example ]; then
  step "creating .dev.vars from .dev.vars.example (local secrets for wrangler dev)"
  cp .dev.vars.example .dev.vars
fi

failed=0
for pid in "${pending[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { echo "[setup] a step failed (see above)" >&2; exit 1; }
