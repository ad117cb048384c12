#!/usr/bin/env python3
"""`sluice run --window 1m` beside `zstd -1` on the same file, with and without a store.

Writes a seeded file of metric lines with RFC 3339 millisecond timestamps (`sluice bench`'s
workload, about 124 bytes a line with the longer timestamps), then times, interleaved run by run so that a noisy machine
hurts every command alike:
  zstd -1 -c FILE > /dev/null
  sluice run --window 1m < FILE > /dev/null                     (store off)
  sluice run --window 1m --data-dir DIR < FILE > /dev/null      (store on, DIR fresh each run)

It reports each command's median, events/s, `sluice run` as a multiple of zstd's time, and the
store-on rate as a share of the store-off rate (the median of the per-round ratios, which
cancels most of the machine's drift). Nothing is left on disk.

  python3 Benchmarks/run_vs_zstd.py --sluice .build/release/sluice [--records 2000000] [--runs 9]
"""
import argparse, os, random, shutil, statistics, subprocess, tempfile, time


def write_lines(path, count, seed=7, tenants=20, series_per_tenant=50, per_second=10_000):
    """`sluice bench`'s workload (1,000 series, 10,000 records an event-time second, up to 2 s
    out of order), with RFC 3339 timestamps in place of Unix seconds."""
    rng = random.Random(seed)
    names = ["req_ms", "cpu_util", "queue_len", "heap_mb", "gc_ms"]
    base = 1_795_600_000_000  # 2026-11-25T09:46:40Z, in milliseconds
    with open(path, "w") as out:
        for i in range(count):
            tenant = rng.randrange(tenants)
            series = rng.randrange(series_per_tenant)
            millis = base + i * 1000 // per_second - rng.randrange(2_000)
            seconds, ms = divmod(millis, 1000)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03dZ" % ms
            value = rng.randrange(1_000_000) / 100
            out.write('{"timestamp":"%s","tenant_id":"t%03d","metric_name":"%s","labels":{"host":"h%d"},"value":%s}\n' % (
                stamp, tenant, names[series % len(names)], series, repr(value)))


def timed(command, stdin_path):
    with open(stdin_path, "rb") as stdin:
        start = time.perf_counter()
        subprocess.run(command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sluice", default=".build/release/sluice")
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-run-vs-zstd-")
    try:
        path = os.path.join(work, "metrics.ndjson")
        write_lines(path, args.records)
        size = os.path.getsize(path)
        print(f"{args.records:,} lines, {size / args.records:.1f} bytes a line")
        data = os.path.join(work, "data")
        times = {"zstd -1": [], "run": [], "run --data-dir": []}
        for _ in range(args.runs):
            times["zstd -1"].append(timed(["zstd", "-1", "-q", "-c", path], path))
            times["run"].append(timed([args.sluice, "run", "--window", "1m"], path))
            shutil.rmtree(data, ignore_errors=True)
            times["run --data-dir"].append(timed([args.sluice, "run", "--window", "1m", "--data-dir", data], path))
        zstd = statistics.median(times["zstd -1"])
        for name, runs in times.items():
            m = statistics.median(runs)
            print(f"{name:16s} median {m:6.3f} s  {args.records / m / 1e6:5.2f}M events/s  {m / zstd:4.2f}x zstd -1   runs " +
                  " ".join(f"{t:.2f}" for t in runs))
        shares = [off / on for off, on in zip(times["run"], times["run --data-dir"])]
        print(f"store on keeps {statistics.median(shares):.0%} of the store-off rate (median of per-round ratios; "
              f"range {min(shares):.0%}-{max(shares):.0%})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
