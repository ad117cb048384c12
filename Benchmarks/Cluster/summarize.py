#!/usr/bin/env python3
"""Summarise $BENCH_DIR/results/*.json (default /tmp/sluice-cluster-bench): per-run rows, medians, CPU."""
import json, glob, os, statistics as st
rows = {}
for f in sorted(glob.glob(os.path.join(os.environ.get("BENCH_DIR", "/tmp/sluice-cluster-bench"), "results", "*.json"))):
    r = json.load(open(f))
    key = "base" if r["mode"] == "base" else f"N={r['nodes']}"
    rows.setdefault(key, []).append(r)
print("run            ack_s  ack_rec/s  e2e_s  e2e_rec/s  agg_sum  fails statuses   stalled_partitions  cpu(load phase: before_load->e2e_done, s)")
for key in ["base", "N=1", "N=2", "N=3"]:
    for r in rows.get(key, []):
        L = r["load"]
        stalled = []
        if r["mode"] == "cluster" and r["polls"] and r["polls"][0].get("lags"):
            stalled = [i for i, l in enumerate(r["polls"][0]["lags"]) if l == 300]
        c0, c1 = r["cpu"]["before_load"], r["cpu"]["at_e2e_done"]
        cpu = {k: round(c1[k] - c0[k], 2) for k in c0}
        print(f"{r['run']:<14} {L['ack_seconds']:5.2f} {L['ack_rate']:10.0f} {r['e2e_seconds']:6.2f} {r['e2e_rate']:10.0f} {r['aggregate']['count_sum']:8d} {L['failures']:5d} {L['statuses']}  {str(stalled):<18} {cpu}")
print()
print("medians (records/s):")
for key in ["base", "N=1", "N=2", "N=3"]:
    rs = rows.get(key, [])
    a = st.median(r["load"]["ack_rate"] for r in rs)
    b = st.median(r["e2e_rate"] for r in rs)
    print(f"  {key:<5} (a) ack {a:9.0f}   (b) end-to-end {b:9.0f}   [a: {sorted(round(r['load']['ack_rate']) for r in rs)}  b: {sorted(round(r['e2e_rate']) for r in rs)}]")
print()
print("CPU seconds at end of run (from /proc utime+stime; includes startup/readiness and queries), median over reps:")
for key in ["base", "N=1", "N=2", "N=3"]:
    rs = rows.get(key, [])
    names = rs[0]["cpu"]["end"].keys()
    end = {n: st.median(r["cpu"]["end"][n] for r in rs) for n in names}
    load = {n: st.median(r["cpu"]["at_e2e_done"][n] - r["cpu"]["before_load"][n] for r in rs) for n in names}
    tot = sum(load.values())
    nats = load.get("nats-server", 0)
    lg = st.median(r["load"]["loadgen_cpu_seconds_during_send"] for r in rs)
    print(f"  {key:<5} end: {end}")
    print(f"        load phase: {{{', '.join(f'{n}: {v:.2f}' for n, v in load.items())}}}  nats share {100*nats/tot if tot else 0:.0f}% of server CPU; loadgen {lg:.2f}")
