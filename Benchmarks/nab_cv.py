#!/usr/bin/env python3
"""Leave-one-category-out cross-validation of `sluice detect` on the NAB subset.

Every choice a detector makes from labelled data (its settings and its alert threshold) is
made on four categories and scored on the fifth, for each category in turn, so no fold's
score has seen its own labels. For each fold this prints the settings and threshold chosen
on the other four and the held-out score, per profile; then

- the mean of the fold scores (folds whose category has anomaly windows: NAB's normalised
  score is 100 (raw - null) / (perfect - null), which a category without windows, such as
  artificialNoAnomaly, does not define; its false alarms still count in the pooled score);
- the pooled cross-validated score: every category scored at the choice made without it,
  all together, normalised over the whole subset as NAB normalises a corpus;
- the whole-subset score with the setting and threshold chosen on the whole subset, as NAB
  reports detectors (its selection has seen every label, so it is the optimistic figure).

Settings to choose from:
- `--grid`: every combination of the model's constants in GRID below (192 settings), passed
  to `sluice detect` as its model-constant options. This is how the shipped constants were
  chosen: they are the low-false-positive profile's whole-subset choice (the standard
  profile's differs only in a near-baseline gate of 1.5, which alerts on values at the edge
  of a new level's band), and the fold scores are the honest estimate.
- `--candidates FILE`: a JSON object {"name": ["--option", "value", ...], ...} of
  `sluice detect` argument lists.
- neither: the detector as built, threshold alone chosen in each fold.

Selection is by NAB's raw score on the training categories (ties to the earlier setting).
Each setting is run once over every file; only the settings some fold chooses are kept.

    python3 Benchmarks/nab_cv.py --sluice .build/release/sluice --grid
"""
import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

# The model's constants (`AnomalyModel.Tuning`): the near-baseline gate and the factor of an
# unremarkable novel value, the ratio below which a value echoes a recent excursion (0: no
# such test), and the one scale of the seasonal and level-shift z-scores. The record gates'
# spans and the echo's span stay at 100 values: a grid that also tried 300 for both gates
# (before the echo test existed) had every fold, and the whole subset, choose 100.
GRID = {
    "--near": ["1.5", "2", "3"],
    "--near-factor": ["0.5", "1"],
    "--recent-ratio": ["0", "0.3", "0.5", "0.7"],
    "--scale": ["4", "5", "6", "7", "8", "10", "12", "16"],
}


def grid_candidates():
    out = {}
    for values in itertools.product(*GRID.values()):
        name = " ".join(f"{k[2:]}={v}" for k, v in zip(GRID, values))
        out[name] = [a for pair in zip(GRID, values) for a in pair]
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(here, "..", ".build", "release", "sluice"))
    ap.add_argument("--nab", default=os.path.join(here, "..", "..", "shared", "data", "nab"))
    ap.add_argument("--scorer", default=os.path.join(here, "..", "..", "shared", "tools", "nab_score.py"))
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--candidates", help="JSON object of named `sluice detect` argument lists")
    which.add_argument("--grid", action="store_true", help="choose among the model constants in GRID")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="`sluice detect` processes at once")
    ap.add_argument("--json", action="store_true", help="print the table as JSON")
    args = ap.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.abspath(args.scorer)))
    import nab_score  # the independent scorer: the same code scores every fold

    candidates = {"default": []}
    if args.candidates:
        with open(args.candidates) as fh:
            candidates = json.load(fh)
    elif args.grid:
        candidates = grid_candidates()
    data = os.path.join(args.nab, "data")
    windows = os.path.join(args.nab, "combined_windows.json")
    categories = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))
    series = [(c, f) for c in categories for f in sorted(os.listdir(os.path.join(data, c))) if f.endswith(".csv")]
    folds = categories + [None]  # None: the whole subset

    def category_of(f):
        return f["name"].split("/")[0]

    def score(files, cost, threshold=None):
        rows = sorted((r for f in files for r in f["rows"]), key=lambda r: r[0], reverse=True)
        return nab_score.score_profile(files, rows, cost, threshold)

    work = tempfile.mkdtemp()
    try:
        def detect(index, extra):
            out = os.path.join(work, str(index))
            def one(item):
                category, f = item
                os.makedirs(os.path.join(out, category), exist_ok=True)
                subprocess.run([args.sluice, "detect", os.path.join(data, category, f),
                                "--output", os.path.join(out, category, f)] + extra,
                               check=True, stderr=subprocess.DEVNULL)
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                list(pool.map(one, series))
            return out

        # Scan: for each profile and fold, the setting and threshold with the best raw score on
        # the training categories. Only the raw score decides, so the null detector's sweep
        # (used for the normalised score alone) waits until the choices are made.
        best = {p: {h: None for h in folds} for p in nab_score.PROFILES}
        kept = {}
        for index, (name, extra) in enumerate(candidates.items()):
            out = detect(index, extra)
            files = nab_score.load_corpus(data, windows, out)
            tagged = sorted(((r[0], category_of(f), r[1], r[2]) for f in files for r in f["rows"]),
                            key=lambda r: r[0], reverse=True)
            for held in folds:
                train = [f for f in files if category_of(f) != held]
                scored = sum(f["scored"] for f in train)
                rows = [(s, w, u) for s, c, w, u in tagged if c != held]
                for profile, cost in nab_score.PROFILES.items():
                    raw = nab_score.choose(nab_score.sweep(rows, scored, cost))[1]
                    if best[profile][held] is None or raw > best[profile][held][1]:
                        best[profile][held] = (name, raw)
            kept[name] = out
            chosen = {b[0] for p in best.values() for b in p.values() if b}
            for stale in [n for n in kept if n not in chosen]:
                shutil.rmtree(kept.pop(stale))
            if len(candidates) > 1:
                print(f"{index + 1}/{len(candidates)} settings run", file=sys.stderr)
        corpus = {name: nab_score.load_corpus(data, windows, out) for name, out in kept.items()}
    finally:
        shutil.rmtree(work)

    report = {"categories": categories, "candidates": len(candidates), "profiles": {}}
    for profile, cost in nab_score.PROFILES.items():
        rows_out, pooled = [], []
        for held in categories:
            name = best[profile][held][0]
            fit = score([f for f in corpus[name] if category_of(f) != held], cost)
            test = [f for f in corpus[name] if category_of(f) == held]
            result = score(test, cost, fit["threshold"])
            rows_out.append({"held_out": held, "candidate": name, "threshold": fit["threshold"],
                             "train_score": fit["score"], "score": result["score"], "raw": result["raw"],
                             "windows": result["windows"], "windows_detected": result["windows_detected"],
                             "fp": result["fp"]})
            # The held-out rows as they fire at that choice, to be scored all together.
            for f in test:
                rows = [(1.0 if r[0] >= fit["threshold"] else 0.0,) + tuple(r[1:]) for r in f["rows"]]
                pooled.append(dict(f, rows=rows))
        defined = [f["score"] for f in rows_out if f["score"] == f["score"]]
        whole_name = best[profile][None][0]
        whole = score(corpus[whole_name], cost)
        report["profiles"][profile] = {
            "folds": rows_out,
            "fold_mean": sum(defined) / len(defined) if defined else float("nan"),
            "pooled": score(pooled, cost, 0.5)["score"],
            "whole_subset": whole["score"],
            "whole_subset_candidate": whole_name,
            "whole_subset_threshold": whole["threshold"],
        }

    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"sluice detect, leave one category out over {len(categories)} categories, "
          f"{len(candidates)} setting(s) to choose from")
    for profile, r in report["profiles"].items():
        width = max(len(f["candidate"]) for f in r["folds"]) + 2
        print(f"\n{profile}")
        print(f"  {'held out':<24}{'setting':<{width}}{'threshold':>10}{'train':>8}{'held-out':>10}"
              f"{'windows hit':>13}{'fp rows':>9}")
        for f in r["folds"]:
            held = "n/a" if f["score"] != f["score"] else f"{f['score']:.2f}"
            print(f"  {f['held_out']:<24}{f['candidate']:<{width}}{f['threshold']:>10.4g}{f['train_score']:>8.2f}"
                  f"{held:>10}{f['windows_detected']:>8}/{f['windows']:<4}{f['fp']:>9}")
        print(f"  fold mean {r['fold_mean']:.2f} (folds with windows)   pooled cross-validated {r['pooled']:.2f}   "
              f"whole subset {r['whole_subset']:.2f} ({r['whole_subset_candidate']}, threshold {r['whole_subset_threshold']:.4g})")


if __name__ == "__main__":
    main()
