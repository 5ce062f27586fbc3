// bench_ssim.cpp — SSIM (losses/ssim.h) as the SSIM autoencoder uses it: a batch of 128
// images, 7×7 window (32×32 inputs), grey (C = 1) and RGB (C = 3), contiguous NCHW and
// channels-last; y is a constant target, gradients go to x only.
//   map/fwd       ssim_map(x, y)
//   map/fwd_bwd   ssim_map(x, y), then backward of Σ map·w (w in the map's memory format)
//   loss/fwd_bwd  mean(ssim(x, y)) (the per-image interior means, then the batch), backward
// Reports images per second.
//   ./build/bench/bench_ssim
#include <benchmark/benchmark.h>

#include <string>
#include <utility>

#include "losses/ssim.h"
#include "tensor/generator.h"

namespace {

using kz::Tensor;
using kz::Variable;

// x, y are (N,C,H,W) with N = 128, H = W = 32.
enum class Mode { map_fwd, map_fwd_bwd, loss_fwd_bwd };

void bench_ssim(benchmark::State& state, int64_t c, bool channels_last, Mode mode) {
  kz::Generator gen(0);
  const kz::Shape shape = {128, c, 32, 32};
  Tensor x = Tensor::uniform(shape, 0, 1, gen), y = Tensor::uniform(shape, 0, 1, gen);
  if (channels_last) {
    x = x.to_channels_last();
    y = y.to_channels_last();
  }
  kz::SsimOptions o;
  o.window = kz::ssim_default_window(32, 32);
  Tensor w = Tensor::uniform(shape, 0, 1, gen);
  if (channels_last && c > 1) w = w.to_channels_last();
  for (auto _ : state) {
    Variable xv(x, mode != Mode::map_fwd);
    if (mode == Mode::loss_fwd_bwd) {
      kz::mean(kz::ssim(xv, Variable(y), o)).backward();
    } else {
      const Variable map = kz::ssim_map(xv, Variable(y), o);
      if (mode == Mode::map_fwd) {
        benchmark::DoNotOptimize(map.data().data());
        continue;
      }
      map.backward(w);
    }
    benchmark::DoNotOptimize(xv.grad().data());
  }
  state.counters["img/s"] = benchmark::Counter(128.0, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  for (int64_t c : {1, 3})
    for (bool cl : {false, true})
      for (auto [mode, what] : {std::pair{Mode::map_fwd, "map/fwd"},
                                std::pair{Mode::map_fwd_bwd, "map/fwd_bwd"},
                                std::pair{Mode::loss_fwd_bwd, "loss/fwd_bwd"}}) {
        const std::string name = "ssim/128x" + std::to_string(c) + "x32x32_w7/" +
                                 (cl ? "nhwc/" : "nchw/") + what;
        benchmark::RegisterBenchmark(name.c_str(), bench_ssim, c, cl, mode)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
