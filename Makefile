# The two commands of the README: `make dev` and `make test`. Both set everything up first.
SHELL := bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: dev test setup build bench bench-native bench-wasm bench-worker wasm-bench-package fuzz bundle-size

setup:
	@bash scripts/setup.sh

# Both Workers under one workerd on 127.0.0.1:8787 (the front has the port, the counting Worker its objects)
# with local KV and Durable Objects in .wrangler/state; wrangler runs each one's build.
dev: setup
	BOUNCEWATCH_FAST_BUILD=1 wrangler dev --local --ip 127.0.0.1 --port 8787 -c wrangler.toml -c wrangler.counting.toml

# Native unit, table and property tests, the built wasm end to end under wrangler dev, and the cost
# simulation (release), the longest step. They share the machine's cores so that none idles: the
# simulation is built and run from the start; the end-to-end files, which mostly wait on cron runs and
# retries, start as soon as the wasm is built, and the native tests run beside them. Their logs are
# printed once all are done, and any failing fails the target.
test: setup
	@mkdir -p target
	cargo test --release --test volume -- --nocapture >target/volume.log 2>&1 & volume=$$!; \
	  e2e=; if BOUNCEWATCH_FAST_BUILD=1 bash scripts/build-worker.sh; then \
	    node --test --test-concurrency=4 tests/e2e/*.test.mjs >target/e2e.log 2>&1 & e2e=$$!; fi; \
	  cargo test --all-targets; native=$$?; \
	  ended=1; [ -n "$$e2e" ] && { wait $$e2e; ended=$$?; cat target/e2e.log; }; \
	  wait $$volume; simulated=$$?; cat target/volume.log; \
	  echo "native tests: exit $$native; end to end: exit $$ended; cost simulation: exit $$simulated"; \
	  [ $$native = 0 ] && [ $$ended = 0 ] && [ $$simulated = 0 ]

# Optimized build, as deployed.
build: setup
	bash scripts/build-worker.sh

# Every figure in the README's Performance section. Kept out of `make test`: timings want a quiet machine.
bench: bench-native bench-wasm bench-worker

# criterion (classification, 1,000 events per ESP, the counting object) with each one's fastest, p10 and median sample, then
# the 24-hour cost simulation.
bench-native: setup
	cargo bench
	node benches/criterion_summary.mjs
	cargo test --release --test volume -- --nocapture

# The core alone (no Worker shell) built for wasm, with wasm-bindgen's Node glue, in target/wasm-bench-pkg.
wasm-bench-package: setup
	cd benches/wasm && CARGO_TARGET_DIR=$(CURDIR)/target cargo build --profile wasm-bench --target wasm32-unknown-unknown
	wasm-bindgen --target nodejs --out-dir target/wasm-bench-pkg \
		target/wasm32-unknown-unknown/wasm-bench/bouncewatch_wasm_bench.wasm

# The SendGrid pipeline in wasm under Node against the same code native: the wasm/native ratio.
bench-wasm: wasm-bench-package
	cd benches/wasm && CARGO_TARGET_DIR=$(CURDIR)/target cargo build --profile wasm-bench
	node benches/wasm/bench.mjs target/wasm-bench-pkg target/wasm-bench/bouncewatch-wasm-bench

# Median and p99 latency of the SendGrid batch through the optimized Worker under wrangler dev.
bench-worker: build wasm-bench-package
	node benches/worker_latency.mjs target/wasm-bench-pkg

# Every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each, then executions per target. Needs nightly (the
# script installs it and cargo-fuzz), so it is not part of `make test`.
FUZZ_SECONDS ?= 60
fuzz:
	bash scripts/fuzz.sh -t $(FUZZ_SECONDS)

# What `wrangler deploy` would upload for each of the two Workers (it runs the optimized build), raw and
# gzip; the limit is on gzip, per Worker.
bundle-size: setup
	bash scripts/bundle-size.sh
