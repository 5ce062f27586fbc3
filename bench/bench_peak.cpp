// bench_peak.cpp — the machine's measured limits (bench/peak.h): the FP32 FMA peak with
// AVX-512 and with AVX2 vectors on 1 and 2 threads, and the memory bandwidth of a STREAM
// triad (a = b + s·c, 12 bytes per element) and of pure reads (4 bytes per element) for
// arrays from cache-sized to DRAM-sized. These are the roof and the slope of the roofline
// in docs/performance.md.
//   ./build/bench/bench_peak [--benchmark_filter=fma] [--benchmark_repetitions=5]
// Arguments: threads; for bandwidth, KiB per array, then threads.
#include <benchmark/benchmark.h>

#include "bench/peak.h"

namespace {

using namespace kz::bench;

template <int Lanes>
void BM_fma(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t iterations = 1'000'000;
  for (auto _ : state) benchmark::DoNotOptimize(fma_kernel<Lanes>(iterations, threads));
  state.counters["GFLOP/s"] = benchmark::Counter(
      fma_kernel_flops(iterations, threads, Lanes) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_triad(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(1));
  Arrays x(state.range(0) * 1024 / 4, threads);
  for (auto _ : state) {
    triad_kernel(x, 3.0f, threads);
    benchmark::DoNotOptimize(x.a);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(12.0 * double(x.n) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_read(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(1));
  Arrays x(state.range(0) * 1024 / 4, threads);
  for (auto _ : state) benchmark::DoNotOptimize(read_kernel(x, threads));
  state.counters["GB/s"] = benchmark::Counter(4.0 * double(x.n) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void bandwidth_args(benchmark::internal::Benchmark* b) {
  for (int64_t kib : {32, 256, 2048, 16384, 65536})  // L1, L2, L3-ish, L3/DRAM, DRAM
    for (int64_t threads : {1, 2}) b->Args({kib, threads});
}

}  // namespace

#if defined(__AVX512F__)
BENCHMARK(BM_fma<16>)->Name("peak/fma_avx512")->Arg(1)->Arg(2)->UseRealTime();
#endif
BENCHMARK(BM_fma<8>)->Name("peak/fma_avx2")->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_triad)->Name("bandwidth/triad")->Apply(bandwidth_args)->UseRealTime();
BENCHMARK(BM_read)->Name("bandwidth/read")->Apply(bandwidth_args)->UseRealTime();
BENCHMARK_MAIN();
