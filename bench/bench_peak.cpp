// bench_peak.cpp — the machine's measured limits (bench/peak.h): the FP32 FMA peak with
// AVX-512 and with AVX2 vectors on 1 and 2 threads, and the memory bandwidth of a STREAM
// triad (a = b + s·c, 12 bytes per element) and of pure reads (4 bytes per element) for
// arrays from cache-sized to DRAM-sized. These are the roof and the slope of the roofline
// in docs/performance.md.
//   ./build/bench/bench_peak [--benchmark_filter=fma] [--benchmark_repetitions=5]
// Arguments: threads; for bandwidth, KiB per array, then threads.
// Counters: the rate over wall time ("GFLOP/s", "GB/s") and over the process's CPU time
// ("per_cpu_s"): on a shared machine, wall-time rates measure the share of the cores this
// process got; with 1 thread, per_cpu_s is the core's own rate while it ran. Short
// repetitions and their maximum (--benchmark_min_time=0.01 --benchmark_repetitions=30)
// find the moments the cores were free.
#include <benchmark/benchmark.h>

#include "bench/peak.h"

namespace {

using namespace kz::bench;

// `work` per iteration over the CPU seconds used since cpu0.
double per_cpu_second(const benchmark::State& state, double work, double cpu0) {
  const double cpu = process_cpu_seconds() - cpu0;
  return cpu > 0 ? work * double(state.iterations()) / cpu : 0.0;
}

template <int Lanes>
void BM_fma(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t iterations = 1'000'000;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(fma_kernel<Lanes>(iterations, threads));
  const double flops = fma_kernel_flops(iterations, threads, Lanes);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["per_cpu_s"] = per_cpu_second(state, flops / 1e9, cpu0);
}

void BM_triad(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(1));
  Arrays x(state.range(0) * 1024 / 4, threads);
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    triad_kernel(x, 3.0f, threads);
    benchmark::DoNotOptimize(x.a);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(12.0 * double(x.n) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["per_cpu_s"] = per_cpu_second(state, 12.0 * double(x.n) / 1e9, cpu0);
}

void BM_read(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(1));
  Arrays x(state.range(0) * 1024 / 4, threads);
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(read_kernel(x, threads));
  state.counters["GB/s"] = benchmark::Counter(4.0 * double(x.n) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["per_cpu_s"] = per_cpu_second(state, 4.0 * double(x.n) / 1e9, cpu0);
}

void bandwidth_args(benchmark::internal::Benchmark* b) {
  for (int64_t kib : {256, 2048, 16384, 65536})  // 3 arrays: L2, L3, beyond L3, DRAM
    for (int64_t threads : {1, 2}) b->Args({kib, threads});
}

}  // namespace

#if defined(__AVX512F__)
BENCHMARK(BM_fma<16>)->Name("peak/fma_avx512")->Arg(1)->Arg(2)->UseRealTime();
#endif
#if defined(__FMA__)
BENCHMARK(BM_fma<8>)->Name("peak/fma_avx2")->Arg(1)->Arg(2)->UseRealTime();
#endif
BENCHMARK(BM_triad)->Name("bandwidth/triad")->Apply(bandwidth_args)->UseRealTime();
BENCHMARK(BM_read)->Name("bandwidth/read")->Apply(bandwidth_args)->UseRealTime();
BENCHMARK_MAIN();
