// test_maps.cpp — maps for the methods that give one number per image (anomaly/gradcam.h,
// anomaly/occlusion.h, anomaly/map_kinds.h) and the pixel-level AUROC (anomaly/roc.h):
// Grad-CAM against PyTorch (tests/fixtures/make_gradcam.py) and the score's gradient against
// finite differences; occlusion from its definition (a detector whose score is a known
// function of the pixels); pixel AUROC on examples worked by hand; a model file's maps.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "anomaly/gradcam.h"
#include "anomaly/map_kinds.h"
#include "anomaly/model_file.h"
#include "anomaly/report.h"
#include "anomaly/methods/backbone.h"
#include "anomaly/roc.h"
#include "autograd/functions.h"
#include "data/loader.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using namespace kz;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// make_mobilenet.py's value_range for the features' tensors.
std::pair<float, float> value_range(const std::string& key, const Shape& shape) {
  if (ends_with(key, "running_mean")) return {-0.3f, 0.3f};
  if (ends_with(key, "running_var")) return {0.5f, 2.0f};
  if (shape.size() == 4) {
    const auto b = static_cast<float>(std::sqrt(6.0 / static_cast<double>(shape[1] * shape[2] * shape[3])));
    return {-b, b};
  }
  return ends_with(key, "weight") ? std::pair{0.5f, 1.5f} : std::pair{0.5f, 1.0f};
}

// make_gradcam.py's network: width 0.25, features only, each tensor in sorted key order from
// Generator(1).
std::shared_ptr<MobileNetV2> fixture_network() {
  Generator init(0);
  MobileNetV2Options o;
  o.width = 0.25;
  o.num_classes = 0;
  auto net = std::make_shared<MobileNetV2>(o, init);
  Generator gen(1);
  StateDict state;
  for (const auto& [key, t] : net->state_dict()) {
    const auto range = value_range(key, t.shape());
    state[key] = Tensor::uniform(t.shape(), range.first, range.second, gen);
  }
  net->load_state_dict(state);
  return net;
}

float rel_err(const Tensor& a, const Tensor& b) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), shape_str(a.shape()), " vs ", shape_str(b.shape()));
  return max_abs_diff(a.contiguous(), b.contiguous()) / std::max(max_all(abs(b)), 1e-30f);
}

// A one-channel h×w data set of `n` images with pixel values from `gen` in [lo, hi].
ImageDataset random_images(int64_t n, int64_t h, int64_t w, Generator& gen, float lo = 0.0f,
                           float hi = 255.0f) {
  ImageDataset d;
  d.channels = 1;
  d.height = h;
  d.width = w;
  d.class_names = {"x"};
  for (int64_t i = 0; i < n * h * w; ++i)
    d.pixels.push_back(static_cast<uint8_t>(std::lround(gen.uniform(lo, hi))));
  d.labels.assign(static_cast<size_t>(n), 0);
  d.source = "random";
  return d;
}

// A detector whose score is Σ weight_p · pixel_p over one-channel images.
ImageScoreFn weighted_sum(const std::vector<double>& weight) {
  return [weight](const ImageDataset& d) {
    std::vector<double> s;
    for (int64_t n = 0; n < d.size(); ++n) {
      double v = 0;
      for (int64_t i = 0; i < d.image_numel(); ++i) v += weight[static_cast<size_t>(i)] * d.image(n)[i];
      s.push_back(v);
    }
    return s;
  };
}

}  // namespace

TEST_CASE("gradcam: maps, scores and dscore/dA equal PyTorch's (make_gradcam.py)") {
  const Safetensors f = load_safetensors(std::string(KZ_FIXTURES) + "/gradcam.safetensors");
  auto net = fixture_network();
  const Tensor normal = f.tensors.at("features_t");
  Generator g7(7), g9(9);
  const Tensor x32 = Tensor::uniform({3, 3, 32, 32}, -1.0f, 1.0f, g7);
  const Tensor x64 = Tensor::uniform({2, 3, 64, 64}, -1.0f, 1.0f, g9);
  struct Case {
    std::string name;
    Tensor x;
    int64_t block, expect_block;
  };
  const std::vector<Case> cases{{"x32_b13", x32, -1, 13}, {"x64_b18", x64, -1, 18},
                                {"x64_b6", x64, 6, 6}};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const GradCam g = gradcam(*net, c.x, normal, c.x.size(2), c.x.size(3), c.block);
    CHECK(g.block == c.expect_block);
    CHECK(rel_err(g.scores, f.tensors.at("scores." + c.name)) < 1e-4f);
    CHECK(rel_err(g.gradient, f.tensors.at("grad." + c.name)) < 1e-4f);
    CHECK(rel_err(g.maps, f.tensors.at("maps." + c.name)) < 1e-4f);
  }
  for (const Variable& p : net->parameters()) CHECK_FALSE(p.grad().defined());
  CHECK_THROWS_WITH_AS(gradcam(*net, x32, normal, 32, 32, 19), doctest::Contains("block 19"), Error);
}

TEST_CASE("gradcam: the block picked by output size; at features.18 the map before ReLU sums to 0") {
  CHECK(gradcam_block({{16, 16}, {2, 2}, {1, 1}}) == 1);
  CHECK(gradcam_block({{4, 4}, {2, 2}}) == 1);
  CHECK(gradcam_block({{2, 1}, {1, 1}}) == 1);  // none at least 2×2: the last
  // s depends on A only through mean A and is scale-invariant: Σ_k,y,x ∂s/∂A · A = 0.
  auto net = fixture_network();
  Generator gen(3), gn(4);
  const Tensor x = Tensor::uniform({2, 3, 64, 64}, -1.0f, 1.0f, gen);
  const Tensor normal = Tensor::uniform({4, net->feature_dim()}, 0.0f, 1.0f, gn);
  const GradCam g = gradcam(*net, x, normal, 64, 64, 18);
  Tensor a;
  {
    NoGradGuard no_grad;
    a = net->features().forward(Variable(x.to_channels_last())).data().contiguous();
  }
  const Tensor terms = mul(g.gradient, a);
  const std::vector<float> total = sum(terms, {1, 2, 3}).to_vector();
  const std::vector<float> size = sum(abs(terms), {1, 2, 3}).to_vector();
  for (size_t i = 0; i < total.size(); ++i) {
    CHECK(size[i] > 0.0f);
    CHECK(std::abs(total[i]) < 1e-4f * size[i]);  // cancels to float rounding
  }
}

TEST_CASE("gradcam: the gradient of 1 - max cos equals finite differences of its definition") {
  Generator gen(11);
  const Tensor f = Tensor::uniform({3, 6}, -1.0f, 1.0f, gen);
  const Tensor t = Tensor::uniform({4, 6}, -1.0f, 1.0f, gen);
  const Variable fv(f, true);
  const Variable s = nearest_cosine_distance(fv, t);
  sum(s).backward();
  const std::vector<float> fs = f.to_vector(), ts = t.to_vector(), grad = fv.grad().to_vector();
  auto score = [&](const std::vector<double>& row) {  // the definition, in double
    double best = -2, nf = 0;
    for (double v : row) nf += v * v;
    for (int j = 0; j < 4; ++j) {
      double dot = 0, nt = 0;
      for (int k = 0; k < 6; ++k) {
        dot += row[size_t(k)] * ts[size_t(j * 6 + k)];
        nt += double(ts[size_t(j * 6 + k)]) * ts[size_t(j * 6 + k)];
      }
      best = std::max(best, dot / std::sqrt(nf * nt));
    }
    return 1 - best;
  };
  const std::vector<float> sv = s.data().to_vector();
  for (int i = 0; i < 3; ++i) {
    std::vector<double> row(fs.begin() + i * 6, fs.begin() + i * 6 + 6);
    CHECK(sv[size_t(i)] == doctest::Approx(score(row)).epsilon(1e-5));
    for (int k = 0; k < 6; ++k) {
      const double h = 1e-6;
      std::vector<double> up = row, down = row;
      up[size_t(k)] += h;
      down[size_t(k)] -= h;
      const double numeric = (score(up) - score(down)) / (2 * h);
      CHECK(grad[size_t(i * 6 + k)] == doctest::Approx(numeric).epsilon(1e-4).scale(1.0));
    }
  }
  CHECK_THROWS_WITH_AS(nearest_cosine_distance(fv, Tensor::zeros({4, 5})),
                       doctest::Contains("expected (N,F) and (M,F)"), Error);
}

TEST_CASE("occlusion: mask offsets cover every pixel; bad sizes are refused") {
  CHECK(occlusion_offsets(10, 4, 4) == std::vector<int64_t>{0, 4, 6});
  CHECK(occlusion_offsets(10, 4, 2) == std::vector<int64_t>{0, 2, 4, 6});
  CHECK(occlusion_offsets(10, 10, 3) == std::vector<int64_t>{0});
  CHECK(occlusion_offsets(5, 1, 1) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(occlusion_offsets(3, 4, 1), doctest::Contains("does not fit"), Error);
  OcclusionOptions o;
  o.size = 0;
  CHECK_THROWS_WITH_AS(check_occlusion_options(o, "--mask-size"),
                       doctest::Contains("at least 1 pixel"), Error);
  o.size = 4;
  o.stride = 5;
  CHECK_THROWS_WITH_AS(check_occlusion_options(o, "x"), doctest::Contains("leaves pixels"), Error);
  o.stride = 0;
  CHECK_THROWS_WITH_AS(check_occlusion_options(o, "x"), doctest::Contains("stride"), Error);
  o.stride = 2;
  o.inpaint = "unet";
  check_occlusion_options(o, "x");
  o.inpaint = "foo";
  CHECK_THROWS_WITH_AS(check_occlusion_options(o, "--inpaint"), doctest::Contains("unknown inpainting 'foo'"),
                       Error);
  Generator gen(1);
  const ImageDataset d = random_images(1, 6, 6, gen);
  OcclusionOptions big;
  big.size = 7;
  big.stride = 1;
  const ImageScoreFn zero = [](const ImageDataset& x) { return std::vector<double>(size_t(x.size()), 0.0); };
  CHECK_THROWS_WITH_AS(occlusion_maps(d, Tensor::zeros({1, 6, 6}), big, zero),
                       doctest::Contains("larger than the 6x6"), Error);
  CHECK_THROWS_WITH_AS(occlusion_maps(d, Tensor::zeros({3, 6, 6}), OcclusionOptions{}, zero),
                       doctest::Contains("fill image"), Error);
  const ImageScoreFn short_score = [](const ImageDataset&) { return std::vector<double>{1.0}; };
  CHECK_THROWS_WITH_AS(occlusion_maps(d, Tensor::zeros({1, 6, 6}), OcclusionOptions{4, 2, "mean", {}}, short_score),
                       doctest::Contains("scores for"), Error);
}

TEST_CASE("occlusion: a 1-pixel mask on a weighted-sum detector gives weight · (pixel - fill)") {
  Generator gen(2);
  const ImageDataset d = random_images(2, 5, 6, gen);
  std::vector<double> w;
  for (int i = 0; i < 30; ++i) w.push_back(gen.uniform(-1.0f, 1.0f));
  const Tensor fill = Tensor::uniform({1, 5, 6}, 0.0f, 255.0f, gen);
  const Tensor maps = occlusion_maps(d, fill, OcclusionOptions{1, 1, "mean", {}}, weighted_sum(w));
  REQUIRE(maps.shape() == Shape{2, 5, 6});
  const std::vector<float> m = maps.to_vector(), fv = fill.to_vector();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 30; ++i) {
      const double fill_byte = std::lround(fv[size_t(i)]);
      const double expect = w[size_t(i)] * (d.image(n)[i] - fill_byte);
      CHECK(m[size_t(n * 30 + i)] == doctest::Approx(expect).epsilon(1e-4).scale(1.0));
    }
}

TEST_CASE("occlusion: a detector of one square region has its maxima exactly there") {
  // 12×12 images of a constant 100, score = the sum over rows 4–5, columns 7–8; fill 0.
  ImageDataset d;
  d.channels = 1;
  d.height = d.width = 12;
  d.class_names = {"x"};
  d.pixels.assign(144, 100);
  d.labels = {0};
  std::vector<double> w(144, 0.0);
  for (int y = 4; y < 6; ++y)
    for (int x = 7; x < 9; ++x) w[size_t(y * 12 + x)] = 1.0;
  int64_t scored = 0;
  const ImageScoreFn score = [&](const ImageDataset& x) {
    scored += x.size();
    return weighted_sum(w)(x);
  };
  const std::vector<float> m = occlusion_maps(d, Tensor::zeros({1, 12, 12}), OcclusionOptions{3, 1, "mean", {}}, score).to_vector();
  CHECK(scored == 1 + 10 * 10);
  const float top = *std::max_element(m.begin(), m.end());
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x) {
      const bool in = y >= 4 && y < 6 && x >= 7 && x < 9;
      const bool near = y >= 2 && y < 8 && x >= 5 && x < 11;  // some mask covers both
      CAPTURE(y);
      CAPTURE(x);
      CHECK((m[size_t(y * 12 + x)] == top) == in);
      CHECK((m[size_t(y * 12 + x)] > 0) == near);
    }
  // One mask as large as the image: every pixel gets score(x) − score(fill).
  const std::vector<float> whole = occlusion_maps(d, Tensor::zeros({1, 12, 12}), OcclusionOptions{12, 5, "mean", {}}, weighted_sum(w)).to_vector();
  for (float v : whole) CHECK(v == doctest::Approx(400.0));
}

TEST_CASE("pixel_auroc: pixels ranked by map value against the mask, worked by hand") {
  // 0.35 (defect) is below 0.4 (normal): 3 of the 4 (defect, normal) pairs are ordered.
  const Tensor maps = Tensor::from_data(std::vector<float>{0.1f, 0.4f, 0.35f, 0.8f}.data(), {1, 2, 2});
  const Tensor masks = Tensor::from_data(std::vector<float>{0, 0, 1, 1}.data(), {1, 2, 2});
  CHECK(pixel_auroc(maps, masks) == doctest::Approx(0.75));
  CHECK(pixel_auroc(masks, masks) == doctest::Approx(1.0));
  CHECK(pixel_auroc(neg(masks), masks) == doctest::Approx(0.0));
  CHECK(pixel_auroc(Tensor::zeros({1, 2, 2}), masks) == doctest::Approx(0.5));  // all tied
  CHECK_THROWS_WITH_AS(pixel_auroc(maps, Tensor::zeros({1, 2, 2})),
                       doctest::Contains("both defect and normal pixels"), Error);
  CHECK_THROWS_WITH_AS(pixel_auroc(maps, Tensor::zeros({1, 4})), doctest::Contains("one shape"), Error);
  CHECK_THROWS_WITH_AS(parse_map_kind("saliency", "--map-kind"), doctest::Contains("unknown map kind 'saliency'"),
                       Error);
}

TEST_CASE("maps: a model file keeps what Grad-CAM and occlusion need; the pixel-AUROC hook") {
  const test::OneClass images = test::one_class(test::synthetic(8, 5), 3);
  const ImageDataset& normal = images.normal;
  const ImageDataset& reference = images.reference;
  TrainModelOptions o;
  o.method.name = "frozen";
  o.method.width = 0.25;
  o.method.preprocess.height = o.method.preprocess.width = 16;
  const AnomalyModel model = train_model(normal, reference, o, nullptr);
  REQUIRE(model.normal_features.defined());
  REQUIRE(model.mean_image.defined());
  CHECK(model.mean_image.shape() == Shape{1, 16, 16});
  CHECK(model.normal_features.size(1) == model.method->feature_dim());
  test::TempDir dir("maps");
  const std::string path = (dir.path / "m.kz").string();
  save_model(path, model);
  const AnomalyModel loaded = load_model(path);
  CHECK(max_abs_diff(loaded.mean_image, model.mean_image) == 0.0f);
  const MapSource source = map_source(loaded, OcclusionOptions{4, 4, "mean", {}});
  const ImageDataset probe = test::synthetic(1, 9).subset({0, 1});
  CHECK_FALSE(gives_map_kind(source, MapKind::own));
  CHECK_THROWS_WITH_AS(detector_maps(source, MapKind::own, probe), doctest::Contains("gives no own maps"),
                       Error);
  const Tensor gc = detector_maps(source, MapKind::gradcam, probe);
  const Tensor oc = detector_maps(source, MapKind::occlusion, probe);
  CHECK(gc.shape() == Shape{2, 16, 16});
  CHECK(oc.shape() == Shape{2, 16, 16});
  CHECK(min_all(gc) >= 0.0f);
  // The hook: a detector that looks only at one square finds it (AUROC 1) at the images' size.
  MapSource square = source;
  std::vector<double> w(256, 0.0);
  Tensor masks = Tensor::zeros({2, 12, 12});
  for (int y = 4; y < 12; ++y)
    for (int x = 0; x < 8; ++x) w[size_t(y * 16 + x)] = 1.0;
  for (int n = 0; n < 2; ++n)
    for (int y = 3; y < 9; ++y)
      for (int x = 0; x < 6; ++x) masks.data()[n * 144 + y * 12 + x] = 1.0f;
  square.score = weighted_sum(w);
  square.mean_image = Tensor::zeros({1, 16, 16});
  square.occlusion = OcclusionOptions{2, 2, "mean", {}};
  ImageDataset flat = probe;
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t{50});
  CHECK(map_pixel_auroc(square, MapKind::occlusion, flat, masks) > 0.95);
}

TEST_CASE("maps: a figure's kind and cost are kept in results.json (own when an old file has none)") {
  BenchmarkResults r;
  MapFigure f;
  f.dataset = "fashion-mnist";
  f.method = "arcface";
  f.score = "lof";
  f.file = "maps/fashion-mnist-arcface-gradcam.png";
  f.kind = "gradcam";
  f.seconds_per_image = 0.25;
  r.map_figures.push_back(f);
  nlohmann::json j = nlohmann::json::parse(results_json_text(r));
  const BenchmarkResults back = results_from_json(j);
  REQUIRE(back.map_figures.size() == 1);
  CHECK(back.map_figures[0].kind == "gradcam");
  CHECK(back.map_figures[0].seconds_per_image == 0.25);
  j["maps"][0].erase("kind");
  j["maps"][0].erase("seconds_per_image");
  CHECK(results_from_json(j).map_figures[0].kind == "own");
}

TEST_CASE("gradcam: deepsad explains its own score, ||phi(f) - c||^2, as written from its weights") {
  MethodOptions mo;
  mo.name = "deepsad";
  mo.width = 0.25;
  mo.preprocess.height = mo.preprocess.width = 32;
  mo.epochs = 1;
  mo.batch_size = 16;
  std::unique_ptr<Method> method = make_method(mo);
  const BenchmarkSplit split = test::tiny_split(1);
  method->train(split, 1, nullptr);
  REQUIRE(gives_gradcam(*method));
  CHECK_FALSE(gradcam_needs_normal_features(*method));
  const ImageDataset probe = split.test.subset({0, 1, 2});
  const Tensor maps = gradcam_maps(*method, probe, Tensor());
  // The same Grad-CAM with the score written out from the saved projection and centre.
  const StateDict state = method->state_dict();
  const Tensor w = state.at("projection.weight"), c = state.at("projection.centre");
  const FeatureScoreFn by_hand = [&](const Variable& f) {
    const Variable d = sub(matmul(f, Variable(w.transpose(0, 1).contiguous())),
                           Variable(c.reshape({1, c.size(0)})));
    return sum(mul(d, d), {1});
  };
  const Tensor x = preprocess(probe, mo.preprocess).to_channels_last();
  auto& b = dynamic_cast<BackboneMethod&>(*method);
  const GradCam hand = gradcam(b.backbone(), x, by_hand, 32, 32);
  const GradCam own_score = gradcam(b.backbone(), x, [&](const Variable& f) { return b.feature_score(f); }, 32, 32);
  CHECK(max_all(abs(hand.gradient)) > 0.0f);
  CHECK(rel_err(own_score.gradient, hand.gradient) < 1e-5f);
  CHECK(max_abs_diff(maps, own_score.maps) == 0.0f);  // gradcam_maps takes deepsad's own score
  const GradCam& g = hand;
  const std::vector<float> own = method->score(probe).front().to_vector(), s = g.scores.to_vector();
  for (size_t i = 0; i < s.size(); ++i) CHECK(s[i] == doctest::Approx(own[i]).epsilon(1e-4));
}
