#!/usr/bin/env python3
"""results_table.py — turns a `kizuki benchmark --out DIR` folder into docs material.

    python3 scripts/results_table.py DIR NAME FIGURES

Writes FIGURES/NAME.md (the summary of DIR/results.json as a markdown table: one row per
method and scorer, AUC median/mean/std/min/max over the trials, mean training seconds, and
the settings that matter) and copies DIR/boxplot.svg to FIGURES/NAME-boxplot.svg.
Standard library only; nothing is typed in by hand.
"""
import json
import shutil
import sys


def main(run_dir, name, figures):
    with open(f"{run_dir}/results.json") as f:
        results = json.load(f)
    s, env = results["settings"], results["environment"]
    m0 = s["methods"][0]
    lines = [
        f"{s['dataset']}, preset `{s['preset']}`: {s['trials']} trials (seeds "
        f"{s['seed']}…{s['seed'] + s['trials'] - 1}), MobileNetV2 width {m0['width']}, "
        f"{m0['image_size']}×{m0['image_size']} input, "
        f"{'pretrained' if m0['pretrained'] else 'random init'}; "
        f"{s['n_reference_per_class']}/class reference, {s['n_normal_train']} normal, "
        f"{s['n_test_each']}+{s['n_test_each']} test; {env['omp_threads']} thread(s); "
        f"kizuki {env['kizuki']}, oneDNN {env['onednn']}, {env['date']}.",
        "",
        "| method | epochs | scorer | n | median AUC | mean | std | min | max | train s |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    epochs = {m["name"]: m["epochs"] for m in s["methods"]}
    for r in results["summary"]:
        ep = "–" if r["method"] == "frozen" else epochs[r["method"]]
        lines.append(
            f"| {r['method']} | {ep} | {r['scorer']} | {r['n']} | **{r['median']:.4f}** | "
            f"{r['mean']:.4f} | {r['std']:.4f} | {r['min']:.4f} | {r['max']:.4f} | "
            f"{r['train_seconds_mean']:.1f} |")
    with open(f"{figures}/{name}.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    shutil.copyfile(f"{run_dir}/boxplot.svg", f"{figures}/{name}-boxplot.svg")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
