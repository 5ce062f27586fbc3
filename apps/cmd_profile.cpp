// cmd_profile.cpp — `kizuki profile`: train MobileNetV2 for a few steps on a synthetic batch
// and print where every millisecond of a step goes (profile/profiler.h): one row per layer
// and direction with ms, share of the step, FLOPs, GFLOP/s, bytes, FLOP/byte and the oneDNN
// implementation; then the time outside kernels, a summary by kind of layer, the coverage
// (outside kernels and untimed time as % of the step, with issue 7's target), and last the
// line `images/s: N` (batch · measured steps / their wall time, after the warm-up).
//
// The step is profile/train_step.h's (shared with bench/bench_train.cpp): zero_grad, forward
// (x is (B,3,N,N), normal noise; labels uniform over --classes), cross-entropy, backward,
// SGD (momentum 0.9, weight decay 4e-5). The same batch every step: data loading is not
// profiled. The warm-up steps are not reported: the
// first makes the oneDNN primitives and the optimizer's state, the second runs with that
// state and grows the storage cache to its steady size (later steps call malloc 0 times). --median reports each row's
// median over the steps (robust when other processes share the cores); images/s always uses
// the mean step.
//
// --network ae|vae|ssim-ae|mlp-ae profiles an autoencoder's step instead
// (profile/autoencoder_step.h: the network, loss and Adam of the method of that name, C from
// --image-size as the presets: grey at 28 px, RGB above; mlp-ae on (B, --features) rows).
#include <omp.h>

#include <filesystem>

#include <fmt/format.h>

#include "apps/commands.h"
#include "profile/autoencoder_step.h"
#include "profile/train_step.h"
#include "profile/profiler.h"
#include "tensor/blas.h"

namespace kz {

namespace {

struct ProfileFlags {
  std::string network = "mobilenet_v2";
  int64_t features = 32;
  double width = 1.0;
  int64_t image_size = 32, batch = 128, classes = 10;
  int steps = 5, warmup = 2, threads = 0;
  std::string trace;
  uint64_t seed = 0;
  bool median = false;
};

void run(const ProfileFlags& f) {
  if (!f.trace.empty()) {
    const auto dir = std::filesystem::absolute(f.trace).parent_path();
    KZ_CHECK(std::filesystem::is_directory(dir), "profile",
             "--trace {}: folder {} does not exist", f.trace, dir.string());
  }
  if (f.threads > 0) {
    omp_set_num_threads(f.threads);  // oneDNN and kizuki's kernels
    blas_set_num_threads(f.threads);
  }
  profiling::check_network(f.network);
  const auto statistic = f.median ? ProfileStatistic::median : ProfileStatistic::mean;
  std::unique_ptr<Profiler> profiler;
  ProfileReport report;
  std::string title;
  if (f.network == "mobilenet_v2") {
    profiling::TrainSetup setup = profiling::make_train_setup(
        {.width = f.width, .image_size = f.image_size, .batch = f.batch, .classes = f.classes,
         .seed = f.seed});
    profiler = std::make_unique<Profiler>(*setup.net);
    for (int i = 0; i < f.warmup; ++i) profiling::train_step(setup, profiler.get());
    profiler->reset();
    for (int i = 0; i < f.steps; ++i) profiling::train_step(setup, profiler.get());
    report = profiler->report(statistic);
    title = fmt::format(
        "kizuki profile: MobileNetV2 width {}, {}x{} input, batch {}, {} threads, {} step(s) "
        "after {} warm-up; cross-entropy over {} classes, SGD momentum",
        f.width, f.image_size, f.image_size, f.batch, omp_get_max_threads(), f.steps, f.warmup,
        f.classes);
  } else {
    profiling::AutoencoderSetup setup = profiling::make_autoencoder_setup(
        {.network = f.network, .image_size = f.image_size, .batch = f.batch,
         .features = f.features, .seed = f.seed});
    profiler = std::make_unique<Profiler>(*setup.net);
    for (int i = 0; i < f.warmup; ++i) profiling::autoencoder_step(setup, profiler.get());
    profiler->reset();
    for (int i = 0; i < f.steps; ++i) profiling::autoencoder_step(setup, profiler.get());
    report = profiler->report(statistic);
    const std::string input =
        f.network == "mlp-ae"
            ? fmt::format("{} features", f.features)
            : fmt::format("{}x{}x{} input", profiling::autoencoder_channels(f.image_size),
                          f.image_size, f.image_size);
    title = fmt::format(
        "kizuki profile: {} ({}), {}, batch {}, {} threads, {} step(s) after {} warm-up; "
        "loss: {}, {}",
        f.network, setup.net->type_name(), input, f.batch, omp_get_max_threads(), f.steps,
        f.warmup, setup.loss_type, f.network == "mlp-ae" ? "Adam AMSGrad" : "Adam");
  }
  fmt::print("{}", format_profile(report, title));
  if (!f.trace.empty()) {
    profiler->write_trace(f.trace);
    fmt::print("wrote {} (open it in https://ui.perfetto.dev or chrome://tracing)\n", f.trace);
  }
  fmt::print("images/s: {:.1f}\n", static_cast<double>(f.batch) / (report.mean_step_ms / 1e3));
}

}  // namespace

void add_profile_command(CLI::App& app) {
  auto flags = std::make_shared<ProfileFlags>();
  CLI::App* cmd = app.add_subcommand(
      "profile", "profile training steps (MobileNetV2 or an autoencoder): per-layer time, "
                 "FLOPs, bytes, oneDNN");
  cmd->add_option("--network", flags->network,
                  "mobilenet_v2 (default), ae, vae, ssim-ae (conv autoencoders: 1 channel at "
                  "--image-size 28 as Fashion-MNIST, else 3 as CIFAR-10; Adam) or mlp-ae "
                  "(MLP autoencoder 32-16-8 on --features columns; Adam AMSGrad)");
  cmd->add_option("--features", flags->features, "mlp-ae: columns of the table (default 32)")
      ->check(CLI::Range(8, 1000000));
  cmd->add_option("--width", flags->width, "MobileNetV2 width multiplier (default 1.0)")
      ->check(CLI::Range(0.1, 2.0));
  cmd->add_option("--image-size", flags->image_size, "input size N (N×N, default 32; the autoencoders' presets: 28 or 32)")
      ->check(CLI::Range(8, 1024));
  cmd->add_option("--batch", flags->batch, "batch size (default 128)")
      ->check(CLI::Range(2, 65536));
  cmd->add_option("--steps", flags->steps, "measured steps (default 5)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", flags->warmup, "unreported warm-up steps (default 2)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--threads", flags->threads, "threads for oneDNN, OpenBLAS and kizuki")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--classes", flags->classes, "classifier outputs (default 10)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", flags->seed, "seed of the weights and the synthetic batch");
  cmd->add_option("--trace", flags->trace, "write a Chrome trace (Trace Event JSON) here");
  cmd->add_flag("--median", flags->median,
                "rows are medians over the steps, not means (robust on a shared machine)");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace kz
