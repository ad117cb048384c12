#!/usr/bin/env python3
"""Resident memory per active series: `sluice run --window 1m` over N series in one window.

For each N (default 10k, 100k, 1M) it writes N series x --per-series records, all inside one
1-minute window (RFC 3339 timestamps, 2 labels, values spread over six decades), runs
`sluice run --window 1m` on the file and reads the peak resident set (ru_maxrss of the child).
The per-series figure is the slope between successive sizes, so the fixed cost of the process
(runtime, buffers) is not charged to the series. Medians of --runs runs.

    python3 Benchmarks/series_memory.py --sluice .build/release/sluice
"""
import argparse, os, random, resource, statistics, subprocess, sys, tempfile


def write(path, series, per_series, seed):
    rnd = random.Random(seed)
    with open(path, "w") as f:
        for k in range(per_series):
            for s in range(series):
                second = (k * 7 + s) % 60
                millis = rnd.randrange(1000)
                value = round(10 ** rnd.uniform(-2, 4), 3)
                f.write('{"timestamp":"2030-01-01T00:00:%02d.%03dZ","tenant_id":"t%d","metric_name":"m%d",'
                        '"labels":{"host":"h%d","zone":"z%d"},"value":%s}\n'
                        % (second, millis, s % 50, s % 20, s, s % 3, value))


def peak_rss_kib(sluice, path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(path, "rb") as stdin, open(os.devnull, "wb") as out:
        proc = subprocess.Popen([sluice, "run", "--window", "1m"], stdin=stdin, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"sluice run failed with status {status}")
    return usage.ru_maxrss  # KiB on Linux


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sluice", default=".build/release/sluice")
    p.add_argument("--series", default="10000,100000,1000000")
    p.add_argument("--per-series", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    sizes = [int(x) for x in a.series.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = os.path.join(tmp, f"s{n}.ndjson")
            write(path, n, a.per_series, a.seed)
            rss = statistics.median(peak_rss_kib(a.sluice, path) for _ in range(a.runs))
            rows.append((n, rss))
            os.remove(path)
            print(f"{n:>9} series x {a.per_series}: peak RSS {rss / 1024:8.1f} MiB", flush=True)
    for (n0, r0), (n1, r1) in zip(rows, rows[1:]):
        print(f"{n0:>9} -> {n1:>9} series: {(r1 - r0) * 1024 / (n1 - n0):7.0f} bytes per series")


if __name__ == "__main__":
    main()
