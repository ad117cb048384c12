#!/usr/bin/env python3
"""Sends OTLP/HTTP to a Sluice server with the real OpenTelemetry SDK and exporters, then
prints (one JSON object on stdout) its own record of what it sent. `OTLPClientTests` runs it
against a live server and compares Sluice's windows and token meter with this record.

usage: otlp_client.py BASE_URL TENANT

- protobuf exporter (opentelemetry-exporter-otlp-proto-http), cumulative temporality (the
  SDK's default), two collections: a counter, an explicit-bucket histogram and an exponential
  histogram;
- JSON exporter (opentelemetry-exporter-otlp-json-http), delta temporality: a counter and a
  histogram;
- spans through the protobuf exporter, gzip: HTTP server spans with `http.route` and known
  durations, one internal span, and a GenAI span exported a second time through the JSON
  exporter (the same trace and span ids);
- a hand-built request holding a summary, to read the `partial_success` answer in both
  encodings with the protobuf library's own parsers.
"""
import json
import sys
import time

import requests
from google.protobuf.json_format import MessageToJson, Parse
from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter as JSONMetricExporter
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JSONSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest, ExportMetricsServiceResponse
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

base, tenant = sys.argv[1], sys.argv[2]
headers = {"X-Scope-OrgID": tenant}
resource = Resource.create({"service.name": "otlp-client"})
sent = {"metrics": {}, "spans": {}, "tokens": None, "exports": []}


def account(name, values):
    entry = sent["metrics"].setdefault(name, {"count": 0, "sum": 0.0, "min": None, "max": None})
    for v in values:
        entry["count"] += 1
        entry["sum"] += v
        entry["min"] = v if entry["min"] is None else min(entry["min"], v)
        entry["max"] = v if entry["max"] is None else max(entry["max"], v)


def values(n, scale, offset):
    # Multiples of 1/64: every sum is exact, in any order.
    return [((k * 37) % 101) * scale / 64 + offset for k in range(n)]


# Cumulative temporality through the protobuf exporter; collections only when flushed.
# A busy machine (the whole test suite on two cores) can take longer than the exporters'
# default 10 s to answer; a timed-out export would be a false failure.
TIMEOUT = 120
proto_exporter = OTLPMetricExporter(endpoint=base + "/v1/metrics", headers=headers, timeout=TIMEOUT)
reader = PeriodicExportingMetricReader(proto_exporter, export_interval_millis=3_600_000)
meters = MeterProvider(metric_readers=[reader], resource=resource,
                       views=[View(instrument_name="py.payload", aggregation=ExponentialBucketHistogramAggregation())])
meter = meters.get_meter("otlp-client")
counter = meter.create_counter("py.requests")
latency = meter.create_histogram("py.latency", unit="ms")
payload = meter.create_histogram("py.payload", unit="By")
for batch, (n, scale, offset) in enumerate([(120, 3, 1), (80, 7, 0.5)]):
    for route, adds in (("/a", 5 + batch), ("/b", 3)):
        for _ in range(adds):
            counter.add(2, {"route": route})
        entry = sent["metrics"].setdefault("py.requests", {})
        entry[route] = entry.get(route, 0) + 2 * adds
    latency_values = values(n, scale, offset)
    for v in latency_values:
        latency.record(v)
    account("py.latency", latency_values)
    payload_values = [v * 100 for v in values(n, scale + 2, offset)]
    for v in payload_values:
        payload.record(v)
    account("py.payload", payload_values)
    sent["exports"].append(["metrics proto", meters.force_flush(timeout_millis=TIMEOUT * 1000)])
meters.shutdown(timeout_millis=TIMEOUT * 1000)

# Delta temporality through the JSON exporter.
json_exporter = JSONMetricExporter(endpoint=base + "/v1/metrics", headers=headers, timeout=TIMEOUT,
                                   preferred_temporality={Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA})
reader = PeriodicExportingMetricReader(json_exporter, export_interval_millis=3_600_000)
meters = MeterProvider(metric_readers=[reader], resource=resource)
meter = meters.get_meter("otlp-client")
counter = meter.create_counter("pyjson.requests")
latency = meter.create_histogram("pyjson.latency", unit="ms")
for batch in range(2):
    counter.add(11 + batch)
    entry = sent["metrics"].setdefault("pyjson.requests", {})
    entry["all"] = entry.get("all", 0) + 11 + batch
    latency_values = values(40 + batch * 10, 5, 2)
    for v in latency_values:
        latency.record(v)
    account("pyjson.latency", latency_values)
    sent["exports"].append(["metrics json", meters.force_flush(timeout_millis=TIMEOUT * 1000)])
meters.shutdown(timeout_millis=TIMEOUT * 1000)

# Spans with known durations, ending now.
memory = InMemorySpanExporter()
tracing = TracerProvider(resource=resource)
tracing.add_span_processor(SimpleSpanProcessor(memory))
tracer = tracing.get_tracer("otlp-client")
now = time.time_ns()
for route, durations in (("/users/{id}", [12, 40, 7, 250]), ("/orders", [3, 99])):
    for i, ms in enumerate(durations):
        end = now - i * 1_000_000
        span = tracer.start_span("GET " + route, kind=SpanKind.SERVER, start_time=end - ms * 1_000_000,
                                 attributes={"http.route": route, "http.request.method": "GET", "http.response.status_code": 200})
        span.end(end_time=end)
        sent["spans"].setdefault(route, []).append(ms)
span = tracer.start_span("internal work", start_time=now - 5_000_000)
span.end(end_time=now)
genai = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=now - 800_000_000, attributes={
    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 1500, "gen_ai.usage.output_tokens": 420, "gen_ai.usage.cache_read.input_tokens": 1024})
genai.end(end_time=now)
sent["tokens"] = {"model": "gpt-4o-mini-2024-07-18", "prompt_tokens": 1500, "completion_tokens": 420, "cached_tokens": 1024,
                  "requests": 1, "skipped_spans": 1}
finished = memory.get_finished_spans()
proto_spans = OTLPSpanExporter(endpoint=base + "/v1/traces", headers=headers, compression=Compression.Gzip, timeout=TIMEOUT)
sent["exports"].append(["traces proto", proto_spans.export(finished) == SpanExportResult.SUCCESS])
# The GenAI span again (a retried export), this time as OTLP/JSON.
again = [s for s in finished if s.name.startswith("chat")]
sent["exports"].append(["traces json again", JSONSpanExporter(endpoint=base + "/v1/traces", headers=headers, timeout=TIMEOUT).export(again) == SpanExportResult.SUCCESS])
tracing.shutdown()

# partial_success, read back with the protobuf library.
request = ExportMetricsServiceRequest()
scope = request.resource_metrics.add().scope_metrics.add()
scope.metrics.add(name="py.gauge").gauge.data_points.add(time_unix_nano=time.time_ns(), as_double=1.5)
scope.metrics.add(name="py.summary").summary.data_points.add(time_unix_nano=time.time_ns(), count=2, sum=3.0)
answers = {}
for kind, body in (("protobuf", request.SerializeToString()), ("json", MessageToJson(request).encode())):
    content_type = "application/x-protobuf" if kind == "protobuf" else "application/json"
    reply = requests.post(base + "/v1/metrics", data=body, headers={**headers, "Content-Type": content_type}, timeout=30)
    response = ExportMetricsServiceResponse.FromString(reply.content) if kind == "protobuf" else Parse(reply.text, ExportMetricsServiceResponse())
    answers[kind] = {"status": reply.status_code, "content_type": reply.headers.get("Content-Type"),
                     "rejected": response.partial_success.rejected_data_points, "message": response.partial_success.error_message}
sent["partial_success"] = answers
sent["metrics"]["py.gauge"] = {"count": 2, "sum": 3.0, "min": 1.5, "max": 1.5}
print(json.dumps(sent))
