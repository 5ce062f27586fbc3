#!/usr/bin/env python3
"""results_table.py — turns a `kizuki benchmark --out DIR` folder into docs material.

    python3 scripts/results_table.py DIR NAME FIGURES [TORCH_JSON ...]

Writes FIGURES/NAME.md (the summary of DIR/results.json as a markdown table: one row per
method and scorer (the scorer as recorded, e.g. `knn(k=2,flip)`), AUC median/mean/std/min/
max over the trials, mean training seconds, and the settings that matter) and copies
DIR/boxplot.svg to FIGURES/NAME-boxplot.svg. With TORCH_JSON files (the --json outputs of
scripts/reconstruction_torch.py on the same dataset, runs with different seeds pooled) the
table gets the PyTorch twin's number of trials, median and AUC range beside each of its
methods and scores, whether kizuki's median falls in that range, whether the two ranges
overlap, and the two-sided exact rank-test (Mann-Whitney) p-value of kizuki's trials against
the twin's: small (< 0.05) where the two differ by more than chance.
Standard library only; nothing is typed in by hand.
"""
import itertools
import json
import shutil
import statistics
import sys


RECONSTRUCTION = {"ae", "vae", "ssim-ae"}


def rank_test(a, b):
    """Two-sided exact permutation p-value of the Mann-Whitney U statistic of samples a and
    b: the share of all ways to split a + b into groups of their sizes whose U is at least as
    far from its mean as the observed one (ties count one half)."""
    def u(x, y):
        return sum((xi > yi) + 0.5 * (xi == yi) for xi in x for yi in y)
    pooled, n = list(a) + list(b), len(a)
    centre = len(a) * len(b) / 2
    observed = abs(u(a, b) - centre)
    extreme = total = 0
    for pick in itertools.combinations(range(len(pooled)), n):
        chosen = set(pick)
        x = [pooled[i] for i in pick]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        extreme += abs(u(x, y) - centre) >= observed - 1e-9
    return extreme / total


def main(run_dir, name, figures, *torch_jsons):
    with open(f"{run_dir}/results.json") as f:
        results = json.load(f)
    s, env = results["settings"], results["environment"]
    m0 = s["methods"][0]
    if all(m["name"] in RECONSTRUCTION for m in s["methods"]):
        latents = {m["latent_dim"] for m in s["methods"]}
        latent = (f"latent {m0['latent_dim']}" if len(latents) == 1 else "latent " + ", ".join(
            f"{m['name']} {m['latent_dim']}" for m in s["methods"]))
        network = (f"convolutional autoencoders ({latent}), "
                   f"{m0['image_size']}×{m0['image_size']} input, random init, "
                   f"Adam lr {m0['lr']:g}, batch {m0['batch_size']}")
    else:
        network = (f"MobileNetV2 width {m0['width']}, {m0['image_size']}×{m0['image_size']} "
                   f"input, {'pretrained' if m0['pretrained'] else 'random init'}")
    # The scoring variants (absent from older results.json: the defaults).
    scoring = []
    if s.get("knn_neighbors", 5) != 5:
        scoring.append(f"k-NN k={s['knn_neighbors']}")
    if s.get("center"):
        scoring.append("cosine centred on the mean normal feature")
    if s.get("tta", "none") != "none":
        scoring.append(f"test-time augmentation {s['tta']}")
    if scoring:
        network += "; scoring: " + ", ".join(scoring)
    lines = [
        f"{s['dataset']}, preset `{s['preset']}`: {s['trials']} trials (seeds "
        f"{s['seed']}…{s['seed'] + s['trials'] - 1}), {network}; "
        f"{s['n_reference_per_class']}/class reference, {s['n_normal_train']} normal, "
        f"{s['n_test_each']}+{s['n_test_each']} test; {env['omp_threads']} thread(s); "
        f"kizuki {env['kizuki']}, oneDNN {env['onednn']}, {env['date']}.",
        "",
    ]
    torch, seen = {}, set()
    for path in torch_jsons:
        with open(path) as f:
            twin = json.load(f)
        for r in twin["results"]:
            key = (r["method"], r["score"], r["seed"])
            assert key not in seen, f"{path} repeats seed {r['seed']} of {r['method']}"
            seen.add(key)
            torch.setdefault((r["method"], r["score"]), []).append(r["auc"])
    if torch_jsons:
        lines[0] += (f" PyTorch twin ({len(torch_jsons)} run(s) pooled): "
                     f"{twin['settings']['epochs']} epochs, torch {twin['settings']['torch']}.")
    head = "| method | epochs | scorer | n | median AUC | mean | std | min | max | train s |"
    rule = "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    if torch:
        head += (" PyTorch n | PyTorch median | PyTorch min–max | median inside | "
                 "ranges overlap | rank-test p |")
        rule += "---:|---:|---:|:---:|:---:|---:|"
    lines += [head, rule]
    epochs = {m["name"]: m["epochs"] for m in s["methods"]}
    for r in results["summary"]:
        ep = epochs.get(r["method"], "–")  # frozen: its 0 epochs; an ensemble: its members'
        if r["method"] == "frozen":
            ep = "–"
        row = (f"| {r['method']} | {ep} | {r['scorer']} | {r['n']} | **{r['median']:.4f}** | "
               f"{r['mean']:.4f} | {'–' if r['std'] is None else format(r['std'], '.4f')} | {r['min']:.4f} | {r['max']:.4f} | "
               f"{r['train_seconds_mean']:.1f} |")
        if torch:
            aucs = torch.get((r["method"], r["scorer"]))
            if aucs:
                inside = "yes" if min(aucs) <= r["median"] <= max(aucs) else "no"
                overlap = "yes" if r["min"] <= max(aucs) and min(aucs) <= r["max"] else "no"
                mine = [t["auc"] for t in results["trials"]
                        if t["method"] == r["method"] and t["scorer"] == r["scorer"]]
                row += (f" {len(aucs)} | {statistics.median(aucs):.4f} | "
                        f"{min(aucs):.4f}–{max(aucs):.4f} | {inside} | {overlap} | "
                        f"{rank_test(mine, aucs):.3f} |")
            else:
                row += " – | – | – | – | – | – |"
        lines.append(row)
    with open(f"{figures}/{name}.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    shutil.copyfile(f"{run_dir}/boxplot.svg", f"{figures}/{name}-boxplot.svg")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
