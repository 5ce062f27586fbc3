// storage.cpp — the caching allocator behind Storage (see storage.h).
#include "tensor/storage.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace kz {
namespace {

// Sizes are rounded so that nearby sizes share buckets: to 512 bytes below 1 MiB, else to
// 1/16 of the next power of two (at most ~6% waste).
size_t round_bytes(size_t bytes) {
  if (bytes < (1u << 20)) return std::max<size_t>(64, (bytes + 511) / 512 * 512);
  size_t p = 1;
  while (p < bytes) p <<= 1;
  const size_t step = p / 16;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::map<size_t, std::vector<void*>> free_lists;
  StorageCacheStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may die during static teardown
  return *c;
}

}  // namespace

Storage::Storage(int64_t numel) : numel_(numel) {
  bytes_ = round_bytes(static_cast<size_t>(std::max<int64_t>(numel, 1)) * sizeof(float));
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_lists.find(bytes_);
    if (it != c.free_lists.end() && !it->second.empty()) {
      data_ = static_cast<float*>(it->second.back());
      it->second.pop_back();
      c.stats.bytes_cached -= bytes_;
    } else {
      ++c.stats.system_allocations;
    }
    c.stats.bytes_in_use += bytes_;
    c.stats.peak_bytes_in_use = std::max(c.stats.peak_bytes_in_use, c.stats.bytes_in_use);
  }
  if (!data_) {
    data_ = static_cast<float*>(std::aligned_alloc(64, bytes_));
    if (!data_) {
      storage_cache_release();
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes_));
    }
    if (!data_) throw std::bad_alloc();
  }
}

Storage::~Storage() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free_lists[bytes_].push_back(data_);
  c.stats.bytes_in_use -= bytes_;
  c.stats.bytes_cached += bytes_;
}

StorageCacheStats storage_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void storage_cache_release() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [bytes, list] : c.free_lists) {
    for (void* p : list) std::free(p);
    c.stats.bytes_cached -= static_cast<int64_t>(bytes * list.size());
    list.clear();
  }
}

}  // namespace kz
