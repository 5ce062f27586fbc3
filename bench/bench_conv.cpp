// bench_conv.cpp — convolution at real MobileNetV2 shapes (batch 32, 32×32 input; depthwise
// and pointwise layers at 96×96): forward, backward-data and backward-weights, oneDNN
// (tensor/conv2d.h) against the naive loops, NCHW against channels-last; plus batch-norm
// forward (training) and backward through oneDNN.
// Convolutions report GFLOP/s (the counter "GFLOP=…/s"): 2·N·O·OH·OW·(C/G)·kH·kW flops per
// call, padding taps included, the same count for each of the three directions. Batch norm
// reports GB/s ("GB=…/s") of activations read and written. pointwise_infer/… times inference's
// pointwise layers (bias, with or without ReLU6) at batch 128 as MobileNetV2 runs them,
// kizuki's GEMM on 1×1 maps included. Rates use wall-clock time.
// "peak%" and "bw%" are the fractions of this machine's FMA peak and triad bandwidth on the
// same threads, measured at start by bench/peak.h (printed in the context as measured_*).
// Shapes: x (N,C,H,W), weight (O,C/G,kH,kW).
//   ./build/bench/bench_conv [--benchmark_filter=onednn/nhwc]
// oneDNN runs on OpenMP (OMP_NUM_THREADS, default: every core); the naive loops on one.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/peak.h"
#include "tensor/batch_norm.h"
#include "tensor/conv2d.h"
#include "tensor/generator.h"

namespace {

using kz::Conv2dParams;
using kz::Shape;
using kz::Tensor;
using kz::bench::Limits;

struct ConvShape {
  const char* name;
  int64_t c, hw, o, k, stride, groups;
};

// Layers of MobileNetV2 (width 1.0) at 32×32 input (and some at 96×96, last).
const std::vector<ConvShape> kShapes = {
    {"stem_3x3_s2_3to32", 3, 32, 32, 3, 2, 1},
    {"dw_3x3_s2_96ch_16px", 96, 16, 96, 3, 2, 96},
    {"dw_3x3_s1_144ch_8px", 144, 8, 144, 3, 1, 144},
    {"dw_3x3_s2_144ch_8px", 144, 8, 144, 3, 2, 144},
    {"pw_expand_24to144_8px", 24, 8, 144, 1, 1, 1},
    {"pw_project_144to24_8px", 144, 8, 24, 1, 1, 1},
    // The last depthwise layers, where oneDNN's depthwise backward-weights gives up jit_dw.
    {"dw_3x3_s1_576ch_2px", 576, 2, 576, 3, 1, 576},
    {"dw_3x3_s1_960ch_1px", 960, 1, 960, 3, 1, 960},
    // Depthwise layers at 96×96 input, where the training step spends most depthwise time.
    {"dw_3x3_s2_96ch_48px", 96, 48, 96, 3, 2, 96},
    {"dw_3x3_s1_144ch_24px", 144, 24, 144, 3, 1, 144},
    // Pointwise layers at 96×96 input, where the training step spends most of its time.
    {"pw_expand_16to96_48px", 16, 48, 96, 1, 1, 1},
    {"pw_expand_24to144_24px", 24, 24, 144, 1, 1, 1},
    {"pw_project_144to24_24px", 144, 24, 24, 1, 1, 1},
    {"pw_expand_32to192_12px", 32, 12, 192, 1, 1, 1},
    {"pw_project_192to32_12px", 192, 12, 32, 1, 1, 1},
};
constexpr int64_t kBatch = 32;

enum class Direction { forward, backward_data, backward_weights };

void bench_conv(benchmark::State& state, ConvShape s, Direction dir, bool naive, bool nhwc,
                Limits limits) {
  kz::Generator gen(0);
  const Conv2dParams p = Conv2dParams::symmetric(s.stride, s.k / 2, s.groups);
  Tensor x = Tensor::normal({kBatch, s.c, s.hw, s.hw}, 0, 1, gen);
  const Tensor w = Tensor::normal({s.o, s.c / s.groups, s.k, s.k}, 0, 0.1f, gen);
  const Shape ys = kz::conv2d_output_shape(x.shape(), w.shape(), p);
  Tensor dy = Tensor::normal(ys, 0, 1, gen);
  if (nhwc) {
    x = x.to_channels_last();
    dy = dy.to_channels_last();
  }
  auto run = [&] {
    switch (dir) {
      case Direction::forward:
        return naive ? kz::conv2d_forward_naive(x, w, Tensor(), p)
                     : kz::conv2d_forward(x, w, Tensor(), p);
      case Direction::backward_data:
        return naive ? kz::conv2d_backward_data_naive(dy, w, x.shape(), p)
                     : kz::conv2d_backward_data(dy, w, x.shape(), p);
      case Direction::backward_weights:
        return naive ? kz::conv2d_backward_weights_naive(dy, x, w.shape(), p, nullptr)
                     : kz::conv2d_backward_weights(dy, x, w.shape(), p, nullptr);
    }
    return Tensor();
  };
  run();  // makes and caches the primitive outside the timed loop
  for (auto _ : state) {
    Tensor out = run();
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 2.0 * double(kBatch) * double(ys[1]) * double(ys[2]) * double(ys[3]) *
                       double(s.c / s.groups) * double(s.k * s.k);
  state.counters["GFLOP"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(100.0 * flops / 1e9 / limits.peak_gflops,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

void bench_batch_norm(benchmark::State& state, int64_t c, int64_t hw, bool backward, bool nhwc,
                      Limits limits) {
  kz::Generator gen(0);
  Tensor x = Tensor::normal({kBatch, c, hw, hw}, 0, 1, gen);
  Tensor dy = Tensor::normal(x.shape(), 0, 1, gen);
  if (nhwc) {
    x = x.to_channels_last();
    dy = dy.to_channels_last();
  }
  const Tensor w = Tensor::ones({c}), b = Tensor::zeros({c});
  Tensor rm = Tensor::zeros({c}), rv = Tensor::ones({c}), dx, dw, db;
  kz::BatchNormSaved saved;
  kz::batch_norm_forward(x, w, b, rm, rv, true, 0.1f, 1e-5f, &saved);
  kz::batch_norm_backward(dy, x, w, saved, 1e-5f, &dx, &dw, &db);
  for (auto _ : state) {
    if (backward) {
      kz::batch_norm_backward(dy, x, w, saved, 1e-5f, &dx, &dw, &db);
      benchmark::DoNotOptimize(dx.data());
    } else {
      Tensor y = kz::batch_norm_forward(x, w, b, rm, rv, true, 0.1f, 1e-5f, &saved);
      benchmark::DoNotOptimize(y.data());
    }
  }
  // forward reads x (twice: statistics, then normalise) and writes y; backward reads x, dy
  // (twice) and writes dx.
  const double bytes = double(x.numel()) * 4.0 * (backward ? 5.0 : 3.0);
  state.counters["GB"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bw%"] = benchmark::Counter(100.0 * bytes / 1e9 / limits.bandwidth_gbs,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

// Inference's pointwise Conv-BN-ReLU6 (batch norm folded: a bias, then ReLU6) or projection
// (a bias, no ReLU6) at batch 128, channels-last: conv2d_relu6_forward / conv2d_forward.
struct PointwiseShape {
  const char* name;
  int64_t c, hw, o;
  bool relu6;
};
const std::vector<PointwiseShape> kPointwiseShapes = {
    {"expand_16to96_48px", 16, 48, 96, true},     {"expand_24to144_24px", 24, 24, 144, true},
    {"expand_32to192_12px", 32, 12, 192, true},   {"expand_64to384_6px", 64, 6, 384, true},
    {"expand_96to576_6px", 96, 6, 576, true},     {"expand_160to960_3px", 160, 3, 960, true},
    {"expand_320to1280_3px", 320, 3, 1280, true}, {"project_960to320_3px", 960, 3, 320, false},
    {"project_960to160_3px", 960, 3, 160, false}, {"project_144to24_24px", 144, 24, 24, false},
    {"expand_96to576_2px", 96, 2, 576, true},     {"project_576to96_2px", 576, 2, 96, false},
    {"expand_160to960_1px", 160, 1, 960, true},   {"project_960to160_1px", 960, 1, 160, false},
    {"expand_320to1280_1px", 320, 1, 1280, true}, {"project_960to320_1px", 960, 1, 320, false},
};

void bench_pointwise_infer(benchmark::State& state, PointwiseShape s, Limits limits) {
  constexpr int64_t batch = 128;
  kz::Generator gen(0);
  const Tensor x = Tensor::normal({batch, s.c, s.hw, s.hw}, 0, 1, gen).to_channels_last();
  const Tensor w = Tensor::normal({s.o, s.c, 1, 1}, 0, 0.1f, gen);
  const Tensor b = Tensor::normal({s.o}, 0, 1, gen);
  const Conv2dParams p{};
  auto run = [&] {
    return s.relu6 ? kz::conv2d_relu6_forward(x, w, b, p) : kz::conv2d_forward(x, w, b, p);
  };
  run();
  for (auto _ : state) {
    Tensor out = run();
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 2.0 * double(batch * s.hw * s.hw) * double(s.c) * double(s.o);
  state.counters["GFLOP"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(100.0 * flops / 1e9 / limits.peak_gflops,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

void register_all(Limits limits) {
  for (const PointwiseShape& s : kPointwiseShapes)
    benchmark::RegisterBenchmark((std::string("pointwise_infer/") + s.name).c_str(),
                                 bench_pointwise_infer, s, limits)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  const std::pair<Direction, const char*> dirs[] = {{Direction::forward, "fwd"},
                                                    {Direction::backward_data, "bwd_data"},
                                                    {Direction::backward_weights, "bwd_weights"}};
  for (const ConvShape& s : kShapes)
    for (const auto& [dir, dir_name] : dirs)
      for (bool naive : {false, true})
        for (bool nhwc : {true, false}) {
          const std::string name = std::string("conv/") + s.name + "/" + dir_name + "/" +
                                   (naive ? "naive" : "onednn") + "/" + (nhwc ? "nhwc" : "nchw");
          auto* b = benchmark::RegisterBenchmark(name.c_str(), bench_conv, s, dir, naive, nhwc,
                                                    limits);
          b->Unit(benchmark::kMillisecond)->UseRealTime();
          if (naive) b->MinTime(0.2);
        }
  for (bool backward : {false, true})
    for (bool nhwc : {true, false}) {
      const std::string name = std::string("batch_norm/144ch_8px/") +
                               (backward ? "bwd" : "fwd_train") + "/onednn/" +
                               (nhwc ? "nhwc" : "nchw");
      benchmark::RegisterBenchmark(name.c_str(), bench_batch_norm, 144, 8, backward, nhwc,
                                   limits)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) { return kz::bench::run_with_limits(argc, argv, register_all); }
