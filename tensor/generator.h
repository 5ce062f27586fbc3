/// \file
/// generator.h — kizuki's random numbers: PCG32 (O'Neill 2014, "PCG-XSH-RR 64/32").
///
/// State: a 64-bit LCG, state' = state * 6364136223846793005 + inc (inc odd). Output: the
/// xorshift-high/random-rotate of the old state, 32 bits. Seeding follows the reference
/// pcg32_srandom_r(seed, stream). Everything is integer arithmetic in a fixed order, so the
/// same seed gives the same numbers on every machine, compiler and thread count: kernels
/// never draw in parallel. Generators are passed explicitly; there is no global one.
/// \code{.unparsed}
///   uniform(): (next_u32() >> 8) * 2^-24, in [0, 1) with 24 random bits.
///   normal():  Box–Muller on two uniforms (the first mapped to (0, 1]), cached pair.
/// \endcode
#pragma once

#include <cstdint>
#include <vector>

namespace kz {

/// A PCG32 random number generator; pass one to everything that draws.
class Generator {
 public:
  /// Seeded as pcg32_srandom_r(seed, stream); generators of different streams are independent.
  explicit Generator(uint64_t seed = 0, uint64_t stream = 54);

  uint32_t next_u32();                 ///< the next 32 random bits
  float uniform();                     ///< [0, 1)
  float uniform(float low, float high);  ///< [low, high)
  float normal();                      ///< mean 0, std 1
  uint64_t below(uint64_t n);          ///< uniform integer in [0, n), unbiased

  /// The whole state, to save in checkpoints and restore exactly.
  struct State {
    /// The LCG's state and increment (odd).
    ///@{
    uint64_t state, inc;
    ///@}
    bool has_spare;       ///< whether normal() has the second value of a pair cached
    float spare;          ///< that value
  };
  /// A copy of the state.
  State get_state() const { return {state_, inc_, has_spare_, spare_}; }
  void set_state(const State& s);  ///< continues exactly where get_state() was taken

 private:
  uint64_t state_ = 0, inc_ = 0;
  bool has_spare_ = false;
  float spare_ = 0.0f;
};

/// Fisher–Yates shuffle of 0..n-1 with `gen`.
std::vector<int64_t> random_permutation(int64_t n, Generator& gen);

}  // namespace kz
