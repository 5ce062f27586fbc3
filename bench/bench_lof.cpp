// bench_lof.cpp — LOF (anomaly/lof.h): fit on N features and score M, as N grows, and at
// the seed's sizes (N = 1000, k = 5, M = 2000, D = 1280) and the large case
// (N = 9000, k = 20). Arguments: N, D, k, M.
// "GFLOP/s" counts the full distance matrices (2·D·(N·N + M·N) flops per iteration): the
// fit computes only half of N·N (symmetry), so this is an effective rate and can exceed
// the GEMM's own. `lof/seed_floor` is the GEMM floor of the seed's case, timed in the same
// run: one kz::sgemm with the flops LOF cannot avoid, 2·D·N·(N/2 + M) (the fit's symmetric
// half and the scoring), on all threads; lof/seed over lof/seed_floor is issue 23's ratio.
#include <benchmark/benchmark.h>

#include "anomaly/lof.h"
#include "tensor/blas.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace {

// Features like a network's: a few clusters, offset from the origin. Returns (rows, d).
kz::Tensor features(int64_t rows, int64_t d, kz::Generator& gen) {
  kz::Tensor x = kz::Tensor::normal({rows, d}, 0.0f, 1.0f, gen);
  const kz::Tensor centres = kz::Tensor::normal({4, d}, 2.0f, 2.0f, gen);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < d; ++j) x.data()[i * d + j] += centres.data()[(i % 4) * d + j];
  return x;
}

void BM_lof(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), k = state.range(2), m = state.range(3);
  kz::Generator gen(0);
  const kz::Tensor train = features(n, d, gen), test = features(std::max<int64_t>(m, 1), d, gen);
  for (auto _ : state) {
    kz::Lof lof(k);
    lof.fit(train);
    if (m > 0) benchmark::DoNotOptimize(lof.score(test).data());
    benchmark::DoNotOptimize(lof.training_lof().data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * double(d) * double(n) * double(n + m), benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
}

// The GEMM floor of BM_lof(N, D, k, M): C (N/2 + M, N) = A B^T with A (N/2 + M, D) and
// B (N, D), one sgemm call. Arguments: N, D, M.
void BM_gemm_floor(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1), rows = n / 2 + state.range(2);
  kz::Generator gen(0);
  const kz::Tensor a = features(rows, d, gen), b = features(n, d, gen);
  kz::Tensor c = kz::Tensor::empty({rows, n});
  for (auto _ : state) {
    kz::sgemm(false, true, rows, n, d, -2.0f, a.data(), d, b.data(), d, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(d) * double(n) * double(rows),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

}  // namespace

// Fit + score as N grows (D = 128, k = 20, M = N).
BENCHMARK(BM_lof)
    ->Name("lof/fit_score")
    ->ArgNames({"N", "D", "k", "M"})
    ->Args({250, 128, 20, 250})
    ->Args({500, 128, 20, 500})
    ->Args({1000, 128, 20, 1000})
    ->Args({2000, 128, 20, 2000})
    ->Args({4000, 128, 20, 4000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// Fit only, as N grows.
BENCHMARK(BM_lof)
    ->Name("lof/fit")
    ->ArgNames({"N", "D", "k", "M"})
    ->Args({1000, 128, 20, 0})
    ->Args({4000, 128, 20, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// The seed's sizes and the large case of issue 6.
BENCHMARK(BM_lof)
    ->Name("lof/seed")
    ->ArgNames({"N", "D", "k", "M"})
    ->Args({1000, 1280, 5, 2000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_gemm_floor)
    ->Name("lof/seed_floor")
    ->ArgNames({"N", "D", "M"})
    ->Args({1000, 1280, 2000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_lof)
    ->Name("lof/large")
    ->ArgNames({"N", "D", "k", "M"})
    ->Args({9000, 1280, 20, 2000})
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_MAIN();
