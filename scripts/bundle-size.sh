#!/usr/bin/env bash
# Prints the size of each of the two Workers as it would be uploaded. `wrangler deploy --dry-run` runs the
# [build] command of its config (the optimized build, wasm-opt on, as deployed) and bundles the result
# without a login; we print wrangler's own total and then each file it wrote, raw and gzip-compressed.
# Cloudflare's Worker size limit applies to the gzip figure, per Worker.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for config in wrangler.toml wrangler.counting.toml; do
  echo "== $config"
  if ! BOUNCEWATCH_FAST_BUILD=0 wrangler deploy --dry-run -c "$config" --outdir "$out/bundle" >"$out/log" 2>&1; then
    cat "$out/log" >&2
    exit 1
  fi
  grep -E 'Total Upload' "$out/log"
  printf '%-60s %10s %10s\n' file bytes gzip
  total_raw=0 total_gzip=0
  while IFS= read -r -d '' file; do
    raw=$(stat -c %s "$file")
    gz=$(gzip -9 -c "$file" | wc -c)
    total_raw=$((total_raw + raw)) total_gzip=$((total_gzip + gz))
    printf '%-60s %10d %10d\n' "${file#"$out/bundle/"}" "$raw" "$gz"
  done < <(find "$out/bundle" -type f ! -name '*.map' ! -name 'README.md' -print0 | sort -z)
  printf '%-60s %10d %10d\n' total "$total_raw" "$total_gzip"
  rm -rf "$out/bundle"
done
