#!/usr/bin/env python3
"""Samples per second through each ingest protocol, against NDJSON over HTTP on the same data.

One seeded data set (SERIES series with three labels, SAMPLES samples spread over ten minutes)
is encoded ahead of time, in batches of BATCH samples, as each protocol's clients send it:

  ndjson        POST /api/v2/analytics/metrics       application/x-ndjson
  ndjson+gzip   the same, Content-Encoding: gzip
  influx        POST /api/v2/write?precision=ms       line protocol
  influx+gzip   the same, gzip (what influxdb-client and Telegraf send by default)
  remote_write  POST /api/v1/write                    snappy + protobuf WriteRequest (cramjam)
  otlp          POST /v1/metrics                      protobuf ExportMetricsServiceRequest, gauge points
  otlp_json     POST /v1/metrics                      OTLP/JSON, the same points
  statsd_tcp    newline-separated gauge lines over one TCP connection

Each protocol gets a fresh `sluice serve` on an empty data directory and CLIENTS concurrent
keep-alive connections; the time runs from the first byte sent
until the server's own counter of records taken reaches SAMPLES. Each is run RUNS times; the
median is reported with its ratio to NDJSON's. Nothing is left running or on disk afterwards.

  python3 Benchmarks/protocol_throughput.py --sluice .build/release/sluice
"""
import argparse, gzip, http.client, json, os, random, re, shutil, socket, statistics, struct, subprocess, sys, tempfile, threading, time, urllib.request

START_MS = 1_795_478_400_000  # 2026-11-24T00:00:00Z


def dataset(series, samples, seed=7):
    rng = random.Random(seed)
    keys = [("bench_latency_%d" % (i % 10), {"host": "h%03d" % (i % 97), "route": "/r/%d" % (i % 13), "shard": str(i)}) for i in range(series)]
    out = []
    for i in range(samples):
        name, labels = keys[i % series]
        out.append((name, labels, round(rng.lognormvariate(3, 1), 3), START_MS + i * 600_000 // samples))
    return out


def batches(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


# --- encoders: each one as the protocol's clients write it ---

def ndjson(batch):
    return "".join(json.dumps({"metric_name": n, "labels": l, "value": v, "tenant_id": "bench",
                               "timestamp": t / 1000}) + "\n" for n, l, v, t in batch).encode()


def influx(batch):
    return "".join("%s,%s,tenant_id=bench value=%r %d\n" % (n, ",".join("%s=%s" % kv for kv in sorted(l.items())), v, t) for n, l, v, t in batch).encode()


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def remote_write(batch):
    import cramjam
    body = bytearray()
    for n, l, v, t in batch:
        labels = [("__name__", n), ("tenant_id", "bench")] + sorted(l.items())
        series = b"".join(field(1, field(1, k.encode()) + field(2, val.encode())) for k, val in labels)
        sample = b"\x09" + struct.pack("<d", v) + b"\x10" + varint(t)
        body += field(1, series + field(2, sample))
    return bytes(cramjam.snappy.compress_raw(bytes(body)))


def otlp_request(batch):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    by_name = {}
    for n, l, v, t in batch:
        metric = by_name.get(n)
        if metric is None:
            metric = by_name[n] = scope.metrics.add(name=n)
        point = metric.gauge.data_points.add(as_double=v, time_unix_nano=t * 1_000_000)
        for k, val in [("tenant_id", "bench")] + sorted(l.items()):
            point.attributes.append(KeyValue(key=k, value=AnyValue(string_value=val)))
    return request


def otlp(batch):
    return otlp_request(batch).SerializeToString()


def otlp_json(batch):
    from google.protobuf.json_format import MessageToJson
    return MessageToJson(otlp_request(batch), indent=None).encode()


def statsd(batch):
    return "".join("%s:%r|g|#%s,tenant_id:bench\n" % (n, v, ",".join("%s:%s" % kv for kv in sorted(l.items()))) for n, l, v, t in batch).encode()


PROTOCOLS = {
    "ndjson": ("/api/v2/analytics/metrics", {"Content-Type": "application/x-ndjson"}, ndjson, False),
    "ndjson+gzip": ("/api/v2/analytics/metrics", {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}, ndjson, True),
    "influx": ("/api/v2/write?org=o&bucket=b&precision=ms", {"Content-Type": "text/plain"}, influx, False),
    "influx+gzip": ("/api/v2/write?org=o&bucket=b&precision=ms", {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, influx, True),
    "remote_write": ("/api/v1/write", {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}, remote_write, False),
    "otlp": ("/v1/metrics", {"Content-Type": "application/x-protobuf"}, otlp, False),
    "otlp_json": ("/v1/metrics", {"Content-Type": "application/json"}, otlp_json, False),
    "statsd_tcp": (None, None, statsd, False),
}


def serve(sluice, config, statsd_tcp):
    arguments = [sluice, "serve", "--http", "127.0.0.1:0", "--config", config, "--data-dir", os.path.dirname(config) + "/data"]
    if statsd_tcp:
        arguments += ["--statsd-tcp", "127.0.0.1:%d" % statsd_tcp]
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    while "serving on" not in line:
        line = process.stderr.readline()
        if not line:
            raise SystemExit("serve did not start")
    return process, int(re.search(r"http://127\.0\.0\.1:(\d+)", line).group(1))


def taken(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=60).read().decode()
    return sum(float(m.group(1)) for m in re.finditer(r'^sluice_records_in_total\{[^}]*type="metric"[^}]*\} (\S+)$', text, re.M))


def post_all(port, path, headers, bodies, clients):
    def worker(part):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for body in part:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status not in (200, 202, 204):
                raise SystemExit("%s answered %d: %s" % (path, response.status, answer[:300]))
        connection.close()
    threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(sluice, work, name, bodies, samples, clients):
    path, headers, _, _ = PROTOCOLS[name]
    config = os.path.join(work, "sluice.yml")
    shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)
    statsd_port = free_port() if path is None else None
    process, port = serve(sluice, config, statsd_port)
    try:
        start = time.perf_counter()
        if path is None:
            with socket.create_connection(("127.0.0.1", statsd_port)) as connection:
                for body in bodies:
                    connection.sendall(body)
        else:
            post_all(port, path, headers, bodies, clients)
        while taken(port) < samples:
            time.sleep(0.01)  # polling the server's own count, not waiting for time to pass
        return time.perf_counter() - start
    finally:
        process.terminate()
        process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice", default=".build/release/sluice")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="comma-separated protocols")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-protocols-")
    try:
        with open(os.path.join(work, "sluice.yml"), "w") as f:
            f.write("server:\n  max_body_bytes: 64MiB\n  enqueue_timeout: 60s\npipeline:\n  lateness: 1h\nanomaly:\n  enabled: false\nretention:\n  tiers: {}\n")
        data = dataset(args.series, args.samples)
        names = args.only.split(",") if args.only else list(PROTOCOLS)
        results = {}
        for name in names:
            encode, compress = PROTOCOLS[name][2], PROTOCOLS[name][3]
            bodies = [encode(b) for b in batches(data, args.batch)]
            if compress:
                bodies = [gzip.compress(b, 1) for b in bodies]
            times = [run_once(args.sluice, work, name, bodies, args.samples, args.clients) for _ in range(args.runs)]
            results[name] = statistics.median(times)
            print("%-13s %9.0f samples/s  (median of %d: %.2f s; %.1f MB sent)" % (
                name, args.samples / results[name], args.runs, results[name], sum(map(len, bodies)) / 1e6), flush=True)
        if "ndjson" in results:
            print("\nrelative to NDJSON over HTTP:")
            for name, t in results.items():
                print("  %-13s %.2f×" % (name, results["ndjson"] / t))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
