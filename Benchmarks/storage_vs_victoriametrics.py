#!/usr/bin/env python3
"""Bytes per sample: Sluice's store beside VictoriaMetrics, on the same samples.

Two sets:
  nab        the Numenta Anomaly Benchmark series under --nab (one series per CSV file)
  synthetic  a seeded day of 1,000 series at 10 s: counters, gauges and latencies

For each set it writes the samples as Sluice metric records (NDJSON), runs
`sluice run --data-dir DIR --window 24h` and counts every byte in DIR; loads the same samples
into VictoriaMetrics (Debian's victoria-metrics, on loopback) through /api/v1/import, forces a
flush and a merge, and counts data/ and indexdb/. It also reports the NDJSON itself and
`zstd -3` of it. Nothing is left running or on disk afterwards.

  python3 Benchmarks/storage_vs_victoriametrics.py --sluice .build/release/sluice --nab ../shared/data/nab/data
"""
import argparse, csv, json, math, os, random, shutil, signal, subprocess, sys, tempfile, time, urllib.request
from datetime import datetime, timezone


def nab_series(root):
    series = []
    for category in sorted(os.listdir(root)):
        folder = os.path.join(root, category)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".csv"):
                continue
            rows = []
            with open(os.path.join(folder, name)) as f:
                for row in csv.DictReader(f):
                    t = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
                    rows.append((int(t.timestamp()), row["value"].strip()))
            series.append((name[:-4], rows))
    return series


def synthetic_series(seed=1, count=1000, step=10, day=86400):
    rng = random.Random(seed)
    start = 1795478400  # 2026-11-24T00:00:00Z
    series = []
    for i in range(count):
        kind = i % 3
        rows = []
        if kind == 0:      # counter: requests served, integer, monotonic
            v = rng.randint(0, 10**6)
            rate = rng.uniform(0.5, 200)
            for k in range(day // step):
                v += int(rng.expovariate(1 / (rate * step)))
                rows.append((start + k * step, str(v)))
        elif kind == 1:    # gauge: a random walk, two decimals
            v = rng.uniform(10, 90)
            for k in range(day // step):
                v = min(100.0, max(0.0, v + rng.gauss(0, 0.5)))
                rows.append((start + k * step, f"{v:.2f}"))
        else:              # latency: lognormal milliseconds, one decimal
            mu = rng.uniform(2, 6)
            for k in range(day // step):
                rows.append((start + k * step, f"{math.exp(rng.gauss(mu, 0.4)):.1f}"))
        series.append((f"series_{i:04d}_{['requests_total', 'utilisation', 'latency_ms'][kind]}", rows))
    return series


def write_ndjson(series, path):
    # Interleaved by time, as a scraper would deliver them.
    merged = sorted(((t, name, v) for name, rows in series for t, v in rows), key=lambda x: (x[0], x[1]))
    with open(path, "w") as f:
        for t, name, v in merged:
            f.write(f'{{"timestamp":{t},"metric_name":"{name}","value":{v}}}\n')
    return len(merged)


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            p = os.path.join(dirpath, name)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def sluice_bytes(sluice, ndjson, workdir):
    data = os.path.join(workdir, "sluice-data")
    with open(ndjson, "rb") as f:
        subprocess.run([sluice, "run", "--data-dir", data, "--window", "24h"], stdin=f, stdout=subprocess.DEVNULL, check=True)
    return du(data)


def victoria_bytes(series, workdir, port=8428):
    storage = os.path.join(workdir, "vm")
    vm = subprocess.Popen(["victoria-metrics", f"-storageDataPath={storage}", f"-httpListenAddr=127.0.0.1:{port}",
                           "-retentionPeriod=100y", "-search.disableCache", "-loggerLevel=ERROR"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        body = "".join(json.dumps({"metric": {"__name__": name}, "values": [float(v) for _, v in rows],
                                   "timestamps": [t * 1000 for t, _ in rows]}) + "\n" for name, rows in series)
        urllib.request.urlopen(urllib.request.Request(base + "/api/v1/import", data=body.encode(), method="POST"), timeout=600)
        urllib.request.urlopen(base + "/internal/force_flush", timeout=600)
        time.sleep(2)
        urllib.request.urlopen(base + "/internal/force_merge", timeout=600)
        # force_merge returns before the merge ends: wait until the size settles.
        last = -1
        for _ in range(120):
            time.sleep(1)
            now = du(os.path.join(storage, "data")) + du(os.path.join(storage, "indexdb"))
            if now == last:
                break
            last = now
        return last
    finally:
        vm.send_signal(signal.SIGINT)
        vm.wait(timeout=60)


def zstd_bytes(path):
    out = subprocess.run(["zstd", "-3", "-c", "-q", path], stdout=subprocess.PIPE, check=True).stdout
    return len(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=".build/release/sluice")
    parser.add_argument("--nab", default="../shared/data/nab/data")
    parser.add_argument("--sets", default="nab,synthetic")
    parser.add_argument("--no-victoria", action="store_true", help="skip VictoriaMetrics (not installed)")
    args = parser.parse_args()
    sets = {"nab": lambda: nab_series(args.nab), "synthetic": synthetic_series}
    print(f"{'set':<10} {'samples':>9} {'NDJSON':>8} {'zstd -3':>8} {'Sluice':>8} {'VictoriaMetrics':>16}   (bytes per sample)")
    for name in args.sets.split(","):
        series = sets[name]()
        workdir = tempfile.mkdtemp(prefix=f"sluice-vs-vm-{name}-")
        try:
            ndjson = os.path.join(workdir, "samples.ndjson")
            n = write_ndjson(series, ndjson)
            raw = os.path.getsize(ndjson)
            z = zstd_bytes(ndjson)
            s = sluice_bytes(args.sluice, ndjson, workdir)
            v = None if args.no_victoria else victoria_bytes(series, workdir)
            vm_text = "-" if v is None else f"{v / n:.3f}"
            print(f"{name:<10} {n:>9} {raw / n:>8.2f} {z / n:>8.3f} {s / n:>8.3f} {vm_text:>16}", flush=True)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
