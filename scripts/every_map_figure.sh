#!/usr/bin/env bash
# every_map_figure.sh — the figure of docs/results.md "Every map-giving method on the same
# test images" (issue 20): one PNG, a row per map, the same 8 Fashion-MNIST test images in
# every row (the quick split's classes: 4 ankle boots, the anomalies, then 4 sneakers, the
# normal class). Rows: the images; the own maps of ae, vae, ssim-ae, adae, anogan and
# cutpaste (its patch map); Grad-CAM, occlusion with the mean image and occlusion with the
# inpainting U-Net of arcface. Each tile is the image with its map over it, as `kizuki score
# --maps` writes it, one colour scale per row.
#
# Why not from benchmark run folders: a benchmark's map grid shows each method's own most and
# least anomalous test images, so no two methods show the same images. Here every model is
# trained by `kizuki train` on 1000 sneaker training images (the models of
# scripts/localization_table.sh where they exist in the workdir: ae, cutpaste) and draws its
# maps with `kizuki score --maps` on the same 8 files.
#   bash scripts/every_map_figure.sh [build] [workdir] [out.png]
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/kz_localization}
out=${3:-docs/figures/maps/fashion-mnist-every-map.png}
kizuki="$build/apps/kizuki"
mkdir -p "$work/sneakers" "$work/reference" "$work/figure_images"
/usr/bin/python3 - "$work" <<'PY'
import gzip, os, sys, numpy as np
from PIL import Image
d, work = "/usr/share/datasets/fashion-mnist", sys.argv[1]
def load(kind):
    with gzip.open(f"{d}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{d}/{kind}-labels-idx1-ubyte.gz") as f:
        return x, np.frombuffer(f.read(), np.uint8, offset=8)
x, y = load("train")
for i, k in enumerate(np.flatnonzero(y == 7)[:1000]):  # 7 = Sneaker, the protocol's normal class
    p = "%s/sneakers/%04d.png" % (work, i)
    if not os.path.exists(p):
        Image.fromarray(x[k]).save(p)
for c in (0, 1, 2, 3, 4, 5, 6, 8):  # the reference classes: all but sneaker (7) and ankle boot (9)
    os.makedirs(f"{work}/reference/{c}", exist_ok=True)
    for i, k in enumerate(np.flatnonzero(y == c)[:500]):
        p = f"{work}/reference/{c}/{i:04d}.png"
        if not os.path.exists(p):
            Image.fromarray(x[k]).save(p)
x, y = load("t10k")
picked = list(np.flatnonzero(y == 9)[:4]) + list(np.flatnonzero(y == 7)[:4])
for j, k in enumerate(picked):
    Image.fromarray(x[k]).save(f"{work}/figure_images/{j}-{'boot' if y[k] == 9 else 'sneaker'}-{k}.png")
PY
train() {  # name method extra-flags...
  local name=$1 method=$2; shift 2
  [ -f "$work/$name.kz" ] || "$kizuki" train --normal "$work/sneakers" --method "$method" \
      --threads 2 --seed 0 --out "$work/$name.kz" "$@" >/dev/null
}
train ae ae --image-size 28 --epochs 10 --batch 64 --inpaint unet
train cutpaste cutpaste --image-size 32 --width 0.5 --epochs 3 --inpaint unet
train vae vae --image-size 28 --epochs 10 --batch 64
train ssim-ae ssim-ae --image-size 28 --epochs 10 --batch 64
train adae adae --image-size 28 --epochs 10 --batch 64
train anogan anogan --image-size 32 --epochs 3 --batch 64
train arcface arcface --reference "$work/reference" --image-size 32 --width 0.5 --epochs 3 \
    --inpaint unet
maps() {  # row model kind extra-flags...
  local row=$1 model=$2 kind=$3; shift 3
  rm -rf "$work/figure_maps/$row"
  mkdir -p "$work/figure_maps"
  "$kizuki" score --model "$work/$model.kz" "$work/figure_images" --maps "$work/figure_maps/$row" \
      --map-kind "$kind" --out "$work/figure_maps/$row.csv" "$@" 2>&1 | sed "s/^/$row: /"
}
maps 1-ae ae own
maps 2-vae vae own
maps 3-ssim-ae ssim-ae own
maps 4-adae adae own
maps 5-anogan anogan own
maps 6-cutpaste cutpaste own
maps 7-arcface-gradcam arcface gradcam
maps 8-arcface-occlusion-mean arcface occlusion
maps 9-arcface-occlusion-unet arcface occlusion --inpaint unet
mkdir -p "$(dirname "$out")"
/usr/bin/python3 - "$work" "$out" <<'PY'
import glob, os, sys, numpy as np
from PIL import Image, ImageDraw
work, out = sys.argv[1:3]
TILE, GAP, LABEL = 84, 2, 150
files = sorted(os.listdir(f"{work}/figure_images"))
rows = [("image", [Image.open(f"{work}/figure_images/{f}").convert("RGB") for f in files])]
for d in sorted(p for p in glob.glob(f"{work}/figure_maps/*") if os.path.isdir(p)):
    name = os.path.basename(d).split("-", 1)[1]
    rows.append((name, [Image.open(f"{d}/{f}.map.png").convert("RGB") for f in files]))
canvas = Image.new("RGB", (LABEL + len(files) * (TILE + GAP), len(rows) * (TILE + GAP)), "white")
draw = ImageDraw.Draw(canvas)
for r, (name, tiles) in enumerate(rows):
    y = r * (TILE + GAP)
    draw.text((4, y + TILE // 2 - 6), name, fill="black")
    for c, t in enumerate(tiles):
        canvas.paste(t.resize((TILE, TILE), Image.NEAREST), (LABEL + c * (TILE + GAP), y))
canvas.save(out)
print("wrote", out)
PY
