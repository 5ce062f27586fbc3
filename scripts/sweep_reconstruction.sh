#!/usr/bin/env bash
# sweep_reconstruction.sh — how the reconstruction presets (ae, vae, ssim-ae) were chosen,
# without the test set (DESIGN.md §12): `kizuki benchmark --validate` trains exactly as the
# protocol's trials with the same seeds, then scores held-out normal training images against
# reference-set images (other classes) instead of the test set's normals and anomalies.
#
#   bash scripts/sweep_reconstruction.sh KIZUKI DATASET OUT [DATA_DIR]
#
# One setting at a time around the starting point (Adam lr 1e-3, latent 128, 30 epochs —
# the papers' common defaults): lr 3e-4 and 3e-3, latent 32, 10 epochs, then latent 512 and
# 60 epochs; 2 trials each (seeds 0 and 1), 1 thread per run. Each setting's results.json
# lands in OUT/<setting>/ (--resume: a stopped sweep continues where it stopped);
# scripts/sweep_table.py OUT prints the table docs/results.md shows.
# The decision rule, fixed before the sweep: a preset moves from its starting point only
# where another setting's mean validation AUC over the two trials is higher by more than
# 0.01 (about twice the trial-to-trial spread of the first measurements).
set -euo pipefail
kizuki=$1 dataset=$2 out=$3 data_dir=${4:-}
extra=()
[ -n "$data_dir" ] && extra=(--data-dir "$data_dir")
settings=(
  "base:"
  "lr3e-4:--lr 3e-4"
  "lr3e-3:--lr 3e-3"
  "latent32:--latent-dim 32"
  "epochs10:--epochs 10"
  "latent512:--latent-dim 512"
  "epochs60:--epochs 60"
)
for s in "${settings[@]}"; do
  name=${s%%:*} flags=${s#*:}
  # shellcheck disable=SC2086  # flags is a list of words
  CI=1 "$kizuki" benchmark --dataset "$dataset" "${extra[@]}" --preset scratch \
    --methods ae,vae,ssim-ae --trials 2 --threads 1 --validate $flags \
    --out "$out/$name" --resume
done
