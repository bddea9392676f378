#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another, then prints libFuzzer's executions per target and
# the total. Not part of `make test`: it needs the nightly toolchain and runs for as long as it is told.
#
#   scripts/fuzz.sh [-t SECONDS_PER_TARGET | -r RUNS_PER_TARGET] [TARGET...]   (default: -t 60, every target)
#   scripts/fuzz.sh --cmin [TARGET...]     minimize the committed corpora in fuzz/corpus/<target>
#
# New inputs go to fuzz/target/corpus/<target> (git-ignored); the committed seeds in fuzz/corpus/<target> are
# only read, so they stay small. A crash leaves its input in fuzz/artifacts/<target>/ and makes the script
# exit 1 after the other targets have run; replay it with `cargo +nightly fuzz run -O -s none <target> <file>`.
#
# No sanitizer by default (FUZZ_SANITIZER=address turns AddressSanitizer on): bouncewatch has no `unsafe`
# (its dependencies' is their own fuzzers' business), and ASan made the router target about 17x slower
# (62 against 1,073 exec/s here).
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

limit=(-max_total_time=60)
cmin=false
sanitizer=(-s "${FUZZ_SANITIZER:-none}")
while [[ $# -gt 0 ]]; do
  case "$1" in
    -t) limit=(-max_total_time="$2"); shift 2 ;;
    -r) limit=(-runs="$2"); shift 2 ;;
    --cmin) cmin=true; shift ;;
    -*) echo "usage: $0 [-t SECONDS | -r RUNS | --cmin] [TARGET...]" >&2; exit 2 ;;
    *) break ;;
  esac
done

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2 --locked

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo +nightly fuzz list)
cargo +nightly fuzz build -O "${sanitizer[@]}" || exit 1

if $cmin; then
  for target in "${targets[@]}"; do cargo +nightly fuzz cmin -O "${sanitizer[@]}" "$target" "corpus/$target"; done
  exit 0
fi

total=0
failed=()
printf '%-10s %14s %8s %s\n' target executions seconds result
for target in "${targets[@]}"; do
  mkdir -p "target/corpus/$target" "target/logs"
  log="target/logs/$target.log"
  started=$SECONDS
  # -timeout: an input that takes 10 s is a hang worth reporting, not a slow machine.
  cargo +nightly fuzz run -O "${sanitizer[@]}" "$target" "target/corpus/$target" "corpus/$target" -- \
    "${limit[@]}" -timeout=10 -print_final_stats=1 >"$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  runs=${runs:-0}
  total=$((total + runs))
  result=ok
  if [[ $status -ne 0 ]]; then
    result="CRASH (exit $status, see fuzz/$log)"
    failed+=("$target")
  fi
  printf '%-10s %14s %8s %s\n' "$target" "$runs" "$((SECONDS - started))" "$result"
done
printf '%-10s %14s\n' total "$total"
[[ ${#failed[@]} -eq 0 ]] || { echo "crashed: ${failed[*]}" >&2; exit 1; }
