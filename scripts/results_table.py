#!/usr/bin/env python3
"""results_table.py — turns a `kizuki benchmark --out DIR` folder into docs material.

    python3 scripts/results_table.py DIR NAME FIGURES [TORCH_JSON]

Writes FIGURES/NAME.md (the summary of DIR/results.json as a markdown table: one row per
method and scorer (the scorer as recorded, e.g. `knn(k=2,flip)`), AUC median/mean/std/min/max over the trials, mean training seconds, and
the settings that matter) and copies DIR/boxplot.svg to FIGURES/NAME-boxplot.svg. With TORCH_JSON (the --json output
of scripts/reconstruction_torch.py on the same dataset) the table gets the PyTorch twin's
AUC range beside each of its methods and scores, whether kizuki's median falls in it, and
whether the two ranges overlap.
Standard library only; nothing is typed in by hand.
"""
import json
import shutil
import sys


RECONSTRUCTION = {"ae", "vae", "ssim-ae"}


def main(run_dir, name, figures, torch_json=None):
    with open(f"{run_dir}/results.json") as f:
        results = json.load(f)
    s, env = results["settings"], results["environment"]
    m0 = s["methods"][0]
    if all(m["name"] in RECONSTRUCTION for m in s["methods"]):
        network = (f"convolutional autoencoders (latent {m0['latent_dim']}), "
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
    torch = {}
    if torch_json:
        with open(torch_json) as f:
            twin = json.load(f)
        for r in twin["results"]:
            torch.setdefault((r["method"], r["score"]), []).append(r["auc"])
        lines[0] += (f" PyTorch twin: {twin['settings']['trials']} trials, "
                     f"{twin['settings']['epochs']} epochs, torch {twin['settings']['torch']}.")
    head = "| method | epochs | scorer | n | median AUC | mean | std | min | max | train s |"
    rule = "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    if torch:
        head += " PyTorch min–max | median inside | ranges overlap |"
        rule += "---:|:---:|:---:|"
    lines += [head, rule]
    epochs = {m["name"]: m["epochs"] for m in s["methods"]}
    for r in results["summary"]:
        ep = "–" if r["method"] == "frozen" else epochs[r["method"]]
        row = (f"| {r['method']} | {ep} | {r['scorer']} | {r['n']} | **{r['median']:.4f}** | "
               f"{r['mean']:.4f} | {r['std']:.4f} | {r['min']:.4f} | {r['max']:.4f} | "
               f"{r['train_seconds_mean']:.1f} |")
        if torch:
            aucs = torch.get((r["method"], r["scorer"]))
            if aucs:
                inside = "yes" if min(aucs) <= r["median"] <= max(aucs) else "no"
                overlap = "yes" if r["min"] <= max(aucs) and min(aucs) <= r["max"] else "no"
                row += f" {min(aucs):.4f}–{max(aucs):.4f} | {inside} | {overlap} |"
            else:
                row += " – | – | – |"
        lines.append(row)
    with open(f"{figures}/{name}.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    shutil.copyfile(f"{run_dir}/boxplot.svg", f"{figures}/{name}-boxplot.svg")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(*sys.argv[1:])
