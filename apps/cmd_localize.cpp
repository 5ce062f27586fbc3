// cmd_localize.cpp — `kizuki localize`: does a trained detector's anomaly map point at the
// anomaly? Normal test images of a data set get one synthetic defect each at a known place
// (data/defects.h); each map kind the model can give is scored against the defect masks by
// pixel-level AUROC (anomaly/map_kinds.h), and the detector's image scores of the defective
// images against the same images clean by image-level AUROC.
//
//   kizuki localize --model model.kz --dataset fashion-mnist --defect cutpaste
//                   [--images 100] [--map-kind own,gradcam,occlusion] [--json out.json]
//                   [--mask-size 8 --mask-stride 4 --inpaint mean|unet]
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "anomaly/experiment.h"
#include "anomaly/map_kinds.h"
#include "anomaly/model_file.h"
#include "anomaly/roc.h"
#include "apps/commands.h"
#include "apps/process.h"
#include "data/defects.h"
#include "tensor/file_io.h"

namespace kz {

namespace {

struct LocalizeFlags {
  std::string model, dataset = "fashion-mnist", data_dir, defect = "cutpaste", json;
  std::vector<std::string> kinds;
  int64_t images = 100;
  uint64_t seed = 0;
  int threads = 0;
  OcclusionOptions occlusion;
};

void run(const LocalizeFlags& f) {
  set_threads(f.threads);
  const AnomalyModel model = load_model(f.model);
  const DefectFn defect = defect_by_name(f.defect, "--defect");
  const MapSource source = map_source(model, f.occlusion);
  std::vector<MapKind> kinds;
  if (f.kinds.empty()) {
    for (MapKind k : {MapKind::own, MapKind::gradcam, MapKind::occlusion})
      if (gives_map_kind(source, k)) kinds.push_back(k);
  } else {
    for (const std::string& name : f.kinds) {
      const MapKind k = parse_map_kind(name, "--map-kind");
      KZ_CHECK(gives_map_kind(source, k), "localize",
               "--map-kind {}: the method '{}' of {} gives no such maps{}", name,
               model.method->name(), f.model,
               k == MapKind::occlusion && f.occlusion.inpaint == "unet" && !model.inpainter
                   ? " (--inpaint unet needs the inpainter that `kizuki train --inpaint unet` "
                     "keeps in the model; this one has none)"
                   : "");
      kinds.push_back(k);
    }
  }
  KZ_CHECK(!kinds.empty(), "localize", "the method '{}' of {} gives no maps of any kind",
           model.method->name(), f.model);
  if (std::find(kinds.begin(), kinds.end(), MapKind::occlusion) != kinds.end())
    check_occlusion_options(f.occlusion, "--mask-size/--mask-stride/--inpaint");

  ExperimentOptions e;
  e.dataset = f.dataset;
  e.data_dir = f.data_dir;
  const TrainTest data = load_benchmark_dataset(e);  // fills in the protocol's normal class
  const ImageDataset normal = data.test.subset(data.test.indices_of_class(e.normal_class));
  const DefectImages with = defect_images(normal, defect, f.images, f.seed);
  const ImageDataset clean = normal.subset(with.index);

  // Image level: the defective images against the same images clean.
  std::vector<double> scores = model.score(clean).score;
  const std::vector<double> defective = model.score(with.images).score;
  scores.insert(scores.end(), defective.begin(), defective.end());
  std::vector<int> labels(clean.labels.size(), 0);
  labels.insert(labels.end(), defective.size(), 1);
  const double image_auc = roc_auc(scores, labels);

  nlohmann::json out = {{"model", f.model},         {"method", model.method->name()},
                        {"dataset", f.dataset},     {"normal_class", normal.class_names.at(
                                                         static_cast<size_t>(e.normal_class))},
                        {"defect", f.defect},       {"images", f.images},
                        {"seed", f.seed},           {"image_auroc", image_auc},
                        {"maps", nlohmann::json::array()}};
  fmt::print("{} ({}), {} {} test images with a {} defect each\n", f.model,
             model.method->name(), f.images, out["normal_class"].get<std::string>(), f.defect);
  fmt::print("  image AUROC (defective against the same images clean): {:.4f}\n", image_auc);
  for (MapKind k : kinds) {
    const auto t0 = std::chrono::steady_clock::now();
    const double auc = map_pixel_auroc(source, k, with.images, with.masks);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
        static_cast<double>(f.images);
    const bool unet = k == MapKind::occlusion && f.occlusion.inpaint == "unet";
    fmt::print("  {:<14} pixel AUROC {:.4f}  ({:.3g} s per image)\n",
               unet ? "occlusion-unet" : to_string(k), auc, seconds);
    nlohmann::json m = {{"kind", to_string(k)}, {"pixel_auroc", auc},
                        {"seconds_per_image", seconds}};
    if (k == MapKind::occlusion) m["inpaint"] = f.occlusion.inpaint;
    out["maps"].push_back(m);
  }
  if (!f.json.empty()) write_file_atomic(f.json, out.dump(1) + "\n");
}

}  // namespace

void add_localize_command(CLI::App& app) {
  auto flags = std::make_shared<LocalizeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "localize",
      "whether a model's anomaly maps point at the anomaly: normal test images get one "
      "synthetic defect each (line, cutpaste, scar), and each map kind is scored against the "
      "defect masks by pixel-level AUROC");
  cmd->add_option("--model", flags->model, "model.kz from kizuki train")->required();
  cmd->add_option("--dataset", flags->dataset, "fashion-mnist | cifar10 (its normal class's "
                  "test images get the defects)");
  cmd->add_option("--data-dir", flags->data_dir, "the dataset's folder (default: its usual place)");
  cmd->add_option("--defect", flags->defect, "line | cutpaste | scar (default cutpaste)")
      ->check(CLI::IsMember({"line", "cutpaste", "scar"}));
  cmd->add_option("--images", flags->images, "how many test images (default 100)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--map-kind", flags->kinds,
                  "comma list of own, gradcam, occlusion (default: every kind the model gives)")
      ->delimiter(',');
  cmd->add_option("--mask-size", flags->occlusion.size, "occlusion: the mask's side (default 8)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--mask-stride", flags->occlusion.stride,
                  "occlusion: the mask's step, at most --mask-size (default 4)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--inpaint", flags->occlusion.inpaint,
                  "occlusion: what fills the mask: mean (the mean normal training image) or "
                  "unet (the inpainter of a model trained with --inpaint unet)");
  cmd->add_option("--seed", flags->seed, "which images, and their defects (default 0)");
  cmd->add_option("--threads", flags->threads, "OpenMP threads (default: as configured)");
  cmd->add_option("--json", flags->json, "also write the numbers here (atomically)");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace kz
