/// \file
/// model_file.h — a trained anomaly detector in one file (`model.kz`), and how it is
/// trained from image folders and applied to new images.
///
/// A detector is: a trained method (anomaly/method.h) with the preprocessing its inputs
/// need; for an embedding method a scaler and scorer fitted on the normal images' features,
/// for a scoring method the name of the score it uses; and a threshold on the score.
///
/// File format: safetensors (tensor/safetensors.h), so any safetensors reader can open it.
/// \code{.unparsed}
///   tensors   "<network>.<name>"  every network's state_dict (Method::state_dict(): e.g.
///                                 "backbone.features.0.0.weight" in torchvision's names,
///                                 "head.weight", "autoencoder.encoder.0.weight")
///             "scaler.<key>", "scorer.<key>"  their fitted state (embedding methods)
///             "maps.normal_features", "maps.mean_image"  what Grad-CAM and occlusion maps
///                                 need (optional: AnomalyModel)
///             "maps.inpainter.<name>"  the inpainting U-Net of occlusion's --inpaint unet
///                                 (optional: `kizuki train --inpaint unet`; its
///                                 architecture in the config's "inpainter")
///   metadata  "format" = "kizuki-model", "format_version" = "2", and "config": one JSON
///             object {"method": the method's settings (method_options_json), "architecture":
///             Method::architecture(), "scorer", "scaler", "neighbors", "threshold",
///             "class_names"} and, when not "none", "tta" (test-time augmentation); with an
///             inpainter, "inpainter": Inpainter::architecture().
///             Scaler "center" is centring before the cosine scorer (--center).
/// \endcode
/// Version 1 (MobileNetV2 methods only, written before scoring methods existed) still loads.
/// Loading checks every piece and fails with one line naming the file and what is wrong.
///
/// Tables (`kizuki train --table`): the detector also keeps the CSV's feature column names (in
/// order), its label and dropped columns, and the standardisation of the rows it trained on
/// (data/table_split.h TableScaling: the mean and population std of the normal rows the method
/// trains on, the threshold's held-out rows excluded), so that scoring a new CSV applies the
/// same to its rows — those of the benchmark (anomaly/experiment.h) for the same training rows.
///
/// Threshold: a tenth of the normal images (at least 2) is held out; the scorer is fitted on
/// the rest and the threshold is the 95th percentile of the held-out images' scores, so
/// about 5 % of new normal images are flagged (a false-positive rate the user can read).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "anomaly/method.h"
#include "anomaly/occlusion.h"
#include "anomaly/scalers.h"
#include "anomaly/scorers.h"
#include "data/dataset.h"
#include "data/table_split.h"

namespace kz {

/// A table model's columns and standardisation (see the file's description).
struct TableColumns {
  std::vector<std::string> features;  ///< the feature columns, in the order the rows hold them
  std::string label;                  ///< the label column of the training CSV
  std::vector<std::string> drop;      ///< columns left out of the training CSV
  TableScaling scaling;               ///< of the rows the method trained on
};

/// A trained method with its scorer and threshold: what model.kz holds and `kizuki score`
/// uses (see the file's description).
struct AnomalyModel {
  std::unique_ptr<Method> method;        ///< holds the networks and preprocessing
  /// Embedding methods: "minmax"/"none" and "lof"/"cosine"/"knn" with their fitted state.
  /// Scoring methods: scaler_name "none", scorer_name one of method->score_names(), and no
  /// scaler or scorer objects.
  ///@{
  std::string scaler_name, scorer_name;
  ///@}
  int64_t neighbors = 5;                 ///< k of lof and knn
  std::string tta = "none";              ///< embed_features' augmentation (anomaly/method.h)
  std::unique_ptr<Scaler> scaler;        ///< fitted; null for scoring methods
  std::unique_ptr<Scorer> scorer;        ///< fitted; null for scoring methods
  double threshold = 0.0;                ///< score > threshold → flagged anomalous
  std::vector<std::string> class_names;  ///< the head's classes (empty without a head)
  /// For the map kinds (anomaly/map_kinds.h), saved as "maps.normal_features" and
  /// "maps.mean_image" (a file without them loads, and gives no such maps): method->embed()
  /// of the normal training images (M,F), for Grad-CAM (undefined unless the method is an
  /// embedding method on a MobileNetV2); the mean normal training image (C,H,W) at the
  /// preprocessed size, pixel values 0…255, for occlusion.
  ///@{
  Tensor normal_features, mean_image;
  ///@}
  /// The inpainting U-Net of occlusion maps with --inpaint unet (anomaly/inpainter.h),
  /// trained on the normal training images at the preprocessed size; null unless `kizuki
  /// train --inpaint unet` asked for one. Saved as "maps.inpainter.<name>".
  std::shared_ptr<const Inpainter> inpainter;
  TableColumns table;                    ///< a table model's (no features: an image model)

  /// What score() gives for a set of images.
  struct Scores {
    std::vector<double> score;        ///< per image, higher = more anomalous
    std::vector<bool> flagged;        ///< score > threshold
    std::vector<int64_t> predicted;   ///< head's argmax class per image (empty without head)
  };
  /// images: any size and channel count; they are preprocessed as the model was trained.
  /// A table model takes a table's raw rows (data/table_split.h table_dataset) of its
  /// table.features in that order, and standardises them with table.scaling first.
  Scores score(const ImageDataset& images) const;
};

/// How train_model trains a model.
struct TrainModelOptions {
  MethodOptions method;  ///< the method and its settings
  std::string scorer;  ///< empty: the method's default scorer, or its first score
  int64_t neighbors = 5;  ///< k of lof and knn
  /// Embedding methods only (anything else is refused before training): centre the features
  /// before the cosine scorer (only cosine; see anomaly/experiment.h).
  bool center = false;
  std::string tta = "none";  ///< test-time augmentation, "none" or "flip" (embedding methods)
  uint64_t seed = 0;      ///< of the threshold's hold-out and of training
  CheckpointOptions checkpoint;  ///< epoch checkpoints and resuming (anomaly/method.h)
  DataParallelOptions parallel;  ///< data-parallel training over processes (anomaly/method.h)
  /// Training on a table's rows: their columns (features, label, drop; its scaling is
  /// train_model's to compute). Required then, one feature name per feature.
  TableColumns table;
  /// inpaint "unet": an inpainter is trained on the normal training images (how:
  /// occlusion.unet, its training squares occlusion.size px) after the method, from
  /// Generator(derive_seed(seed, 7, 0)), and kept in the model. "mean": none.
  OcclusionOptions occlusion;
};

/// The normal images train_model trains on (`fit`) and those it holds out to set the
/// threshold (`held`, a tenth, at least 2), as positions in 0 … n−1 from a permutation drawn
/// from Generator(seed): held first, fit after, in the permutation's order.
struct ThresholdHoldout {
  /// positions in 0 … n−1
  ///@{
  std::vector<int64_t> fit, held;
  ///@}
};
ThresholdHoldout threshold_holdout(int64_t n, uint64_t seed);  ///< see ThresholdHoldout

/// normal: the normal images (any labels); reference: other classes, one label each, or an
/// empty data set (then only methods that learn from normal images alone can be used).
/// Either may be a table's raw rows (both then; options.table names their columns): they are
/// standardised with the fit rows' statistics, kept in the model.
AnomalyModel train_model(const ImageDataset& normal, const ImageDataset& reference,
                         const TrainModelOptions& options, const ProgressFn& progress);

void save_model(const std::string& path, const AnomalyModel& model);  ///< atomic
AnomalyModel load_model(const std::string& path);  ///< validated; errors name the file
/// The same from the file's bytes (fuzzing); errors name `name_for_errors`.
AnomalyModel parse_model(const std::string& bytes, const std::string& name_for_errors);

}  // namespace kz
