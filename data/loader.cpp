// loader.cpp — prepare(), preprocess() and the prefetching DataLoader (see loader.h).
#include "data/loader.h"

#include <cstring>

#include "tensor/ops.h"

namespace kz {

std::shared_ptr<const PreparedImages> prepare(const ImageDataset& data, const Preprocess& pre) {
  KZ_CHECK(pre.height >= 0 && pre.width >= 0 && (pre.height == 0) == (pre.width == 0),
           "prepare", "{}: resize to {}x{} (give both sizes, or neither)", data.source,
           pre.height, pre.width);
  KZ_CHECK(data.size() > 0, "prepare", "{}: the data set is empty", data.source);
  KZ_CHECK(!data.table || pre.height == 0 || (pre.height == 1 && pre.width == 1), "prepare",
           "{}: a table's rows cannot be resized to {}x{} (this method needs images)",
           data.source, pre.height, pre.width);
  KZ_CHECK(data.table ||
               static_cast<int64_t>(data.pixels.size()) == data.size() * data.image_numel(),
           "prepare", "{}: {} pixel bytes for {} images of ({}, {}, {})", data.source,
           data.pixels.size(), data.size(), data.channels, data.height, data.width);
  auto out = std::make_shared<PreparedImages>();
  out->labels = data.labels;
  out->preprocess = pre;
  const int64_t n = data.size(), c = data.channels, h = data.height, w = data.width;
  if (pre.height == 0 || (pre.height == h && pre.width == w)) {
    out->images = data.to_tensor();
    return out;
  }
  const int64_t oh = pre.height, ow = pre.width;
  out->images = Tensor::empty({n, c, oh, ow});
  float* dst = out->images.data();
#pragma omp parallel
  {
    std::vector<float> plane(static_cast<size_t>(h * w));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < n * c; ++p) {  // one (image, channel) plane at a time
      const uint8_t* src = data.pixels.data() + p * h * w;
      for (int64_t j = 0; j < h * w; ++j) plane[static_cast<size_t>(j)] = src[j];
      resize_bilinear_plane(plane.data(), h, w, dst + p * oh * ow, oh, ow);
    }
  }
  return out;
}

Tensor preprocess(const ImageDataset& data, const Preprocess& pre) {
  auto prepared = prepare(data, pre);
  Tensor x = pre.rgb ? grey_to_rgb(prepared->images) : prepared->images;
  scale_pixels_(x, pre.scaling);  // in place: this cache is our own
  return x;
}

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) {
  // splitmix64 finaliser over the three words in turn.
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ a) ^ b);
}

DataLoader::DataLoader(const ImageDataset& data, const Preprocess& pre,
                       const LoaderOptions& options)
    : DataLoader(prepare(data, pre), options) {}

DataLoader::DataLoader(std::shared_ptr<const PreparedImages> prepared,
                       const LoaderOptions& options)
    : prepared_(std::move(prepared)), options_(options) {
  KZ_CHECK(prepared_ && prepared_->images.defined(), "DataLoader", "no prepared images");
  KZ_CHECK(options_.batch_size > 0, "DataLoader", "batch_size {} must be positive",
           options_.batch_size);
  KZ_CHECK(options_.augment.crop_padding >= 0, "DataLoader",
           "crop_padding {} must not be negative", options_.augment.crop_padding);
  KZ_CHECK(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards,
           "DataLoader", "shard {} of {} does not exist", options_.shard, options_.shards);
  KZ_CHECK(options_.batch_size >= options_.shards, "DataLoader",
           "a batch of {} images cannot be shared by {} processes (one image each at least)",
           options_.batch_size, options_.shards);
  order_ = order_for(0);
  start_prefetch();
}

DataLoader::~DataLoader() { wait_pending(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = size(), b = options_.batch_size;
  const bool drop = options_.drop_last || (options_.shards > 1 && n % b < options_.shards);
  return drop ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::order_for(int64_t e) const {
  if (options_.shuffle) {
    Generator gen(derive_seed(options_.seed, 0, static_cast<uint64_t>(e)));
    return random_permutation(size(), gen);
  }
  std::vector<int64_t> order(static_cast<size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) order[static_cast<size_t>(i)] = i;
  return order;
}

Batch DataLoader::make_batch(const std::vector<int64_t>& order, int64_t e, int64_t b) const {
  const Tensor& all = prepared_->images;
  const int64_t start = b * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, size() - start);
  const int64_t c = all.size(1), oh = all.size(2), ow = all.size(3), numel = c * oh * ow;
  Batch batch;
  Tensor x = Tensor::empty({count, c, oh, ow});
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = order[static_cast<size_t>(start + k)];
    std::memcpy(x.data() + k * numel, all.data() + i * numel,
                static_cast<size_t>(numel) * sizeof(float));
    batch.indices.push_back(i);
    batch.labels.push_back(prepared_->labels[static_cast<size_t>(i)]);
  }
  if (prepared_->preprocess.rgb) x = grey_to_rgb(x);
  const Augment& aug = options_.augment;
  if (aug.crop_padding > 0 || aug.horizontal_flip) {
    Generator gen(derive_seed(options_.seed, 1 + static_cast<uint64_t>(b),
                              static_cast<uint64_t>(e)));
    if (aug.crop_padding > 0) x = random_crop(x, aug.crop_padding, gen);
    if (aug.horizontal_flip) x = random_horizontal_flip(x, gen);
  }
  scale_pixels_(x, prepared_->preprocess.scaling);
  batch.global_size = count;
  if (options_.shards > 1) {  // this shard's images: k·shards + shard
    std::vector<int64_t> rows;
    Batch shard;
    for (int64_t k = options_.shard; k < count; k += options_.shards) {
      rows.push_back(k);
      shard.labels.push_back(batch.labels[static_cast<size_t>(k)]);
      shard.indices.push_back(batch.indices[static_cast<size_t>(k)]);
    }
    x = index_select0(x, rows);
    shard.global_size = count;
    batch = std::move(shard);
  }
  batch.images = options_.channels_last ? x.to_channels_last() : x;
  return batch;
}

Batch DataLoader::batch(int64_t e, int64_t b) const {
  KZ_CHECK(e >= 0 && b >= 0 && b < num_batches(), "DataLoader",
           "batch {} of epoch {} does not exist ({} batches per epoch)", b, e, num_batches());
  return make_batch(e == epoch_ ? order_ : order_for(e), e, b);
}

void DataLoader::start_prefetch() {
  if (!options_.prefetch || pos_ >= num_batches()) return;
  // order_ is not touched while a batch is in flight (set_epoch and next() wait first).
  pending_ = std::async(std::launch::async,
                        [this, e = epoch_, b = pos_] { return make_batch(order_, e, b); });
}

void DataLoader::wait_pending() {
  if (pending_.valid()) pending_.wait();
}

std::optional<Batch> DataLoader::next() {
  if (pos_ >= num_batches()) {  // the epoch is over: move to the next one
    set_epoch(epoch_ + 1);
    return std::nullopt;
  }
  Batch batch = pending_.valid() ? pending_.get() : make_batch(order_, epoch_, pos_);
  ++pos_;
  start_prefetch();
  return batch;
}

void DataLoader::set_epoch(int64_t e) {
  KZ_CHECK(e >= 0, "DataLoader", "epoch {} must not be negative", e);
  if (e == epoch_ && pos_ == 0) return;  // already there (and maybe prefetching)
  wait_pending();
  pending_ = {};
  epoch_ = e;
  pos_ = 0;
  order_ = order_for(e);
  start_prefetch();
}

}  // namespace kz
