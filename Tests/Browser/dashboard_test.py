#!/usr/bin/env python3
"""The dashboard in a real browser (Debian's chromium, headless).

Starts `sluice serve` on a free loopback port, replays Fixtures/demo into it over HTTP, and
checks that:
  - a window closing reaches the live stream (which the page listens to) within 2 s;
  - the rendered page (chromium --dump-dom) shows every widget with the same numbers as the
    JSON endpoints;
  - the page weighs under 200 KB, loads in under 200 ms on loopback, makes no external request;
  - a screenshot of it is not blank.

  python3 Tests/Browser/dashboard_test.py [path/to/sluice]
Exit status 0 when every check passes; each failure is printed.
"""
import http.client, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLUICE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/debug/sluice")
CONFIG = """
tokens:
  pricing:
    gpt-4o: {prompt_per_million_usd: 2.5, completion_per_million_usd: 10}
  budgets:
    shop-eu: {monthly_tokens: 1000000, monthly_usd: 5, thresholds: [0.5, 0.8, 1.0]}
"""
failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message)
    if not condition:
        failures.append(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    browser = chromium()
    if not browser:
        print("chromium is not installed: skipping the browser checks")
        return 0
    work = tempfile.mkdtemp(prefix="sluice-browser-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(os.path.join(work, "sluice.yml"), "w") as f:
        f.write(CONFIG)
    server = subprocess.Popen([SLUICE, "serve", "--http", f"127.0.0.1:{port}", "--data-dir", os.path.join(work, "data"),
                               "--config", os.path.join(work, "sluice.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Ready once it says where it serves; the rest of its log is kept in serve.log.
        log = open(os.path.join(work, "serve.log"), "wb")
        for line in server.stderr:
            log.write(line)
            if b"serving on" in line:
                break
        threading.Thread(target=lambda: [log.write(line) for line in server.stderr], daemon=True).start()
        with open(os.path.join(ROOT, "Fixtures/demo/input.ndjson"), "rb") as f:
            body = f.read()
        request = urllib.request.Request(base + "/api/v2/analytics/metrics", data=body, method="POST", headers={"Content-Type": "application/x-ndjson"})
        try:
            reply = urllib.request.urlopen(request)
            accepted = json.load(reply)["accepted"]
        except urllib.error.HTTPError as e:
            accepted = json.load(e)["accepted"]  # the demo has three bad lines: 400, the rest accepted
        check(accepted == 1800, f"the demo fixture is accepted over HTTP ({accepted} records)")

        # Live: a window closing reaches the stream within 2 s.
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        stream.request("GET", "/api/v2/analytics/stream?types=window")
        response = stream.getresponse()
        response.readline()
        started = time.monotonic()
        for ts in ("2026-11-24T10:07:00Z", "2026-11-24T10:09:00Z"):
            urllib.request.urlopen(urllib.request.Request(base + "/api/v2/analytics/metrics", method="POST",
                                   headers={"Content-Type": "application/json"},
                                   data=json.dumps({"metric_name": "probe", "value": 1, "tenant_id": "shop-eu", "timestamp": ts}).encode()))
        latency = None
        probe_closed = False
        event = None
        # Read on until the first probe's own window has closed too (the second probe closes
        # it), so the JSON and the page below see the same state.
        while time.monotonic() - started < 10 and not probe_closed:
            line = response.readline().decode()
            if line.startswith("event: "):
                event = line[7:].strip()
            if event == "window" and latency is None:
                latency = time.monotonic() - started
            if event == "window" and line.startswith("data: ") and '"probe"' in line:
                probe_closed = True
        stream.close()
        check(probe_closed, "the probe's window closed and reached the stream")
        check(latency is not None and latency < 2, f"a closed window reaches the live stream in {latency if latency is None else round(latency, 3)} s (< 2 s)")

        def get(path):
            return json.load(urllib.request.urlopen(base + path))

        performance = get("/api/v2/analytics/performance?tenant=shop-eu&route=/")
        tokens = get("/api/v2/analytics/tokens?tenant=shop-eu")
        blog = get("/api/v2/analytics/tenants/blog/metrics")
        retention = get("/api/v2/analytics/retention")

        page = urllib.request.urlopen(base + "/?tenant=shop-eu&route=/").read()
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            urllib.request.urlopen(base + "/").read()
            times.append(time.perf_counter() - t0)
        check(len(page) < 200_000, f"the page weighs {len(page)} bytes (< 200 KB)")
        check(statistics.median(times) < 0.2, f"the page loads in {round(statistics.median(times) * 1000, 1)} ms (median of 7, < 200 ms)")
        external = re.findall(rb'(?:src|href)="(https?:)?//', page)
        check(not external, "the page makes no external request")

        dom = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                              "--dump-dom", base + "/?tenant=shop-eu&route=/"], capture_output=True, text=True, timeout=120).stdout
        for widget in ("performance-dashboard", "analytics-charts", "multi-site-aggregator", "token-usage-monitor", "retention-policy-manager"):
            check(f'id="{widget}"' in dom, f"the rendered page has the {widget} widget")
            alone = urllib.request.urlopen(f"{base}/widgets/{widget}").read().decode()
            check(f'id="{widget}"' in alone and alone.count('class="widget"') == 1, f"/widgets/{widget} stands alone")

        def dom_value(key):
            m = re.search(r'data-k="' + re.escape(key) + r'" data-v="([^"]*)"', dom)
            return m.group(1) if m else None

        closed = [w for w in performance if not w.get("partial")]
        latest = closed[-1] if closed else performance[-1]
        for stat in ("p50", "p95", "p99", "mean"):
            shown = dom_value(f"response_time-{stat}")
            check(shown is not None and float(shown) == latest["response_time"][stat],
                  f"PerformanceDashboard shows response_time {stat} {shown} = the performance endpoint's {latest['response_time'][stat]}")
        check(dom_value("memory_usage-max") is not None and float(dom_value("memory_usage-max")) == latest["memory_usage"]["max"],
              "PerformanceDashboard shows memory max as the performance endpoint does")
        check("<svg" in dom and "polyline" in dom, "the charts are inline SVG")

        visits = blog["visits"]
        m = re.search(r'data-site="blog".*?data-k="visits" data-v="(\d+)".*?data-k="unique" data-v="(\d+)"', dom, re.S)
        check(m is not None and int(m.group(1)) == visits["visits"] and int(m.group(2)) == visits["unique_visitors"],
              f"MultiSiteAggregator shows blog's visits and unique visitors as the tenant endpoint does ({visits['visits']}, {visits['unique_visitors']})")

        gpt = next(t for t in tokens if t["model"] == "gpt-4o")
        m = re.search(r'data-model="gpt-4o".*?data-k="tokens" data-v="(\d+)".*?data-k="cost" data-v="([0-9.]+)"', dom, re.S)
        check(m is not None and int(m.group(1)) == gpt["total_tokens"] and float(m.group(2)) == gpt["cost_usd"],
              f"TokenUsageMonitor shows gpt-4o's tokens and cost as the tokens endpoint does ({gpt['total_tokens']}, {gpt['cost_usd']})")
        check('data-model="claude-sonnet"' in dom and "unpriced" in dom, "TokenUsageMonitor flags the unpriced model")
        check('data-k="budget-used"' in dom, "TokenUsageMonitor draws the budget with its thresholds")
        check(f'value="{retention["max_age"]["token_usage"]}"' in dom, "RetentionPolicyManager shows the policy")
        check('data-k="next-prune"' in dom and 'data-held="metric|' in dom, "RetentionPolicyManager shows data held and the next prune")

        shot = os.path.join(work, "dashboard.png")
        subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                        "--window-size=1400,2200", f"--screenshot={shot}", base + "/"],
                       capture_output=True, timeout=120)
        check(os.path.exists(shot) and not blank(shot), f"the screenshot is not blank ({os.path.getsize(shot) if os.path.exists(shot) else 0} bytes)")
        if os.environ.get("SLUICE_KEEP_SCREENSHOT"):
            shutil.copy(shot, os.environ["SLUICE_KEEP_SCREENSHOT"])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
            check(code == 0, f"serve exits 0 on SIGTERM (got {code})")
        except subprocess.TimeoutExpired:
            server.kill()
            check(False, "serve stops within 30 s of SIGTERM")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


def blank(path):
    """True when the PNG's pixels are (nearly) all one colour."""
    data = open(path, "rb").read()
    idat = b""
    i = 8
    while i < len(data):
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        if kind == b"IDAT":
            idat += data[i + 8:i + 8 + length]
        i += 12 + length
    pixels = zlib.decompress(idat)
    return len(set(pixels[::97])) < 16


if __name__ == "__main__":
    sys.exit(main())
