#!/usr/bin/env bash
# localization_table.sh — the pixel-AUROC table of docs/results.md ("Do the maps point at the
# defect?"): trains small detectors on Fashion-MNIST sneakers (exported as PNG files, since
# `kizuki train` takes image folders) and runs `kizuki localize` on 100 sneaker test images
# with each synthetic defect, for every map kind each model gives, and occlusion once more with
# the inpainting U-Net each model keeps (`kizuki train --inpaint unet`; rows occlusion-unet).
# A workdir's models are reused: remove its *.kz when they were trained without --inpaint unet.
#   bash scripts/localization_table.sh [build] [workdir]
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/kz_localization}
kizuki="$build/apps/kizuki"
mkdir -p "$work/sneakers"
/usr/bin/python3 - "$work/sneakers" <<'PY'
import gzip, sys, numpy as np
from PIL import Image
d = "/usr/share/datasets/fashion-mnist"
with gzip.open(d + "/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(d + "/train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)
for i, k in enumerate(np.flatnonzero(y == 7)[:1000]):  # 7 = Sneaker, the protocol's normal class
    Image.fromarray(x[k]).save("%s/%04d.png" % (sys.argv[1], i))
PY
train() {  # name method extra-flags...
  local name=$1 method=$2; shift 2
  [ -f "$work/$name.kz" ] || "$kizuki" train --normal "$work/sneakers" --method "$method" \
      --threads 2 --seed 0 --inpaint unet --out "$work/$name.kz" "$@" >/dev/null
}
train ae ae --image-size 28 --epochs 10 --batch 64
train frozen frozen --image-size 32 --width 0.5
train deepsad deepsad --image-size 32 --width 0.5 --epochs 3
train cutpaste cutpaste --image-size 32 --width 0.5 --epochs 3
for model in ae frozen deepsad cutpaste; do
  for defect in line cutpaste scar; do
    "$kizuki" localize --model "$work/$model.kz" --dataset fashion-mnist --defect "$defect" \
        --images 100 --threads 2 --json "$work/$model-$defect.json" | sed 1d
    "$kizuki" localize --model "$work/$model.kz" --dataset fashion-mnist --defect "$defect" \
        --images 100 --threads 2 --map-kind occlusion --inpaint unet \
        --json "$work/$model-$defect-unet.json" | sed '1,2d'
  done
done
/usr/bin/python3 - "$work" <<'PY'
import json, sys, glob, os
rows = {}
for p in sorted(glob.glob(sys.argv[1] + "/*-*.json")):
    j = json.load(open(p))
    for m in j["maps"]:
        kind = m["kind"] + ("-unet" if m.get("inpaint") == "unet" else "")
        rows.setdefault((j["method"], kind), {})[j["defect"]] = (m["pixel_auroc"], m["seconds_per_image"])
    rows.setdefault((j["method"], "(image AUROC)"), {})[j["defect"]] = (j["image_auroc"], None)
order = ["own", "gradcam", "occlusion", "occlusion-unet", "(image AUROC)"]
print("| method | map | line | cutpaste | scar | s per image |")
print("|---|---|---|---|---|---|")
for (method, kind), r in sorted(rows.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]))):
    cells = ["%.3f" % r[d][0] if d in r else "-" for d in ("line", "cutpaste", "scar")]
    secs = [r[d][1] for d in r if r[d][1] is not None]
    print("| %s | %s | %s | %s |" % (method, kind, " | ".join(cells),
                                     "%.3g" % (sum(secs) / len(secs)) if secs else ""))
PY
