#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/Corpus/<target>/ from the repository's fixtures.

Usage: Fuzz/make_corpus.py SEGMENT_FILE...   (segments written by `sluice run --data-dir`)

Targets whose first input byte chooses an option (see each target's comment) get it here as
the first byte of every seed. Seeds of the block target are the segments' payloads, unpacked
with the `zstd` command. Reproducers of fixed bugs live beside the seeds as `regression-*` and
are left alone. Run again after a fixture changes; the corpora stay small (well under 2 MB).
"""
import hashlib
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def fixture(*path):
    with open(os.path.join(ROOT, "Fixtures", *path), "rb") as f:
        return f.read()


def seed(target, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def lines(*path):
    return [l for l in fixture(*path).split(b"\n") if l.strip()]


def ndjson_and_arrays():
    chosen = lines("edge-cases", "input.ndjson") + lines("tokens", "input.ndjson")[:4]
    demo = lines("demo", "input.ndjson")
    seen_types = set()
    for line in demo:
        kind = line.split(b'"type":"')[1].split(b'"')[0] if b'"type":"' in line else b"metric"
        if kind not in seen_types:
            seen_types.add(kind)
            chosen.append(line)
    for i, line in enumerate(chosen):
        seed("ndjson", bytes([i % 8]) + line + b"\n")
    seed("ndjson", b"\x05" + b"\xef\xbb\xbf" + b"\r\n".join(chosen[:6]) + b"\r\n")
    seed("ndjson", b"\x00" + b"\n".join(demo[:20]))
    for i in range(0, len(chosen), 5):
        group = chosen[i:i + 5]
        seed("json-array", b"[" + b",\n ".join(group) + b"]")
    seed("json-array", b"[]")
    seed("json-array", b' [ {"metric_name":"a","value":1} , [1,{"x":[]}], "s\\u00e9", -0.5e-3, true, null ] ')


def segments(paths):
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        seed("segment", b"\x00" + data)
        seed("segment", b"\x01" + data)
        # Each block's payload, for the block codec (format version from the file header).
        version = data[8]
        offset = 16
        while offset + 44 <= len(data):
            magic, payload, summary = struct.unpack_from("<III", data, offset)
            if magic != 0x4B4C4253:
                break
            start = offset + 44 + summary
            raw = subprocess.run(["zstd", "-d", "-c"], input=data[start:start + payload], capture_output=True, check=True).stdout
            seed("block", bytes([0 if version == 2 else 1]) + raw)
            offset = start + payload


def otlp():
    for name in sorted(os.listdir(os.path.join(ROOT, "Fixtures", "otlp"))):
        if not (name.endswith(".pb") or name.endswith(".json")) or name == "expected.json":
            continue
        target = "otlp-traces" if name.startswith("traces") else "otlp-metrics"
        choice = 0 if name.endswith(".pb") else 1
        seed(target, bytes([choice]) + fixture("otlp", name))
        seed(target, bytes([choice | 2]) + fixture("otlp", name))


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def remote_write():
    import cramjam

    def label(name, value):
        return field(1, field(1, name) + field(2, value))

    def sample(value, ms):
        return field(2, b"\x09" + struct.pack("<d", value) + b"\x10" + varint(ms))

    series = [
        label(b"__name__", b"http_requests_total") + label(b"job", b"api") + sample(12.0, 1764000000000) + sample(13.5, 1764000015000),
        label(b"__name__", b"up") + label(b"tenant_id", b"site-a") + sample(1.0, 1764000000000),
        label(b"__name__", b"stale") + sample(struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0], 1764000000000),
    ]
    request = b"".join(field(1, s) for s in series) + field(3, b"\x08\x01" + field(2, b"up"))
    seed("remote-write", b"\x00" + bytes(cramjam.snappy.compress_raw(request)))
    seed("remote-write", b"\x02" + bytes(cramjam.snappy.compress_raw(request * 3)))
    seed("remote-write", b"\x01" + request)


def text_protocols():
    influx = [
        b"cpu,host=a,region=eu-west usage=0.5,idle=99i,up=true,name=\"x\" 1700000000000000000\nmem free=1024u 1700000000000000001\n",
        b"my\\ cpu\\,total,t\\ k\\=\\,=v\\ a\\,l\\=ue f\\ i\\=e\\,ld=1.5e3,s=\"a \\\"q\\\" \\\\ b\" 1\r\n# comment\n\nm f=-2i\n",
        "température,pièce=salle\\ à\\ manger valeur=21.5,ok=F,n=18446744073709551615u -1\nm,tenant_id=acme f=1".encode(),
        b"C:\\dir,path=C:\\tmp\\x f\\n=1,g=\"\",h=t 9223372036854775807",
    ]
    for i, body in enumerate(influx):
        seed("influx", bytes([i]) + body)
    statsd = [
        b"hits:1|c|@0.5|#env:prod,host:a\ntemp:+1.5|g\nlatency:12.5:13|ms|#route:/api\n",
        b"users:alice|s|#tenant_id:acme\x00users:bob|s|#tenant_id:acme\x00size:1e3|h|T1700000000|c:ci-abc\npayload:-4|d|card:low\n",
        b"_e{5,4}:title|text|#a:b\n_sc|db.up|0\ng:-3|g|#x\r\n\n\x00g:10|g\x00g:-2|g",
    ]
    for i, body in enumerate(statsd):
        seed("statsd", bytes([i]) + body)


def config():
    seed("config", fixture("..", "Config", "sluice.yml"))
    seed("config", b"pipeline:\n  windows: [10s, 1m]\n  lateness: 5s\nstore:\n  fsync: always\n")
    seed("config", b"tokens:\n  pricing:\n    gpt-4o: {prompt_per_million_usd: 2.5, completion_per_million_usd: 10}\n"
                   b"  budgets:\n    site-a: {monthly_tokens: 5000000, thresholds: [0.5, 0.8, 1.0]}\n"
                   b"retention:\n  tiers: {1h: 400d}\n  tenants:\n    site-b: {max_age: {metric: 7d}}\n  max_bytes: 10GiB\n"
                   b"auth:\n  tokens:\n    \"t\": site-a\n    \"a\": admin\n")


if __name__ == "__main__":
    ndjson_and_arrays()
    segments(sys.argv[1:] or [os.path.join(ROOT, "Fixtures", "store-v1", "00000000000000000001.seg")])
    otlp()
    remote_write()
    text_protocols()
    config()
