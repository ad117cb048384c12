#!/usr/bin/env python3
"""The dashboard in a real browser (Debian's chromium, headless).

Starts `sluice serve` on a free loopback port, replays Fixtures/demo into it over HTTP, and
checks that:
  - a window closing reaches the live stream (which the page listens to) within 2 s;
  - the rendered page (chromium --dump-dom) shows every widget with the same numbers as the
    JSON endpoints;
  - the page weighs under 200 KB and makes no external request;
  - driven through Selenium (chromedriver), at 390 px and 1400 px wide: nothing overflows
    sideways; the time range picker, drag-to-zoom and back, the tenant selector, a legend click,
    retention editing and CSV export work, and the URL restores the view; records POSTed show
    in the DOM within 1 s; light and dark themes. Screenshots go to $SLUICE_ARTIFACTS
    (default .build-artifacts/).

  python3 Tests/Browser/dashboard_test.py [path/to/sluice]
Exit status 0 when every check passes; each failure is printed.
"""
import base64, csv, datetime, http.client, io, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLUICE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/debug/sluice")
CONFIG = """
tokens:
  pricing:
    gpt-4o: {prompt_per_million_usd: 2.5, completion_per_million_usd: 10}
  budgets:
    shop-eu: {monthly_tokens: 1000000, monthly_usd: 5, thresholds: [0.5, 0.8, 1.0]}
  forecast_window: 1h
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
    if not browser or not shutil.which("chromedriver"):
        # Never a silent pass: without a browser there is nothing checked.
        print("FAIL  chromium and chromedriver are needed (Debian chromium, chromium-driver; PyPI selenium)")
        return 1
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
        print(f"info  the page loads in {round(statistics.median(times) * 1000, 1)} ms (median of 7, on this machine)")
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
        forecasts = re.findall(r'data-k="forecast">At the last [0-9.,]+ (?:h|min) rate \(([0-9.,]+) tokens/h\), (\d+)% of the token budget is reached on 24 Nov at (\d\d:\d\d) UTC', dom)
        check(any(p == "80" and t >= "10:05" for _, p, t in forecasts),
              f"TokenUsageMonitor forecasts when 80% of the token budget is reached, after the newest record ({forecasts})")
        check(f'value="{retention["max_age"]["token_usage"]}"' in dom, "RetentionPolicyManager shows the policy")
        check('data-k="next-prune"' in dom and 'data-held="metric|' in dom, "RetentionPolicyManager shows data held and the next prune")

        interact(browser, base, work)
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


def interact(browser, base, work):
    """The dashboard driven as a user drives it, through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    artifacts = os.environ.get("SLUICE_ARTIFACTS") or os.path.join(ROOT, ".build-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    downloads = os.path.join(work, "downloads")
    os.makedirs(downloads, exist_ok=True)
    options = Options()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})

    def get(path):
        return json.load(urllib.request.urlopen(base + path))

    def wait(condition, timeout=10, what=""):
        try:
            return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition())
        except Exception:
            return None

    def query():
        return urllib.parse.parse_qs(urllib.parse.urlparse(driver.current_url).query)

    def first_chart():
        svg = driver.find_element(By.CSS_SELECTOR, "#performance-dashboard figure.chart svg")
        return int(svg.get_attribute("data-x0")), int(svg.get_attribute("data-x1"))

    def points(widget="performance-dashboard"):
        return int(driver.find_element(By.CSS_SELECTOR, f"#{widget} figure.chart").get_attribute("data-points"))

    def set_width(width):
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})

    def overflow():
        """Elements that reach past the viewport's right edge, and the page's own scroll width."""
        return driver.execute_script("""
            const w = document.documentElement.clientWidth, out = [];
            for (const el of document.querySelectorAll('body *')) {
              const r = el.getBoundingClientRect();
              if (r.width > 0 && r.right > w + 0.5) out.push(el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? '.' + el.className : '') + ' right=' + Math.round(r.right));
            }
            for (const el of document.querySelectorAll('.scroll')) if (el.scrollWidth > el.clientWidth + 0.5) out.push('scrolling table in ' + el.closest('section').id);
            return [document.documentElement.scrollWidth, w, out.slice(0, 5)];""")

    def screenshot(name):
        size = driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                                  "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}})
        path = os.path.join(artifacts, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        check(not blank(path), f"screenshot {path} is not blank ({os.path.getsize(path)} bytes)")

    try:
        # Widths: nothing overflows sideways at a phone's 390 px or a desktop's 1400 px.
        for width in (390, 1400):
            set_width(width)
            driver.get(base + "/?tenant=shop-eu")
            scroll, client, offenders = overflow()
            check(scroll <= client and not offenders, f"at {width} px nothing overflows (page {scroll} px in {client} px; {offenders})")
            screenshot(f"dashboard-{width}.png")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        driver.get(base + "/?tenant=shop-eu")
        dark = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        screenshot("dashboard-1400-dark.png")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
        driver.get(base + "/?tenant=shop-eu")
        light = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        check(dark != light, f"the theme follows prefers-color-scheme (dark {dark}, light {light})")

        # The time range: the picker writes the URL, the charts follow it.
        performance = [w for w in get("/api/v2/analytics/performance?tenant=shop-eu") if not w.get("partial")]
        newest = max(w["end"] for w in get("/api/v2/analytics/aggregate") if not w.get("partial"))
        now_ms = int(datetime.datetime.fromisoformat(newest.replace("Z", "+00:00")).timestamp() * 1000)
        Select(driver.find_element(By.CSS_SELECTOR, "select[data-param=range]")).select_by_value("now-5m")
        wait(lambda: query().get("from") == ["now-5m"])
        check(query().get("from") == ["now-5m"] and query().get("to") == ["now"], f"the range picker puts from=now-5m&to=now in the URL ({driver.current_url})")
        x0, x1 = first_chart()
        check((x0, x1) == (now_ms - 300_000, now_ms), f"the charts span the last 5 minutes of data ({x0}…{x1}, expected {now_ms - 300_000}…{now_ms})")

        def ms(text):
            return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)

        expected = sum(1 for w in performance if now_ms - 300_000 < ms(w["end"]) <= now_ms and w["response_time"]) * 3
        check(points() == expected, f"the response-time chart draws p50/p95/p99 of the windows in range ({points()} points, the API has {expected})")

        # The URL restores the view: tenant, route and range, on a fresh load.
        Select(driver.find_element(By.CSS_SELECTOR, "select[data-param=route]")).select_by_visible_text("/checkout")
        wait(lambda: query().get("route") == ["/checkout"])
        view = driver.current_url
        before = (first_chart(), points())
        driver.get("about:blank")
        driver.get(view)
        check(Select(driver.find_element(By.CSS_SELECTOR, "select[data-param=route]")).first_selected_option.text == "/checkout"
              and Select(driver.find_element(By.CSS_SELECTOR, "select[data-param=range]")).first_selected_option.get_attribute("value") == "now-5m"
              and Select(driver.find_element(By.CSS_SELECTOR, "select[data-param=tenant]")).first_selected_option.text == "shop-eu"
              and (first_chart(), points()) == before,
              f"the URL restores the view ({view})")

        # Drag-to-zoom, and back.
        svg = driver.find_element(By.CSS_SELECTOR, "#performance-dashboard figure.chart svg")
        width = svg.size["width"]
        ActionChains(driver).move_to_element_with_offset(svg, int(-width * 0.2), 0).click_and_hold() \
            .move_by_offset(int(width * 0.4), 0).release().perform()
        wait(lambda: "from" in query() and query()["from"][0].isdigit())
        zoomed = first_chart()
        check(query()["from"][0].isdigit() and before[0][0] < zoomed[0] < zoomed[1] < before[0][1],
              f"dragging across a chart zooms into that stretch ({before[0]} → {zoomed}, URL {driver.current_url})")
        driver.back()
        wait(lambda: query().get("from") == ["now-5m"])
        check(query().get("from") == ["now-5m"] and first_chart() == before[0], "the browser's back button undoes the zoom")

        # A legend click isolates a line; a second click shows them all.
        row = driver.find_element(By.CSS_SELECTOR, "#performance-dashboard figure.chart table.legend tbody tr[data-line='2']")
        row.find_element(By.CSS_SELECTOR, "td").click()
        shown = [g.is_displayed() for g in driver.find_elements(By.CSS_SELECTOR, "#performance-dashboard figure.chart:first-of-type g.line")]
        row.find_element(By.CSS_SELECTOR, "td").click()
        again = [g.is_displayed() for g in driver.find_elements(By.CSS_SELECTOR, "#performance-dashboard figure.chart:first-of-type g.line")]
        check(shown == [False, False, True] and again == [True, True, True], f"a legend click isolates p99 ({shown}), a second shows all ({again})")

        # Switching tenant: the URL follows (the route and series choices are the old tenant's, so
        # they go), and the widgets show that tenant's series as its endpoints give them.
        Select(driver.find_element(By.CSS_SELECTOR, "select[data-param=tenant]")).select_by_visible_text("shop-us")
        wait(lambda: query().get("tenant") == ["shop-us"])
        series = Select(driver.find_element(By.CSS_SELECTOR, "select[data-param=series]")).first_selected_option.text
        metric = series.split("{")[0]
        theirs = {(w["end"], w["metric_name"]): w for w in get(f"/api/v2/analytics/aggregate?tenant=shop-us&metric={metric}") if not w.get("partial")}
        link = driver.find_element(By.CSS_SELECTOR, "a.csv[data-csv=analytics-charts]").get_attribute("href")
        rows = [r for r in csv.DictReader(io.StringIO(urllib.request.urlopen(link).read().decode())) if r["chart"] == series and r["series"] == "mean"]
        check(query().get("tenant") == ["shop-us"] and "route" not in query() and rows
              and all((r["end"], metric) in theirs and float(r["value"]) == theirs[(r["end"], metric)]["mean"] for r in rows),
              f"switching to tenant shop-us charts its {series} as the aggregate endpoint gives it ({len(rows)} windows)")
        check(driver.find_element(By.CSS_SELECTOR, "#performance-dashboard figure.chart").get_attribute("data-points") == "0",
              "shop-us has no performance samples, and PerformanceDashboard says so")

        # CSV export equals the JSON API.
        driver.get(base + "/?tenant=shop-eu&from=now-1h&to=now")
        for widget, check_csv in (("performance-dashboard", csv_performance), ("token-usage-monitor", csv_tokens)):
            for name in os.listdir(downloads):
                os.remove(os.path.join(downloads, name))
            driver.find_element(By.CSS_SELECTOR, f"a.csv[data-csv={widget}]").click()
            path = os.path.join(downloads, f"sluice-{widget}.csv")
            wait(lambda: os.path.exists(path) and os.path.getsize(path) > 0, 20)
            if not os.path.exists(path):
                check(False, f"the {widget} CSV downloads ({os.listdir(downloads)})")
                continue
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            check_csv(rows, get, now_ms)

        # Retention: edit, save, and the API and a reload agree.
        field = driver.find_element(By.CSS_SELECTOR, "#retention-policy-manager input[name=metric]")
        field.clear()
        field.send_keys("12d")
        driver.find_element(By.CSS_SELECTOR, "#retention-policy-manager button[type=submit]").click()
        wait(lambda: driver.find_element(By.CSS_SELECTOR, "#retention-policy-manager .status").text != "")
        status = driver.find_element(By.CSS_SELECTOR, "#retention-policy-manager .status").text
        policy = get("/api/v2/analytics/retention")
        driver.refresh()
        shown = driver.find_element(By.CSS_SELECTOR, "#retention-policy-manager input[name=metric]").get_attribute("value")
        check(status == "saved" and policy["max_age"]["metric"] == "12d" and shown == "12d",
              f"retention edited in the page is saved (status {status!r}, API {policy['max_age'].get('metric')}, after reload {shown})")

        # Live: records POSTed reach the page within 1 s.
        driver.get(base + "/?tenant=shop-eu&route=/checkout")
        wait(lambda: driver.find_element(By.ID, "live").text == "live")
        records = [{"type": "performance", "route": "/checkout", "response_time": 4321, "db_query_time": 12, "memory_usage": 300,
                    "tenant_id": "shop-eu", "timestamp": "2026-11-24T10:12:30Z"},
                   {"metric_name": "probe", "value": 1, "tenant_id": "shop-eu", "timestamp": "2026-11-24T10:14:00Z"}]
        body = "\n".join(json.dumps(r) for r in records).encode()
        urllib.request.urlopen(urllib.request.Request(base + "/api/v2/analytics/metrics", data=body, method="POST",
                                                      headers={"Content-Type": "application/x-ndjson"}))
        posted = time.monotonic()

        def shows_it():
            # Read in one script: the live redraw may replace the cell between two WebDriver calls.
            return driver.execute_script(
                "const c = document.querySelector(\"#performance-dashboard td[data-k='response_time-max']\"); return c ? c.dataset.v : null") == "4321.0"

        seen = wait(shows_it, 5)
        took = time.monotonic() - posted
        check(bool(seen) and took <= 1.0, f"a POSTed window shows in the page in {round(took, 3)} s (≤ 1 s)")
    finally:
        driver.quit()


def csv_performance(rows, get, now_ms):
    api = {w["end"]: w for w in get("/api/v2/analytics/performance?tenant=shop-eu") if not w.get("partial")}
    shown = [r for r in rows]
    same = bool(shown) and all(
        r["end"] in api and all(
            (r[f"{name}_{stat}"] == "" and api[r["end"]][name] is None)
            or (api[r["end"]][name] is not None and float(r[f"{name}_{stat}"]) == api[r["end"]][name][stat])
            for name in ("response_time", "db_query_time") for stat in ("p50", "p90", "p95", "p99", "mean", "count"))
        and float(r["memory_usage_max"]) == api[r["end"]]["memory_usage"]["max"]
        for r in shown)
    in_range = [e for e in api if now_ms - 3_600_000 < int(datetime.datetime.fromisoformat(e.replace("Z", "+00:00")).timestamp() * 1000) <= now_ms]
    check(same and sorted(r["end"] for r in shown) == sorted(in_range),
          f"PerformanceDashboard's CSV ({len(shown)} windows) equals /api/v2/analytics/performance ({len(in_range)} windows in range)")


def csv_tokens(rows, get, now_ms):
    api = get("/api/v2/analytics/tokens")
    mine = {(r["tenant_id"], r["model"]): r for r in rows}
    same = len(mine) == len(api) and all(
        (t["tenant_id"], t["model"]) in mine
        and int(mine[(t["tenant_id"], t["model"])]["total_tokens"]) == t["total_tokens"]
        and int(mine[(t["tenant_id"], t["model"])]["requests"]) == t["requests"]
        and ((mine[(t["tenant_id"], t["model"])]["cost_usd"] == "" and t["cost_usd"] is None)
             or (t["cost_usd"] is not None and float(mine[(t["tenant_id"], t["model"])]["cost_usd"]) == t["cost_usd"]))
        for t in api)
    check(same, f"TokenUsageMonitor's CSV ({len(rows)} rows) equals /api/v2/analytics/tokens ({len(api)} rows)")


if __name__ == "__main__":
    sys.exit(main())
