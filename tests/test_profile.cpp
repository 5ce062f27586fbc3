// test_profile.cpp — the profiler (profile/profiler.h): its FLOP count against torchvision's
// mobilenet_v2 counted by forward hooks (tests/fixtures/make_profile.py; width 1.0 at 224×224
// is torchvision's published 300 M multiply-adds), the bookkeeping of its per-layer times
// against a step timed here, and its Chrome trace read back with nlohmann-json. Tiny runs:
// width 0.25, 32×32, batch 4, 2 steps. Shapes: x is (N,C,H,W).
// Only what holds exactly is checked: orderings of clocks around one interval, sums, counts.
// How much of a step the rows cover (time outside every row, untimed time) depends on the
// machine: it is a benchmark figure (BM_profile_coverage in bench/bench_train.cpp, `kizuki
// profile`'s coverage line, docs/performance.md), never a test (DESIGN.md §10).
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/mobilenet_v2.h"
#include "profile/profiler.h"
#include "optim/sgd.h"
#include "tensor/file_io.h"
#include "tensor/safetensors.h"

using namespace kz;

namespace {

// Names of the modules without children below m (the layers that run kernels).
void leaf_names(const Module& m, const std::string& prefix, std::vector<std::string>* out) {
  const auto children = m.named_children();
  if (children.empty()) out->push_back(prefix);
  for (const auto& [name, child] : children)
    leaf_names(*child, prefix.empty() ? name : prefix + "." + name, out);
}

struct TinyRun {
  Generator gen{7};
  MobileNetV2 net{MobileNetV2Options{.width = 0.25, .num_classes = 10}, gen};
  SGD optimizer{net.parameters(), SgdOptions{.lr = 0.01, .momentum = 0.9}};
  Tensor x = Tensor::normal({4, 3, 32, 32}, 0.0f, 1.0f, gen);
  std::vector<int64_t> labels{1, 7, 3, 0};

  // One profiled training step, as `kizuki profile` runs it; returns its wall time in ms,
  // timed here, around everything the profiler sees.
  double step(Profiler& p) {
    const auto t0 = std::chrono::steady_clock::now();
    p.begin_step();
    {
      { Profiler::Region r(p, "zero_grad", "", "update"); optimizer.zero_grad(); }
      const Variable y = p.forward(Variable(x));
      Variable loss;
      {
        Profiler::Region r(p, "loss", "cross_entropy", "forward", LayerCost{{1, 1}, {1, 1}, 0});
        loss = cross_entropy(y, labels);
      }
      p.backward(loss);
      Profiler::Region r(p, "optimizer", "SGD", "update", LayerCost{{1, 1}, {}, 0});
      optimizer.step();
    }
    p.end_step();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
        .count();
  }
};

}  // namespace

TEST_CASE("profile: multiply-adds of MobileNetV2 match torchvision's, layer by layer") {
  const Safetensors fixture = load_safetensors(KZ_FIXTURES "/profile.safetensors");
  struct Config { double width; int64_t size; const char* key; };
  for (const Config c : {Config{1.0, 224, "1.0_224"}, Config{0.5, 96, "0.5_96"},
                         Config{0.25, 32, "0.25_32"}}) {
    CAPTURE(c.key);
    Generator gen(0);
    MobileNetV2 net(MobileNetV2Options{.width = c.width, .num_classes = 1000}, gen);
    const std::vector<CostEntry> costs = count_costs(net, {1, 3, c.size, c.size});
    double total = 0;
    std::set<std::string> counted;
    for (const CostEntry& e : costs) {
      if (e.cost.macs == 0) continue;
      const std::string key = std::string(c.key) + "/" + e.name;
      CAPTURE(key);
      REQUIRE(fixture.tensors.count(key) == 1);
      const double expected = fixture.at(key).item();
      CHECK(e.cost.macs == doctest::Approx(expected).epsilon(1e-6));
      CHECK(e.cost.forward.flops >= 2 * e.cost.macs);  // a multiply-add is 2 FLOPs
      CHECK(e.cost.forward.flops <= 2 * e.cost.macs + static_cast<double>(numel_of(e.y)));
      counted.insert(key);
      total += e.cost.macs;
    }
    size_t layers = 0;
    for (const auto& [key, t] : fixture.tensors) layers += key.rfind(c.key + std::string("/"), 0) == 0;
    CHECK(counted.size() == layers);  // every torchvision conv and linear, none extra
    CHECK(total == doctest::Approx(std::stod(fixture.metadata.at(std::string(c.key) + "/total")))
                       .epsilon(1e-6));
    if (c.width == 1.0) CHECK(total == doctest::Approx(300e6).epsilon(0.01));  // torchvision's
  }
}

TEST_CASE("profile: per-layer times sum to the measured step time") {
  TinyRun run;
  Profiler p(run.net);
  run.step(p);  // warm-up: makes the oneDNN primitives
  p.reset();
  // The bookkeeping, exact whatever the machine is doing: the profiled step lies inside the
  // one timed here, the rows (each timed on its own, nested frames exclusive) inside the
  // step, and with 2 steps the per-step medians are the means.
  double measured = 0;
  for (int i = 0; i < 2; ++i) measured += run.step(p) / 2;
  const ProfileReport r = p.report();
  CHECK(r.steps == 2);
  CHECK(r.step_ms <= measured);
  CAPTURE(format_profile(r, "tiny"));
  CHECK(r.rows_ms() <= r.step_ms);
  CHECK(r.rows_ms() + r.outside_ms == doctest::Approx(r.step_ms).epsilon(1e-9));
  CHECK(r.engine_ms > 0);
  const ProfileReport m = p.report(ProfileStatistic::median);
  REQUIRE(m.rows.size() == r.rows.size());
  CHECK(m.step_ms == doctest::Approx(r.step_ms));
  for (size_t i = 0; i < r.rows.size(); ++i) CHECK(m.rows[i].ms == doctest::Approx(r.rows[i].ms).epsilon(1e-6));
  // The summary ends with the coverage (its value is a benchmark figure, not checked here):
  // for means the untimed share, for medians the unattributed one.
  const std::string mean_text = format_profile(r, "tiny"), median_text = format_profile(m, "tiny");
  CHECK(mean_text.find("coverage: outside kernels ") != std::string::npos);
  CHECK(mean_text.find("% of the step (engine ") != std::string::npos);
  CHECK(mean_text.find("%, untimed ") != std::string::npos);
  CHECK(median_text.find("% of the median step (engine ") != std::string::npos);
  CHECK(median_text.find("), unattributed ") != std::string::npos);

  // Every layer has a forward row once per step, every conv a backward row; the forward
  // FLOPs are those of the static count.
  std::vector<std::string> leaves;
  leaf_names(run.net, "", &leaves);
  std::map<std::string, int> forward_rows, backward_rows;
  double forward_flops = 0;
  for (const ProfileRow& row : r.rows) {
    CHECK(row.ms >= 0);
    if (row.phase == "forward") {
      forward_rows[row.name] += 1;
      CHECK(row.calls == 1);
      if (row.name != "loss") forward_flops += row.cost.flops;
    }
    if (row.phase == "backward") backward_rows[row.name] += 1;
  }
  for (const std::string& leaf : leaves) {
    CAPTURE(leaf);
    CHECK(forward_rows[leaf] == 1);
  }
  double static_flops = 0;
  for (const CostEntry& e : count_costs(run.net, run.x.shape())) {
    static_flops += e.cost.forward.flops;
    if (e.type.rfind("Conv2d", 0) == 0) CHECK(backward_rows[e.name] == 1);
  }
  CHECK(forward_flops == doctest::Approx(static_flops).epsilon(1e-9));
  int updates = 0;
  for (const ProfileRow& row : r.rows) updates += row.phase == "update";
  CHECK(updates == 1);  // the optimizer; zero_grad has no cost: it is glue
}

TEST_CASE("profile: the Chrome trace has one complete event per layer call") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("kizuki_trace_" + std::to_string(::getpid()) + ".json"))
          .string();
  TinyRun run;
  std::vector<std::string> leaves;
  leaf_names(run.net, "", &leaves);
  {
    Profiler p(run.net);
    CHECK(forward_observer() != nullptr);
    run.step(p);
    p.reset();
    for (int i = 0; i < 2; ++i) run.step(p);
    p.write_trace(path);
    CHECK_THROWS_WITH_AS(p.write_trace("/nonexistent-kizuki-dir/t.json"),
                         doctest::Contains("/nonexistent-kizuki-dir/t.json"), Error);
  }
  CHECK(forward_observer() == nullptr);  // the profiler took its hooks away
  CHECK(current_scope() == 0);

  const nlohmann::json trace = nlohmann::json::parse(read_file(path));  // throws if invalid
  std::filesystem::remove(path);
  REQUIRE(trace.contains("traceEvents"));
  std::map<std::string, int> forward, backward;
  std::vector<std::pair<double, double>> steps;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "M") continue;
    REQUIRE(e["ph"] == "X");
    REQUIRE(e["ts"].is_number());
    REQUIRE(e["dur"].is_number());
    CHECK(e["dur"].get<double>() >= 0);
    const std::string cat = e["cat"], name = e["name"];
    if (cat == "forward") forward[name] += 1;
    if (cat == "backward") backward[name] += 1;
    if (cat == "step") steps.emplace_back(e["ts"].get<double>(), e["dur"].get<double>());
  }
  CHECK(steps.size() == 2);  // the warm-up was reset away
  for (const std::string& leaf : leaves) {
    CAPTURE(leaf);
    CHECK(forward[leaf] == 2);
  }
  CHECK(forward["model"] == 2);
  for (const CostEntry& e : count_costs(run.net, run.x.shape()))
    if (e.type.rfind("Conv2d", 0) == 0) CHECK(backward[e.name] == 2);
  // Every layer event lies inside a step.
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] != "X" || e["cat"] == "step") continue;
    const double ts = e["ts"], dur = e["dur"];
    bool inside = false;
    for (const auto& [t0, d] : steps) inside = inside || (ts >= t0 && ts + dur <= t0 + d + 1e-3);
    CHECK(inside);
  }
}
