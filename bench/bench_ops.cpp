// bench_ops.cpp — batch norm and GEMM at MobileNetV2's real shapes (width 1.0, batch 128,
// 32×32 input), each against this machine's measured limits (bench/peak.h): GEMMs report
// GFLOP/s and "peak%" (of the FMA peak on the same threads), batch norm GB/s and "bw%" (of
// the DRAM triad bandwidth). Convolutions are in bench_conv.cpp, LOF in bench_lof.cpp.
//
// GEMM shapes are the pointwise (1×1) convolutions as matrix products on channels-last
// activations — x (M = N·H·W, K = C) times weightᵀ (K, O) — and the classifier, through
// OpenBLAS (tensor/blas.h; this machine sets OPENBLAS_CORETYPE=Haswell, so AVX2 kernels),
// oneDNN's sgemm (AVX-512) and, for the smallest, the naive loop. 2·M·N·K FLOPs per call.
// Batch norm: x (N,C,H,W) channels-last; forward (training) reads x twice and writes y,
// backward reads x and dy twice and writes dx (12 and 20 bytes per element); oneDNN's, and
// kizuki's fused BatchNorm+ReLU6 (bn_relu6_fused/..., the same passes).
// Decoder ops at batch 128, channels-last: conv_transpose2d 64→32 channels, 8×8 → 16×16
// (k4 s2 p1; 2·N·C·H·W·O·k² FLOPs per pass, forward, backward-data, backward-weights);
// max_pool2d 2×2 stride 2 on C×32×32, kizuki's loops (tensor/pool2d.cpp) against oneDNN's
// pooling primitive (forward_training with its workspace, then backward), GB/s counting x
// and y (forward) or dy and dx (backward); upsample2d ×2, nearest and bilinear.
// Linear layers (issue 23) at the autoencoders' shapes, batch 64: the mlp-ae table preset
// (F = 32 features, widths 32, 16, 8: 32→32→16→8 and back) and the conv ae's fc layers at
// 28 px (128·3·3 = 1152 ↔ d = 128); the kernels Linear runs (autograd/matmul.cpp): forward
// x (B,in) @ Wᵀ + bias, 2·B·in·out + B·out FLOPs; backward dx = dy @ W, dW = dyᵀ @ x,
// dbias = Σ dy, 4·B·in·out + B·out FLOPs. GFLOP/s and peak% as the gemm rows.
// MobileNetV2's fused blocks at 96×96, batch 128: expansion_{unfused,fused} (1×1 conv +
// BN + ReLU6) and dw_block_{unfused,fused} (stride-1 3×3 depthwise conv + BN + ReLU6).
//   ./build/bench/bench_ops [--benchmark_filter=gemm]
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "bench/peak.h"
#include "tensor/batch_norm.h"
#include "tensor/blas.h"
#include "tensor/conv2d.h"
#include "tensor/conv_bn_relu6.h"
#include "tensor/conv_transpose2d.h"
#include "tensor/dw_bn_relu6.h"
#include "tensor/dnnl.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/pool2d.h"
#include "tensor/upsample.h"

namespace {

using kz::Tensor;
using kz::bench::Limits;

struct GemmShape {
  const char* name;
  int64_t m, k, n;
};

// MobileNetV2 width 1.0 at 32×32, batch 128.
const std::vector<GemmShape> kGemms = {
    {"pw_expand_16to96_16px", 128 * 16 * 16, 16, 96},
    {"pw_project_96to24_8px", 128 * 8 * 8, 96, 24},
    {"pw_expand_24to144_8px", 128 * 8 * 8, 24, 144},
    {"pw_expand_64to384_2px", 128 * 2 * 2, 64, 384},
    {"pw_project_960to160_1px", 128, 960, 160},
    {"pw_last_320to1280_1px", 128, 320, 1280},
    {"classifier_1280to1000", 128, 1280, 1000},
};

enum class Gemm { openblas, onednn, naive };

void bench_gemm(benchmark::State& state, GemmShape s, Gemm kind, Limits limits) {
  kz::Generator gen(0);
  const Tensor a = Tensor::uniform({s.m, s.k}, -1, 1, gen);  // activations (M,K)
  const Tensor w = Tensor::uniform({s.n, s.k}, -1, 1, gen);  // weight (O,C): used transposed
  Tensor c = Tensor::zeros({s.m, s.n});
  for (auto _ : state) {
    switch (kind) {
      case Gemm::openblas:
        kz::sgemm(false, true, s.m, s.n, s.k, 1.0f, a.data(), s.k, w.data(), s.k, 0.0f,
                  c.data(), s.n);
        break;
      case Gemm::onednn:
        dnnl::sgemm('N', 'T', s.m, s.n, s.k, 1.0f, a.data(), s.k, w.data(), s.k, 0.0f,
                    c.data(), s.n);
        break;
      case Gemm::naive:
        kz::sgemm_naive(false, true, s.m, s.n, s.k, 1.0f, a.data(), s.k, w.data(), s.k, 0.0f,
                        c.data(), s.n);
        break;
    }
    benchmark::DoNotOptimize(c.data());
  }
  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(
      100.0 * flops / 1e9 / limits.peak_gflops, benchmark::Counter::kIsIterationInvariantRate);
}

struct LinearShape {
  const char* name;
  int64_t in, out;
};

const std::vector<LinearShape> kLinears = {
    {"mlp_ae/32to32", 32, 32}, {"mlp_ae/32to16", 32, 16}, {"mlp_ae/16to8", 16, 8},
    {"mlp_ae/8to16", 8, 16},   {"mlp_ae/16to32", 16, 32}, {"conv_ae_28px/fc_1152to128", 1152, 128},
    {"conv_ae_28px/fc_128to1152", 128, 1152},
};

void bench_linear(benchmark::State& state, LinearShape s, bool backward, Limits limits) {
  constexpr int64_t kBatch = 64;
  kz::Generator gen(0);
  const Tensor x = Tensor::uniform({kBatch, s.in}, -1, 1, gen);
  const Tensor w = Tensor::uniform({s.out, s.in}, -1, 1, gen);
  const Tensor b = Tensor::uniform({s.out}, -1, 1, gen);
  const Tensor dy = Tensor::uniform({kBatch, s.out}, -1, 1, gen);
  for (auto _ : state) {
    if (backward) {
      const Tensor dx = kz::matmul(dy, w), dw = kz::matmul(dy.transpose(0, 1), x);
      const Tensor db = kz::sum(dy, {0});
      benchmark::DoNotOptimize(dx.data());
      benchmark::DoNotOptimize(dw.data());
      benchmark::DoNotOptimize(db.data());
    } else {
      Tensor y = kz::matmul(x, w.transpose(0, 1));
      kz::add_(y, b);
      benchmark::DoNotOptimize(y.data());
    }
  }
  const double macs = double(kBatch) * double(s.in) * double(s.out);
  const double flops = (backward ? 4.0 : 2.0) * macs + double(kBatch) * double(s.out);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(
      100.0 * flops / 1e9 / limits.peak_gflops, benchmark::Counter::kIsIterationInvariantRate);
}

// fused: batch_norm_relu6 (kizuki's own channels-last kernel: BN and the ReLU6 after it,
// the same passes as BN alone); otherwise oneDNN's batch norm alone.
void bench_batch_norm(benchmark::State& state, int64_t c, int64_t hw, bool backward, bool fused,
                      Limits limits) {
  kz::Generator gen(0);
  const Tensor x = Tensor::normal({128, c, hw, hw}, 0, 1, gen).to_channels_last();
  const Tensor dy = Tensor::normal(x.shape(), 0, 1, gen).to_channels_last();
  const Tensor w = Tensor::full({c}, 2.0f), b = Tensor::full({c}, 2.0f);  // z spans 0 and 6
  Tensor rm = Tensor::zeros({c}), rv = Tensor::ones({c}), dx, dw, db;
  kz::BatchNormSaved saved;
  auto forward = [&] {
    return fused ? kz::batch_norm_relu6_forward(x, w, b, rm, rv, true, 0.1f, 1e-5f, &saved)
                 : kz::batch_norm_forward(x, w, b, rm, rv, true, 0.1f, 1e-5f, &saved);
  };
  auto run_backward = [&] {
    if (fused)
      kz::batch_norm_relu6_backward(dy, x, w, b, saved, true, 1e-5f, &dx, &dw, &db);
    else
      kz::batch_norm_backward(dy, x, w, saved, 1e-5f, &dx, &dw, &db);
  };
  forward();  // makes the primitives
  run_backward();
  for (auto _ : state) {
    if (backward) {
      run_backward();
      benchmark::DoNotOptimize(dx.data());
    } else {
      Tensor y = forward();
      benchmark::DoNotOptimize(y.data());
    }
  }
  const double bytes = double(x.numel()) * 4.0 * (backward ? 5.0 : 3.0);
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bw%"] = benchmark::Counter(100.0 * bytes / 1e9 / limits.bandwidth_gbs,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

// MobileNetV2's expansion (1×1 conv C → O, training batch norm, ReLU6) at batch 128: the
// fused conv1x1_bn_relu6 op (tensor/conv_bn_relu6.h) against the conv then the fused
// bn_relu6 it replaces. GB/s counts the unfused path's traffic (conv: x in, y out; BN+ReLU6
// 12 bytes per element forward; backward: BN+ReLU6 20 bytes per element, then the conv's
// two backward passes reading dy), so the two rates compare as times do.
// The timed loop of a fused block and its unfused twin: forward(), or run_backward() on a
// fresh copy of dz in dz_work (made outside the timed region: as in training, the unfused
// backward writes batch norm's dx over dz). Both run once first, to make the primitives.
template <class Forward, class Backward>
void time_block(benchmark::State& state, bool backward, const Forward& forward,
                const Backward& run_backward, const Tensor& dz, Tensor& dz_work, const Tensor& z,
                const Tensor& dx) {
  forward();
  run_backward();
  for (auto _ : state) {
    if (backward) {
      state.PauseTiming();
      dz_work.copy_(dz);
      state.ResumeTiming();
      run_backward();
      benchmark::DoNotOptimize(dx.data());
    } else {
      forward();
      benchmark::DoNotOptimize(z.data());
    }
  }
}

void bench_expansion(benchmark::State& state, int64_t c, int64_t o, int64_t hw, bool backward,
                     bool fused, Limits limits) {
  kz::Generator gen(0);
  const Tensor x = Tensor::normal({128, c, hw, hw}, 0.3f, 1, gen).to_channels_last();
  const Tensor w = Tensor::normal({o, c, 1, 1}, 0, 0.3f, gen);
  const Tensor gamma = Tensor::full({o}, 2.0f), beta = Tensor::full({o}, 2.0f);
  const Tensor dz = Tensor::normal({128, o, hw, hw}, 0, 1, gen).to_channels_last();
  const kz::Conv2dParams p{};
  Tensor rm = Tensor::zeros({o}), rv = Tensor::ones({o}), y, z, dx, dw, dg, db;
  kz::BatchNormSaved bn_saved;
  kz::Conv1x1BnSaved saved;
  auto forward = [&] {
    if (fused) {
      z = kz::conv1x1_bn_relu6_forward(x, w, gamma, beta, rm, rv, 0.1f, 1e-5f, &saved);
    } else {
      y = kz::conv2d_forward(x, w, Tensor(), p);
      z = kz::batch_norm_relu6_forward(y, gamma, beta, rm, rv, true, 0.1f, 1e-5f, &bn_saved);
    }
  };
  Tensor dz_work = dz.contiguous().to_channels_last();
  auto run_backward = [&] {
    if (fused) {
      kz::conv1x1_bn_relu6_backward(dz_work, z, x, w, gamma, saved, &dx, &dw, &dg, &db);
    } else {
      Tensor dy = dz_work;
      kz::batch_norm_relu6_backward(dz_work, y, gamma, beta, bn_saved, true, 1e-5f, &dy, &dg, &db);
      dx = kz::conv2d_backward_data(dy, w, x.shape(), p);
      dw = kz::conv2d_backward_weights(dy, x, w.shape(), p, nullptr);
    }
  };
  time_block(state, backward, forward, run_backward, dz, dz_work, z, dx);
  const double xs = double(x.numel()) * 4.0, ys = double(dz.numel()) * 4.0;
  const double bytes = backward ? 5.0 * ys + 2.0 * (ys + xs) : xs + ys + 3.0 * ys;
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bw%"] = benchmark::Counter(100.0 * bytes / 1e9 / limits.bandwidth_gbs,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

// MobileNetV2's stride-1 depthwise block (3×3 depthwise conv, training batch norm, ReLU6) at
// batch 128: the fused dw_bn_relu6 op (tensor/dw_bn_relu6.h) against the depthwise conv
// then the fused bn_relu6 it replaces. GB/s counts the unfused path's activation passes
// (forward: conv x in, y out, BN+ReLU6 12 bytes per element = 5 passes; backward: BN+ReLU6
// 5 passes, the conv's backward-data 2 and backward-weights 2 = 9), so the two rates compare
// as times do. This machine's 480 MiB L3 holds the bench's tensors, which a training step's
// do not stay in: the fused op looks better here than in `kizuki profile` (docs/results.md,
// "The fused depthwise block").
void bench_dw_block(benchmark::State& state, int64_t c, int64_t hw, bool backward, bool fused,
                    Limits limits) {
  kz::Generator gen(0);
  const Tensor x = Tensor::normal({128, c, hw, hw}, 0.3f, 1, gen).to_channels_last();
  const Tensor w = Tensor::normal({c, 1, 3, 3}, 0, 0.3f, gen);
  const Tensor gamma = Tensor::full({c}, 2.0f), beta = Tensor::full({c}, 2.0f);
  const Tensor dz = Tensor::normal({128, c, hw, hw}, 0, 1, gen).to_channels_last();
  const kz::Conv2dParams p = kz::Conv2dParams::symmetric(1, 1, c);
  Tensor rm = Tensor::zeros({c}), rv = Tensor::ones({c}), y, z, dx, dw, dg, db;
  kz::BatchNormSaved bn_saved;
  kz::DwBnSaved saved;
  auto forward = [&] {
    if (fused) {
      z = kz::dw_bn_relu6_forward(x, w, gamma, beta, rm, rv, 0.1f, 1e-5f, &saved);
    } else {
      y = kz::conv2d_forward(x, w, Tensor(), p);
      z = kz::batch_norm_relu6_forward(y, gamma, beta, rm, rv, true, 0.1f, 1e-5f, &bn_saved);
    }
  };
  Tensor dz_work = dz.contiguous().to_channels_last();
  auto run_backward = [&] {
    if (fused) {
      kz::dw_bn_relu6_backward(dz_work, x, w, gamma, beta, saved, &dx, &dw, &dg, &db);
    } else {
      Tensor dy = dz_work;
      kz::batch_norm_relu6_backward(dz_work, y, gamma, beta, bn_saved, true, 1e-5f, &dy, &dg, &db);
      dx = kz::conv2d_backward_data(dy, w, x.shape(), p);
      dw = kz::conv2d_backward_weights(dy, x, w.shape(), p, nullptr);
    }
  };
  time_block(state, backward, forward, run_backward, dz, dz_work, z, dx);
  const double bytes = double(x.numel()) * 4.0 * (backward ? 9.0 : 5.0);
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bw%"] = benchmark::Counter(100.0 * bytes / 1e9 / limits.bandwidth_gbs,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

enum class Pass { forward, backward_data, backward_weights };

void bench_conv_transpose(benchmark::State& state, Pass pass, Limits limits) {
  kz::Generator gen(0);
  const int64_t n = 128, c = 64, o = 32, hw = 8, k = 4;
  const kz::ConvTranspose2dParams p{2, 1, 0, 1};
  const Tensor x = Tensor::normal({n, c, hw, hw}, 0, 1, gen).to_channels_last();
  const Tensor w = Tensor::normal({c, o, k, k}, 0, 0.1f, gen), b = Tensor::zeros({o});
  const Tensor dy = Tensor::normal({n, o, 2 * hw, 2 * hw}, 0, 1, gen).to_channels_last();
  Tensor out, db;
  auto run = [&] {
    switch (pass) {
      case Pass::forward: out = kz::conv_transpose2d_forward(x, w, b, p); break;
      case Pass::backward_data:
        out = kz::conv_transpose2d_backward_data(dy, w, x.shape(), p);
        break;
      case Pass::backward_weights:
        out = kz::conv_transpose2d_backward_weights(dy, x, w.shape(), p, &db);
        break;
    }
  };
  run();  // makes the primitives
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 2.0 * double(n * c * hw * hw * o * k * k);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(
      100.0 * flops / 1e9 / limits.peak_gflops, benchmark::Counter::kIsIterationInvariantRate);
}

// onednn: the pooling primitive, as tensor/pool2d.cpp's header compares (made once, run on
// the same tensors); otherwise kizuki's loops.
void bench_max_pool(benchmark::State& state, int64_t c, bool backward, bool onednn,
                    Limits limits) {
  kz::Generator gen(0);
  const int64_t n = 128, hw = 32;
  const kz::MaxPool2dParams p{2, 2, 0};
  const Tensor x = Tensor::normal({n, c, hw, hw}, 0, 1, gen).to_channels_last();
  const Tensor dy = Tensor::normal({n, c, hw / 2, hw / 2}, 0, 1, gen).to_channels_last();
  Tensor y = Tensor::empty_channels_last(dy.shape()), dx = Tensor::empty_channels_last(x.shape());
  kz::MaxPool2dIndices indices;
  using dnnl::algorithm;
  const auto xmd = kz::dnnl_desc(x.shape(), kz::Layout::nhwc);
  const auto ymd = kz::dnnl_desc(y.shape(), kz::Layout::nhwc);
  const dnnl::memory::dims two{2, 2}, zero{0, 0};
  const dnnl::pooling_forward::primitive_desc fpd(
      {dnnl::prop_kind::forward_training, algorithm::pooling_max, xmd, ymd, two, two, zero, zero},
      kz::dnnl_engine());
  const dnnl::pooling_backward::primitive_desc bpd(
      {algorithm::pooling_max, xmd, ymd, two, two, zero, zero}, kz::dnnl_engine(), fpd);
  const dnnl::pooling_forward fwd(fpd);
  const dnnl::pooling_backward bwd(bpd);
  Tensor ws_holder;
  const dnnl::memory ws = kz::dnnl_scratch_memory(fpd.workspace_desc(), &ws_holder);
  auto forward = [&] {
    if (onednn)
      kz::dnnl_execute(fwd, {{DNNL_ARG_SRC, kz::dnnl_memory(xmd, x)},
                             {DNNL_ARG_DST, kz::dnnl_memory(ymd, y)}, {DNNL_ARG_WORKSPACE, ws}});
    else
      y = kz::max_pool2d_forward(x, p, &indices);
  };
  auto run_backward = [&] {
    if (onednn)
      kz::dnnl_execute(bwd, {{DNNL_ARG_DIFF_DST, kz::dnnl_memory(ymd, dy)},
                             {DNNL_ARG_DIFF_SRC, kz::dnnl_memory(xmd, dx)},
                             {DNNL_ARG_WORKSPACE, ws}});
    else
      dx = kz::max_pool2d_backward(dy, indices, p);
  };
  forward();
  run_backward();
  for (auto _ : state) {
    if (backward) {
      run_backward();
      benchmark::DoNotOptimize(dx.data());
    } else {
      forward();
      benchmark::DoNotOptimize(y.data());
    }
  }
  const double bytes = 4.0 * double(x.numel() + y.numel());
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bw%"] = benchmark::Counter(100.0 * bytes / 1e9 / limits.bandwidth_gbs,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void bench_upsample(benchmark::State& state, kz::UpsampleMode mode, bool backward,
                    Limits limits) {
  kz::Generator gen(0);
  const Tensor x = Tensor::normal({128, 32, 16, 16}, 0, 1, gen).to_channels_last();
  const kz::Upsample2dParams p{32, 32, mode};
  const Tensor dy = Tensor::normal({128, 32, 32, 32}, 0, 1, gen).to_channels_last();
  for (auto _ : state) {
    Tensor out =
        backward ? kz::upsample2d_backward(dy, x.shape(), p) : kz::upsample2d_forward(x, p);
    benchmark::DoNotOptimize(out.data());
  }
  const double bytes = 4.0 * double(x.numel() + dy.numel());
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bw%"] = benchmark::Counter(100.0 * bytes / 1e9 / limits.bandwidth_gbs,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

void register_all(Limits limits) {
  for (const GemmShape& s : kGemms)
    for (auto [kind, name] : {std::pair{Gemm::onednn, "onednn"}, std::pair{Gemm::openblas, "openblas"},
                              std::pair{Gemm::naive, "naive"}}) {
      if (kind == Gemm::naive && s.m * s.n * s.k > 50'000'000) continue;
      const std::string full = std::string("gemm/") + s.name + "/" + name;
      benchmark::RegisterBenchmark(full.c_str(), bench_gemm, s, kind, limits)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  for (const LinearShape& s : kLinears)
    for (bool backward : {false, true}) {
      const std::string full = std::string("linear/") + s.name + (backward ? "/bwd" : "/fwd");
      benchmark::RegisterBenchmark(full.c_str(), bench_linear, s, backward, limits)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  const std::pair<int64_t, int64_t> bn_shapes[] = {{32, 16}, {96, 16}, {144, 8}, {192, 4},
                                                   {384, 2}, {960, 1}, {1280, 1},
                                                   {96, 48}, {144, 24}};  // last two: 96×96 input
  for (auto [c, hw] : bn_shapes)
    for (bool fused : {false, true})
    for (bool backward : {false, true}) {
      const std::string name = std::string(fused ? "bn_relu6_fused/" : "batch_norm/") +
                               std::to_string(c) + "ch_" + std::to_string(hw) + "px/" +
                               (backward ? "bwd" : "fwd_train");
      benchmark::RegisterBenchmark(name.c_str(), bench_batch_norm, c, hw, backward, fused,
                                   limits)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  // (C, O, map side): MobileNetV2 width 1.0 at 96×96 input, features.2, .3, .5, .8, .12.
  const std::tuple<int64_t, int64_t, int64_t> expansions[] = {
      {16, 96, 48}, {24, 144, 24}, {32, 192, 12}, {64, 384, 6}, {96, 576, 6}};
  for (auto [c, o, hw] : expansions)
    for (bool fused : {false, true})
      for (bool backward : {false, true}) {
        const std::string name = std::string(fused ? "expansion_fused/" : "expansion_unfused/") +
                                 std::to_string(c) + "to" + std::to_string(o) + "_" +
                                 std::to_string(hw) + "px/" + (backward ? "bwd" : "fwd_train");
        benchmark::RegisterBenchmark(name.c_str(), bench_expansion, c, o, hw, backward, fused,
                                     limits)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
  // (C, map side): MobileNetV2 width 1.0 at 96×96 input, stride-1 depthwise layers:
  // features.1, .3, the 192-channel (features.5) and 384-channel (features.8) blocks.
  const std::pair<int64_t, int64_t> dw_blocks[] = {{32, 48}, {144, 24}, {192, 12}, {384, 6}};
  for (auto [c, hw] : dw_blocks)
    for (bool fused : {false, true})
      for (bool backward : {false, true}) {
        const std::string name = std::string(fused ? "dw_block_fused/" : "dw_block_unfused/") +
                                 std::to_string(c) + "ch_" + std::to_string(hw) + "px/" +
                                 (backward ? "bwd" : "fwd_train");
        benchmark::RegisterBenchmark(name.c_str(), bench_dw_block, c, hw, backward, fused,
                                     limits)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
  for (auto [pass, name] : {std::pair{Pass::forward, "fwd"},
                            std::pair{Pass::backward_data, "bwd_data"},
                            std::pair{Pass::backward_weights, "bwd_weights"}}) {
    const std::string full = std::string("conv_transpose2d/64to32_8to16px_k4/") + name;
    benchmark::RegisterBenchmark(full.c_str(), bench_conv_transpose, pass, limits)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  for (int64_t c : {32, 64, 128})
    for (bool onednn : {false, true})
      for (bool backward : {false, true}) {
        const std::string name = std::string("max_pool2d/") + std::to_string(c) + "ch_32to16px/" +
                                 (onednn ? "onednn/" : "kizuki/") + (backward ? "bwd" : "fwd");
        benchmark::RegisterBenchmark(name.c_str(), bench_max_pool, c, backward, onednn, limits)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
  for (auto mode : {kz::UpsampleMode::nearest, kz::UpsampleMode::bilinear})
    for (bool backward : {false, true}) {
      const std::string name = "upsample2d/32ch_16to32px/" + kz::to_string(mode) + "/" +
                               (backward ? "bwd" : "fwd");
      benchmark::RegisterBenchmark(name.c_str(), bench_upsample, mode, backward, limits)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) { return kz::bench::run_with_limits(argc, argv, register_all); }
