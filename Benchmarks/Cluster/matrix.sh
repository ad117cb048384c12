#!/bin/bash
# Ingest throughput of one node without a cluster and of clusters of 1, 2 and 3 nodes over
# nats-server -js, all on this machine: REPS rounds (default 3), then the medians.
# Build first: swift build -c release --product sluice
set -e
cd "$(dirname "$0")"
for rep in $(seq 1 "${REPS:-3}"); do
  python3 run.py base 1 "$rep"
  for n in 1 2 3; do python3 run.py cluster "$n" "$rep"; done
done
python3 summarize.py
