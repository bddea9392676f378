# The two commands of the README: `make dev` and `make test`. Both set everything up first.
SHELL := bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: dev test setup build bench fuzz bundle-size

setup:
	@bash scripts/setup.sh

# The Worker under workerd on 127.0.0.1:8787 with local KV in .wrangler/state (wrangler runs the build).
dev: setup
	BOUNCEWATCH_FAST_BUILD=1 wrangler dev --local --ip 127.0.0.1 --port 8787

# Native unit, table and property tests, then the built wasm end to end under wrangler dev.
test: setup
	cargo test --all-targets
	BOUNCEWATCH_FAST_BUILD=1 bash scripts/build-worker.sh
	node --test --test-concurrency=1 tests/e2e/*.test.mjs

# Optimized build, as deployed.
build: setup
	bash scripts/build-worker.sh

bench: setup
	cargo bench

# Every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each, then executions per target. Needs nightly (the
# script installs it and cargo-fuzz), so it is not part of `make test`.
FUZZ_SECONDS ?= 60
fuzz:
	bash scripts/fuzz.sh -t $(FUZZ_SECONDS)

# What `wrangler deploy` would upload (it runs the optimized build), raw and gzip; the limit is on gzip.
bundle-size: setup
	bash scripts/bundle-size.sh
