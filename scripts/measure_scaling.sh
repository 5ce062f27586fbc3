#!/usr/bin/env bash
# measure_scaling.sh — docs/scaling.md's numbers: `kizuki benchmark` trials per hour with
# 1 process × 1 thread, 2 processes × 1 thread (mpirun) and 1 process × 2 threads, on a
# tiny split of Fashion-MNIST (quick preset, DOC and L2-Softmax, 100 reference images per
# class, 200 normal training images, 200 + 200 test images). The three settings take turns,
# RUNS times each, so that a machine whose load changes weighs on all of them alike; it
# prints every run's wall time, CPU time (user + system, of every process of the run) and
# load average, then each setting's medians.
#   bash scripts/measure_scaling.sh     # RUNS=3 TRIALS=4 SETTINGS="1x1 2x1 1x2" KIZUKI=…
set -euo pipefail
cd "$(dirname "$0")/.."
KIZUKI=${KIZUKI:-build/apps/kizuki}
RUNS=${RUNS:-3}
TRIALS=${TRIALS:-4}
SETTINGS=${SETTINGS:-1x1 2x1 1x2}
args=(benchmark --preset quick --methods doc,l2softmax --trials "$TRIALS"
      --reference-per-class 100 --normal-train 200 --test-each 200)
mpirun=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
times="$out/times"
for run in $(seq "$RUNS"); do
  for setting in $SETTINGS; do
    case $setting in
      1x1) cmd=("$KIZUKI" "${args[@]}" --threads 1) ;;
      2x1) cmd=("${mpirun[@]}" -np 2 "$KIZUKI" "${args[@]}" --threads 1) ;;
      1x2) cmd=("$KIZUKI" "${args[@]}" --threads 2) ;;
    esac
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    # CPU seconds of the children waited for so far (mpirun waits for its ranks), before
    # and after: fields 16 and 17 of this shell's /proc/PID/stat, in clock ticks.
    cpu0=$(awk '{ print $16 + $17 }' "/proc/$$/stat")
    OMP_NUM_THREADS=${setting#*x} "${cmd[@]}" --out "$out/$setting" > "$out/log" 2>&1 ||
      { cat "$out/log"; exit 1; }
    cpu=$(awk -v a="$cpu0" -v hz="$(getconf CLK_TCK)" '{ print ($16 + $17 - a) / hz }' "/proc/$$/stat")
    seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    echo "$setting $seconds $cpu" >> "$times"
    printf "run %d  %s (processes x threads)  %6.1f s wall  %6.1f s CPU  load %s\n" "$run" \
      "$setting" "$seconds" "$cpu" "$load"
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "medians ($TRIALS trials of doc + l2softmax per run):"
for setting in $SETTINGS; do
  wall=$(grep "^$setting " "$times" | cut -d' ' -f2 | median)
  cpu=$(grep "^$setting " "$times" | cut -d' ' -f3 | median)
  awk -v s="$setting" -v w="$wall" -v c="$cpu" -v t="$TRIALS" \
    'BEGIN { printf "  %s  %6.1f s wall  %6.0f trials/h  %6.1f CPU s per trial\n", s, w, t * 3600 / w, c / t }'
done
