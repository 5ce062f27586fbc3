#!/usr/bin/env python3
"""sweep_table.py — the table of a scripts/sweep_reconstruction.sh run.

    python3 scripts/sweep_table.py OUT [OUT.md]

One row per method and score, one column per setting (OUT/<setting>/results.json, each a
`kizuki benchmark --validate` run): the mean validation AUC over the trials (held-out
normals against reference-set images; never the test set). The starting point is the
column `base`; a cell is bold where it beats `base` by more than 0.01, the sweep's decision
rule. Standard library only; nothing is typed in by hand.
"""
import json
import os
import sys

ORDER = ["base", "lr3e-4", "lr3e-3", "latent32", "epochs10", "latent512", "epochs60"]


def main(out, md=None):
    settings = [s for s in ORDER if os.path.exists(f"{out}/{s}/results.json")]
    cells, trials = {}, {}
    for s in settings:
        with open(f"{out}/{s}/results.json") as f:
            r = json.load(f)
        assert r["settings"].get("validate"), f"{out}/{s} is not a --validate run"
        dataset = r["settings"]["dataset"]
        for t in r["trials"]:
            key = (t["method"], t["scorer"])
            cells.setdefault(key, {}).setdefault(s, []).append(t["auc"])
            trials.setdefault(s, set()).add(t["trial"])
    lines = [f"{dataset}: validation AUC (held-out normals against reference images), "
             f"mean of {', '.join(f'{s} {len(trials[s])}' for s in settings)} trial(s)", "",
             "| method | score | " + " | ".join(settings) + " |",
             "|---|---|" + "---:|" * len(settings)]
    for (method, scorer), by in cells.items():
        base = sum(by["base"]) / len(by["base"]) if "base" in by else None
        row = []
        for s in settings:
            if s not in by:
                row.append("")
                continue
            m = sum(by[s]) / len(by[s])
            text = f"{m:.4f}"
            if base is not None and s != "base" and m > base + 0.01:
                text = f"**{text}**"
            row.append(text)
        lines.append(f"| {method} | {scorer} | " + " | ".join(row) + " |")
    text = "\n".join(lines) + "\n"
    if md:
        with open(md + ".tmp", "w") as f:
            f.write(text)
        os.replace(md + ".tmp", md)
    print(text, end="")


if __name__ == "__main__":
    main(*sys.argv[1:])
