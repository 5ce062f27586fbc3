// cmd_model.cpp — the practitioner's commands on their own images:
//   kizuki train --normal DIR [--reference DIR] --method M ... --out model.kz [--resume]
//                (model.kz.ckpt holds the last epoch checkpoint until model.kz is written)
//   kizuki score --model model.kz IMAGES...|DIR [--maps DIR]
//                (CSV: file,score,flag[,class]; --maps: one PNG per image, map over image)
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "anomaly/map_figure.h"
#include "anomaly/model_file.h"
#include "apps/commands.h"
#include "apps/process.h"
#include "data/image_folder.h"
#include "data/image_write.h"
#include "tensor/file_io.h"

namespace kz {

namespace {

struct TrainFlags {
  std::string normal, reference, method = "arcface", pretrained, scorer, out = "model.kz";
  std::string tta = "none";
  int64_t knn_k = 0;  // 0 = the default, 5
  bool center = false;
  int64_t image_size = 64, epochs = 10, batch = 32;
  double width = 0.5, lr = 1e-3;
  uint64_t seed = 0;
  bool skip_unreadable = false;
  bool resume = false;
  int threads = 0;
  bool data_parallel = false, sync_bn = false;
  double bucket_mb = 4.0;
};

// A folder of images (all one class) — its files directly, or every file of its subfolders.
ImageDataset load_normal_folder(const std::string& dir, const ImageFolderOptions& o) {
  std::vector<std::string> files = list_image_files(dir);
  if (files.empty()) {
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      if (entry.is_directory())
        for (const std::string& f : list_image_files(entry.path().string())) files.push_back(f);
  }
  KZ_CHECK(!files.empty(), "train", "{}: no images (PNG, JPEG or BMP) found", dir);
  ImageFiles loaded = load_image_files(files, std::vector<int64_t>(files.size(), 0), {"normal"}, o, dir);
  for (const std::string& s : loaded.skipped) fmt::print(stderr, "warning: skipped {}\n", s);
  return loaded.dataset;
}

void train(const TrainFlags& f, Communicator& comm) {
  set_threads(f.threads);
  KZ_CHECK(!f.sync_bn || f.data_parallel, "train", "--sync-bn needs --data-parallel");
  KZ_CHECK(f.data_parallel || comm.size() == 1, "train",
           "launched by mpirun with {} processes: pass --data-parallel to train one model "
           "together (or run one process)", comm.size());
  const bool root = comm.rank() == 0;
  KZ_CHECK(f.knn_k == 0 || f.scorer == "knn", "train", "--knn-k is k of --scorer knn, but the "
           "scorer is '{}'", f.scorer.empty() ? "the method's default" : f.scorer);
  ImageFolderOptions io;
  io.channels = 3;
  io.height = io.width = f.image_size;  // one size, so images of any size can be batched
  io.skip_unreadable = f.skip_unreadable;
  io.skip_hint = "pass --skip-unreadable to leave them out";
  const ImageDataset normal = load_normal_folder(f.normal, io);
  ImageDataset reference;
  if (!f.reference.empty()) {
    ImageFiles r = load_image_folder(f.reference, io);
    for (const std::string& s : r.skipped) fmt::print(stderr, "warning: skipped {}\n", s);
    reference = r.dataset;
  } else {
    reference.channels = normal.channels;
    reference.height = normal.height;
    reference.width = normal.width;
  }
  TrainModelOptions o;
  o.method.name = f.method;
  const bool backbone = method_info(f.method).kind == MethodKind::embedding;
  if (!backbone && !f.pretrained.empty())
    fmt::print(stderr, "note: --method {} trains its own network from random weights; "
               "--pretrained is not used\n", f.method);
  o.method.pretrained = backbone ? f.pretrained : "";
  o.method.width = o.method.pretrained.empty() ? f.width : 1.0;
  o.method.preprocess.height = o.method.preprocess.width = f.image_size;
  // The reconstruction networks' sigmoid outputs pixels in [0, 1]; the pretrained
  // MobileNetV2 wants [−1, 1].
  o.method.preprocess.scaling = o.method.pretrained.empty() ? Scaling::unit : Scaling::symmetric;
  if (f.method == "anogan") o.method.preprocess.scaling = Scaling::symmetric;  // G's tanh
  o.method.epochs = f.epochs;
  o.method.batch_size = f.batch;
  o.method.lr = f.lr;
  o.scorer = f.scorer;
  if (f.knn_k > 0) o.neighbors = f.knn_k;
  o.center = f.center;
  o.tta = f.tta;
  o.seed = f.seed;
  o.checkpoint.path = f.out + ".ckpt";  // every epoch; removed once the model is written
  o.checkpoint.resume = f.resume;
  if (f.data_parallel) o.parallel = {&comm, f.sync_bn, f.bucket_mb};
  if (root && !f.resume && std::filesystem::exists(o.checkpoint.path))
    fmt::print(stderr, "note: {} is left from a stopped run; starting afresh (--resume "
               "continues it)\n", o.checkpoint.path);
  const bool live = isatty(STDERR_FILENO) && std::getenv("CI") == nullptr && comm.size() == 1;
  if (root)
    fmt::print(stderr, "training {} on {} normal and {} reference images ({} classes){}\n",
               f.method, normal.size(), reference.size(), reference.num_classes(),
               f.data_parallel ? fmt::format(", data-parallel over {}{}", comm.describe(),
                                             f.sync_bn ? ", synchronised batch norm" : "")
                               : "");
  const AnomalyModel model = train_model(normal, reference, o, [&](const TrainProgress& p) {
    if (!root || (!live && !p.epoch_end)) return;
    fmt::print(stderr, "{}epoch {}/{} batch {}/{} loss {:.4f} {:.0f} img/s{}", live ? "\r\033[K" : "",
               p.epoch + 1, p.epochs, p.batch + 1, p.batches, p.loss, p.images_per_second,
               p.epoch_end ? "\n" : "");
  });
  for (const std::string& w : model.method->training_warnings())  // a GAN's failures
    if (root) fmt::print(stderr, "WARNING: {}\n", w);
  if (f.data_parallel && root) {
    const GradSyncTiming& t = model.method->sync_timing();
    const double steps = static_cast<double>(std::max<int64_t>(t.steps, 1));
    fmt::print(stderr, "data-parallel: {} steps; per step: backward {:.1f} ms (hooks {:.1f} "
               "ms: gradient copies, starting and moving the sums), then waiting for the "
               "sums {:.1f} ms; {} of {} buckets started before the last gradient\n",
               t.steps, 1e3 * t.backward / steps, 1e3 * t.hooks / steps, 1e3 * t.wait / steps,
               t.buckets_early, t.buckets);
  }
  if (!root) return;  // every rank holds the same model; rank 0 writes it
  if (model.method->resumed_epochs() > 0)
    fmt::print(stderr, "continued from {} after epoch {}\n", o.checkpoint.path,
               model.method->resumed_epochs());
  save_model(f.out, model);
  remove_file(o.checkpoint.path);
  fmt::print("wrote {} (scorer {}{}{}, threshold {:.6g}); peak memory {} resident\n", f.out,
             model.scorer_name, model.scaler_name == "center" ? ", centred" : "",
             model.tta != "none" ? ", tta " + model.tta : "", model.threshold,
             format_bytes(peak_rss_bytes()));
}

// One PNG per image in maps_dir: the image with its anomaly map laid over it, named after
// the image file ("photo.jpg" → "photo.jpg.map.png"), on one colour scale for all of them.
void write_maps(const AnomalyModel& model, const ImageFiles& loaded, const std::string& maps_dir) {
  std::filesystem::create_directories(maps_dir);
  const AnomalyMaps maps = model.method->maps(loaded.dataset);
  Preprocess display = model.method->options().preprocess;
  display.scaling = Scaling::unit;
  const Tensor images = preprocess(loaded.dataset, display).contiguous();
  const Tensor m = maps.maps.contiguous();
  const MapScale scale = map_scale(m);
  for (size_t i = 0; i < loaded.files.size(); ++i) {
    const auto k = static_cast<int64_t>(i);
    const std::string name = std::filesystem::path(loaded.files[i]).filename().string() + ".map.png";
    write_png((std::filesystem::path(maps_dir) / name).string(),
              overlay(images.select(0, k), m.select(0, k), scale), images.size(2), images.size(3), 3);
  }
  fmt::print(stderr, "wrote {} map(s) to {} (colour scale {:.3g} … {:.3g})\n", loaded.files.size(),
             maps_dir, scale.low, scale.high);
}

void score(const std::string& model_path, const std::vector<std::string>& inputs,
           const std::string& out, bool skip_unreadable, const std::string& maps_dir) {
  const AnomalyModel model = load_model(model_path);
  KZ_CHECK(maps_dir.empty() || model.method->gives_maps(), "score",
           "--maps: the method '{}' of {} gives no anomaly maps (ae, vae and ssim-ae do)",
           model.method->name(), model_path);
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    if (std::filesystem::is_directory(in)) {
      for (const std::string& f : list_image_files(in)) files.push_back(f);
    } else {
      files.push_back(in);
    }
  }
  KZ_CHECK(!files.empty(), "score", "no image files among {}", fmt::join(inputs, ", "));
  const MethodOptions& m = model.method->options();
  ImageFolderOptions io;
  io.channels = 3;
  io.height = m.preprocess.height;
  io.width = m.preprocess.width;
  io.skip_unreadable = skip_unreadable;
  io.skip_hint = "pass --skip-unreadable to leave them out";
  ImageFiles loaded = load_image_files(files, std::vector<int64_t>(files.size(), 0), {"image"}, io);
  for (const std::string& s : loaded.skipped) fmt::print(stderr, "warning: skipped {}\n", s);
  const AnomalyModel::Scores s = model.score(loaded.dataset);
  const bool classes = !s.predicted.empty();
  std::string csv = classes ? "file,score,flag,class\n" : "file,score,flag\n";
  auto quote = [](const std::string& v) {
    if (v.find_first_of(",\"\n") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (size_t i = 0; i < s.score.size(); ++i) {
    csv += fmt::format("{},{:.6g},{}", quote(loaded.files[i]), s.score[i], s.flagged[i] ? 1 : 0);
    if (classes) csv += "," + quote(model.class_names[static_cast<size_t>(s.predicted[i])]);
    csv += "\n";
  }
  if (out.empty() || out == "-") fmt::print("{}", csv);
  else write_file_atomic(out, csv);
  if (!maps_dir.empty()) write_maps(model, loaded, maps_dir);
}

}  // namespace

void add_model_commands(CLI::App& app, Communicator& comm) {
  auto t = std::make_shared<TrainFlags>();
  CLI::App* train_cmd = app.add_subcommand("train", "train a detector on your own image folders");
  train_cmd->add_option("--normal", t->normal, "folder of normal images")->required()
      ->check(CLI::ExistingDirectory);
  train_cmd->add_option("--reference", t->reference, "folder of other classes, one subfolder each")
      ->check(CLI::ExistingDirectory);
  train_cmd->add_option("--method", t->method, fmt::format("{}", fmt::join(method_names(), ", ")))
      ->check(CLI::IsMember(method_names()));
  train_cmd->add_option("--pretrained", t->pretrained, "backbone weights (.safetensors, width 1.0)")
      ->check(CLI::ExistingFile);
  train_cmd->add_option("--scorer", t->scorer,
                        "lof, cosine, knn or gde for an embedding method, one of its own scores for "
                        "a scoring method (default: the method's)");
  train_cmd->add_option("--knn-k", t->knn_k, "k of --scorer knn (default 5)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  train_cmd->add_flag("--center", t->center,
                      "subtract the mean normal training feature before the cosine scorer");
  train_cmd->add_option("--tta", t->tta,
                        "test-time augmentation of an embedding method's features: none, or "
                        "flip (the mean of the image's and its mirror image's); kept in the "
                        "model, so `kizuki score` applies it too")
      ->check(CLI::IsMember({"none", "flip"}));
  train_cmd->add_option("--image-size", t->image_size, "input size N (N×N)")->check(CLI::Range(8, 1024));
  train_cmd->add_option("--width", t->width, "MobileNetV2 width (without --pretrained)")
      ->check(CLI::Range(0.1, 2.0));
  train_cmd->add_option("--epochs", t->epochs, "training epochs")->check(CLI::Range(1, 100000));
  train_cmd->add_option("--batch", t->batch, "batch size")->check(CLI::Range(2, 65536));
  train_cmd->add_option("--lr", t->lr, "learning rate")->check(CLI::Range(1e-12, 10.0));
  train_cmd->add_option("--seed", t->seed, "seed");
  train_cmd->add_flag("--skip-unreadable", t->skip_unreadable, "skip unreadable images with a warning");
  train_cmd->add_option("--threads", t->threads, "threads for oneDNN, OpenBLAS and kizuki")
      ->check(CLI::Range(1, 1024));
  train_cmd->add_option("--out", t->out, "model file to write (and OUT.ckpt while training)");
  train_cmd->add_flag("--resume", t->resume,
                      "continue from OUT.ckpt, the last epoch checkpoint of a stopped run "
                      "with the same settings");
  add_data_parallel_flags(train_cmd, t->data_parallel, t->sync_bn, t->bucket_mb);
  train_cmd->callback([t, &comm] { train(*t, comm); });

  auto model = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto skip = std::make_shared<bool>(false);
  auto maps = std::make_shared<std::string>();
  CLI::App* score_cmd = app.add_subcommand("score", "score images with a trained model (CSV)");
  score_cmd->add_option("--model", *model, "model.kz from kizuki train")->required()
      ->check(CLI::ExistingFile);
  score_cmd->add_option("images", *inputs, "image files or folders")->required();
  score_cmd->add_option("--out", *out, "CSV file to write (default: standard output)");
  score_cmd->add_flag("--skip-unreadable", *skip, "skip unreadable images with a warning");
  score_cmd->add_option("--maps", *maps,
                        "folder for one PNG per image: the image with its anomaly map over it "
                        "(methods that give maps: ae, vae, ssim-ae)");
  score_cmd->callback([=] { score(*model, *inputs, *out, *skip, *maps); });
}

}  // namespace kz
