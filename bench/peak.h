// peak.h — this machine's limits, measured rather than quoted: the FP32 FMA peak and the
// memory bandwidth, for the roofline (docs/performance.md) and for the "fraction of peak"
// every micro-benchmark reports. Header-only: bench_peak.cpp benchmarks these kernels,
// bench_ops.cpp calls measure_peak_gflops()/measure_bandwidth_gbs() once at start.
//
// FMA kernel: accumulators<Lanes>() independent vector accumulators per thread (enough to
//   cover the FMA latency × the FMA ports: 2 FMA pipes of 4–5 cycles need ≥ 10 chains), each
//   updated acc = acc·m + a, 2 FLOPs per lane. Lanes: 16 (AVX-512: 16 of its 32 registers)
//   or 8 (AVX2: 12, since with m and a 16 accumulators would not fit its 16 registers, and
//   the spills to memory made the measured "peak" lower than what SGEMM achieves).
// Triad kernel: a[i] = b[i] + s·c[i] over three float arrays of n elements, 12 bytes per
//   element counted (STREAM's convention: the write-allocate read of a is not counted).
// Read kernel: Σ b[i] over one array (4 bytes per element): the bandwidth of pure reads,
//   with four independent vector sums (AVX-512, AVX) or eight scalar ones otherwise, so the
//   adds' latency never limits the reads.
// Both split the arrays over OpenMP threads statically (first touch in the same split).
#pragma once

#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace kz::bench {

// Independent FMA chains per thread for vectors of `Lanes` floats (see the description).
template <int Lanes>
constexpr int accumulators() {
  return Lanes == 16 ? 16 : 12;
}

// Runs `iterations` rounds of accumulators<Lanes>() FMAs of `Lanes` floats on each of
// `threads` threads; returns a value that depends on every accumulator (so nothing is elided).
template <int Lanes>
inline float fma_kernel(int64_t iterations, int threads) {
  constexpr int kAcc = accumulators<Lanes>();
  float result = 0;
#pragma omp parallel num_threads(threads) reduction(+ : result)
  {
#if defined(__AVX512F__)
    if constexpr (Lanes == 16) {
      __m512 acc[kAcc];
      for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(1.0f + 0.001f * float(i));
      const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
      for (int64_t it = 0; it < iterations; ++it)
        for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
      alignas(64) float lanes[16];  // (_mm512_reduce_add_ps warns in GCC 12's header)
      for (int i = 0; i < kAcc; ++i) {
        _mm512_store_ps(lanes, acc[i]);
        for (float v : lanes) result += v;
      }
    }
#endif
#if defined(__FMA__)
    if constexpr (Lanes == 8) {
      __m256 acc[kAcc];
      for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(1.0f + 0.001f * float(i));
      const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
      for (int64_t it = 0; it < iterations; ++it)
        for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
      alignas(32) float lanes[8];
      for (int i = 0; i < kAcc; ++i) {
        _mm256_store_ps(lanes, acc[i]);
        for (float v : lanes) result += v;
      }
    }
#endif
  }
  return result;
}

inline constexpr int widest_lanes() {
#if defined(__AVX512F__)
  return 16;
#else
  return 8;
#endif
}

// FLOPs one fma_kernel call performs.
inline double fma_kernel_flops(int64_t iterations, int threads, int lanes) {
  const int chains = lanes == 16 ? accumulators<16>() : accumulators<8>();
  return 2.0 * double(lanes) * chains * double(iterations) * threads;
}

// Float arrays aligned to 64 bytes, first touched by the threads that will use them.
struct Arrays {
  float *a, *b, *c;
  int64_t n;
  Arrays(int64_t n_, int threads) : n(n_) {
    const size_t bytes = (size_t(n) * sizeof(float) + 63) / 64 * 64;
    a = static_cast<float*>(std::aligned_alloc(64, bytes));
    b = static_cast<float*>(std::aligned_alloc(64, bytes));
    c = static_cast<float*>(std::aligned_alloc(64, bytes));
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
  }
  ~Arrays() { std::free(a), std::free(b), std::free(c); }
  Arrays(const Arrays&) = delete;
  Arrays& operator=(const Arrays&) = delete;
};

inline void triad_kernel(Arrays& x, float s, int threads) {
  float* __restrict a = x.a;
  const float* __restrict b = x.b;
  const float* __restrict c = x.c;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < x.n; ++i) a[i] = b[i] + s * c[i];
}

// Σ b over the array (see the description).
inline float read_kernel(const Arrays& x, int threads) {
  float sum = 0;
  const float* __restrict b = x.b;
  constexpr int64_t kBlock = 64;  // floats per round: 4 × 16
  const int64_t blocks = x.n / kBlock;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
  {
#if defined(__AVX512F__)
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < blocks; ++k) {
      const float* p = b + k * kBlock;
      s0 = _mm512_add_ps(s0, _mm512_load_ps(p));
      s1 = _mm512_add_ps(s1, _mm512_load_ps(p + 16));
      s2 = _mm512_add_ps(s2, _mm512_load_ps(p + 32));
      s3 = _mm512_add_ps(s3, _mm512_load_ps(p + 48));
    }
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    for (float v : lanes) sum += v;
#elif defined(__AVX__)
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < blocks; ++k) {  // a round of 64 floats in two halves
      for (const float* p = b + k * kBlock; p < b + (k + 1) * kBlock; p += 32) {
        s0 = _mm256_add_ps(s0, _mm256_load_ps(p));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(p + 8));
        s2 = _mm256_add_ps(s2, _mm256_load_ps(p + 16));
        s3 = _mm256_add_ps(s3, _mm256_load_ps(p + 24));
      }
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (float v : lanes) sum += v;
#else
    float part[8] = {};
#pragma omp for schedule(static)
    for (int64_t k = 0; k < blocks * kBlock; k += 8)
      for (int j = 0; j < 8; ++j) part[j] += b[k + j];
    for (float v : part) sum += v;
#endif
  }
  for (int64_t i = blocks * kBlock; i < x.n; ++i) sum += b[i];
  return sum;
}

// CPU time of the whole process (all threads), in seconds. On a machine shared with other
// work, work / CPU time is the rate while this process held a core: per core, since spinning
// OpenMP threads count too.
inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Best of `repeats` timed runs, in seconds, of f().
template <class F>
inline double best_seconds(int repeats, F&& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// The FP32 peak in GFLOP/s on `threads` threads with the widest FMA vectors (best of 5).
inline double measure_peak_gflops(int threads = omp_get_max_threads()) {
  constexpr int lanes = widest_lanes();
  const int64_t iterations = 2'000'000;
  volatile float sink = 0;
  const double s = best_seconds(5, [&] { sink = sink + fma_kernel<lanes>(iterations, threads); });
  return fma_kernel_flops(iterations, threads, lanes) / s / 1e9;
}

// Triad bandwidth in GB/s over three arrays of `bytes_per_array` (default 64 MiB: DRAM).
inline double measure_bandwidth_gbs(int threads = omp_get_max_threads(),
                                    int64_t bytes_per_array = int64_t(64) << 20) {
  Arrays x(bytes_per_array / 4, threads);
  triad_kernel(x, 3.0f, threads);
  const double s = best_seconds(5, [&] { triad_kernel(x, 3.0f, threads); });
  return 12.0 * double(x.n) / s / 1e9;
}

// The two limits a benchmark reports its fraction of, measured once at its start.
struct Limits {
  double peak_gflops, bandwidth_gbs;
};
inline Limits measure_limits() { return {measure_peak_gflops(), measure_bandwidth_gbs()}; }

// main() of a benchmark that reports fractions of the limits: measures them, records them
// (and the thread count) in the output's context, registers the benchmarks with
// register_all(limits) and runs them.
template <class Register>
int run_with_limits(int argc, char** argv, Register register_all) {
  const Limits limits = measure_limits();
  benchmark::AddCustomContext("measured_peak_gflops", std::to_string(limits.peak_gflops));
  benchmark::AddCustomContext("measured_triad_gbs", std::to_string(limits.bandwidth_gbs));
  benchmark::AddCustomContext("threads", std::to_string(omp_get_max_threads()));
  register_all(limits);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace kz::bench
