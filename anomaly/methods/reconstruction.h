/// \file
/// reconstruction.h — what the reconstruction methods (ae, vae, ssim-ae) share: a
/// convolutional network over the normal training images alone (layers/conv_autoencoder.h),
/// trained with Adam or SGD on a loss of each method's, then scoring images by how badly it
/// reconstructs them and mapping where.
///
/// Shapes: N images, C channels (3 when the preprocessing makes RGB, else the data's own),
/// H×H the preprocessed size; scores (N); maps (N,H,H).
///
/// The images enter with the preprocessing's pixel scaling; the presets use "unit" (pixels
/// in [0, 1]), which the decoders' sigmoid outputs match. The network is saved as
/// "autoencoder" (its parameters "autoencoder.encoder.features.0.weight", …), and
/// architecture() records C, H, d and the stage widths.
///
/// A method whose takes_tables() is true (ae) also trains on a table's rows (N,F): its
/// network is then the MlpAutoencoder of options.mlp_widths (layers/mlp_autoencoder.h), saved
/// as "autoencoder" too ("autoencoder.encoder.0.0.weight", …); the same loss and scores, no
/// maps (a row has no pixels). The others refuse a table.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "anomaly/training.h"
#include "layers/conv_autoencoder.h"
#include "layers/mlp_autoencoder.h"

namespace kz {

/// The base of ae, vae and ssim-ae (see the file's description).
class ReconstructionMethod : public TrainedMethod {
 public:
  MethodKind kind() const override { return MethodKind::scoring; }
  /// True, but false once trained on a table.
  bool gives_maps() const override { return !table_; }
  /// Builds the network (random from seed) and trains it on split.normal_train (a table's
  /// rows only where takes_tables()).
  void train(const BenchmarkSplit& split, uint64_t seed, const ProgressFn& progress) override;
  std::vector<Tensor> score(const ImageDataset& data) const override;
  AnomalyMaps maps(const ImageDataset& data) const override;
  std::vector<NamedNetwork> networks() const override;
  /// {"channels", "image_size", "latent_dim", "widths"}; on a table
  /// {"network": "mlp_autoencoder", "in_features", "widths", "bn_eps"}.
  nlohmann::json architecture() const override;
  void build_untrained(const nlohmann::json& architecture) override;

 protected:
  using TrainedMethod::TrainedMethod;
  /// Whether the method trains on tables, with the MlpAutoencoder (default: no).
  virtual bool takes_tables() const { return false; }
  /// The method's network for these options.
  virtual std::shared_ptr<Module> make_network(const ConvAutoencoderOptions& o,
                                               Generator& gen) const = 0;
  /// The training loss of a batch x (N,C,H,H), training mode; gen draws what the loss samples
  /// (seeded per batch, so a resumed run draws the same).
  virtual Variable batch_loss(const Tensor& x, Generator& gen) const = 0;
  /// One (N) vector per score_names() entry, and the maps, of a batch; eval mode, no
  /// gradients. `first` is the batch's first image's index in the data set (for sampling that
  /// must give the same values on every call).
  ///@{
  virtual std::vector<Tensor> batch_scores(const Tensor& x, int64_t first) const = 0;
  virtual AnomalyMaps batch_maps(const Tensor& x) const = 0;
  ///@}

  /// Applies f to the preprocessed data set in chunks of 256 images, eval mode, no gradients.
  template <class F>
  void for_chunks(const ImageDataset& data, F&& f) const;

  ConvAutoencoderOptions net_options_;  ///< the network's architecture (images)
  std::shared_ptr<Module> net_;         ///< the network, "autoencoder"
  /// The table's network (the same object as net_), null for images.
  std::shared_ptr<MlpAutoencoder> table_;
};

}  // namespace kz
