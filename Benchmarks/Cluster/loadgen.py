#!/usr/bin/env python3
"""Load generator for Sluice ingest throughput.

Builds NDJSON bodies of --body records each (pre-encoded before timing), then sends them with
--conns threads over persistent http.client connections. Bodies are taken from a shared queue
in order; body b goes to node b % N (round-robin across the nodes). Each thread keeps one
persistent connection per node.

Prints one JSON object: records, bodies, t_first_post (time.time() just before the first POST),
t_last_202, ack_seconds, ack_rate, statuses, failures, bytes.

Event time: 10 minutes, starting at a minute boundary 25 min before now (so it lies within the
last hour of wall-clock time). 30 bodies per minute of event time, timestamps increasing with the
record index. To keep the 8-way request concurrency from making records late under the default
5 s lateness, the first half of each minute's bodies (15 bodies) are packed into the first 4.5 s
of that minute, the remaining 15 bodies spread over the rest of the minute.
"""
import argparse, http.client, json, random, threading, time, sys, datetime

ap = argparse.ArgumentParser()
ap.add_argument("--ports", required=True, help="comma-separated HTTP ports, e.g. 19001,19002")
ap.add_argument("--records", type=int, default=300_000)
ap.add_argument("--body", type=int, default=1000)
ap.add_argument("--conns", type=int, default=8)
ap.add_argument("--tenants", type=int, default=64)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--t0-file", help="write t_first_post here as soon as the first POST is about to go")
a = ap.parse_args()

ports = [int(p) for p in a.ports.split(",")]
N = len(ports)
rng = random.Random(a.seed)
routes = ["/api/v1/items", "/api/v1/users", "/api/v1/orders", "/healthz"]

now = time.time()
base = (int(now) // 60) * 60 - 25 * 60   # minute-aligned, 25 min ago
nbodies = a.records // a.body
per_min = 30


def ts_of(j):
    """Event time (float seconds) of global record j."""
    b, k = divmod(j, a.body)
    m, i = divmod(b, per_min)
    x = i + k / a.body                     # position within the minute, in bodies [0, 30)
    half = per_min / 2
    off = x * (4.5 / half) if x < half else 4.5 + (x - half) * ((60 - 4.5 - 0.01) / half)
    return base + m * 60 + off


def iso(t):
    ms = int(round((t - int(t)) * 1000))
    if ms == 1000:
        t, ms = int(t) + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + ".%03dZ" % ms


bodies = []
total_bytes = 0
j = 0
for b in range(nbodies):
    lines = []
    for k in range(a.body):
        tenant = "tenant-%d" % rng.randrange(a.tenants)
        route = routes[rng.randrange(len(routes))]
        value = round(rng.lognormvariate(2.5, 0.8), 3)
        lines.append('{"metric_name":"http_request_duration","tenant_id":"%s","labels":{"route":"%s"},"value":%s,"timestamp":"%s"}'
                     % (tenant, route, value, iso(ts_of(j))))
        j += 1
    body = ("\n".join(lines) + "\n").encode()
    total_bytes += len(body)
    bodies.append(body)

lock = threading.Lock()
next_body = [0]
statuses = {}
failures = []
t_last = [0.0]
start_evt = threading.Event()
ready = threading.Barrier(a.conns + 1)
headers = {"Content-Type": "application/x-ndjson"}


def worker():
    conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=120) for p in ports}
    for c in conns.values():
        c.connect()
    ready.wait()
    start_evt.wait()
    while True:
        with lock:
            b = next_body[0]
            if b >= nbodies:
                break
            next_body[0] += 1
        port = ports[b % N]
        c = conns[port]
        try:
            c.request("POST", "/api/v2/analytics/metrics", body=bodies[b], headers=headers)
            r = c.getresponse()
            data = r.read()
            st = r.status
        except Exception as e:  # count, reconnect, go on
            st = "exc:%s" % type(e).__name__
            data = str(e).encode()
            c.close()
            conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t = time.time()
        with lock:
            statuses[st] = statuses.get(st, 0) + 1
            if st != 202:
                failures.append({"body": b, "port": port, "status": st, "resp": data[:300].decode("utf-8", "replace")})
            else:
                try:
                    acc = json.loads(data).get("accepted")
                except Exception:
                    acc = None
                if acc != a.body:
                    failures.append({"body": b, "port": port, "status": st, "resp": data[:300].decode("utf-8", "replace")})
            if st == 202 and t > t_last[0]:
                t_last[0] = t
    for c in conns.values():
        c.close()


threads = [threading.Thread(target=worker) for _ in range(a.conns)]
for t in threads:
    t.start()
ready.wait()
t0 = time.time()
if a.t0_file:
    with open(a.t0_file, "w") as f:
        f.write(repr(t0))
c0 = time.process_time()
start_evt.set()
for t in threads:
    t.join()
cpu = time.process_time() - c0
ack = t_last[0] - t0
out = {
    "records": nbodies * a.body, "bodies": nbodies, "body_records": a.body, "conns": a.conns, "ports": ports,
    "bytes": total_bytes, "avg_record_bytes": total_bytes / (nbodies * a.body),
    "event_time_from": iso(ts_of(0)), "event_time_to": iso(ts_of(nbodies * a.body - 1)),
    "t_first_post": t0, "t_last_202": t_last[0], "ack_seconds": ack,
    "ack_rate": nbodies * a.body / ack if ack > 0 else None,
    "statuses": {str(k): v for k, v in statuses.items()}, "failures": len(failures), "failure_samples": failures[:10],
    "loadgen_cpu_seconds_during_send": cpu,
}
print(json.dumps(out))
