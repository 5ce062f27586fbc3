"""map_kinds_figure.py — one figure of Grad-CAM and occlusion maps on the same test images,
from the map grids `kizuki benchmark --maps gradcam,occlusion --out DIR` writes
(DIR/maps/<dataset>-<method>-<kind>.png: four groups of up to 8 columns, each group an input
row, a reconstruction row (grey: none) and a map row, tiles of 96 px with 2 px gaps and 6 px
between groups).

Out: for the groups named (0: the most anomalous anomalies, 2: the most anomalous normal
images), the input row, then the gradcam map row, then the occlusion map row.

  /usr/bin/python3 scripts/map_kinds_figure.py DIR DATASET METHOD OUT.png [GROUPS, default 0,2]
"""
import sys

import numpy as np
from PIL import Image

TILE, GAP, GROUP = 96, 2, 298  # a group: 3 rows of TILE + GAP, then 6 px


def rows(path):
    return np.array(Image.open(path).convert("RGB"))


def main():
    out_dir, dataset, method, out = sys.argv[1:5]
    groups = [int(g) for g in (sys.argv[5] if len(sys.argv) > 5 else "0,2").split(",")]
    grids = {k: rows(f"{out_dir}/maps/{dataset}-{method}-{k}.png") for k in ("gradcam", "occlusion")}
    width = grids["gradcam"].shape[1]
    parts = []
    for g in groups:
        top = g * GROUP
        parts.append(grids["gradcam"][top:top + TILE])                          # the inputs
        for k in ("gradcam", "occlusion"):
            parts.append(np.full((GAP, width, 3), 255, np.uint8))
            parts.append(grids[k][top + 2 * (TILE + GAP):top + 3 * TILE + 2 * GAP])  # the maps
        parts.append(np.full((3 * GAP + 6, width, 3), 255, np.uint8))
    Image.fromarray(np.concatenate(parts[:-1], axis=0)).save(out)


if __name__ == "__main__":
    main()
