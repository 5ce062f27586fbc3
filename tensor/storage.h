/// \file
/// storage.h — the memory behind tensors: one 64-byte-aligned float buffer, shared by
/// every view of it.
///
/// Buffers come from a caching allocator: a freed buffer is kept in a free list keyed by
/// its rounded size and handed to the next request of that size, so a training loop that
/// allocates the same activations every step stops calling malloc/free (glibc returning
/// large buffers to the kernel each step costs PyTorch up to 5x; DESIGN.md §4). The cache
/// changes no results; `storage_cache_release()` returns its memory to the system.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kz {

/// One 64-byte-aligned buffer of floats from the cache; not copyable (tensors share it).
class Storage {
 public:
  explicit Storage(int64_t numel);  ///< uninitialised floats
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() { return data_; }              ///< the first float
  const float* data() const { return data_; }  ///< the first float
  int64_t numel() const { return numel_; }     ///< floats asked for (the capacity may be more)

 private:
  float* data_ = nullptr;
  int64_t numel_ = 0;
  size_t bytes_ = 0;  ///< rounded capacity, the cache key
};

/// The caching allocator's counters, in bytes of rounded capacity.
struct StorageCacheStats {
  int64_t bytes_in_use = 0;     ///< held by live tensors
  int64_t bytes_cached = 0;     ///< freed, kept for reuse
  int64_t peak_bytes_in_use = 0;  ///< the most bytes_in_use so far
  int64_t system_allocations = 0;  ///< calls that reached the system allocator
};
StorageCacheStats storage_cache_stats();  ///< the counters now
void storage_cache_release();  ///< free every cached (unused) buffer

}  // namespace kz
