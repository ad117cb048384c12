#!/usr/bin/env python3
"""One measurement run of Sluice ingest.

usage: run.py cluster N REP     (N nodes over a fresh nats-server)
       run.py base 1 REP        (one node, no cluster: section)

Environment: SLUICE (default: .build/release/sluice of this repository), NATS_SERVER (default:
/usr/sbin/nats-server), BENCH_DIR (default: /tmp/sluice-cluster-bench), where it writes
results/<run>.json and the logs <run>-*.log. Kills everything it started by PID.
"""
import json, os, signal, socket, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TP = os.environ.get("BENCH_DIR", "/tmp/sluice-cluster-bench")
SLUICE = os.environ.get("SLUICE", os.path.join(HERE, "..", "..", ".build", "release", "sluice"))
NATS = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")
os.makedirs(TP, exist_ok=True)
NATS_PORT = 14333
TOTAL = 300_000
CLK = os.sysconf("SC_CLK_TCK")

mode, N, rep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
run = f"{mode}{N}-r{rep}" if mode == "cluster" else f"base-r{rep}"
os.makedirs(f"{TP}/results", exist_ok=True)
started = []   # (name, Popen)
result = {"run": run, "mode": mode, "nodes": N, "rep": rep}


def log(*a):
    print(f"[{run} {time.strftime('%H:%M:%S')}]", *a, flush=True)


def cpu_of(pid):
    """utime+stime seconds from /proc (precise); None when gone."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / CLK
    except Exception:
        return None


def cpu_snapshot():
    return {name: cpu_of(p.pid) for name, p in started}


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def http_get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def cluster_status():
    t = time.time()
    p = subprocess.run([SLUICE, "cluster", "status", "--config", f"{TP}/n1.yml", "--json"], capture_output=True, text=True, timeout=30)
    d = time.time() - t
    if p.returncode != 0:
        return None, d, p.stderr.strip()
    return json.loads(p.stdout), d, None


def aggregate_count(port=19001):
    st, body = http_get(f"http://127.0.0.1:{port}/api/v2/analytics/aggregate?window=1m", timeout=60)
    windows = json.loads(body)
    return sum(w.get("count", 0) for w in windows), len(windows), sum(1 for w in windows if w.get("partial"))


def kill_all():
    """SIGTERM the sluice nodes (all at once), wait for them, then nats-server; SIGKILL after 20 s."""
    nodes = [(n, p) for n, p in started if n != "nats-server"]
    nats = [(n, p) for n, p in started if n == "nats-server"]
    for group in (nodes, nats):
        for name, p in group:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in group:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"{name} pid {p.pid} ignored SIGTERM for 20 s; SIGKILL")
                result.setdefault("sigkilled", []).append(name)
                p.kill()
                p.wait()
            result.setdefault("exit_codes", {})[name] = p.returncode


try:
    # NATS (cluster runs only)
    if mode == "cluster":
        store = f"{TP}/js-{run}"
        subprocess.run(["rm", "-rf", store])
        nlog = open(f"{TP}/{run}-nats.log", "w")
        p = subprocess.Popen([NATS, "-js", "-a", "127.0.0.1", "-p", str(NATS_PORT), "-sd", store], stdout=nlog, stderr=subprocess.STDOUT)
        started.append(("nats-server", p))
        assert wait_port(NATS_PORT), "nats-server did not listen"
        for k in range(1, N + 1):
            with open(f"{TP}/n{k}.yml", "w") as f:
                f.write(f"cluster:\n  nats: nats://127.0.0.1:{NATS_PORT}\n  node_id: n{k}\n  partitions: 16\npipeline:\n  windows: [1m]\n")
    else:
        with open(f"{TP}/base.yml", "w") as f:
            f.write("pipeline:\n  windows: [1m]\n")

    # nodes
    ports = []
    for k in range(1, N + 1):
        port = 19000 + k
        ports.append(port)
        data = f"{TP}/data-{run}-n{k}"
        subprocess.run(["rm", "-rf", data])
        cfg = f"{TP}/n{k}.yml" if mode == "cluster" else f"{TP}/base.yml"
        lf = open(f"{TP}/{run}-n{k}.log", "w")
        p = subprocess.Popen([SLUICE, "serve", "--config", cfg, "--http", f"127.0.0.1:{port}", "--data-dir", data],
                             stdout=lf, stderr=lf)
        started.append((f"sluice-n{k}", p))
    result["pids"] = {name: p.pid for name, p in started}

    # readiness
    t_ready0 = time.time()
    for port in ports:
        assert wait_port(port, 60), f"node on {port} did not listen"
    if mode == "cluster":
        for port in ports:
            end = time.time() + 60
            while True:
                try:
                    st, body = http_get(f"http://127.0.0.1:{port}/api/v2/cluster/status", 5)
                    if st == 200 and "partitions" in json.loads(body):
                        break
                except Exception:
                    pass
                assert time.time() < end, f"{port}: /api/v2/cluster/status never had partitions"
                time.sleep(0.2)
        # every partition owned, all N nodes live, and the owners unchanged for 5 s
        end = time.time() + 90
        stable_since, last_owners, owners = None, None, None
        while True:
            s, _, err = cluster_status()
            if s:
                owners = tuple(p.get("owner") for p in s["partitions"])
                ok = all(o is not None for o in owners) and len(s["nodes"]) == N
                if ok and owners == last_owners:
                    if time.time() - stable_since >= 5:
                        break
                elif ok:
                    stable_since = time.time()
                last_owners = owners if ok else None
            if time.time() > end:
                log("ownership did not settle in 90 s; going on with", owners)
                result["unsettled_ownership_at_start"] = True
                break
            time.sleep(0.5)
        counts = sorted(owners.count(f"n{k}") for k in range(1, N + 1))
        result["ownership_even"] = counts[-1] - counts[0] <= 1
        result["owners_at_start"] = {f"n{k}": [i for i, o in enumerate(owners) if o == f"n{k}"] for k in range(1, N + 1)}
        log("ready; owners", result["owners_at_start"])
    result["ready_seconds"] = time.time() - t_ready0

    cpu_before = cpu_snapshot()
    # load
    t0file = f"{TP}/results/{run}.t0"
    lg = subprocess.run([sys.executable, os.path.join(HERE, "loadgen.py"), "--ports", ",".join(map(str, ports)), "--records", str(TOTAL),
                         "--conns", "8", "--t0-file", t0file], capture_output=True, text=True)
    if lg.returncode != 0:
        log("loadgen failed", lg.stderr)
    load = json.loads(lg.stdout)
    result["load"] = load
    cpu_after_ack = cpu_snapshot()
    t0 = load["t_first_post"]
    log(f"acked: {load['ack_seconds']:.2f} s, {load['ack_rate']:.0f} rec/s, statuses {load['statuses']}")

    # end-to-end: poll every 0.2 s after the last 202
    polls = []
    deadline = time.time() + 600
    t_done = None
    while time.time() < deadline:
        tp = time.time()
        if mode == "cluster":
            s, dur, err = cluster_status()
            ok = bool(s) and all(p.get("owner") is not None and p["caught_up"] and p["lag_messages"] == 0 for p in s["partitions"])
            lag = sum(p["lag_messages"] for p in s["partitions"]) if s else None
            polls.append({"t": round(time.time() - t0, 3), "lag": lag, "dur": round(dur, 3), "err": err,
                          "lags": [p["lag_messages"] for p in s["partitions"]] if s else None,
                          "caught": sum(1 for p in s["partitions"] if p["caught_up"]) if s else None})
        else:
            try:
                cnt, nw, npart = aggregate_count(19001)
            except Exception as e:
                cnt = None
            ok = cnt == TOTAL
            polls.append({"t": round(time.time() - t0, 3), "count": cnt, "dur": round(time.time() - tp, 3)})
        if ok:
            t_done = time.time()
            if mode == "cluster":
                result["status_at_done"] = s
            break
        time.sleep(max(0, 0.2 - (time.time() - tp)))
    result["polls"] = polls
    result["e2e_seconds"] = (t_done - t0) if t_done else None
    result["e2e_rate"] = TOTAL / (t_done - t0) if t_done else None
    result["drained"] = t_done is not None
    cpu_after_e2e = cpu_snapshot()
    log(f"end-to-end: {result['e2e_seconds']} s, {result['e2e_rate']} rec/s after {len(polls)} polls")

    # correctness
    try:
        cnt, nw, npart = aggregate_count(19001)
        result["aggregate"] = {"count_sum": cnt, "windows": nw, "partial_windows": npart, "equals_total": cnt == TOTAL}
    except Exception as e:
        result["aggregate"] = {"error": str(e)}
    # cross-check from the other nodes, and late counters from /metrics
    result["aggregate_other_nodes"] = {}
    for port in ports[1:]:
        try:
            result["aggregate_other_nodes"][port] = aggregate_count(port)[0]
        except Exception as e:
            result["aggregate_other_nodes"][port] = str(e)
    result["late_metrics"] = {}
    for port in ports:
        try:
            _, body = http_get(f"http://127.0.0.1:{port}/metrics", 10)
            result["late_metrics"][port] = [l for l in body.decode().splitlines()
                                            if l.startswith("sluice_late_events_total") or l.startswith("sluice_cluster_partitions_owned")]
        except Exception as e:
            result["late_metrics"][port] = str(e)
    log("aggregate", result["aggregate"], "late", result["late_metrics"])

    # CPU at the end
    pids = ",".join(str(p.pid) for _, p in started)
    ps = subprocess.run(["ps", "-o", "pid,comm,time", "-p", pids], capture_output=True, text=True).stdout
    result["ps_end"] = ps
    cpu_end = cpu_snapshot()
    result["cpu"] = {"before_load": cpu_before, "at_last_202": cpu_after_ack, "at_e2e_done": cpu_after_e2e, "end": cpu_end}
    log("ps:\n" + ps)
finally:
    kill_all()
    left = [f"{n}:{p.pid}" for n, p in started if p.poll() is None]
    result["left_running"] = left
    with open(f"{TP}/results/{run}.json", "w") as f:
        json.dump(result, f, indent=1)
    log("done; left running:", left)
