#!/usr/bin/env bash
# fuzz.sh — every libFuzzer target (fuzz/*.cpp: safetensors, .npy, IDX/gzip, CIFAR-10, CSV,
# image decoding, model.kz and checkpoints) for a fixed number of inputs on its committed
# corpus.
#
#   bash scripts/fuzz.sh                           # each target's fixed count (below)
#   KZ_FUZZ_RUNS=5000000 bash scripts/fuzz.sh fuzz_image   # a longer hunt
#   KZ_FUZZ_SEED=7 bash scripts/fuzz.sh            # other inputs than CI's
#
# A fixed -seed and a fixed number of inputs (-runs), not a time limit: for the same commit
# and compiler the fuzzer explores exactly the same inputs on every machine, fast or slow, so
# a run here that passes is the run CI makes (with a time limit a faster CI machine explored
# further and found what no local run had reached). Each count takes ~20-40 s on a 2-core
# AVX-512 machine; KZ_FUZZ_MAX_SECONDS (default 300) caps a target on a slow machine, which
# then explores a prefix of the same inputs and says so.
#
# Builds build-fuzz/ with clang: the whole library with AddressSanitizer,
# UndefinedBehaviorSanitizer and fuzzer coverage (fuzz/meson.build). Seeds come from
# fuzz/corpus/<name>/ (remade by fuzz/make_corpus.py); new inputs the fuzzer finds go to
# build-fuzz/fuzz-corpus/<name>/, never into the committed corpus. A crash, a sanitizer
# report, a hang (> 10 s) or an out-of-memory leaves its input as
# build-fuzz/fuzz-artifacts/<target>-crash-<hash> and makes the script fail: fix it, then
# add the input as a regression test in tests/ (see tests/test_reliability.cpp).
# Without clang it says so and succeeds (nothing to run). Exit status: 0 clean, 1 a target
# failed, 2 the clang build failed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is not installed (scripts/install-deps.sh installs it); skipped"
  exit 0
fi
dir=build-fuzz
max_seconds=${KZ_FUZZ_MAX_SECONDS:-300}
# Inputs per target: about 20-40 s each where measured (fuzz_model parses a 0.4 MB model per
# input, so it runs the fewest).
declare -A default_runs=([fuzz_model]=20000 [fuzz_image]=200000 [fuzz_safetensors]=300000
                         [fuzz_npy]=600000 [fuzz_idx]=600000 [fuzz_cifar]=1000000
                         [fuzz_csv]=200000)
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debugoptimized \
    -Dcpp_args="['-fsanitize=fuzzer-no-link','-fno-sanitize-recover=undefined']" >/dev/null
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
if ! ninja -C "$dir" -j "${JOBS:-$(nproc)}" "${targets[@]/#/fuzz/}" >"$dir/fuzz-build.log" 2>&1; then
  grep -E "error" "$dir/fuzz-build.log" | head -n 5
  echo "fuzz: the clang build failed (see $dir/fuzz-build.log); nothing fuzzed"
  exit 2
fi
mkdir -p "$dir/fuzz-artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  seeds=("fuzz/corpus/${t#fuzz_}")
  # The inputs it once failed on run first, under the sanitizers that saw them fail.
  [ -d "fuzz/regressions/${t#fuzz_}" ] && seeds+=("fuzz/regressions/${t#fuzz_}")
  work="$dir/fuzz-corpus/${t#fuzz_}"
  mkdir -p "$work"
  log="$dir/fuzz-artifacts/$t.log"
  # A fixed -seed: the same binary and corpus explore the same inputs first on every run.
  runs=${KZ_FUZZ_RUNS:-${default_runs[$t]:-200000}}
  if "$dir/fuzz/$t" -runs="$runs" -max_total_time="$max_seconds" -timeout=10 -rss_limit_mb=2048 \
      -seed="${KZ_FUZZ_SEED:-1}" -print_final_stats=1 \
      -artifact_prefix="$dir/fuzz-artifacts/$t-" "$work" "${seeds[@]}" >"$log" 2>&1; then
    done_runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
    took=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -n 1)
    echo "fuzz: $t ok (${done_runs:-?} of $runs inputs in ${took:-?} s)"
  else
    echo "fuzz: $t FAILED — see $log and $dir/fuzz-artifacts/$t-*"
    grep -E "ERROR|runtime error|SUMMARY" "$log" | head -n 5 || true
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failures in ${failed[*]}"; exit 1; }
