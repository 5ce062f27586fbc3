#!/usr/bin/env python3
"""openset_table.py — rows of the open-set table from `kizuki openset --out DIR` runs.

    python3 scripts/openset_table.py DIR [DIR ...]

Prints one markdown row per run (DIR/results.json), in the columns of docs/results.md's
open-set table plus the seed: unknown classes, seed, epochs, --center, closed-set and head
accuracy, AUROC known vs unknown, open-set accuracy, true-known rate on the test set, share
of unknown images flagged, the modes' purity / ARI over all flagged images and over the truly
unknown ones among them (with the count clustered), training seconds. Then, per set of
unknown classes with more than one run, a row of medians. Standard library only; nothing is
typed in by hand.
"""
import json
import statistics
import sys

METRICS = ["closed_set_accuracy", "head_accuracy", "auroc", "open_set_accuracy",
           "true_known_rate", "unknown_detection_rate"]


def modes(m, suffix, count):
    if not m or "skipped" in m:
        return "–"
    return f"{m['purity' + suffix]:.3f} / {m['adjusted_rand_index' + suffix]:.3f} ({m[count]})"


def main(*dirs):
    by_unknown = {}
    for d in dirs:
        with open(f"{d}/results.json") as f:
            r = json.load(f)
        s = r["settings"]
        unknown = s["unknown"].replace(",", "+")
        by_unknown.setdefault((unknown, s["method"]["epochs"], s["center"]), []).append(r)
        cells = [f"{r['metrics'][k]:.4f}" for k in METRICS]
        print(f"| {unknown} | {s['seed']} | {s['method']['epochs']} | "
              f"{'yes' if s['center'] else 'no'} | " + " | ".join(cells) +
              f" | {modes(r['modes'], '', 'flagged')} | "
              f"{modes(r['modes'], '_unknown', 'flagged_unknown')} | {r['train_seconds']:.0f} |")
    for (unknown, epochs, center), runs in by_unknown.items():
        if len(runs) < 2:
            continue
        cells = [f"{statistics.median(r['metrics'][k] for r in runs):.4f}" for k in METRICS]
        print(f"| {unknown}, median of {len(runs)} | – | {epochs} | "
              f"{'yes' if center else 'no'} | "
              + " | ".join(cells) + " | | | |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:])
