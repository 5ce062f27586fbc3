#!/usr/bin/env bash
# fuzz.sh — every libFuzzer target (fuzz/*.cpp: safetensors, .npy, IDX/gzip, CIFAR-10, CSV,
# image decoding, model.kz and checkpoints) for a bounded time on its committed corpus.
#
#   bash scripts/fuzz.sh                           # 20 s per target
#   KZ_FUZZ_SECONDS=600 bash scripts/fuzz.sh fuzz_model
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
seconds=${KZ_FUZZ_SECONDS:-20}
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
  if "$dir/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -seed="${KZ_FUZZ_SEED:-1}" -print_final_stats=1 \
      -artifact_prefix="$dir/fuzz-artifacts/$t-" "$work" "${seeds[@]}" >"$log" 2>&1; then
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
    echo "fuzz: $t ok (${runs:-?} inputs in ${seconds} s)"
  else
    echo "fuzz: $t FAILED — see $log and $dir/fuzz-artifacts/$t-*"
    grep -E "ERROR|runtime error|SUMMARY" "$log" | head -n 5 || true
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failures in ${failed[*]}"; exit 1; }
