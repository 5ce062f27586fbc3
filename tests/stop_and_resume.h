// stop_and_resume.h — the check every trained method's resume gets: a training stopped at a
// given batch (an exception from the progress callback: the "kill" of an in-process run) and
// then resumed from its checkpoint must end with the weights of a run never stopped, bit for
// bit.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "anomaly/method.h"
#include "data/split.h"

namespace kz::test {

struct Stop {};  ///< thrown from a progress callback to stop a training

/// Trains a method of options `o` on `split` (seed 5) with checkpoints at `ckpt`, stopped at
/// batch `stop_batch` of epoch `stop_epoch` (0-based), then again with resume; checks that the
/// resumed run took up at `stop_epoch` (the finished epochs were not run again) and returns
/// its final weights. `ckpt` is removed first, and left holding the finished run.
inline StateDict stop_and_resume(const BenchmarkSplit& split, const MethodOptions& o,
                                 int64_t stop_epoch, int64_t stop_batch,
                                 const std::string& ckpt) {
  std::filesystem::remove(ckpt);
  {
    std::unique_ptr<Method> m = make_method(o);
    m->set_checkpoint({ckpt, true});
    CHECK_THROWS_AS(m->train(split, 5,
                             [&](const TrainProgress& p) {
                               if (p.epoch == stop_epoch && p.batch == stop_batch) throw Stop{};
                             }),
                    Stop);
  }
  CHECK(std::filesystem::exists(ckpt) == (stop_epoch > 0));
  std::unique_ptr<Method> m = make_method(o);
  m->set_checkpoint({ckpt, true});
  int64_t first_epoch = -1;
  m->train(split, 5, [&](const TrainProgress& p) {
    if (first_epoch < 0) first_epoch = p.epoch;
  });
  CHECK(m->resumed_epochs() == stop_epoch);
  CHECK(first_epoch == stop_epoch);
  return m->state_dict();
}

/// Checks that two state dicts hold the same keys with bit-identical values.
inline void check_same_state(const StateDict& a, const StateDict& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& entry : a) {
    const std::string key = entry.first;  // CAPTURE of a structured binding: not in clang 14
    CAPTURE(key);
    REQUIRE(b.count(key) == 1);
    CHECK(entry.second.to_vector() == b.at(key).to_vector());
  }
}

}  // namespace kz::test
