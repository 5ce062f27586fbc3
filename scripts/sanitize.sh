#!/usr/bin/env bash
# sanitize.sh — the whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   bash scripts/sanitize.sh                 # every test case
#   bash scripts/sanitize.sh -tc='anomaly*'  # arguments go to the doctest binary
#
# Builds build-asan/ (debugoptimized, -Db_sanitize=address,undefined) once, then
# incrementally. Any report (heap overflow, use after free, leak, undefined behaviour)
# aborts the run with a non-zero status. About 3x slower than the release suite.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KZ_SANITIZE_BUILD:-build-asan}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debugoptimized >/dev/null
fi
# What the tests run: the test binary, the kizuki program and the examples (not bench/).
targets=(tests/kizuki_tests apps/kizuki)
targets+=(tests/dist_check)  # run under mpirun by tests/test_dist.cpp
for f in examples/*.cpp; do targets+=("examples/$(basename "$f" .cpp)"); done
ninja -C "$dir" -j "${JOBS:-$(nproc)}" "${targets[@]}" | tail -n 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/sanitize.supp:print_suppressions=0}
exec "$dir/tests/kizuki_tests" "$@"
