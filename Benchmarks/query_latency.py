#!/usr/bin/env python3
"""Query latency over a year of 1,000 series, with and without the downsampling tiers.

Feeds `sluice run --window 1m --data-dir DIR` a seeded year of SERIES metric series (one
sample per series every INTERVAL seconds, so every series has windows across the whole year),
which stores the raw samples and 1m windows and rolls them up into the default tiers (1h, 1d).
A copy of the store without its tiers directory is the comparison. Then `sluice serve` on each
store answers, over HTTP:

  year@1d   GET /api/v2/analytics/aggregate?metric=<one series>&step=1d  over the last 365 days
  hour@1m   GET /api/v2/analytics/aggregate?metric=<one series>&window=60s over the last hour

Each is timed RUNS times (median and min reported), and the server's peak RSS (VmHWM) is read
before and after. Nothing is left running or on disk afterwards.

  python3 Benchmarks/query_latency.py --sluice .build/release/sluice --series 1000 --interval 3600
"""
import argparse, os, random, re, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.request

END = 1_795_478_400  # 2026-11-24T00:00:00Z


def vm_hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def serve(sluice, data, config):
    process = subprocess.Popen([sluice, "serve", "--http", "127.0.0.1:0", "--data-dir", data, "--config", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    while "serving on" not in line:
        line = process.stderr.readline()
        if not line:
            raise SystemExit("serve did not start")
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)", line).group(1))
    return process, port


def timed(port, path, runs):
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        body = urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=600).read()
        times.append(time.perf_counter() - start)
        size = len(body)
    return statistics.median(times), min(times), size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=".build/release/sluice")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=3600, help="seconds between samples of one series")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-query-latency-")
    try:
        config = os.path.join(work, "sluice.yml")
        with open(config, "w") as f:
            f.write("pipeline: {windows: [1m]}\nanomaly: {enabled: false}\n")
        data = os.path.join(work, "data")
        start = END - 365 * 86_400
        random.seed(7)
        began = time.perf_counter()
        run = subprocess.Popen([args.sluice, "run", "--data-dir", data, "--config", config], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        step = args.interval / args.series
        chunk = []
        for i in range(int(365 * 86_400 / step)):
            t = start + i * step
            chunk.append('{"type":"metric","timestamp":%.3f,"tenant_id":"t","metric_name":"s%04d","value":%.2f}\n'
                         % (t, i % args.series, random.lognormvariate(3, 0.7)))
            if len(chunk) == 100_000:
                run.stdin.write("".join(chunk).encode())
                chunk = []
        run.stdin.write("".join(chunk).encode())
        run.stdin.close()
        if run.wait() != 0:
            raise SystemExit("sluice run failed")
        stored = sum(os.path.getsize(os.path.join(r, n)) for r, _, fs in os.walk(data) for n in fs)
        print("store: %d series, a sample every %d s each, a year: %.0f MB on disk, written in %.0f s"
              % (args.series, args.interval, stored / 1e6, time.perf_counter() - began))
        without = os.path.join(work, "without-tiers")
        shutil.copytree(data, without, ignore=shutil.ignore_patterns("tiers", "LOCK"))
        no_tiers = os.path.join(work, "no-tiers.yml")
        with open(no_tiers, "w") as f:
            f.write("pipeline: {windows: [1m]}\nanomaly: {enabled: false}\nretention: {tiers: {}}\n")
        year = "/api/v2/analytics/aggregate?metric=s0042&step=1d&from=%d&to=%d" % (END - 365 * 86_400, END)
        hour = "/api/v2/analytics/aggregate?metric=s0042&window=60s&from=%d&to=%d" % (END - 3_600, END)
        print("%-14s %-8s %10s %10s %10s %12s" % ("store", "query", "median s", "min s", "bytes", "peak RSS +MB"))
        for label, directory, cfg in [("with tiers", data, config), ("without tiers", without, no_tiers)]:
            process, port = serve(args.sluice, directory, cfg)
            try:
                for name, path in [("year@1d", year), ("hour@1m", hour)]:
                    before = vm_hwm(process.pid)
                    median, fastest, size = timed(port, path, args.runs)
                    print("%-14s %-8s %10.4f %10.4f %10d %12.1f" % (label, name, median, fastest, size, (vm_hwm(process.pid) - before) / 1e6))
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
