// lr_scheduler.cpp — the closed-form schedules of lr_scheduler.h and the scheduler.
#include "optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace kz {

LRSchedule step_lr(int64_t step_size, double gamma) {
  KZ_CHECK(step_size > 0, "step_lr", "step_size must be > 0, got {}", step_size);
  return [=](double base, int64_t e) {
    return base * std::pow(gamma, static_cast<double>(e / step_size));
  };
}

LRSchedule cosine_annealing_lr(int64_t t_max, double eta_min) {
  KZ_CHECK(t_max > 0, "cosine_annealing_lr", "t_max must be > 0, got {}", t_max);
  return [=](double base, int64_t e) {
    const double c = std::cos(std::numbers::pi * static_cast<double>(e) /
                              static_cast<double>(t_max));
    return eta_min + (base - eta_min) * (1.0 + c) / 2.0;
  };
}

LRSchedule linear_lr(double start_factor, double end_factor, int64_t total_iters) {
  KZ_CHECK(start_factor > 0.0 && start_factor <= 1.0, "linear_lr",
           "start_factor must be in (0, 1], got {}", start_factor);
  KZ_CHECK(end_factor >= 0.0 && end_factor <= 1.0, "linear_lr",
           "end_factor must be in [0, 1], got {}", end_factor);
  KZ_CHECK(total_iters > 0, "linear_lr", "total_iters must be > 0, got {}", total_iters);
  return [=](double base, int64_t e) {
    const double done = static_cast<double>(std::min(e, total_iters)) /
                        static_cast<double>(total_iters);
    return base * (start_factor + (end_factor - start_factor) * done);
  };
}

LRSchedule warmup_lr(int64_t warmup_iters, double start_factor, LRSchedule after) {
  KZ_CHECK(warmup_iters > 0, "warmup_lr", "warmup_iters must be > 0, got {}", warmup_iters);
  KZ_CHECK(after != nullptr, "warmup_lr", "the schedule after the warm-up is empty");
  LRSchedule warm = linear_lr(start_factor, 1.0, warmup_iters);
  return [=](double base, int64_t e) {
    return e < warmup_iters ? warm(base, e) : after(base, e - warmup_iters);
  };
}

LRScheduler::LRScheduler(Optimizer& optimizer, LRSchedule schedule)
    : optimizer_(optimizer), schedule_(std::move(schedule)) {
  KZ_CHECK(schedule_ != nullptr, "LRScheduler", "the schedule is empty");
  set_epoch(0);
}

void LRScheduler::set_epoch(int64_t epoch) {
  KZ_CHECK(epoch >= 0, "LRScheduler", "epoch must be >= 0, got {}", epoch);
  epoch_ = epoch;
  for (ParamGroup& group : optimizer_.param_groups())
    group.lr = schedule_(group.initial_lr, epoch_);
}

std::vector<double> LRScheduler::last_lr() const {
  std::vector<double> out;
  for (const ParamGroup& group : optimizer_.param_groups()) out.push_back(*group.lr);
  return out;
}

}  // namespace kz
