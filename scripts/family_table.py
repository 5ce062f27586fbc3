#!/usr/bin/env python3
"""family_table.py — every method family of one dataset in one table, from the tables
results_table.py generated (nothing typed in by hand).

    python3 scripts/family_table.py FIGURES DATASET_KEY OUT.md

Reads FIGURES/results-KEY-{scratch,frozen,seed,recon,recon-swept}.md (those that exist), takes each
row's method, scorer, n, median, std, min and max, and writes one table sorted by median AUC,
with the run each row comes from (its preset and input, from the table's header line). The
runs differ in preset and network, not in protocol: the same classes, the same split sizes
and seeds 0…9 of the same test split.
"""
import os
import re
import sys

RUNS = [("scratch", "MobileNetV2 w0.5, 32 px, from scratch"),
        ("frozen", "MobileNetV2 w1.0, 96 px, pretrained, no training"),
        ("seed", "MobileNetV2 w1.0, 96 px, pretrained, fine-tuned (seed preset)"),
        ("recon", "conv. autoencoders, native size, from scratch"),
        ("recon-swept", "conv. autoencoders, native size, swept settings")]


def rows_of(path):
    with open(path) as f:
        lines = f.read().splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("| method |"))
    cols = [c.strip() for c in lines[head].strip("|").split("|")]
    for line in lines[head + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        yield dict(zip(cols, cells))


def main(figures, key, out):
    table = []
    have_frozen = os.path.exists(f"{figures}/results-{key}-frozen.md")
    for run, what in RUNS:
        path = f"{figures}/results-{key}-{run}.md"
        if not os.path.exists(path):
            continue
        for r in rows_of(path):
            if run == "seed" and r["method"] == "frozen" and have_frozen:
                continue  # the same untrained network as the frozen run's rows
            median = float(re.sub(r"[*]", "", r["median AUC"]))
            table.append((median, r["method"], r["scorer"], r["n"], r["std"], r["min"],
                          r["max"], what))
    table.sort(key=lambda t: -t[0])
    lines = ["| median AUC | method | scorer | n | std | min | max | run |",
             "|---:|---|---|---:|---:|---:|---:|---|"]
    for median, method, scorer, n, std, lo, hi, what in table:
        lines.append(f"| **{median:.4f}** | {method} | {scorer} | {n} | {std} | {lo} | {hi} | "
                     f"{what} |")
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
