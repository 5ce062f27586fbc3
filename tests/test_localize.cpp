// test_localize.cpp — defective test images with known masks (data/defects.h defect_images)
// and `kizuki localize`, which scores a model's map kinds against them.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "anomaly/model_file.h"
#include "data/defects.h"
#include "tensor/error.h"
#include "tests/shell.h"
#include "tests/synthetic_data.h"
#include "tests/temp_dir.h"

using namespace kz;

TEST_CASE("defect_images: a seeded choice of images, each changed only where its mask says") {
  const ImageDataset data = test::synthetic(3, 4);  // 30 images, 12×12 grey
  const DefectImages d = defect_images(data, defect_by_name("line", "test"), 10, 7);
  REQUIRE(d.images.size() == 10);
  REQUIRE(d.masks.shape() == Shape{10, 12, 12});
  CHECK(std::set<int64_t>(d.index.begin(), d.index.end()).size() == 10);  // no repeats
  int changed_inside = 0;
  for (int64_t i = 0; i < 10; ++i) {
    const uint8_t* before = data.image(d.index[static_cast<size_t>(i)]);
    const uint8_t* after = d.images.image(i);
    double mask_sum = 0.0;
    for (int64_t p = 0; p < 144; ++p) {
      const float m = d.masks.data()[i * 144 + p];
      CHECK((m == 0.0f || m == 1.0f));
      mask_sum += m;
      if (m == 0.0f) CHECK(after[p] == before[p]);
      else changed_inside += after[p] != before[p];
    }
    CHECK(mask_sum > 0.0);
  }
  CHECK(changed_inside > 0);
  const DefectImages again = defect_images(data, defect_by_name("line", "test"), 10, 7);
  CHECK(again.index == d.index);
  CHECK(again.images.pixels == d.images.pixels);
  CHECK_THROWS_WITH_AS(defect_images(data, defect_by_name("scar", "test"), 31, 7),
                       doctest::Contains("31 defective images wanted, it has 30"), Error);
  CHECK_THROWS_WITH_AS(defect_by_name("crack", "--defect"),
                       doctest::Contains("unknown defect 'crack' (line, cutpaste or scar)"), Error);
}

TEST_CASE("localize: `kizuki localize` scores a model's maps against pasted defects") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist")) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist is not installed");
    return;
  }
  // A frozen MobileNetV2 detector (no training) fitted on a few synthetic images: it gives
  // Grad-CAM and occlusion maps, no own maps.
  const test::OneClass images = test::one_class(test::synthetic(8, 5), 3);
  const ImageDataset& normal = images.normal;
  const ImageDataset& reference = images.reference;
  TrainModelOptions o;
  o.method.name = "frozen";
  o.method.width = 0.25;
  o.method.preprocess.height = o.method.preprocess.width = 32;
  const test::TempDir dir("localize");
  const std::string model = (dir.path / "m.kz").string();
  save_model(model, train_model(normal, reference, o, nullptr));
  const std::string base = std::string(KZ_KIZUKI) + " localize --model " + model +
                           " --dataset fashion-mnist --images 6 --threads 1 --mask-size 8 "
                           "--mask-stride 8";
  const test::Ran ok = test::shell(base + " --defect cutpaste --json " +
                                   (dir.path / "out.json").string());
  REQUIRE_MESSAGE(ok.status == 0, ok.output);
  std::ifstream in(dir.path / "out.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j.at("normal_class") == "Sneaker");
  CHECK(j.at("images") == 6);
  CHECK(j.at("image_auroc").get<double>() >= 0.0);
  CHECK(j.at("image_auroc").get<double>() <= 1.0);
  REQUIRE(j.at("maps").size() == 2);  // gradcam and occlusion, in that order
  CHECK(j.at("maps")[0].at("kind") == "gradcam");
  CHECK(j.at("maps")[1].at("kind") == "occlusion");
  for (const nlohmann::json& m : j.at("maps")) {
    CHECK(m.at("pixel_auroc").get<double>() >= 0.0);
    CHECK(m.at("pixel_auroc").get<double>() <= 1.0);
    CHECK(m.at("seconds_per_image").get<double>() > 0.0);
  }
  const test::Ran own = test::shell(base + " --map-kind own");
  CHECK(own.status != 0);
  CHECK(own.output.find("--map-kind own: the method 'frozen'") != std::string::npos);
}
