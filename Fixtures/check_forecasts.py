#!/usr/bin/env python3
"""Independent check of the budget_forecast records of a fixture's expected output.

Recomputes every forecast from the fixture's input.ndjson and sluice.yml by the rule the
README states, straight from the list of counted records (no ring of buckets): with B a 24th
of tokens.forecast_window (1 h by default), the rate window of a budgeted tenant ends at its
newest record this month and starts at the start of the B-aligned bucket 23 buckets before
that record's, or at its first record this month if later; no forecast under B of that span.
A threshold not yet crossed is reached at
newest + ceil((ceil(threshold * limit) - used) * span / usage) µs, rounded up to the second,
and is forecast if that is before the month ends, once per tenant, month, threshold and kind.

The watermark rule (no forecast for a month that has closed) is not modelled: no fixture
has a tenant whose newest record is in a month the other tenants have left.

    python3 Fixtures/check_forecasts.py Fixtures/token-forecast [output.ndjson]
    (default output: the fixture's expected.ndjson; needs PyYAML for its sluice.yml)
"""
import json
import math
import re
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import yaml

HOUR = 3_600_000_000
WINDOW_BUCKETS = 24
UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": HOUR, "d": 24 * HOUR}


def config(fixture):
    """Prices (micro-dollars per million tokens), budgets and the rate window's bucket, from the
    fixture's sluice.yml."""
    tokens = (yaml.safe_load((fixture / "sluice.yml").read_text()) or {}).get("tokens", {})
    per_million = lambda v: int(round(Decimal(str(v)) * 1_000_000))
    prices = {}
    for model, p in (tokens.get("pricing") or {}).items():
        prompt = per_million(p["prompt_per_million_usd"])
        cached = per_million(p["cached_per_million_usd"]) if "cached_per_million_usd" in p else prompt
        prices[model] = (prompt, per_million(p["completion_per_million_usd"]), cached)
    budgets = {}
    for tenant, b in (tokens.get("budgets") or {}).items():
        budgets[tenant] = (b.get("monthly_tokens"), per_million(b["monthly_usd"]) if "monthly_usd" in b else None,
                           sorted(float(t) for t in b.get("thresholds", [0.5, 0.8, 1.0])))
    window = str(tokens.get("forecast_window", "24h"))
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", window).groups()
    bucket = int(number) * UNITS.get(unit, 0) // WINDOW_BUCKETS
    return prices, budgets, bucket


def micros(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000


def month_of(t):
    d = datetime.fromtimestamp(t // 1_000_000, timezone.utc)
    start = datetime(d.year, d.month, 1, tzinfo=timezone.utc)
    end = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=timezone.utc)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000


def rfc3339(t):
    return datetime.fromtimestamp(t // 1_000_000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dec(m):
    return Decimal(m) / Decimal(1_000_000)


def expected_forecasts(fixture):
    PRICES, BUDGETS, BUCKET = config(fixture)
    counted = []  # (tenant, t, tokens, pico)
    seen = set()
    fired = set()
    out = []
    if BUCKET == 0:
        return out
    for line in (fixture / "input.ndjson").read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if r.get("type") != "token_usage" or "tenant_id" not in r or r.get("cached_tokens", 0) > r["prompt_tokens"]:
            continue  # not token usage, or refused
        key = (r["tenant_id"], r["request_id"])
        if key in seen:
            continue
        seen.add(key)
        tenant, t = r["tenant_id"], micros(r["timestamp"])
        p, c, cached = r["prompt_tokens"], r["completion_tokens"], r.get("cached_tokens", 0)
        price = PRICES.get(r["model"])
        pico = (p - cached) * price[0] + cached * price[2] + c * price[1] if price else 0
        counted.append((tenant, t, p + c, pico))
        if tenant not in BUDGETS:
            continue
        mine = [x for x in counted if x[0] == tenant]
        newest_month = max(month_of(x[1])[0] for x in mine)
        month, month_end = month_of(t)
        if month != newest_month:
            continue  # a late record of a month that is over for this tenant
        this_month = [x for x in mine if month_of(x[1])[0] == month]
        newest = max(x[1] for x in this_month)
        first = min(x[1] for x in this_month)
        window_start = (newest // BUCKET - (WINDOW_BUCKETS - 1)) * BUCKET
        since = max(window_start, first)
        span = newest - since
        if span < BUCKET:
            continue
        in_window = [x for x in this_month if x[1] >= window_start]
        usage_tokens = sum(x[2] for x in in_window)
        usage_pico = sum(x[3] for x in in_window)
        used_tokens = sum(x[2] for x in this_month)
        used_pico = sum(x[3] for x in this_month)
        limit_tokens, limit_micro, thresholds = BUDGETS[tenant]

        def reached(remaining, usage):
            if remaining <= 0 or usage <= 0:
                return None
            delta = -((-remaining * span) // usage)
            at = -((-(newest + delta)) // 1_000_000) * 1_000_000
            return at if at < month_end else None

        for threshold in thresholds:
            if limit_tokens is not None and float(used_tokens) < threshold * float(limit_tokens):
                at = reached(math.ceil(threshold * float(limit_tokens)) - used_tokens, usage_tokens)
                if at is not None and (tenant, month, threshold, "tokens") not in fired:
                    fired.add((tenant, month, threshold, "tokens"))
                    rate = (usage_tokens * HOUR * 1_000_000 * 2 + span) // (2 * span)
                    out.append({"timestamp": rfc3339(t), "tenant_id": tenant, "period": "month", "start": rfc3339(month),
                                "threshold": threshold, "budget_tokens": limit_tokens, "used_tokens": used_tokens,
                                "tokens_per_hour": dec(rate), "measured_from": rfc3339(since), "measured_to": rfc3339(newest),
                                "reached_at": rfc3339(at), "request_id": r["request_id"]})
            if limit_micro is not None and float(used_pico) < threshold * float(limit_micro) * 1_000_000:
                at = reached(math.ceil(threshold * float(limit_micro) * 1_000_000) - used_pico, usage_pico)
                if at is not None and (tenant, month, threshold, "usd") not in fired:
                    fired.add((tenant, month, threshold, "usd"))
                    rate = (usage_pico * HOUR * 2 + span * 1_000_000) // (2 * span * 1_000_000)
                    out.append({"timestamp": rfc3339(t), "tenant_id": tenant, "period": "month", "start": rfc3339(month),
                                "threshold": threshold, "budget_usd": dec(limit_micro), "used_usd": dec((used_pico + 500_000) // 1_000_000),
                                "usd_per_hour": dec(rate), "measured_from": rfc3339(since), "measured_to": rfc3339(newest),
                                "reached_at": rfc3339(at), "request_id": r["request_id"]})
    return out


def main():
    fixture = Path(sys.argv[1])
    output = Path(sys.argv[2]) if len(sys.argv) > 2 else fixture / "expected.ndjson"
    actual = []
    for line in output.read_text().splitlines():
        r = json.loads(line, parse_float=Decimal)
        if r["type"] == "budget_forecast":
            del r["type"]
            r["threshold"] = float(r["threshold"])
            actual.append(r)
    expected = expected_forecasts(fixture)
    for e in expected:
        print(json.dumps({k: str(v) if isinstance(v, Decimal) else v for k, v in e.items()}))
    if actual != expected:
        print(f"MISMATCH: {len(actual)} budget_forecast records in {output}, {len(expected)} expected", file=sys.stderr)
        for a, e in zip(actual, expected):
            if a != e:
                print(f"  got      {a}\n  expected {e}", file=sys.stderr)
                break
        sys.exit(1)
    print(f"{len(expected)} budget_forecast records agree", file=sys.stderr)


if __name__ == "__main__":
    main()
