#!/usr/bin/env python3
"""known_anomalies_table.py — the weak-supervision sweep as one table per dataset.

    python3 scripts/known_anomalies_table.py OUT.md RUN_DIR [RUN_DIR ...]

Each RUN_DIR is a `kizuki benchmark --known-anomalies N --out RUN_DIR` run (its N read from
RUN_DIR/results.json, never from the folder's name). Runs of the same dataset must share
their seeds, so trial t of every run has the same split: the sweep's column N = 0 is then the
same trials without labels, and each other cell gives, beside the median AUC over the trials,
the mean paired gain over N = 0 (the same trial's AUC without labels subtracted) and in how
many trials the labels helped. Standard library only; nothing is typed in by hand.
"""
import json
import statistics
import sys


def load(run_dirs):
    """{dataset: {N: {(method, scorer): {seed: auc}}}} and each dataset's settings line."""
    runs, about = {}, {}
    for d in run_dirs:
        with open(f"{d}/results.json") as f:
            r = json.load(f)
        s = r["settings"]
        n = s.get("known_anomalies", 0)
        cells = runs.setdefault(s["dataset"], {}).setdefault(n, {})
        for t in r["trials"]:
            cells.setdefault((t["method"], t["scorer"]), {})[t["seed"]] = t["auc"]
        m0 = s["methods"][0]
        about[s["dataset"]] = (
            f"{s['dataset']}, preset `{s['preset']}`: "
            f"seeds {s['seed']}…{s['seed'] + s['trials'] - 1}, "
            f"MobileNetV2 width {m0['width']}, {m0['image_size']}×{m0['image_size']}, "
            f"{m0['epochs']} epochs; {s['n_reference_per_class']}/class reference, "
            f"{s['n_normal_train']} normal, {s['n_test_each']}+{s['n_test_each']} test; "
            f"kizuki {r['environment']['kizuki']}, {r['environment']['date'][:10]}")
    return runs, about


def cell(aucs, base):
    text = f"{statistics.median(aucs.values()):.3f}"
    if base is None:
        return text
    paired = [aucs[seed] - base[seed] for seed in aucs if seed in base]
    if not paired:
        return text
    better = sum(g > 0 for g in paired)
    return f"{text} ({statistics.mean(paired):+.3f}, {better}/{len(paired)})"


def main(out, *run_dirs):
    runs, about = load(run_dirs)
    lines = []
    for dataset, by_n in runs.items():
        ns = sorted(by_n)
        keys = list(dict.fromkeys(k for n in ns for k in by_n[n]))
        lines += [about[dataset], "",
                  "| method | scorer | " + " | ".join(f"N = {n}" for n in ns) + " |",
                  "|---|---|" + "---:|" * len(ns)]
        for method, scorer in keys:
            base = by_n.get(0, {}).get((method, scorer))
            row = [cell(by_n[n][(method, scorer)], None if n == 0 else base)
                   if (method, scorer) in by_n[n] else "" for n in ns]
            lines.append(f"| {method} | {scorer} | " + " | ".join(row) + " |")
        lines.append("")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
