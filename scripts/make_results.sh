#!/usr/bin/env bash
# make_results.sh — the measured results of docs/results.md: runs the benchmark protocol
# (kizuki benchmark, 10 trials each) into results/NAME/, then turns each folder's
# results.json into a table (scripts/results_table.py) and splices the tables into
# docs/results.md between its markers (scripts/splice.sh); box plots go to docs/figures/.
# Each trial runs as its own process (`--trials 1 --seed k` is trial k of `--trials 10`),
# into results/NAME/seed-k/; `kizuki report` merges them. A stopped run loses at most the
# epoch it was in: running the script again skips the trials already finished and continues
# an unfinished one from its last epoch checkpoint (--resume).
#
#   bash scripts/make_results.sh [--tables-only] [NAME...]     (default: every run below)
#     --tables-only: no new trials; the tables of the trials finished so far
#   bash scripts/make_results.sh lof-speed     (LOF against scikit-learn, bench/lof_vs_sklearn.py)
#
# One thread per run, so two runs share two cores without OpenMP threads waiting on each
# other (run two NAMEs in two shells). Hours on two cores: scratch ≈ 40 CPU-minutes per
# dataset, seed ≈ 22 minutes per trial with two runs side by side (width 1.0, 96×96,
# fine-tuning every layer).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
kizuki=${KIZUKI:-$build/apps/kizuki}
trials=${TRIALS:-10}
shared=${KZ_SHARED_DATA:-../shared/data}
weights=$shared/weights/mobilenet_v2_1.0_imagenet.safetensors
every_method="--methods doc,l2softmax,arcface,frozen --scorers lof,cosine,knn"

# NAME -> the benchmark's arguments.
declare -A runs=(
  [fmnist-scratch]="--dataset fashion-mnist --preset scratch $every_method"
  [cifar-scratch]="--dataset cifar10 --data-dir $shared/cifar10 --preset scratch $every_method"
  [fmnist-seed]="--dataset fashion-mnist --preset seed --pretrained $weights $every_method"
  [cifar-seed]="--dataset cifar10 --data-dir $shared/cifar10 --preset seed --pretrained $weights $every_method"
  [fmnist-frozen]="--dataset fashion-mnist --preset seed --pretrained $weights --methods frozen --scorers lof,cosine,knn"
  [cifar-frozen]="--dataset cifar10 --data-dir $shared/cifar10 --preset seed --pretrained $weights --methods frozen --scorers lof,cosine,knn"
  # The reconstruction methods: Fashion-MNIST at its preset; CIFAR-10 at the settings the
  # PyTorch twin mirrors (30 epochs, latent 128) and at the swept preset (vae 10 epochs,
  # ssim-ae latent 32; scripts/sweep_reconstruction.sh).
  [fmnist-recon]="--dataset fashion-mnist --preset scratch --methods ae,vae,ssim-ae"
  [cifar-recon]="--dataset cifar10 --data-dir $shared/cifar10 --preset scratch --methods ae,vae,ssim-ae --epochs 30 --latent-dim 128"
  [cifar-recon-swept]="--dataset cifar10 --data-dir $shared/cifar10 --preset scratch --methods vae,ssim-ae"
)

if [ "${1:-}" = "lof-speed" ]; then
  ninja -C "$build" -j 2 bench/bench_lof | tail -n 1
  /usr/bin/python3 bench/lof_vs_sklearn.py --build "$build" > docs/figures/lof_vs_sklearn.txt
  bash scripts/splice.sh docs/results.md docs/figures
  cat docs/figures/lof_vs_sklearn.txt
  exit 0
fi

tables_only=0
if [ "${1:-}" = "--tables-only" ]; then tables_only=1; shift; fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(fmnist-scratch cifar-scratch fmnist-seed cifar-seed)

if [ $tables_only = 0 ]; then
  [ -n "${KIZUKI:-}" ] || ninja -C "$build" -j 2 apps/kizuki | tail -n 1
  for name in "${names[@]}"; do
    [ -n "${runs[$name]:-}" ] || { echo "make_results: unknown run '$name'" >&2; exit 1; }
    for ((seed = 0; seed < trials; ++seed)); do
      out="results/$name/seed-$seed"
      [ -f "$out/finished" ] && continue  # results.json alone may hold part of a trial
      # shellcheck disable=SC2086  # the arguments are words on purpose
      "$kizuki" benchmark ${runs[$name]} --threads 1 --trials 1 --seed $seed --resume \
        --out "$out"
      touch "$out/finished"
    done
  done
fi

# One results.json per NAME: the finished trials merged (a NAME run as one 10-trial process,
# without seed-k folders, already has it); then its table and box plot.
for name in "${names[@]}"; do
  finished=()
  for marker in "results/$name"/seed-*/finished; do
    [ -f "$marker" ] && finished+=("$(dirname "$marker")/results.json")
  done
  if [ ${#finished[@]} -gt 0 ]; then
    "${kizuki}" report "${finished[@]}" --out "results/$name" > /dev/null
  fi
  [ -f "results/$name/results.json" ] || { echo "make_results: no results/$name" >&2; exit 1; }
  twin=()  # the PyTorch twin's runs beside the reconstruction methods at its settings
  case $name in
    fmnist-recon | cifar-recon) twin=(docs/figures/recon_torch_"${name%-recon}"*.json) ;;
  esac
  python3 scripts/results_table.py "results/$name" "results-$name" docs/figures "${twin[@]}"
done
for key in fmnist cifar; do  # every family of one dataset in one table
  python3 scripts/family_table.py docs/figures "$key" "docs/figures/results-$key-all.md"
done
bash scripts/splice.sh docs/results.md docs/figures
echo "make_results: tables of ${names[*]} spliced into docs/results.md"
