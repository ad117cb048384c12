#!/usr/bin/env python3
"""Makes the OTLP request bodies the decoder tests read, with the real OpenTelemetry SDK and
its own OTLP encoders (protobuf: opentelemetry-exporter-otlp-proto-common; OTLP/JSON:
opentelemetry-exporter-otlp-json-common), and writes `expected.json`: what the SDK was given,
worked out here in Python, which the tests compare Sluice's records against.

Values are multiples of 1/64 so that every sum is exact in binary floating point, in Python's
order and in Sluice's alike. Run from anywhere: `python3 Fixtures/otlp/make_fixtures.py`.
Needs opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http, opentelemetry-exporter-otlp-json-http.
"""
import json
import math
import os
import random

from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.json.common.metrics_encoder import encode_metrics as json_metrics
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as json_spans
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics as proto_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as proto_spans
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter, _Gauge
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = random.Random(12)
# Bounds 1.2 apart from 1 to about 5,000: each bucket is within 9.1% of its representative.
FINE_BOUNDS = [round(1.2 ** k, 6) for k in range(47)]


def sample(mu=3.0, sigma=1.0):
    return round(RNG.lognormvariate(mu, sigma) * 64) / 64 + 1


def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def stats(values):
    return {"count": len(values), "sum": sum(values), "min": min(values), "max": max(values),
            "p50": nearest_rank(values, 0.5), "p99": nearest_rank(values, 0.99)}


def write(name, proto, js):
    with open(os.path.join(HERE, name + ".pb"), "wb") as f:
        f.write(proto.SerializeToString())
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        f.write(js.to_json())


def provider(temporality, resource):
    reader = InMemoryMetricReader(preferred_temporality={
        Counter: temporality, UpDownCounter: temporality, Histogram: temporality, _Gauge: temporality})
    views = [View(instrument_name="latency", aggregation=ExplicitBucketHistogramAggregation(FINE_BOUNDS)),
             View(instrument_name="payload", aggregation=ExponentialBucketHistogramAggregation())]
    return MeterProvider(metric_readers=[reader], resource=resource, views=views), reader


def record(meter_provider, batch):
    """Records one batch on fresh or existing instruments; returns Python's own account."""
    meter = meter_provider.get_meter("fixtures", "1.0")
    requests = meter.create_counter("requests")
    queue = meter.create_up_down_counter("queue_depth")
    temperature = meter.create_gauge("temperature")
    latency = meter.create_histogram("latency", unit="ms")
    payload = meter.create_histogram("payload", unit="By")
    account = {"requests": {}, "queue_depth": 0, "latency": [], "payload": []}
    for route in ("/a", "/b"):
        n = batch["requests"][route]
        for _ in range(n):
            requests.add(1, {"route": route})
        account["requests"][route] = n
    for delta in batch["queue"]:
        queue.add(delta)
        account["queue_depth"] += delta
    temperature.set(batch["temperature"], {"room": "lab"})
    account["temperature"] = batch["temperature"]
    for v in batch["latency"]:
        latency.record(v, {"route": "/a"})
    account["latency"] = stats(batch["latency"])
    for v in batch["payload"]:
        payload.record(v)
    account["payload"] = stats(batch["payload"])
    return account


def batch(n_latency, n_payload, low=None, high=None):
    latency = [sample() for _ in range(n_latency)]
    payload = [sample(5, 1.5) for _ in range(n_payload)]
    if low is not None:
        latency.append(low)
        payload.append(low)
    if high is not None:
        latency.append(high)
        # Past 2^20 times the minimum: more than 160 buckets at scale 3, so the SDK lowers the
        # payload histogram's scale, and the delta must merge the earlier buckets.
        payload.append(high * 400)
    return {"requests": {"/a": RNG.randint(1, 40), "/b": RNG.randint(1, 40)}, "queue": [RNG.randint(-5, 9) for _ in range(7)],
            "temperature": RNG.randint(-400, 400) / 16, "latency": latency, "payload": payload}


def times(data):
    """The (start, time) of each metric's first point, as the SDK stamped them."""
    out = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                point = m.data.data_points[0]
                out[m.name] = [point.start_time_unix_nano, point.time_unix_nano]
    return out


def metrics():
    expected = {}
    resource = Resource.create({"service.name": "checkout", "tenant_id": "acme"})
    # Delta temporality: one request whose points are exactly the batch.
    meter_provider, reader = provider(AggregationTemporality.DELTA, resource)
    account = record(meter_provider, batch(500, 400))
    data = reader.get_metrics_data()
    write("metrics-delta", proto_metrics(data), json_metrics(data))
    # The same request in protobuf's JSON mapping with the proto field names (snake_case),
    # which OTLP/JSON receivers must accept too.
    with open(os.path.join(HERE, "metrics-delta-snake.json"), "w") as f:
        f.write(MessageToJson(proto_metrics(data), preserving_proto_field_name=True))
    expected["metrics-delta"] = {"account": account, "times": times(data)}
    meter_provider.shutdown()

    # Cumulative temporality: two collections from one provider, then a restart (a new
    # provider, so a new start time). The second batch sets a new minimum and maximum (and
    # makes the exponential histogram change scale); the third one's extremes lie inside the
    # second's.
    meter_provider, reader = provider(AggregationTemporality.CUMULATIVE, resource)
    first = record(meter_provider, batch(300, 300))
    data = reader.get_metrics_data()
    write("metrics-cumulative-1", proto_metrics(data), json_metrics(data))
    expected["metrics-cumulative-1"] = {"account": first, "times": times(data)}
    second = record(meter_provider, batch(300, 300, low=1.0, high=20000.0))
    data = reader.get_metrics_data()
    write("metrics-cumulative-2", proto_metrics(data), json_metrics(data))
    expected["metrics-cumulative-2"] = {"account": second, "times": times(data)}
    third = record(meter_provider, batch(200, 200))
    data = reader.get_metrics_data()
    write("metrics-cumulative-3", proto_metrics(data), json_metrics(data))
    expected["metrics-cumulative-3"] = {"account": third, "times": times(data)}
    meter_provider.shutdown()
    meter_provider, reader = provider(AggregationTemporality.CUMULATIVE, resource)
    restarted = record(meter_provider, batch(100, 100))
    data = reader.get_metrics_data()
    write("metrics-cumulative-restart", proto_metrics(data), json_metrics(data))
    expected["metrics-cumulative-restart"] = {"account": restarted, "times": times(data)}
    meter_provider.shutdown()
    return expected


def traces():
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "api"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tracer_provider.get_tracer("fixtures")
    for route, status in (("/users/{id}", 200), ("/orders", 500)):
        with tracer.start_as_current_span("GET " + route, kind=SpanKind.SERVER,
                                          attributes={"http.route": route, "http.request.method": "GET",
                                                      "http.response.status_code": status, "url.path": "/x"}):
            pass
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 345,
            "gen_ai.usage.cache_read.input_tokens": 1000, "tenant_id": "acme"}):
        pass
    with tracer.start_as_current_span("internal work"):
        pass
    spans = exporter.get_finished_spans()
    proto = proto_spans(spans)
    with open(os.path.join(HERE, "traces.pb"), "wb") as f:
        f.write(proto.SerializeToString())
    with open(os.path.join(HERE, "traces.json"), "w") as f:
        f.write(json_spans(spans).to_json())
    out = []
    for s in spans:
        out.append({"name": s.name, "kind": s.kind.value, "start": s.start_time, "end": s.end_time,
                    "trace_id": format(s.context.trace_id, "032x"), "span_id": format(s.context.span_id, "016x"),
                    "attributes": dict(s.attributes)})
    return out


def bad_metrics():
    """A request whose points break the rules one by one, built from the proto classes; each
    refusal is listed with its request-wide point number."""
    time = 1_790_000_000_000_000_000
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    refusals = []
    gauge = scope.metrics.add(name="room_temperature")
    gauge.gauge.data_points.add(time_unix_nano=time, as_double=21.5)                      # 1: taken
    gauge.gauge.data_points.add(time_unix_nano=time, as_double=float("nan"))             # 2
    refusals.append({"number": 2, "metric": "room_temperature", "point": 2, "reason": "non_finite"})
    gauge.gauge.data_points.add(time_unix_nano=time)                                     # 3: no value
    refusals.append({"number": 3, "metric": "room_temperature", "point": 3, "reason": "missing_field"})
    gauge.gauge.data_points.add(time_unix_nano=time, flags=1)                            # 4: skipped
    point = gauge.gauge.data_points.add(time_unix_nano=time, as_double=3.0)             # 5
    point.attributes.append(KeyValue(key="tenant_id", value=AnyValue(string_value="not a tenant")))
    refusals.append({"number": 5, "metric": "room_temperature", "point": 5, "reason": "bad_tenant"})
    summary = scope.metrics.add(name="rpc_latency")
    for _ in range(2):                                                                  # 6, 7
        summary.summary.data_points.add(time_unix_nano=time, count=3, sum=4.5)
    refusals += [{"number": n, "metric": "rpc_latency", "point": n - 5, "reason": "unsupported"} for n in (6, 7)]
    histogram = scope.metrics.add(name="request_size")
    histogram.histogram.aggregation_temporality = 1
    histogram.histogram.data_points.add(time_unix_nano=time, count=5, sum=10, bucket_counts=[1, 2], explicit_bounds=[1.0])  # 8
    refusals.append({"number": 8, "metric": "request_size", "point": 1, "reason": "out_of_range"})
    histogram.histogram.data_points.add(time_unix_nano=time, count=3, bucket_counts=[1, 2], explicit_bounds=[1.0])         # 9: no sum
    refusals.append({"number": 9, "metric": "request_size", "point": 2, "reason": "unsupported"})
    histogram.histogram.data_points.add(time_unix_nano=time, count=3, sum=4, bucket_counts=[1, 2], explicit_bounds=[1.0], min=0.5, max=2.5)  # 10: taken
    unspecified = scope.metrics.add(name="jobs_total")
    unspecified.sum.is_monotonic = True
    unspecified.sum.data_points.add(time_unix_nano=time, as_int=4)                       # 11: temporality 0
    refusals.append({"number": 11, "metric": "jobs_total", "point": 1, "reason": "unsupported"})
    with open(os.path.join(HERE, "metrics-bad.pb"), "wb") as f:
        f.write(request.SerializeToString())
    # Enum names and "NaN" as protobuf's JSON mapping writes them.
    with open(os.path.join(HERE, "metrics-bad.json"), "w") as f:
        f.write(MessageToJson(request))
    return {"points": 11, "taken": 2, "skipped": 1, "refusals": refusals}


if __name__ == "__main__":
    expected = {"fine_bounds": FINE_BOUNDS, "metrics": metrics(), "traces": traces(), "bad": bad_metrics()}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
