// test_inpainter.cpp — occlusion's --inpaint unet: Liu et al.'s partial-convolution U-Net
// (layers/partial_unet.h) against the same network in PyTorch (tests/fixtures/
// make_partial_unet.py: output, loss, every parameter's gradient, batch-norm statistics);
// its prediction blind to the hole's pixels; a trained inpainter (anomaly/inpainter.h) that
// fills holes of a synthetic image family better than the mean image; occlusion maps with
// its fill; the inpainter kept in model.kz; bad requests refused.
#include <doctest/doctest.h>

#include <cmath>

#include "anomaly/inpainter.h"
#include "anomaly/map_kinds.h"
#include "anomaly/model_file.h"
#include "anomaly/occlusion.h"
#include "layers/partial_unet.h"
#include "tensor/ops.h"
#include "tensor/safetensors.h"
#include "tests/error_of.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using namespace kz;

namespace {

float rel_err(const Tensor& a, const Tensor& b) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), shape_str(a.shape()), " vs ", shape_str(b.shape()));
  return max_abs_diff(a.contiguous(), b.contiguous()) / std::max(max_all(abs(b)), 1e-30f);
}

// 16×16 grey images, each a horizontal ramp b + s·(x − 7.5) with its own brightness b ∈
// [40, 215] and slope s ∈ [−6, 6], plus noise of ±3: the mean image is a flat grey that
// knows nothing of an image's b and s, its neighbourhood tells both.
ImageDataset ramps(int64_t n, uint64_t seed) {
  ImageDataset d;
  d.channels = 1;
  d.height = d.width = 16;
  d.class_names = {"ramp"};
  Generator gen(seed);
  for (int64_t i = 0; i < n; ++i) {
    const float b = gen.uniform(40.0f, 215.0f), s = gen.uniform(-6.0f, 6.0f);
    for (int64_t y = 0; y < 16; ++y)
      for (int64_t x = 0; x < 16; ++x) {
        const float v = b + s * (static_cast<float>(x) - 7.5f) + gen.uniform(-3.0f, 3.0f);
        d.pixels.push_back(static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f)));
      }
    d.labels.push_back(0);
  }
  d.source = "ramps";
  return d;
}

}  // namespace

TEST_CASE("PartialUNet: output, loss, gradients and batch-norm statistics equal PyTorch's (make_partial_unet.py)") {
  const Safetensors f = load_safetensors(std::string(KZ_FIXTURES) + "/partial_unet.safetensors");
  Generator gen(0);
  PartialUNet net({2, {4, 6, 8}}, gen);
  StateDict state;
  for (const auto& [k, t] : f.tensors)
    if (k.rfind("param.", 0) == 0) state[k.substr(6)] = t;
  net.load_state_dict(state);  // strict: the names are PyTorch's
  net.train();
  const Tensor x = f.tensors.at("x"), mask = f.tensors.at("mask");
  const Variable out = net.forward(Variable(x), mask);
  const Variable loss = inpainting_loss(out, x, mask);
  loss.backward();
  CHECK(rel_err(out.data(), f.tensors.at("out")) < 1e-4f);
  CHECK(loss.item() == doctest::Approx(f.tensors.at("loss").to_vector()[0]).epsilon(1e-5));
  int64_t grads = 0;
  for (const auto& [name, p] : net.named_parameters()) {
    CAPTURE(name);
    CHECK(rel_err(p.grad(), f.tensors.at("grad." + name)) < 1e-3f);
    ++grads;
  }
  CHECK(grads == 16);  // 6 convolutions (2 with a bias), 4 batch norms (weight and bias)
  const StateDict after = net.state_dict();
  int64_t stats = 0;
  for (const auto& [k, t] : f.tensors)
    if (k.rfind("running.", 0) == 0) {
      CAPTURE(k);
      CHECK(rel_err(after.at(k.substr(8)), t) < 1e-4f);
      ++stats;
    }
  CHECK(stats == 8);
  CHECK_THROWS_WITH_AS(net.forward(Variable(x), Tensor::ones({2, 2, 11, 10})),
                       doctest::Contains("expected (N,2,H,W) and (N,1,H,W)"), Error);
  CHECK_THROWS_WITH_AS(net.forward(Variable(Tensor::zeros({1, 2, 6, 6})), Tensor::ones({1, 1, 6, 6})),
                       doctest::Contains("too small for 3 levels"), Error);
  CHECK_THROWS_WITH_AS(inpainting_loss(out, Tensor::zeros({2, 2, 11, 11}), mask),
                       doctest::Contains("inpainting_loss"), Error);
}

TEST_CASE("inpainter: training masks hold the square; the prediction does not see the hole's pixels") {
  Generator g1(5), g2(5);
  const Tensor m = inpainting_masks(40, 12, 10, 4, g1);
  CHECK(max_abs_diff(m, inpainting_masks(40, 12, 10, 4, g2)) == 0.0f);  // seeded
  const std::vector<float> v = m.to_vector();
  for (int64_t i = 0; i < 40; ++i) {
    int64_t holes = 0;
    for (int64_t p = 0; p < 120; ++p) {
      const float x = v[size_t(i * 120 + p)];
      REQUIRE((x == 0.0f || x == 1.0f));
      holes += x == 0.0f;
    }
    CHECK(holes >= 16);
  }
  Generator gen(3);
  Inpainter in({1, {8, 16}}, 12, 12, gen);
  const Tensor mask = inpainting_masks(4, 12, 12, 5, gen);
  const Tensor x = Tensor::uniform({4, 1, 12, 12}, 0.0f, 1.0f, gen);
  // Other values in every hole pixel, the same elsewhere.
  const Tensor other = add(mul(x, mask), mul(Tensor::uniform({4, 1, 12, 12}, 0.0f, 1.0f, gen),
                                             sub(Tensor::ones(mask.shape()), mask)));
  REQUIRE(max_abs_diff(other, x) > 0.1f);
  CHECK(max_abs_diff(in.predict(x, mask), in.predict(other, mask)) == 0.0f);
}

TEST_CASE("inpainter: trained on a family of ramps, it fills a square better than the mean image") {
  const ImageDataset train = ramps(256, 1), test = ramps(40, 2);
  InpainterOptions o;
  o.widths = {8, 16, 32};
  o.epochs = 12;
  o.batch_size = 16;
  o.lr = 2e-3;
  o.mask_size = 6;
  Generator gen(7);
  const std::shared_ptr<Inpainter> in = Inpainter::train(train, o, gen);
  const Tensor mean = mean_image(train);
  // The same 6×6 square of each test image, at a place that varies with the image.
  std::vector<Square> corners;
  for (int64_t i = 0; i < test.size(); ++i) corners.push_back({2 + i % 8, 1 + (i * 3) % 9});
  ImageDataset filled = test;
  in->fill_squares(filled, corners, 6);
  double unet = 0.0, flat = 0.0;
  const std::vector<float> mv = mean.to_vector();
  for (int64_t i = 0; i < test.size(); ++i) {
    const Square& q = corners[size_t(i)];
    for (int64_t y = q.y; y < q.y + 6; ++y)
      for (int64_t x = q.x; x < q.x + 6; ++x) {
        const double truth = test.image(i)[y * 16 + x];
        unet += std::abs(filled.image(i)[y * 16 + x] - truth);
        flat += std::abs(std::round(mv[size_t(y * 16 + x)]) - truth);
      }
    // Outside the square the copy is the image, byte for byte.
    for (int64_t p = 0; p < 256; ++p) {
      const bool inside = p / 16 >= q.y && p / 16 < q.y + 6 && p % 16 >= q.x && p % 16 < q.x + 6;
      if (!inside) REQUIRE(filled.image(i)[p] == test.image(i)[p]);
    }
  }
  unet /= 36.0 * static_cast<double>(test.size());
  flat /= 36.0 * static_cast<double>(test.size());
  MESSAGE("mean L1 in the hole, pixel values 0…255: unet ", unet, ", mean image ", flat);
  CHECK(unet < 0.5 * flat);
}

TEST_CASE("occlusion --inpaint unet: maps of the right shape, only the square changed; model.kz keeps the inpainter") {
  const test::OneClass images = test::one_class(test::synthetic(8, 5), 3);
  const ImageDataset& normal = images.normal;
  const ImageDataset& reference = images.reference;
  TrainModelOptions o;
  o.method.name = "frozen";
  o.method.width = 0.25;
  o.method.preprocess.height = o.method.preprocess.width = 16;
  const AnomalyModel plain = train_model(normal, reference, o, nullptr);
  CHECK(plain.inpainter == nullptr);
  o.occlusion.inpaint = "unet";
  o.occlusion.size = 4;
  o.occlusion.unet.widths = {4, 8};
  o.occlusion.unet.epochs = 1;
  o.occlusion.unet.batch_size = 4;
  const AnomalyModel model = train_model(normal, reference, o, nullptr);
  REQUIRE(model.inpainter != nullptr);
  CHECK(model.inpainter->height() == 16);
  test::TempDir dir("inpainter");
  const std::string path = (dir.path / "m.kz").string();
  save_model(path, model);
  const AnomalyModel loaded = load_model(path);
  REQUIRE(loaded.inpainter != nullptr);
  const StateDict a = model.inpainter->state_dict(), b = loaded.inpainter->state_dict();
  REQUIRE(a.size() == b.size());
  for (const auto& [k, t] : a) CHECK(max_abs_diff(t, b.at(k)) == 0.0f);

  const OcclusionOptions unet{4, 4, "unet", {}};
  MapSource source = map_source(loaded, unet);
  const ImageDataset probe = test::synthetic(1, 9).subset({0, 1, 2});
  const Tensor maps = detector_maps(source, MapKind::occlusion, probe);
  CHECK(maps.shape() == Shape{3, 16, 16});
  for (float v : maps.to_vector()) REQUIRE(std::isfinite(v));
  // The copies the detector scores differ from the image only inside their square.
  const ImageDataset sized = resize_images(probe.subset({0}), 16, 16);
  int64_t scored = 0;
  const ImageScoreFn look = [&](const ImageDataset& batch) {
    const std::vector<int64_t> off = occlusion_offsets(16, 4, 4);
    REQUIRE(batch.size() == 1 + 16);
    int64_t changed = 0;
    for (int64_t k = 1; k < batch.size(); ++k) {
      const int64_t oy = off[size_t((k - 1) / 4)], ox = off[size_t((k - 1) % 4)];
      for (int64_t p = 0; p < 256; ++p) {
        const bool inside = p / 16 >= oy && p / 16 < oy + 4 && p % 16 >= ox && p % 16 < ox + 4;
        if (!inside) REQUIRE(batch.image(k)[p] == batch.image(0)[p]);
        else changed += batch.image(k)[p] != batch.image(0)[p];
      }
    }
    CHECK(changed > 0);
    scored += batch.size();
    return std::vector<double>(size_t(batch.size()), 0.0);
  };
  CHECK(occlusion_maps(sized, inpainter_fill(loaded.inpainter), unet, look).shape() == Shape{1, 16, 16});
  CHECK(scored == 17);

  // Refused: a model without an inpainter asked for one; an inpainter of another size.
  const MapSource none = map_source(plain, unet);
  CHECK_FALSE(gives_map_kind(none, MapKind::occlusion));
  CHECK_THROWS_WITH_AS(detector_maps(none, MapKind::occlusion, probe),
                       doctest::Contains("train --inpaint unet"), Error);
  Generator gen(0);
  const Inpainter small({1, {4}}, 8, 8, gen);
  ImageDataset copies = sized;
  CHECK_THROWS_WITH_AS(small.fill_squares(copies, {{0, 0}}, 4), doctest::Contains("for an inpainter of"),
                       Error);
  CHECK_THROWS_WITH_AS(Inpainter::train(sized, InpainterOptions{}, gen),
                       doctest::Contains("at least 2 normal images"), Error);
}
