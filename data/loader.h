/// \file
/// loader.h — preprocessing a data set once, and a seeded DataLoader that serves batches of it.
///
/// Shape letters: N images in the data set, B images in a batch, C channels, OH×OW the size
/// after resizing.
///
/// The pipeline, for each image (transforms.h holds each step):
/// \code{.unparsed}
///   once per data set (prepare):  bytes → float pixels 0..255 → bilinear resize to OH×OW
///   per batch (DataLoader):       gather → grey→RGB → random crop → random flip → scaling
/// \endcode
/// The prepared (resized) images are cached in memory — (N,C,OH,OW) float, grey kept as one
/// channel until batches are made — so epochs never resize again, and several loaders (a
/// shuffled, augmented training loader and a plain one for embedding) can share one cache.
///
/// Randomness is explicit and reproducible: from the loader's seed, epoch e's order is
/// random_permutation(N, Generator(derive_seed(seed, 0, e))) and batch b of epoch e draws its
/// augmentation from Generator(derive_seed(seed, 1 + b, e)). So the same seed gives the same
/// batches whatever the prefetching, and training resumed at epoch e sees what it would have.
///
/// A background thread builds the next batch while the caller trains on the current one
/// (prefetch = true); one batch is in flight at a time.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace kz {

/// The deterministic preprocessing a model expects (saved with a trained model).
struct Preprocess {
  /// Resize to OH×OW; 0 = keep the data set's size
  ///@{
  int64_t height = 0, width = 0;
  ///@}
  bool rgb = true;                  ///< grey images replicated to 3 channels
  Scaling scaling = Scaling::unit;  ///< pixel scaling preset
};

/// Random augmentation for training batches.
struct Augment {
  bool horizontal_flip = false;  ///< mirror each image with probability 0.5
  int64_t crop_padding = 0;      ///< RandomCrop with this zero padding; 0 = off
};

/// A data set resized once: images (N,C,OH,OW) float pixel values 0..255, labels N.
struct PreparedImages {
  Tensor images;                ///< (N,C,OH,OW), 0..255
  std::vector<int64_t> labels;  ///< N
  Preprocess preprocess;        ///< what made it (the scaling is applied per batch)
};
/// Resizes every image (OpenMP over images). Throws naming data.source when it is empty.
std::shared_ptr<const PreparedImages> prepare(const ImageDataset& data, const Preprocess& pre);

/// The whole data set preprocessed, unshuffled: (N,3,OH,OW) (or (N,C,OH,OW) when !pre.rgb).
/// For embedding test sets and single images.
Tensor preprocess(const ImageDataset& data, const Preprocess& pre);

/// A 64-bit seed for stream (a, b) of `seed` (splitmix64 of the three).
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b);

/// How a DataLoader batches, shuffles and augments.
struct LoaderOptions {
  int64_t batch_size = 128;    ///< B
  bool shuffle = true;         ///< a new random order every epoch (else data-set order)
  bool drop_last = false;      ///< leave out the last, smaller batch
  uint64_t seed = 0;           ///< of the order and the augmentation (see above)
  Augment augment;             ///< none by default
  bool prefetch = true;        ///< build the next batch on a background thread
  bool channels_last = false;  ///< batches with channels-last strides (tensor.h)
  /// Data-parallel training: this loader serves shard `shard` of `shards` of every batch —
  /// images k·shards + shard of the batch one loader would serve (same order, same
  /// augmentation). With shards > 1, a last batch of fewer than `shards` images is left out.
  ///@{
  int64_t shard = 0, shards = 1;
  ///@}
};

/// One batch a DataLoader serves.
struct Batch {
  Tensor images;                 ///< (B,3,OH,OW) float, scaled
  std::vector<int64_t> labels;   ///< B
  std::vector<int64_t> indices;  ///< B positions in the data set
  int64_t global_size = 0;  ///< images of the whole batch, all shards (LoaderOptions::shards)
};

/// Seeded, prefetching batches of a prepared data set (see the file's description).
class DataLoader {
 public:
  /// Prepares (resizes) `data` itself.
  DataLoader(const ImageDataset& data, const Preprocess& pre, const LoaderOptions& options);
  /// Serves an already prepared data set (shared, not copied).
  DataLoader(std::shared_ptr<const PreparedImages> prepared, const LoaderOptions& options);
  ~DataLoader();  ///< waits for the batch in flight
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t size() const { return static_cast<int64_t>(prepared_->labels.size()); }  ///< N
  int64_t num_batches() const;  ///< per epoch (drop_last counted)
  int64_t epoch() const { return epoch_; }  ///< the current epoch, from 0
  /// The order of the current epoch (data-set positions), e.g. for a checkpoint.
  const std::vector<int64_t>& order() const { return order_; }
  const PreparedImages& prepared() const { return *prepared_; }  ///< the shared cache

  /// The next batch of the current epoch; std::nullopt when the epoch is over, after which
  /// the loader is at the start of the next epoch. Typical use:
  ///   while (auto batch = loader.next()) train_step(batch->images, batch->labels);
  std::optional<Batch> next();
  /// Starts epoch e from its first batch (e.g. when resuming from a checkpoint).
  void set_epoch(int64_t e);
  /// Batch b of epoch e, built on the calling thread (the same one next() would give).
  Batch batch(int64_t e, int64_t b) const;

 private:
  std::vector<int64_t> order_for(int64_t e) const;
  Batch make_batch(const std::vector<int64_t>& order, int64_t e, int64_t b) const;
  void start_prefetch();  ///< launches batch pos_ of epoch_ when prefetching
  void wait_pending();

  std::shared_ptr<const PreparedImages> prepared_;
  LoaderOptions options_;
  int64_t epoch_ = 0, pos_ = 0;  ///< the next batch to hand out
  std::vector<int64_t> order_;
  std::future<Batch> pending_;   ///< batch pos_ of epoch_, when prefetching
};

}  // namespace kz
