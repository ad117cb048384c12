#!/usr/bin/env bash
# Scores `sluice detect` on the Numenta Anomaly Benchmark subset in ../shared/data/nab with
# ../shared/tools/nab_score.py, all three profiles.
#   Benchmarks/nab_detect.sh [path/to/sluice]
set -euo pipefail
cd "$(dirname "$0")/.."
sluice=${1:-.build/release/sluice}
nab=${NAB:-../shared/data/nab}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for csv in "$nab"/data/*/*.csv; do
  category=$(basename "$(dirname "$csv")")
  mkdir -p "$out/$category"
  "$sluice" detect "$csv" --output "$out/$category/$(basename "$csv")"
done
python3 ../shared/tools/nab_score.py --data "$nab/data" --windows "$nab/combined_windows.json" --results "$out" --profile all
