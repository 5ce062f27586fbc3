#!/usr/bin/env python3
"""training_table.py — does training add to the frozen features? Two tables from benchmark runs.

    python3 scripts/training_table.py [--every N] OUT.md RESULTS.json [RESULTS.json ...]

The trials of every RESULTS.json (runs of one dataset, e.g. one per --seed, or a frozen run
and a trained run on the same seeds) are pooled by (method, scorer, seed); a method run with
different learning rates or epochs in different files is one row per setting. Writes OUT.md:
1. One row per method and scorer: n, median, mean ± sd, min, max of the AUC, and, where
   `frozen` was scored by the same scorer on the same seed (the same split), the paired gain:
   the mean over those trials of (AUC − frozen's AUC) and in how many the method is above.
   Also the gain over the same trial's epoch 0 (the untrained network with the method's own
   scorer, from --eval-every's curve), which is the comparison with the same features
   normalised as the method scores them (msc's k-NN is on unit features).
2. For methods with an --eval-every curve, per epoch the medians over trials of the test AUC,
   the proxy AUC (held-out normals against held-out reference-class images: never the test
   set), the mean cosine of the centred normals, their effective rank and ‖θ − θ0‖; with
   --every N only epoch 0, every N-th epoch and the last (shorter tables of long curves).
Standard library only; nothing is typed in by hand.
"""
import json
import statistics
import sys


def trials_of(paths):
    """{(method label, scorer, seed): trial}. A method trained with different settings in
    different runs (e.g. msc at two learning rates) gets them in its label: "msc (lr 0.0001,
    20 epochs)"; otherwise the label is the method's name."""
    runs, dataset = [], set()
    for p in paths:
        with open(p) as f:
            r = json.load(f)
        dataset.add(r["settings"]["dataset"])
        settings = {m["name"]: (m["lr"], m["epochs"]) for m in r["settings"]["methods"]}
        runs.append((r["trials"], settings))
    if len(dataset) != 1:
        sys.exit(f"training_table.py: runs of more than one dataset: {sorted(dataset)}")
    variants = {}
    for _, settings in runs:
        for name, s in settings.items():
            variants.setdefault(name, set()).add(s)
    trials = {}
    for run_trials, settings in runs:
        for t in run_trials:
            name = t["method"]
            lr, epochs = settings[name]
            label = name if len(variants[name]) == 1 else f"{name} (lr {lr:g}, {epochs} epochs)"
            trials[(label, t["scorer"], t["seed"])] = t
    return trials, dataset.pop()


def gain(pairs):
    if not pairs:
        return ""
    d = [a - b for a, b in pairs]
    return f"{statistics.mean(d):+.4f}, {sum(x > 0 for x in d)} of {len(d)}"


def main(out, *paths, every=1):
    trials, dataset = trials_of(paths)
    rows = list(dict.fromkeys((m, s) for m, s, _ in trials))
    lines = [f"{dataset}: {len({seed for _, _, seed in trials})} seeds", "",
             "| method | scorer | n | median | mean ± sd | min | max | paired gain over frozen "
             "(mean, trials above) | gain over its epoch 0 | train s (median) |",
             "|---|---|---:|---:|---|---:|---:|---|---|---:|"]
    for method, scorer in rows:
        ts = [t for (m, s, _), t in trials.items() if (m, s) == (method, scorer)]
        aucs = [t["auc"] for t in ts]
        sd = statistics.stdev(aucs) if len(aucs) > 1 else 0.0
        frozen = [(t["auc"], trials[("frozen", scorer, t["seed"])]["auc"]) for t in ts
                  if method != "frozen" and ("frozen", scorer, t["seed"]) in trials]
        epoch0 = [(t["auc"], t["curve"][0]["auc"]) for t in ts if t.get("curve")]
        lines.append(
            f"| {method} | {scorer} | {len(aucs)} | {statistics.median(aucs):.4f} | "
            f"{statistics.mean(aucs):.4f} ± {sd:.4f} | {min(aucs):.4f} | {max(aucs):.4f} | "
            f"{gain(frozen)} | {gain(epoch0)} | "
            f"{statistics.median(t['train_seconds'] for t in ts):.0f} |")
    curves = [(m, s) for m, s in rows if any(
        t.get("curve") for (m2, s2, _), t in trials.items() if (m2, s2) == (m, s))]
    if curves:
        lines += ["", "| method | scorer | epoch | median test AUC | median proxy AUC | "
                  "median mean cosine | median eff. rank | median ‖θ−θ0‖ |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
    for method, scorer in curves:
        ts = [t for (m, s, _), t in trials.items() if (m, s) == (method, scorer) and t.get("curve")]
        last = len(ts[0]["curve"]) - 1
        for i, point in enumerate(ts[0]["curve"]):
            if point["epoch"] % every != 0 and i != last:
                continue
            at = [t["curve"][i] for t in ts if len(t["curve"]) > i]

            def med(key):
                values = [p[key] for p in at if p.get(key) is not None]
                return statistics.median(values) if values else float("nan")
            lines.append(f"| {method} | {scorer} | {point['epoch']} | {med('auc'):.4f} | "
                         f"{med('proxy_auc'):.4f} | {med('mean_cosine'):.4f} | "
                         f"{med('effective_rank'):.2f} | {med('weight_distance'):.3f} |")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    args = sys.argv[1:]
    every = 1
    if args and args[0] == "--every":
        if len(args) < 2 or not args[1].isdigit() or int(args[1]) < 1:
            sys.exit("training_table.py: --every needs a whole number of epochs >= 1")
        every, args = int(args[1]), args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    main(*args, every=every)
