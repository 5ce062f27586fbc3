// test_library.cpp — what programs built on kizuki rely on beyond the built-in methods:
//   * register_method(): a method defined outside the table is found by method_info(),
//     make_method(), model files and the benchmark runner; bad registrations are refused;
//   * build_info(): the versions `kizuki info` prints come from the library;
//   * model.kz and checkpoints record the kizuki version that wrote them, and a file of a
//     newer format is refused naming the file, its format, that version and this one, while
//     files without the record (written before it existed) still load.
// The installed library used from another project: tests/test_install.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "anomaly/checkpoint.h"
#include "anomaly/experiment.h"
#include "anomaly/model_file.h"
#include "autograd/functions.h"
#include "data/fashion_mnist.h"
#include "data/loader.h"
#include "layers/linear.h"
#include "synthetic_data.h"
#include "temp_dir.h"
#include "tensor/build_info.h"
#include "tensor/safetensors.h"

using namespace kz;

namespace {

// A method no table lists: a random linear projection of the preprocessed pixels to 8
// features, an embedding method with nothing to train (a random-features baseline).
class ProjectionMethod final : public Method {
 public:
  explicit ProjectionMethod(const MethodOptions& o) : Method(o) {}
  MethodKind kind() const override { return MethodKind::embedding; }
  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn&) override {
    build(preprocess(split.normal_train.subset({0}), options_.preprocess).numel(), seed);
  }
  Tensor embed(const ImageDataset& data) const override {
    NoGradGuard no_grad;
    return projection_->forward(flatten(Variable(preprocess(data, options_.preprocess)), 1)).data();
  }
  int64_t feature_dim() const override { return 8; }
  std::string default_scorer() const override { return "knn"; }
  std::vector<NamedNetwork> networks() const override {
    if (!projection_) return {};
    return {{"projection", projection_.get()}};
  }
  nlohmann::json architecture() const override { return {{"inputs", inputs_}}; }
  void build_untrained(const nlohmann::json& a) override {
    build(a.at("inputs").get<int64_t>(), 0);
  }

 private:
  void build(int64_t inputs, uint64_t seed) {
    Generator gen(seed);
    inputs_ = inputs;
    projection_ = std::make_shared<Linear>(inputs, 8, false, gen);
  }
  int64_t inputs_ = 0;
  std::shared_ptr<Linear> projection_;
};

std::unique_ptr<Method> make_projection(const MethodOptions& o) {
  return std::make_unique<ProjectionMethod>(o);
}

const char* const kProjection = "test-projection";

// Registers it once for the whole run (the table is the process's).
void register_projection() {
  static const bool done = [] {
    register_method({kProjection, MethodKind::embedding, false, "random projection (a test)",
                     make_projection});
    return true;
  }();
  (void)done;
}

MethodOptions projection_options() {
  MethodOptions o;
  o.name = kProjection;
  o.preprocess = {12, 12, false, Scaling::unit};
  return o;
}

// The file's metadata changed by `edit`, written back (the tensors as they were).
template <class Edit>
void edit_metadata(const std::string& path, Edit&& edit) {
  Safetensors st = load_safetensors(path);
  edit(st.metadata);
  save_safetensors(path, st.tensors, st.metadata);
}

}  // namespace

TEST_CASE("library: a registered method is found by the lookups, model files and the runner") {
  register_projection();
  CHECK(method_info(kProjection).summary == "random projection (a test)");
  CHECK(method_names().back() == kProjection);
  CHECK(method_info("arcface").name == "arcface");  // the built-in table is still there
  CHECK(make_method(projection_options())->kind() == MethodKind::embedding);

  // model.kz: trained, saved and loaded back through the registry by its name.
  const ImageDataset normal = test::synthetic(2, 3).subset({0, 1, 2, 3, 4, 5, 6, 7});
  TrainModelOptions o;
  o.method = projection_options();
  const AnomalyModel model = train_model(normal, ImageDataset{}, o, nullptr);
  const test::TempDir dir("library");
  save_model(dir / "pixels.kz", model);
  const AnomalyModel loaded = load_model(dir / "pixels.kz");
  CHECK(loaded.method->name() == kProjection);
  const ImageDataset probe = test::synthetic(1, 9);
  CHECK(loaded.score(probe).score == model.score(probe).score);

  // The runner, on a tiny real split where Fashion-MNIST is installed.
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("runner part skipped: no Fashion-MNIST in " << kFashionMnistDir);
    return;
  }
  ExperimentOptions e = preset_options("quick", "fashion-mnist", {kProjection}, "");
  e.method_options.front().preprocess = {28, 28, false, Scaling::unit};
  e.trials = 1;
  e.n_reference_per_class = 1;
  e.n_normal_train = e.n_test_each = 50;
  const BenchmarkResults r = run_benchmark(e);
  REQUIRE(r.trials.size() == 1);
  CHECK(r.trials[0].method == kProjection);
  CHECK(r.trials[0].scorer == "knn");
  CHECK(r.trials[0].auc >= 0.0);
  CHECK(r.trials[0].auc <= 1.0);
}

TEST_CASE("library: register_method refuses what it cannot register") {
  register_projection();
  auto info = [](const std::string& name) {
    return MethodInfo{name, MethodKind::embedding, false, "x", make_projection};
  };
  CHECK_THROWS_WITH_AS(register_method(info("")), doctest::Contains("the method has no name"),
                       Error);
  CHECK_THROWS_WITH_AS(register_method(info("my method")),
                       doctest::Contains("'my method' has characters other than letters"), Error);
  CHECK_THROWS_WITH_AS(register_method(info("a,b")), doctest::Contains("characters other"), Error);
  CHECK_THROWS_WITH_AS(register_method(info("arcface")),
                       doctest::Contains("a method named 'arcface' is already registered"), Error);
  CHECK_THROWS_WITH_AS(register_method(info(kProjection)),
                       doctest::Contains("a method named 'test-projection' is already registered"),
                       Error);
  MethodInfo no_make = info("test-no-make");
  no_make.make = nullptr;
  CHECK_THROWS_WITH_AS(register_method(no_make), doctest::Contains("has no make function"), Error);
  CHECK_THROWS_WITH_AS(method_info("test-no-make"), doctest::Contains("unknown method"), Error);
}

TEST_CASE("library: build_info gives the versions, and `kizuki info` prints them") {
  const BuildInfo b = build_info();
  CHECK(b.kizuki == KIZUKI_VERSION);  // the library's, as this test binary was built with
  CHECK(b.kizuki == kizuki_version());
  for (const std::string& s : {b.onednn, b.openblas, b.compiler, b.built_for, b.cpu, b.onednn_isa})
    CHECK(!s.empty());
  // oneDNN's kernels never use more of the CPU than it has: avx512 only where /proc/cpuinfo
  // lists avx512f.
  if (b.cpu.find("avx512f") == std::string::npos)
    CHECK(b.onednn_isa.find("avx512") == std::string::npos);
  CHECK(std::count(b.onednn.begin(), b.onednn.end(), '.') == 2);
  FILE* pipe = popen(KZ_KIZUKI " info 2>&1", "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  CHECK(pclose(pipe) == 0);
  for (const std::string& s :
       {"kizuki   " + b.kizuki,
        "oneDNN   " + b.onednn + " (" + b.onednn_hash + "), kernels for " + b.onednn_isa,
        "OpenBLAS " + b.openblas, "compiler " + b.compiler + " (for " + b.built_for + ")",
        "CPU      " + b.cpu})
    CHECK_MESSAGE(out.find(s + "\n") != std::string::npos, s, " not in:\n", out);
}

TEST_CASE("library: model.kz records its kizuki version; a newer format is refused") {
  register_projection();
  TrainModelOptions o;
  o.method = projection_options();
  const ImageDataset normal = test::synthetic(2, 3).subset({0, 1, 2, 3, 4, 5, 6, 7});
  const AnomalyModel model = train_model(normal, ImageDataset{}, o, nullptr);
  const test::TempDir dir("version");
  const std::string path = dir / "model.kz";
  save_model(path, model);
  CHECK(load_safetensors(path).metadata.at("kizuki_version") == kizuki_version());

  edit_metadata(path, [](auto& m) {
    m["format_version"] = "3";
    m["kizuki_version"] = "9.1.0";
  });
  const std::string newer = path + ": format_version 3 is newer than this build reads (up to 2); "
                            "it was written by kizuki 9.1.0, this is kizuki " + kizuki_version();
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains(newer.c_str()), Error);
  edit_metadata(path, [](auto& m) { m.erase("kizuki_version"); });
  CHECK_THROWS_WITH_AS(load_model(path),
                       doctest::Contains("written by kizuki of an unknown version"), Error);
  edit_metadata(path, [](auto& m) { m["format_version"] = "2x"; });
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("unsupported format_version '2x'"),
                       Error);
  // A file from before the version was recorded loads as it did.
  edit_metadata(path, [](auto& m) { m["format_version"] = "2"; });
  const ImageDataset probe = test::synthetic(1, 9);
  CHECK(load_model(path).score(probe).score == model.score(probe).score);
}

TEST_CASE("library: checkpoints record their kizuki version; a newer format is refused") {
  TrainingCheckpoint c;
  c.epochs_done = 1;
  c.loader_seeds = {7};
  c.next_order = {1, 0};
  c.fingerprint = {{"seed", 1}};
  c.networks["net.w"] = Tensor::from_vector({1.0f, 2.0f}, {2});
  const test::TempDir dir("version");
  const std::string path = dir / "run.ckpt";
  save_checkpoint(path, c);
  CHECK(load_safetensors(path).metadata.at("kizuki_version") == kizuki_version());

  edit_metadata(path, [](auto& m) {
    m["format_version"] = "2";
    m["kizuki_version"] = "1.4.2";
  });
  const std::string newer = path + ": format_version 2 is newer than this build reads (up to 1); "
                            "it was written by kizuki 1.4.2, this is kizuki " + kizuki_version();
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains(newer.c_str()), Error);
  edit_metadata(path, [](auto& m) { m["format_version"] = "0"; });
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("unsupported format_version '0'"),
                       Error);
  // Without the record (an older checkpoint) it loads as it did.
  edit_metadata(path, [](auto& m) {
    m["format_version"] = "1";
    m.erase("kizuki_version");
  });
  const TrainingCheckpoint back = load_checkpoint(path);
  CHECK(back.epochs_done == 1);
  CHECK(back.next_order == c.next_order);
  CHECK(back.networks.at("net.w").to_vector() == std::vector<float>{1.0f, 2.0f});
}
