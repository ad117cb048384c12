#!/usr/bin/env python3
"""Leave-one-category-out cross-validation of `sluice detect` on the NAB subset.

Every choice a detector makes from labelled data (its settings and its alert threshold) is
made on four categories and scored on the fifth, for each category in turn, so no fold's
score has seen its own labels. For each fold this prints the settings and thresholds chosen
on the other four and the held-out score, per profile; then

- the mean of the fold scores (folds whose category has anomaly windows: NAB's normalised
  score is 100 (raw - null) / (perfect - null), which a category without windows, such as
  artificialNoAnomaly, does not define; its false alarms still count in the pooled score);
- the pooled cross-validated score: every category scored at the choice made without it,
  all together, normalised over the whole subset as NAB normalises a corpus;
- the whole-subset score with the threshold chosen on the whole subset, as NAB reports
  detectors (its selection has seen every label, so it is the optimistic figure).

Settings: `--candidates FILE` names a JSON object {"name": ["--option", "value", ...], ...}
of `sluice detect` argument lists to choose from (default: {"default": []}, the detector as
built). Each candidate runs once over every file.

    python3 Benchmarks/nab_cv.py --sluice .build/release/sluice
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(here, "..", ".build", "release", "sluice"))
    ap.add_argument("--nab", default=os.path.join(here, "..", "..", "shared", "data", "nab"))
    ap.add_argument("--scorer", default=os.path.join(here, "..", "..", "shared", "tools", "nab_score.py"))
    ap.add_argument("--candidates", help="JSON object of named `sluice detect` argument lists")
    ap.add_argument("--json", action="store_true", help="print the table as JSON")
    args = ap.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.abspath(args.scorer)))
    import nab_score  # the independent scorer: the same code scores every fold

    candidates = {"default": []}
    if args.candidates:
        with open(args.candidates) as fh:
            candidates = json.load(fh)
    data = os.path.join(args.nab, "data")
    windows = os.path.join(args.nab, "combined_windows.json")
    categories = sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)))

    with tempfile.TemporaryDirectory() as work:
        corpus = {}
        for name, extra in candidates.items():
            out = os.path.join(work, name)
            for category in categories:
                os.makedirs(os.path.join(out, category))
                for f in sorted(os.listdir(os.path.join(data, category))):
                    if f.endswith(".csv"):
                        subprocess.run([args.sluice, "detect", os.path.join(data, category, f),
                                        "--output", os.path.join(out, category, f)] + extra,
                                       check=True, stderr=subprocess.DEVNULL)
            corpus[name] = nab_score.load_corpus(data, windows, out)

    def category_of(f):
        return f["name"].split("/")[0]

    def score(files, cost, threshold=None):
        rows = sorted((r for f in files for r in f["rows"]), key=lambda r: r[0], reverse=True)
        return nab_score.score_profile(files, rows, cost, threshold)

    report = {"categories": categories, "candidates": list(candidates), "profiles": {}}
    for profile, cost in nab_score.PROFILES.items():
        folds = []
        pooled = []
        for held in categories:
            # Choose on the other four: the candidate and threshold with the best raw score.
            best = None
            for name, files in corpus.items():
                train = [f for f in files if category_of(f) != held]
                fit = score(train, cost)
                if best is None or fit["raw"] > best[1]["raw"]:
                    best = (name, fit)
            name, fit = best
            test = [f for f in corpus[name] if category_of(f) == held]
            result = score(test, cost, fit["threshold"])
            folds.append({"held_out": held, "candidate": name, "threshold": fit["threshold"],
                          "train_score": fit["score"], "score": result["score"], "raw": result["raw"],
                          "windows": result["windows"], "windows_detected": result["windows_detected"],
                          "fp": result["fp"]})
            # The held-out rows as they fire at that choice, to be scored all together.
            for f in test:
                rows = [(1.0 if r[0] >= fit["threshold"] else 0.0,) + tuple(r[1:]) for r in f["rows"]]
                pooled.append(dict(f, rows=rows))
        defined = [f["score"] for f in folds if f["score"] == f["score"]]
        whole = {name: score(files, cost) for name, files in corpus.items()}
        best_whole = max(whole, key=lambda n: whole[n]["raw"])
        report["profiles"][profile] = {
            "folds": folds,
            "fold_mean": sum(defined) / len(defined) if defined else float("nan"),
            "pooled": score(pooled, cost, 0.5)["score"],
            "whole_subset": whole[best_whole]["score"],
            "whole_subset_candidate": best_whole,
            "whole_subset_threshold": whole[best_whole]["threshold"],
        }

    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"sluice detect, leave one category out over {len(categories)} categories; "
          f"candidates: {', '.join(candidates)}")
    for profile, r in report["profiles"].items():
        print(f"\n{profile}")
        print(f"  {'held out':<24}{'candidate':<14}{'threshold':>10}{'train':>8}{'held-out':>10}"
              f"{'windows hit':>13}{'fp rows':>9}")
        for f in r["folds"]:
            held = "n/a" if f["score"] != f["score"] else f"{f['score']:.2f}"
            print(f"  {f['held_out']:<24}{f['candidate']:<14}{f['threshold']:>10.4g}{f['train_score']:>8.2f}"
                  f"{held:>10}{f['windows_detected']:>8}/{f['windows']:<4}{f['fp']:>9}")
        print(f"  fold mean {r['fold_mean']:.2f} (folds with windows)   pooled cross-validated {r['pooled']:.2f}   "
              f"whole subset (threshold chosen on it) {r['whole_subset']:.2f}")


if __name__ == "__main__":
    main()
