// cmd_model.cpp — the practitioner's commands on their own images and tables:
//   kizuki train --normal DIR [--reference DIR] --method M ... --out model.kz [--resume]
//                [--inpaint unet [--inpaint-epochs N --mask-size N]]  (keeps an inpainter
//                for `score --map-kind occlusion --inpaint unet`)
//                (model.kz.ckpt holds the last epoch checkpoint until model.kz is written)
//   kizuki train --table FILE.csv --label COLUMN --normal VALUE [--reference VALUE…]
//                [--drop A,B] --method M ... --out model.kz
//                (the benchmark's table preset, anomaly/experiment.h; model.kz keeps the
//                columns and the standardisation, anomaly/model_file.h)
//   kizuki score --model model.kz IMAGES...|DIR [--maps DIR [--map-kind own|gradcam|occlusion
//                [--mask-size N --mask-stride N --inpaint mean|unet]]]
//                (CSV: file,score,flag[,class]; --maps: one PNG per image, map over image)
//   kizuki score --model model.kz --table FILE.csv [--id COLUMN]
//                (CSV: row,[id,]score,flag[,class]; row = the data row's number from 1)
#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "anomaly/experiment.h"
#include "anomaly/map_figure.h"
#include "anomaly/map_kinds.h"
#include "anomaly/report.h"
#include "anomaly/model_file.h"
#include "apps/commands.h"
#include "apps/process.h"
#include "data/image_folder.h"
#include "data/image_write.h"
#include "tensor/file_io.h"

namespace kz {

namespace {

struct TrainFlags {
  std::string normal, method = "arcface", pretrained, scorer, out = "model.kz";
  std::vector<std::string> reference;  // a folder; with --table, label values
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
  // A table instead of image folders (--normal is then the normal class's label value).
  std::string table, label, drop, mlp_widths;
  int64_t skip_rows = 0, goad_maps = 0, goad_dims = 0;
  bool no_header = false;
  bool epochs_given = false, batch_given = false, lr_given = false;
  OcclusionOptions occlusion;  // --inpaint unet: train and keep an inpainter
};

// The rows of `rows` whose class is one of `classes`, labelled by their position there.
ImageDataset rows_of(const ImageDataset& rows, const Table& table,
                     const std::vector<std::string>& classes) {
  std::vector<int64_t> index(table.class_names.size(), -1);
  for (size_t k = 0; k < classes.size(); ++k)
    index[static_cast<size_t>(table.class_index(classes[k]))] = static_cast<int64_t>(k);
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < rows.size(); ++i)
    if (index[static_cast<size_t>(rows.labels[static_cast<size_t>(i)])] >= 0) picked.push_back(i);
  ImageDataset out = rows.subset(picked);
  for (int64_t& l : out.labels) l = index[static_cast<size_t>(l)];
  out.class_names = classes;
  return out;
}

// The normal and reference rows of --table, and what train_model needs to know of them.
void load_table(const TrainFlags& f, ImageDataset& normal, ImageDataset& reference,
                TrainModelOptions& o) {
  KZ_CHECK(!f.label.empty(), "train", "--table needs --label COLUMN (the class column)");
  CsvOptions csv;
  csv.label = f.label;
  csv.drop = split_list(f.drop);
  csv.skip_rows = f.skip_rows;
  csv.header = !f.no_header;
  const Table table = load_csv(f.table, csv);
  const ImageDataset rows = table_dataset(table);
  normal = rows_of(rows, table, {f.normal});
  reference = rows_of(rows, table, f.reference);
  o.table.features = table.feature_names;
  o.table.label = f.label;
  o.table.drop = csv.drop;
  // The benchmark's settings for a table's method (the MLP on the standardised rows).
  o.method = preset_options("scratch", "table", {f.method}, "").method_options.front();
  if (f.epochs_given) o.method.epochs = f.epochs;
  if (f.batch_given) o.method.batch_size = f.batch;
  if (f.lr_given) o.method.lr = f.lr;
  if (!f.mlp_widths.empty()) o.method.mlp_widths = parse_widths(f.mlp_widths, "train");
  if (f.goad_maps > 0) o.method.goad_maps = f.goad_maps;
  if (f.goad_dims > 0) o.method.goad_dims = f.goad_dims;
}

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
  ImageDataset normal, reference;
  TrainModelOptions o;
  if (!f.table.empty()) {
    KZ_CHECK(f.pretrained.empty(), "train", "--table: a table's MLP has no pretrained weights");
    load_table(f, normal, reference, o);
  } else {
    KZ_CHECK(std::filesystem::is_directory(f.normal), "train",
             "--normal {}: not a folder (with --table it is the normal class's label value)",
             f.normal);
    KZ_CHECK(f.label.empty() && f.drop.empty(), "train", "--label and --drop are for --table");
    KZ_CHECK(f.reference.size() <= 1, "train", "--reference: one folder (of one subfolder per "
             "class), got {}", f.reference.size());
    ImageFolderOptions io;
    io.channels = 3;
    io.height = io.width = f.image_size;  // one size, so images of any size can be batched
    io.skip_unreadable = f.skip_unreadable;
    io.skip_hint = "pass --skip-unreadable to leave them out";
    normal = load_normal_folder(f.normal, io);
    if (!f.reference.empty()) {
      KZ_CHECK(std::filesystem::is_directory(f.reference.front()), "train",
               "--reference {}: not a folder", f.reference.front());
      ImageFiles r = load_image_folder(f.reference.front(), io);
      for (const std::string& s : r.skipped) fmt::print(stderr, "warning: skipped {}\n", s);
      reference = r.dataset;
    } else {
      reference.channels = normal.channels;
      reference.height = normal.height;
      reference.width = normal.width;
    }
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
  }
  check_occlusion_options(f.occlusion, "--inpaint/--mask-size");
  KZ_CHECK(f.occlusion.inpaint == "mean" || f.table.empty(), "train",
           "--inpaint {}: a table has no pixels to inpaint", f.occlusion.inpaint);
  o.occlusion = f.occlusion;
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
  const bool live = interactive() && comm.size() == 1;
  if (root)
    fmt::print(stderr, "training {} on {} normal and {} reference {} ({} classes){}\n",
               f.method, normal.size(), reference.size(), normal.table ? "rows" : "images",
               reference.num_classes(),
               f.data_parallel ? fmt::format(", data-parallel over {}{}", comm.describe(),
                                             f.sync_bn ? ", synchronised batch norm" : "")
                               : "");
  const AnomalyModel model = train_model(normal, reference, o, [&](const TrainProgress& p) {
    if (!root || (!live && !p.epoch_end)) return;
    fmt::print(stderr, "{}{}{}", live ? "\r\033[K" : "", progress_line(p), p.epoch_end ? "\n" : "");
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
  fmt::print("wrote {} (scorer {}{}{}{}, threshold {:.6g}); peak memory {} resident\n", f.out,
             model.scorer_name, model.scaler_name == "center" ? ", centred" : "",
             model.tta != "none" ? ", tta " + model.tta : "",
             model.inpainter ? fmt::format(", inpainter loss {:.4f}", model.inpainter->final_loss())
                             : "",
             model.threshold,
             format_bytes(peak_rss_bytes()));
}

// What `kizuki score --maps` draws: which kind, and occlusion's mask.
struct MapFlags {
  std::string dir, kind;  // kind empty: own where the method has them, else gradcam, else occlusion
  OcclusionOptions occlusion;
};

// One PNG per image in maps_dir: the image with its anomaly map laid over it, named after
// the image file ("photo.jpg" → "photo.jpg.map.png"), on one colour scale for all of them.
void write_maps(const AnomalyModel& model, const ImageFiles& loaded, const MapFlags& flags,
                MapKind kind) {
  std::filesystem::create_directories(flags.dir);
  const MapSource source = map_source(model, flags.occlusion);
  const auto start = std::chrono::steady_clock::now();
  const Tensor m = detector_maps(source, kind, loaded.dataset).contiguous();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Preprocess display = model.method->options().preprocess;
  display.scaling = Scaling::unit;
  const Tensor images = preprocess(loaded.dataset, display).contiguous();
  const MapScale scale = map_scale(m);
  for (size_t i = 0; i < loaded.files.size(); ++i) {
    const auto k = static_cast<int64_t>(i);
    const std::string name = std::filesystem::path(loaded.files[i]).filename().string() + ".map.png";
    write_png((std::filesystem::path(flags.dir) / name).string(),
              overlay(images.select(0, k), m.select(0, k), scale), images.size(2), images.size(3), 3);
  }
  fmt::print(stderr, "wrote {} {} map(s) to {} (colour scale {:.3g} … {:.3g}; {:.3g} s per image)\n",
             loaded.files.size(), to_string(kind), flags.dir, scale.low, scale.high,
             seconds / static_cast<double>(std::max<size_t>(1, loaded.files.size())));
}

// The kind --map-kind names, or the default: own where the method has them, else Grad-CAM
// where it can, else occlusion. Checked before any image is scored.
MapKind chosen_map_kind(const AnomalyModel& model, const std::string& model_path,
                        const MapFlags& flags) {
  const MapSource source = map_source(model, flags.occlusion);
  MapKind kind = MapKind::occlusion;
  if (!flags.kind.empty()) kind = parse_map_kind(flags.kind, "--map-kind");
  else if (gives_map_kind(source, MapKind::own)) kind = MapKind::own;
  else if (gives_map_kind(source, MapKind::gradcam)) kind = MapKind::gradcam;
  if (kind == MapKind::occlusion) check_occlusion_options(flags.occlusion, "--mask-size/--mask-stride/--inpaint");
  KZ_CHECK(gives_map_kind(source, kind), "score",
           "--map-kind {}: the method '{}' of {} gives no such maps ({})", to_string(kind),
           model.method->name(), model_path,
           kind == MapKind::own ? "only ae, vae, ssim-ae, cutpaste, adae and anogan have their own; try gradcam or occlusion"
           : kind == MapKind::gradcam
               ? "Grad-CAM takes an embedding method on a MobileNetV2, from a model file that "
                 "holds its normal features (retrain with this version); occlusion takes any"
           : flags.occlusion.inpaint == "unet" && model.mean_image.defined()
               ? "--inpaint unet needs the inpainter that `kizuki train --inpaint unet` keeps "
                 "in the model, and this one has none: retrain with it, or use --inpaint mean"
               : "the model file holds no mean normal image: retrain it with this version");
  return kind;
}

void score(const std::string& model_path, const std::vector<std::string>& inputs,
           const std::string& out, bool skip_unreadable, const MapFlags& maps) {
  const AnomalyModel model = load_model(model_path);
  KZ_CHECK(!maps.dir.empty() || maps.kind.empty(), "score", "--map-kind needs --maps DIR");
  const MapKind kind = maps.dir.empty() ? MapKind::own : chosen_map_kind(model, model_path, maps);
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
  for (size_t i = 0; i < s.score.size(); ++i) {
    csv += fmt::format("{},{:.6g},{}", csv_field(loaded.files[i]), s.score[i], s.flagged[i] ? 1 : 0);
    if (classes) csv += "," + csv_field(model.class_names[static_cast<size_t>(s.predicted[i])]);
    csv += "\n";
  }
  if (out.empty() || out == "-") fmt::print("{}", csv);
  else write_file_atomic(out, csv);
  if (!maps.dir.empty()) write_maps(model, loaded, maps, kind);
}

struct TableScoreFlags {
  std::string table, id, out;
  int64_t skip_rows = 0;
  bool no_header = false;
};

// kizuki score --table: the model's feature columns of the file (by name, in any order; its
// training label and dropped columns left out where present), standardised as it trained.
void score_table(const std::string& model_path, const TableScoreFlags& f) {
  const AnomalyModel model = load_model(model_path);
  KZ_CHECK(!model.table.features.empty(), "score",
           "--table: {} was trained on images; score images with it", model_path);
  CsvOptions csv;
  csv.label = f.id;
  csv.features = model.table.features;
  csv.ignore = model.table.drop;
  csv.ignore.push_back(model.table.label);
  csv.skip_rows = f.skip_rows;
  csv.header = !f.no_header;
  const Table table = load_csv(f.table, csv);
  const AnomalyModel::Scores s = model.score(table_dataset(table));
  const bool classes = !s.predicted.empty();
  std::string out = "row";
  if (!f.id.empty()) out += "," + csv_field(f.id);
  out += classes ? ",score,flag,class\n" : ",score,flag\n";
  for (size_t i = 0; i < s.score.size(); ++i) {
    out += std::to_string(i + 1);
    if (!f.id.empty())
      out += "," + csv_field(table.class_names[static_cast<size_t>(table.labels[i])]);
    out += fmt::format(",{:.9g},{}", s.score[i], s.flagged[i] ? 1 : 0);
    if (classes) out += "," + csv_field(model.class_names[static_cast<size_t>(s.predicted[i])]);
    out += "\n";
  }
  if (f.out.empty() || f.out == "-") fmt::print("{}", out);
  else write_file_atomic(f.out, out);
}

}  // namespace

void add_model_commands(CLI::App& app, Communicator& comm) {
  auto t = std::make_shared<TrainFlags>();
  CLI::App* train_cmd = app.add_subcommand("train", "train a detector on your own image folders");
  train_cmd->add_option("--normal", t->normal,
                        "folder of normal images; with --table the normal class's label value")
      ->required();
  train_cmd->add_option("--reference", t->reference,
                        "folder of other classes, one subfolder each; with --table the "
                        "reference classes' label values");
  train_cmd->add_option("--table", t->table,
                        "a CSV table (RFC 4180, plain or gzipped) instead of image folders: "
                        "train on the rows of the --normal class")
      ->check(CLI::ExistingFile);
  train_cmd->add_option("--label", t->label, "--table: the label column's name");
  train_cmd->add_option("--drop", t->drop, "--table: comma list of columns to leave out");
  train_cmd->add_option("--skip-rows", t->skip_rows,
                        "--table: lines before the header (1 for scikit-learn's bundled files)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  train_cmd->add_flag("--no-header", t->no_header,
                      "--table: the file has no header; columns are named 0, 1, … by position");
  train_cmd->add_option("--mlp-widths", t->mlp_widths,
                        "--table: comma list of the MLP backbone's stage widths (default 64,64)");
  train_cmd->add_option("--goad-maps", t->goad_maps,
                        "--table: goad's random affine maps, M (default 256)")
      ->check(CLI::Range(int64_t{2}, int64_t{65536}));
  train_cmd->add_option("--goad-dims", t->goad_dims,
                        "--table: the dimension each of goad's maps gives, d (default 32)")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
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
  train_cmd->add_option("--epochs", t->epochs, "training epochs (default 10; --table: the table preset's 50)")->check(CLI::Range(1, 100000));
  train_cmd->add_option("--batch", t->batch, "batch size (default 32; --table: 64 rows)")->check(CLI::Range(2, 65536));
  train_cmd->add_option("--lr", t->lr, "learning rate (default 1e-3)")->check(CLI::Range(1e-12, 10.0));
  train_cmd->add_option("--seed", t->seed, "seed");
  train_cmd->add_flag("--skip-unreadable", t->skip_unreadable, "skip unreadable images with a warning");
  train_cmd->add_option("--threads", t->threads, "threads for oneDNN, OpenBLAS and kizuki")
      ->check(CLI::Range(1, 1024));
  train_cmd->add_option("--out", t->out, "model file to write (and OUT.ckpt while training)");
  train_cmd->add_flag("--resume", t->resume,
                      "continue from OUT.ckpt, the last epoch checkpoint of a stopped run "
                      "with the same settings");
  add_data_parallel_flags(train_cmd, t->data_parallel, t->sync_bn, t->bucket_mb);
  train_cmd->add_option("--inpaint", t->occlusion.inpaint,
                        "unet: also train a partial-convolution U-Net on the normal images and "
                        "keep it in the model, for `score --map-kind occlusion --inpaint unet` "
                        "(default mean: the mean normal image, always kept)");
  train_cmd->add_option("--inpaint-epochs", t->occlusion.unet.epochs,
                        "--inpaint unet: the U-Net's training epochs (default 5)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  train_cmd->add_option("--mask-size", t->occlusion.size,
                        "--inpaint unet: the occlusion square every training mask holds (default 8)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  train_cmd->callback([t, train_cmd, &comm] {
    t->epochs_given = train_cmd->count("--epochs") > 0;
    t->batch_given = train_cmd->count("--batch") > 0;
    t->lr_given = train_cmd->count("--lr") > 0;
    train(*t, comm);
  });

  auto model = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto skip = std::make_shared<bool>(false);
  auto maps = std::make_shared<MapFlags>();
  CLI::App* score_cmd = app.add_subcommand("score", "score images with a trained model (CSV)");
  score_cmd->add_option("--model", *model, "model.kz from kizuki train")->required()
      ->check(CLI::ExistingFile);
  score_cmd->add_option("images", *inputs, "image files or folders");
  auto tf = std::make_shared<TableScoreFlags>();
  score_cmd->add_option("--table", tf->table,
                        "a CSV table to score with a model trained by train --table: its rows "
                        "(output: row,[id,]score,flag)")
      ->check(CLI::ExistingFile);
  score_cmd->add_option("--id", tf->id, "--table: a column to copy into the output beside each "
                        "row's number (not a feature)");
  score_cmd->add_option("--skip-rows", tf->skip_rows, "--table: lines before the header")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  score_cmd->add_flag("--no-header", tf->no_header,
                      "--table: the file has no header; columns are named 0, 1, … by position");
  score_cmd->add_option("--out", *out, "CSV file to write (default: standard output)");
  score_cmd->add_flag("--skip-unreadable", *skip, "skip unreadable images with a warning");
  score_cmd->add_option("--maps", maps->dir,
                        "folder for one PNG per image: the image with its anomaly map over it "
                        "(any method: see --map-kind)");
  score_cmd->add_option("--map-kind", maps->kind,
                        "own (the method's: ae, vae, ssim-ae, cutpaste, adae, anogan), gradcam (embedding methods on "
                        "MobileNetV2, deepsad) or occlusion (any method); default: own, else gradcam, "
                        "else occlusion")
      ->check(CLI::IsMember({"own", "gradcam", "occlusion"}));
  score_cmd->add_option("--mask-size", maps->occlusion.size,
                        "occlusion: the square mask's side in pixels of the model's image size")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  score_cmd->add_option("--mask-stride", maps->occlusion.stride,
                        "occlusion: the mask's step in pixels (at most --mask-size)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  score_cmd->add_option("--inpaint", maps->occlusion.inpaint,
                        "occlusion: what fills the mask: mean (the mean normal training image) "
                        "or unet (the inpainter of a model trained with --inpaint unet)");
  score_cmd->callback([=] {
    if (tf->table.empty()) {
      KZ_CHECK(!inputs->empty(), "score", "give image files or folders, or --table FILE.csv");
      KZ_CHECK(tf->id.empty(), "score", "--id is for --table");
      score(*model, *inputs, *out, *skip, *maps);
      return;
    }
    KZ_CHECK(inputs->empty() && maps->dir.empty(), "score",
             "--table scores a table's rows: no images or --maps with it");
    tf->out = *out;
    score_table(*model, *tf);
  });
}

}  // namespace kz
