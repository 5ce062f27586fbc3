// channel_sums.h — per-channel sums over channels-last data, the reduction the fused batch
// norm kernels share (tensor/batch_norm.cpp, tensor/conv_bn_relu6.cpp). Internal to
// tensor/: header-only, because the summed terms are a lambda inlined into the loop.
//
// Channels-last (N,C,H,W) data is a row-major (M, C) matrix, M = N·H·W rows of C channels:
// the inner loop runs over the channels (vectorised), threads split the rows. Sums are taken
// in float over blocks of kBlockRows rows, then added up in double.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kz {

inline constexpr int64_t kBlockRows = 64;
inline constexpr int64_t kSerialBelow = 1 << 15;  // elements; fewer run on one thread

// One block of rows [r0, r1) and one chunk of kChunk channels from j0: the two terms of each
// element (f(i, j) for element i = r·C + j of channel j) summed down the rows in registers,
// so that no partial sum passes through memory from one row to the next; the block's rows
// stay in L1 from one chunk to the next.
template <int64_t kChunk, class Terms>
void chunk_sums(const Terms& f, int64_t r0, int64_t r1, int64_t channels, int64_t j0,
                double* t1, double* t2) {
  float a1[kChunk] = {}, a2[kChunk] = {};
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t jj = 0; jj < kChunk; ++jj) {
      const auto [u, v] = f(r * channels + j0 + jj, j0 + jj);
      a1[jj] += u;
      a2[jj] += v;
    }
  for (int64_t jj = 0; jj < kChunk; ++jj) t1[j0 + jj] += a1[jj], t2[j0 + jj] += a2[jj];
}

// Per-channel sums of two terms over the M rows of (M,C) data: f(i, j) returns the pair
// for element i = r·C + j (channel j); the double totals go to s1, s2. f is called once per
// element (it may also write element i somewhere). Threads split the blocks of kBlockRows
// rows; chunks of 32 channels (2 AVX-512 registers per sum), then 8, then 1, cover any C.
template <class Terms>
void channel_sums(int64_t rows, int64_t channels, const Terms& f, std::vector<double>& s1,
                  std::vector<double>& s2) {
  const auto c = static_cast<size_t>(channels);
  s1.assign(c, 0.0);
  s2.assign(c, 0.0);
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
#pragma omp parallel if (rows * channels >= kSerialBelow)
  {
    std::vector<double> t1(c, 0.0), t2(c, 0.0);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t r0 = b * kBlockRows, r1 = std::min(rows, r0 + kBlockRows);
      int64_t j = 0;
      for (; j + 32 <= channels; j += 32) chunk_sums<32>(f, r0, r1, channels, j, t1.data(), t2.data());
      for (; j + 8 <= channels; j += 8) chunk_sums<8>(f, r0, r1, channels, j, t1.data(), t2.data());
      for (; j < channels; ++j) chunk_sums<1>(f, r0, r1, channels, j, t1.data(), t2.data());
    }
#pragma omp critical
    for (size_t k = 0; k < c; ++k) s1[k] += t1[k], s2[k] += t2[k];
  }
}

}  // namespace kz
