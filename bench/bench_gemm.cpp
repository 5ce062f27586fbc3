// bench_gemm.cpp — SGEMM: kizuki's sgemm (oneDNN), OpenBLAS and the naive triple loop
// (tensor/blas.h), square sizes, in GFLOP/s (2·M·N·K flops per call).
#include <benchmark/benchmark.h>

#include "tensor/blas.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace {

enum class Impl { kizuki, openblas, naive };

template <Impl kImpl>
void BM_sgemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  kz::Generator gen(0);
  const kz::Tensor a = kz::Tensor::uniform({n, n}, -1, 1, gen);
  const kz::Tensor b = kz::Tensor::uniform({n, n}, -1, 1, gen);
  kz::Tensor c = kz::Tensor::zeros({n, n});
  for (auto _ : state) {
    auto gemm = kImpl == Impl::kizuki     ? kz::sgemm
                : kImpl == Impl::openblas ? kz::sgemm_openblas
                                          : kz::sgemm_naive;
    gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * double(n) * double(n) * double(n), benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
}

}  // namespace

BENCHMARK(BM_sgemm<Impl::kizuki>)->Name("sgemm/onednn")->Arg(64)->Arg(256)->Arg(1024)->UseRealTime();
BENCHMARK(BM_sgemm<Impl::openblas>)->Name("sgemm/openblas")->Arg(64)->Arg(256)->Arg(1024)->UseRealTime();
BENCHMARK(BM_sgemm<Impl::naive>)->Name("sgemm/naive")->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK_MAIN();
