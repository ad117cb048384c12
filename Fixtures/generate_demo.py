#!/usr/bin/env python3
"""Writes Fixtures/demo/input.ndjson: five minutes of a small platform, all five record types,
three sites, a few out-of-order and late events and three malformed lines. Seeded, so running
it again gives the same file."""
import json, random
from datetime import datetime, timedelta, timezone

random.seed(7)
start = datetime(2026, 11, 24, 10, 0, 0, tzinfo=timezone.utc)
sites = ["shop-eu", "shop-us", "blog"]
routes = ["/", "/api/cart", "/checkout"]
models = ["gpt-4o", "claude-sonnet"]
lines = []

def ts(t):
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

for i in range(1800):
    t = start + timedelta(milliseconds=i * 170)
    if i % 40 == 7:
        t -= timedelta(seconds=3)        # out of order, inside the 5s lateness
    if i in (900, 1500):
        t -= timedelta(minutes=2)        # far behind: late
    site = sites[i % 3]
    kind = i % 6
    if kind == 0:
        rec = {"type": "performance", "timestamp": ts(t), "tenant_id": site, "route": random.choice(routes),
               "response_time": round(random.lognormvariate(4.5, 0.5), 2),
               "db_query_time": round(random.lognormvariate(2.5, 0.7), 2),
               "memory_usage": random.randint(300, 900)}
    elif kind == 1:
        rec = {"type": "cache", "timestamp": ts(t), "tenant_id": site, "cache": "redis",
               "hits": random.randint(50, 100), "misses": random.randint(0, 25), "size_kb": 20000 + i}
    elif kind == 2:
        rec = {"type": "visit", "timestamp": ts(t), "tenant_id": site,
               "visitor_id": f"v{random.randint(1, 250)}", "path": random.choice(routes)}
    elif kind == 3:
        rec = {"type": "token_usage", "timestamp": ts(t), "tenant_id": site, "model": random.choice(models),
               "prompt_tokens": random.randint(100, 3000), "completion_tokens": random.randint(10, 800),
               "request_id": f"req-{i}"}
    else:
        rec = {"timestamp": ts(t), "tenant_id": site, "metric_name": "orders_per_min",
               "value": random.randint(0, 40), "labels": {"region": "eu" if site == "shop-eu" else "us"}}
    lines.append(json.dumps(rec, separators=(",", ":")))

lines.insert(100, '{"metric_name":"orders_per_min","value":"twelve","timestamp":"2026-11-24T10:00:17Z"}')
lines.insert(500, '{"type":"cache","hits":-1,"misses":0,"size_kb":1,"timestamp":"2026-11-24T10:01:25Z"}')
lines.insert(1200, 'not json at all')
with open("demo/input.ndjson", "w") as f:
    f.write("\n".join(lines) + "\n")
