#!/usr/bin/env bash
# measure_data_parallel.sh — data-parallel training step times (docs/scaling.md): L2-Softmax,
# MobileNetV2 width 1.0, one epoch on a Fashion-MNIST split (320 reference + 192 normal
# images = 8 global batches of 64), one thread per process, at SIZES (default 32 96). The
# settings take turns, RUNS rounds (default 3):
#   1     one process, --data-parallel (a group of one: the exchange is a copy)
#   2     mpirun -np 2, --data-parallel, 4 MiB buckets started during backward
#   2-0   mpirun -np 2, --data-parallel --bucket-mb 0: one bucket after backward (no overlap)
# Prints kizuki's per-step line for each run (step, backward, hooks, waiting).
set -euo pipefail
cd "$(dirname "$0")/.."
KIZUKI=${KIZUKI:-build/apps/kizuki}
RUNS=${RUNS:-3}
SIZES=${SIZES:-32 96}
SETTINGS=${SETTINGS:-1 2 2-0}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OMP_NUM_THREADS=1
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none"
for size in $SIZES; do
  for run in $(seq "$RUNS"); do
    for s in $SETTINGS; do
      args=(benchmark --preset quick --methods l2softmax --trials 1 --epochs 1 --width 1.0
            --image-size "$size" --batch 64 --reference-per-class 40 --normal-train 192
            --test-each 20 --threads 1 --data-parallel --out "$OUT/$s")
      case $s in
        1) cmd=("$KIZUKI" "${args[@]}") ;;
        2) cmd=($MPIRUN -np 2 "$KIZUKI" "${args[@]}") ;;
        2-0) cmd=($MPIRUN -np 2 "$KIZUKI" "${args[@]}" --bucket-mb 0) ;;
        *) echo "unknown setting $s" >&2; exit 2 ;;
      esac
      line=$("${cmd[@]}" 2>&1 | grep "data-parallel over" | sed 's/.*data-parallel over/over/')
      echo "size $size run $run setting $s: $line (load $(cut -d' ' -f1 /proc/loadavg))"
    done
  done
done
