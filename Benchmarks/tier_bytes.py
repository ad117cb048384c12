#!/usr/bin/env python3
"""Bytes per series per day in each downsampling tier, and the percentiles they keep.

Writes a seeded workload as Sluice NDJSON: SERIES request-latency series (`response_time` of
one tenant on SERIES routes, each with its own log-normal shape and a heavy tail), one sample
per series every 2 s, and visits from a pool of 20,000 visitors, one a second, for DAYS days.
`sluice replay --window 1m --data-dir DIR` stores it and rolls it up into the default tiers
(1h, 1d). For the base 1m windows, the 1h tier and the 1d tier it reports the bytes on disk
per series per day (window records and visits windows, counted apart with `sluice stats` on a
store of windows alone), and checks one day's p99 from the 1d tier against the exact rank
value over the raw samples.

  python3 Benchmarks/tier_bytes.py --sluice .build/release/sluice --days 7 --series 5
"""
import argparse, json, math, os, random, shutil, subprocess, sys, tempfile


def directory_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            if name.endswith(".seg"):
                total += os.path.getsize(os.path.join(root, name))
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=".build/release/sluice")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--series", type=int, default=5)
    parser.add_argument("--visits", action="store_true", help="also measure visits windows (HyperLogLog) on their own")
    args = parser.parse_args()
    random.seed(42)
    t0 = 1_795_478_400 - args.days * 86_400  # whole days before 2026-11-24
    work = tempfile.mkdtemp(prefix="sluice-tier-bytes-")
    try:
        perf = os.path.join(work, "perf.ndjson")
        day_one = {}
        shapes = [(random.uniform(2, 6), random.uniform(0.2, 1.0)) for _ in range(args.series)]
        with open(perf, "w") as out:
            for second in range(0, args.days * 86_400, 2):
                for s, (mu, sigma) in enumerate(shapes):
                    value = round(math.exp(random.gauss(mu, sigma)) * (8 if random.random() < 0.01 else 1), 3)
                    out.write('{"type":"performance","timestamp":%d,"tenant_id":"shop","route":"/r%d","response_time":%s}\n' % (t0 + second, s, value))
                    if second < 86_400 and s == 0:
                        day_one.setdefault(0, []).append(value)
        visits = os.path.join(work, "visits.ndjson")
        with open(visits, "w") as out:
            for second in range(0, args.days * 86_400):
                out.write('{"type":"visit","timestamp":%d,"tenant_id":"shop","visitor_id":"v%d"}\n' % (t0 + second, random.randrange(20_000)))

        rows = []
        for label, path, series in [("window (response_time)", perf, args.series), ("visits_window", visits, 1)]:
            if label == "visits_window" and not args.visits:
                continue
            data = os.path.join(work, "data-" + label.split()[0])
            subprocess.run([args.sluice, "replay", "--window", "1m", "--data-dir", data, path],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # The base tier: the stored windows alone, re-encoded by a retention rewrite that
            # expires every raw record (max_age of the raw types: 1us).
            config = os.path.join(work, "raw-expires.yml")
            with open(config, "w") as f:
                f.write("retention:\n  max_age: {metric: 1us, performance: 1us, cache: 1us, visit: 1us}\n  allow_mass_delete: true\n  tiers: {}\n")
            subprocess.run([args.sluice, "prune", "--data-dir", data, "--config", config, "--confirm"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for tier, folder in [("1m (base)", os.path.join(data, "segments")), ("1h", os.path.join(data, "tiers", "1h")), ("1d", os.path.join(data, "tiers", "1d"))]:
                rows.append((label, tier, directory_bytes(folder) / series / args.days))
            if label.startswith("window"):
                answer = subprocess.run([args.sluice, "query", "--data-dir", os.path.join(data, "tiers", "1d"), "--type", "window"],
                                        check=True, capture_output=True, text=True).stdout
                first = [json.loads(l) for l in answer.splitlines() if '"/r0"' in l][0]
                values = sorted(day_one[0])
                exact = values[math.ceil(0.99 * len(values)) - 1]
                print("day 1, route /r0, from the 1d tier: p99 %.3f vs exact %.3f (%.3f%% off), count %d vs %d"
                      % (first["p99"], exact, abs(first["p99"] - exact) / exact * 100, first["count"], len(values)))
        print("%-24s %-10s %14s" % ("record", "tier", "bytes/series/day"))
        for label, tier, value in rows:
            print("%-24s %-10s %14.0f" % (label, tier, value))
        print("a year of one series in the 1d tier: about %.1f KB" % (rows[2][2] * 365 / 1000))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
