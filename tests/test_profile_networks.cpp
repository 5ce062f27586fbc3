// test_profile_networks.cpp — `kizuki profile --network ae|vae|ssim-ae|mlp-ae` (issue 23):
// the autoencoders' steps (profile/autoencoder_step.h) under the profiler, one step at a
// tiny size (16×16 images or 12 features, batch 4). Checked: a row for each layer kind the
// network holds (ConvTranspose2d, Linear, LeakyReLU, BatchNorm, the SSIM loss region), the
// FLOPs of a ConvTranspose2d row and of a Linear row against the formulas computed here from
// the row's shapes, the rows' forward FLOPs against the static count (count_costs), the
// rows and the outside-kernels time adding up to the step; Upsample's row and its bytes; a
// bad --network refused, by the library and by the program. No timing is checked.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "layers/conv.h"
#include "layers/sequential.h"
#include "layers/simple.h"
#include "profile/autoencoder_step.h"
#include "tests/error_of.h"
#include "tests/shell.h"

using namespace kz;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

double elements(const Shape& s) { return static_cast<double>(numel_of(s)); }

// The module at a dotted path below root ("decoder.features.2"), or nullptr.
Module* module_at(Module& root, const std::string& path) {
  Module* m = &root;
  size_t start = 0;
  while (start <= path.size() && m) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    Module* next = nullptr;
    for (auto& [name, child] : m->named_children())
      if (name == part) next = child.get();
    m = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return m;
}

struct Profiled {
  profiling::AutoencoderSetup setup;
  ProfileReport report;
};

// As `kizuki profile`: one warm-up step, then one measured.
Profiled profile_one_step(const std::string& network) {
  Profiled p{profiling::make_autoencoder_setup(
                 {.network = network, .image_size = 16, .batch = 4, .features = 12, .seed = 3}),
             {}};
  Profiler profiler(*p.setup.net);
  profiling::autoencoder_step(p.setup, &profiler);
  profiler.reset();
  profiling::autoencoder_step(p.setup, &profiler);
  p.report = profiler.report();
  return p;
}

}  // namespace

TEST_CASE("profile networks: each autoencoder's step has a row per layer kind, FLOPs by formula") {
  for (const std::string network : {"ae", "vae", "ssim-ae", "mlp-ae"}) {
    CAPTURE(network);
    Profiled p = profile_one_step(network);
    const ProfileReport& r = p.report;
    CAPTURE(format_profile(r, network));
    REQUIRE(r.steps == 1);
    CHECK(r.rows_ms() + r.outside_ms == doctest::Approx(r.step_ms).epsilon(1e-9));

    std::map<std::string, int> kinds;  // "ConvTranspose2d/forward", ...
    int linear_checked = 0, deconv_checked = 0;
    double forward_flops = 0;
    for (const ProfileRow& row : r.rows) {
      kinds[row.type.substr(0, row.type.find(' ')) + "/" + row.phase] += 1;
      if (row.phase == "forward" && row.name != "loss") forward_flops += row.cost.flops;
      Module* m = module_at(*p.setup.net, row.name);
      if (starts_with(row.type, "Linear")) {
        REQUIRE(m != nullptr);
        auto& fc = dynamic_cast<Linear&>(*m);
        const double n = static_cast<double>(row.x[0]);
        const double in = static_cast<double>(fc.in_features()),
                     out = static_cast<double>(fc.out_features());
        CHECK(row.x == Shape{row.x[0], fc.in_features()});
        CHECK(row.y == Shape{row.x[0], fc.out_features()});
        // y = x Wᵀ + b: 2·N·in·out + N·out; backward: dx (x needs a gradient but in the first
        // layer of mlp-ae's encoder) and dW, 2·N·in·out each, and db, N·out.
        const bool first = row.name == "encoder.0.0";
        if (row.phase == "forward") CHECK(row.cost.flops == 2 * n * in * out + n * out);
        if (row.phase == "backward")
          CHECK(row.cost.flops == (first ? 2 : 4) * n * in * out + n * out);
        ++linear_checked;
      }
      if (starts_with(row.type, "ConvTranspose2d")) {
        REQUIRE(m != nullptr);
        auto& deconv = dynamic_cast<ConvTranspose2d&>(*m);
        // The adjoint of a k×k conv from y (N,O,OH,OW) to x (N,C,H,W): N·C·H·W·O·k² MACs;
        // the bias adds N·O·OH·OW. Forward 2·MACs; backward dx and dW, 2·MACs each.
        const double k = static_cast<double>(deconv.kernel());
        const double macs = elements(row.x) * static_cast<double>(row.y[1]) * k * k;
        CHECK(row.x[1] == deconv.in_channels());
        CHECK(row.y[1] == deconv.out_channels());
        CHECK(row.y[2] == 2 * row.x[2]);  // k 4, stride 2, pad 1 doubles the map
        if (row.phase == "forward") CHECK(row.cost.flops == 2 * macs + elements(row.y));
        if (row.phase == "backward") CHECK(row.cost.flops == 4 * macs + elements(row.y));
        ++deconv_checked;
      }
    }
    CHECK(kinds["Linear/forward"] >= 2);
    CHECK(kinds["Linear/backward"] >= 2);
    CHECK(linear_checked >= 4);
    if (network == "mlp-ae") {
      CHECK(kinds["BatchNorm1d/forward"] >= 1);
      CHECK(kinds["ReLU/forward"] >= 1);
    } else {
      CHECK(kinds["ConvTranspose2d/forward"] == 3);
      CHECK(kinds["ConvTranspose2d/backward"] == 3);
      CHECK(deconv_checked == 6);
      CHECK(kinds["Conv2d/forward"] == 3);
      CHECK(kinds["BatchNorm2d/forward"] >= 1);
      CHECK(kinds["LeakyReLU/forward"] >= 1);
    }
    if (network == "vae") CHECK(kinds["ConvVAE/forward"] == 1);
    if (network == "ae" || network == "ssim-ae") CHECK(kinds["ConvAutoencoder/forward"] == 1);
    // The loss region, named after the loss; SSIM's cost is ssim_loss_cost's.
    bool loss_seen = false;
    for (const ProfileRow& row : r.rows)
      if (row.name == "loss" && row.phase == "forward") {
        loss_seen = true;
        if (network == "ssim-ae") {
          CHECK(row.type == "SSIM 7x7");
          const LayerCost c = ssim_loss_cost(p.setup.x.shape(), 7);
          CHECK(row.cost.flops == c.forward.flops);
          CHECK(row.cost.bytes == c.forward.bytes);
          CHECK(kinds["SSIM/backward"] == 1);
        }
      }
    CHECK(loss_seen);
    // The rows' forward FLOPs are the static count's (each layer called once per step).
    double static_flops = 0;
    for (const CostEntry& e : count_costs(*p.setup.net, p.setup.x.shape()))
      static_flops += e.cost.forward.flops;
    CHECK(forward_flops == doctest::Approx(static_flops).epsilon(1e-9));
  }
}

TEST_CASE("profile networks: Upsample has a row with its shapes and bytes") {
  Generator gen(1);
  Sequential net{std::make_shared<Conv2d>(2, 3, 3, Conv2dOptions{.padding = 1}, gen),
                 std::make_shared<Upsample>(2.0, UpsampleMode::nearest),
                 std::make_shared<Upsample>(3.0, UpsampleMode::bilinear)};
  const Tensor x = Tensor::uniform({2, 2, 5, 5}, 0.0f, 1.0f, gen);
  const std::vector<CostEntry> costs = count_costs(net, x.shape());
  REQUIRE(costs.size() == 3);
  CHECK(costs[1].type == "Upsample nearest");
  CHECK(costs[1].y == Shape{2, 3, 10, 10});
  CHECK(costs[2].type == "Upsample bilinear");
  CHECK(costs[2].y == Shape{2, 3, 30, 30});
  // Bandwidth-bound: x read, y written (4 bytes each); nearest does no arithmetic.
  CHECK(costs[1].cost.forward.bytes == 4 * (2 * 3 * 5 * 5 + 2 * 3 * 10 * 10));
  CHECK(costs[1].cost.forward.flops == 0);

  Profiler profiler(net);
  profiler.begin_step();
  const Variable y = profiler.forward(Variable(x));
  CHECK(y.shape() == costs[2].y);
  profiler.backward(mean(y));
  profiler.end_step();
  int up_forward = 0, up_backward = 0;
  for (const ProfileRow& row : profiler.report().rows)
    if (starts_with(row.type, "Upsample")) {
      (row.phase == "forward" ? up_forward : up_backward) += 1;
      if (row.name == "1" && row.phase == "forward") CHECK(row.cost.bytes == costs[1].cost.forward.bytes);
    }
  CHECK(up_forward == 2);
  CHECK(up_backward == 2);
}

TEST_CASE("profile networks: a bad --network is refused, naming the accepted ones") {
  for (const std::string& n : profiling::profile_networks()) CHECK_NOTHROW(profiling::check_network(n));
  CHECK_THROWS_WITH_AS(profiling::check_network("resnet"),
                       doctest::Contains("--network 'resnet' is not one of mobilenet_v2, ae, vae, "
                                         "ssim-ae, mlp-ae"),
                       Error);
  CHECK_THROWS_WITH_AS(profiling::make_autoencoder_setup({.network = "AE"}),
                       doctest::Contains("--network 'AE'"), Error);
  const test::Ran ran = test::shell(std::string(KZ_KIZUKI) + " profile --network resnet --steps 1");
  CHECK(ran.status != 0);
  CHECK(ran.output.find("--network 'resnet' is not one of mobilenet_v2, ae, vae, ssim-ae, "
                        "mlp-ae") != std::string::npos);
}

TEST_CASE("profile networks: kizuki profile --network mlp-ae prints Linear rows") {
  const test::Ran ran = test::shell(std::string(KZ_KIZUKI) +
                                    " profile --network mlp-ae --features 12 --batch 8 "
                                    "--steps 1 --warmup 1 --threads 1");
  CAPTURE(ran.output);
  CHECK(ran.status == 0);
  CHECK(ran.output.find("kizuki profile: mlp-ae (MlpAutoencoder), 12 features") != std::string::npos);
  CHECK(ran.output.find("Linear 12->32") != std::string::npos);
  CHECK(ran.output.find("BatchNorm1d 32") != std::string::npos);
  CHECK(ran.output.find("images/s: ") != std::string::npos);
}
