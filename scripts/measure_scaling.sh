#!/usr/bin/env bash
# measure_scaling.sh — docs/scaling.md's numbers: `kizuki benchmark` trials per hour with
# 1 process × 1 thread, 2 processes × 1 thread (mpirun) and 1 process × 2 threads, on a
# tiny split of Fashion-MNIST (quick preset, DOC and L2-Softmax, 100 reference images per
# class, 200 normal training images, 200 + 200 test images). The three settings take turns,
# RUNS times each, so that a machine whose load changes weighs on all of them alike; it
# prints every run's wall time and load average, then each setting's median.
#   bash scripts/measure_scaling.sh            # RUNS=3 TRIALS=4 KIZUKI=build/apps/kizuki
set -euo pipefail
cd "$(dirname "$0")/.."
KIZUKI=${KIZUKI:-build/apps/kizuki}
RUNS=${RUNS:-3}
TRIALS=${TRIALS:-4}
args=(benchmark --preset quick --methods doc,l2softmax --trials "$TRIALS"
      --reference-per-class 100 --normal-train 200 --test-each 200)
mpirun=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
times="$out/times"
for run in $(seq "$RUNS"); do
  for setting in "1x1" "2x1" "1x2"; do
    case $setting in
      1x1) cmd=("$KIZUKI" "${args[@]}" --threads 1) ;;
      2x1) cmd=("${mpirun[@]}" -np 2 "$KIZUKI" "${args[@]}" --threads 1) ;;
      1x2) cmd=("$KIZUKI" "${args[@]}" --threads 2) ;;
    esac
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    OMP_NUM_THREADS=${setting#*x} "${cmd[@]}" --out "$out/$setting" > "$out/log" 2>&1 ||
      { cat "$out/log"; exit 1; }
    seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    echo "$setting $seconds" >> "$times"
    printf "run %d  %s (processes x threads)  %6.1f s  load %s\n" "$run" "$setting" "$seconds" "$load"
  done
done
echo "median wall time and trials per hour ($TRIALS trials of doc + l2softmax per run):"
for setting in "1x1" "2x1" "1x2"; do
  grep "^$setting " "$times" | cut -d' ' -f2 | sort -n | awk -v s="$setting" -v t="$TRIALS" \
    '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
       printf "  %s  %6.1f s  %6.0f trials/h\n", s, m, t * 3600 / m }'
done
