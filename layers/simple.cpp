// simple.cpp — the parameter-free layers (see simple.h). The math lives in
// autograd/activations.cpp and autograd/pooling.cpp.
#include "layers/simple.h"

namespace kz {

namespace {
Generator child_generator(Generator& gen) {
  const uint64_t hi = gen.next_u32(), lo = gen.next_u32();
  return Generator((hi << 32) | lo);
}
}  // namespace

Dropout::Dropout(float p, Generator& gen) : p_(p), gen_(child_generator(gen)) {
  KZ_CHECK(p >= 0.0f && p <= 1.0f, "Dropout", "p must be in [0, 1], got {}", p);
}

}  // namespace kz
