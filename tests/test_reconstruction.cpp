// test_reconstruction.cpp — the reconstruction methods (ae, vae, ssim-ae) and their networks:
// the convolutional autoencoder and VAE against PyTorch (fixture from
// make_reconstruction.py: forward in training mode, every gradient, the batch-norm buffers,
// in both memory layouts), then each method end to end on the tiny synthetic split: it
// trains, its loss falls, its scores separate an easy anomaly class, are the same on every
// call and after a model.kz round trip, its maps have the image's size, and a stopped
// training resumes to the same weights.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "anomaly/experiment.h"
#include "anomaly/model_file.h"
#include "anomaly/roc.h"
#include "layers/conv_vae.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/kernel_checks.h"
#include "tests/stop_and_resume.h"
#include "tests/synthetic_data.h"

using namespace kz;
using kz::test::check_close_scaled;
using kz::test::check_same_state;
using kz::test::stop_and_resume;
using kz::test::tiny_autoencoder_method;
using kz::test::tiny_split;

namespace {

// Runs the fixture case through `forward` of `net` (state loaded from the fixture) with x in
// the given layout, and compares output, input gradient, parameter gradients and buffers.
void check_case(const Safetensors& f, const std::string& c, Module& net, bool channels_last,
                const std::function<Variable(const Variable&)>& forward) {
  CAPTURE(c);
  CAPTURE(channels_last);
  StateDict state;
  const std::string prefix = c + ".state.";
  for (const auto& [k, t] : f.tensors)
    if (k.rfind(prefix, 0) == 0) state[k.substr(prefix.size())] = t;
  net.load_state_dict(state);
  net.train();
  net.zero_grad();
  Tensor x = f.at(c + ".x").contiguous();
  if (channels_last) x = x.to_channels_last();
  Variable xv(x, true);
  const Variable y = forward(xv);
  check_close_scaled(y.data(), f.at(c + ".y"), 1e-4, "y");
  sum(mul(y, Variable(f.at(c + ".r")))).backward();
  check_close_scaled(xv.grad(), f.at(c + ".dx"), 1e-4, "dx");
  for (const auto& [name, p] : net.named_parameters()) {
    const Tensor want = f.at(c + ".grad." + name);
    const std::vector<float> w = want.to_vector(), g = p.grad().to_vector();
    if (std::all_of(w.begin(), w.end(), [](float v) { return std::abs(v) < 1e-5f; })) {
      // A conv bias right before batch norm: its gradient is zero (BN subtracts the mean),
      // so both sides hold rounding noise only.
      CAPTURE(name);
      CHECK(std::all_of(g.begin(), g.end(), [](float v) { return std::abs(v) < 1e-4f; }));
      continue;
    }
    check_close_scaled(p.grad(), want, 1e-4, "grad " + name);
  }
  for (const auto& [name, t] : net.state_dict())
    if (f.tensors.count(c + ".after." + name) && name.find("running") != std::string::npos)
      check_close_scaled(t, f.at(c + ".after." + name), 1e-4, "after " + name);
}

std::vector<int> test_labels(const BenchmarkSplit& s) {
  return {s.test.labels.begin(), s.test.labels.end()};
}

std::vector<double> doubles(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("reconstruction: the conv autoencoder and VAE match PyTorch, both layouts") {
  const Safetensors f = load_safetensors(KZ_FIXTURES "/reconstruction.safetensors");
  for (const bool cl : {false, true}) {
    Generator gen(0);
    ConvAutoencoder ae28({.channels = 1, .image_size = 28, .latent_dim = 8, .widths = {2, 4, 8}}, gen);
    check_case(f, "ae28", ae28, cl, [&](const Variable& x) { return ae28.forward(x); });
    ConvAutoencoder ae20({.channels = 3, .image_size = 20, .latent_dim = 6, .widths = {4, 4, 8}}, gen);
    check_case(f, "ae20", ae20, cl, [&](const Variable& x) { return ae20.forward(x); });
    ConvVAE vae28({.channels = 1, .image_size = 28, .latent_dim = 5, .widths = {2, 4, 8}}, gen);
    check_case(f, "vae28", vae28, cl, [&](const Variable& x) {
      const GaussianImage p = vae28.decode(vae28.encode(x).mu);
      return cat({p.mean, p.logvar}, 1);
    });
  }
}

TEST_CASE("reconstruction: the decoder gives back every image size; bad shapes are refused") {
  Generator gen(1);
  for (const int64_t size : {8, 12, 28, 32, 33, 96}) {
    CAPTURE(size);
    ConvAutoencoder ae({.channels = 2, .image_size = size, .latent_dim = 4, .widths = {}}, gen);
    ae.eval();  // batch norm over one image's 1×1 map has no training statistics
    NoGradGuard no_grad;
    const Variable y = ae.forward(Variable(Tensor::zeros({1, 2, size, size})));
    CHECK(y.shape() == Shape{1, 2, size, size});
    CHECK(ae.named_parameters().front().first == "encoder.features.0.weight");
  }
  ConvAutoencoder ae({.channels = 1, .image_size = 28, .latent_dim = 4, .widths = {}}, gen);
  CHECK_THROWS_WITH_AS(ae.forward(Variable(Tensor::zeros({1, 1, 32, 32}))),
                       doctest::Contains("expected (N,1,28,28) images, got (1, 1, 32, 32)"), Error);
  CHECK_THROWS_WITH_AS(ConvAutoencoder({.channels = 1, .image_size = 4, .latent_dim = 4, .widths = {}}, gen),
                       doctest::Contains("too small for 3 stages"), Error);
}

TEST_CASE("reconstruction: ae, vae and ssim-ae train, score, map and reload") {
  const BenchmarkSplit split = tiny_split(0);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("kizuki_recon_" + std::to_string(::getpid()) + ".kz")).string();
  for (const std::string name : {"ae", "vae", "ssim-ae"}) {
    CAPTURE(name);
    std::unique_ptr<Method> m = make_method(tiny_autoencoder_method(name));
    CHECK(m->kind() == MethodKind::scoring);
    CHECK(m->gives_maps());
    std::vector<double> epoch_loss;
    m->train(split, 3, [&](const TrainProgress& p) {
      CHECK(std::isfinite(p.loss));
      if (p.epoch_end) epoch_loss.push_back(p.loss);
    });
    REQUIRE(epoch_loss.size() == 6);
    MESSAGE(name << " loss: first epoch " << epoch_loss.front() << ", last " << epoch_loss.back());
    CHECK(epoch_loss.back() < epoch_loss.front());

    const std::vector<std::string> names = m->score_names();
    const std::vector<Tensor> scores = m->score(split.test);
    REQUIRE(scores.size() == names.size());
    const std::vector<Tensor> again = m->score(split.test);
    for (size_t i = 0; i < names.size(); ++i) {
      CAPTURE(names[i]);
      CHECK(scores[i].shape() == Shape{split.test.size()});
      CHECK(scores[i].to_vector() == again[i].to_vector());  // deterministic, sampling included
      const double auc = roc_auc(doubles(scores[i]), test_labels(split));
      MESSAGE(name << " " << names[i] << " AUC " << auc);
      CHECK(auc > 0.7);  // class 8's square is where class 3 has none: easy to see
    }
    const AnomalyMaps maps = m->maps(split.test);
    CHECK(maps.maps.shape() == Shape{split.test.size(), 16, 16});
    CHECK(maps.reconstruction.shape() == Shape{split.test.size(), 1, 16, 16});
    const std::vector<float> mv = maps.maps.to_vector();
    CHECK(std::all_of(mv.begin(), mv.end(), [](float v) { return std::isfinite(v); }));
    CHECK_THROWS_WITH_AS(m->embed(split.test), doctest::Contains("is a scoring method"), Error);

    // model.kz keeps the network and the score: the same scores after loading.
    ImageDataset normal = split.normal_train, none;
    none.channels = 1;
    none.height = none.width = 12;
    TrainModelOptions t;
    t.method = tiny_autoencoder_method(name);
    t.method.epochs = 1;
    const AnomalyModel model = train_model(normal, none, t, nullptr);
    CHECK(model.scorer_name == names.front());
    save_model(path, model);
    const AnomalyModel loaded = load_model(path);
    CHECK(loaded.method->name() == name);
    CHECK(loaded.score(split.test).score == model.score(split.test).score);
    t.scorer = "lof";
    CHECK_THROWS_WITH_AS(train_model(normal, none, t, nullptr),
                         doctest::Contains("gives the scores"), Error);
  }
  std::filesystem::remove(path);
}

TEST_CASE("reconstruction: a VAE training stopped mid-epoch resumes to the same weights") {
  const BenchmarkSplit split = tiny_split(0);
  const std::string ckpt =
      (std::filesystem::temp_directory_path() / ("kizuki_vae_" + std::to_string(::getpid()) + ".ckpt")).string();
  MethodOptions o = tiny_autoencoder_method("vae");
  o.epochs = 3;
  std::unique_ptr<Method> ref = make_method(o);
  ref->train(split, 5, nullptr);
  check_same_state(stop_and_resume(split, o, 1, 1, ckpt), ref->state_dict());
  std::filesystem::remove(ckpt);
}
