/// \file
/// lr_scheduler.h — learning-rate schedules and the scheduler that applies one to an
/// optimizer's groups.
///
/// A schedule is a pure function lr(base_lr, epoch), epoch = 0, 1, 2, … counted in calls to
/// LRScheduler::step() (per epoch or per batch, as the caller steps it). Each group's base is
/// its lr when the optimizer was built (ParamGroup::initial_lr). All four are closed forms in
/// double; they equal torch.optim.lr_scheduler's chained values up to rounding (≈1e-15):
///
/// \code{.unparsed}
///   step_lr(s, γ):             base · γ^⌊e/s⌋                                  (StepLR)
///   cosine_annealing_lr(T, η): η + (base − η)·(1 + cos(π·e/T))/2               (CosineAnnealingLR)
///   linear_lr(a, b, n):        base · (a + (b − a)·min(e, n)/n)                (LinearLR)
///   warmup_lr(w, a, after):    base · (a + (1 − a)·e/w) for e < w, then after(base, e − w)
/// \endcode
///
/// warmup_lr(w, a, after) is PyTorch's SequentialLR([LinearLR(a, 1.0, w), after],
/// milestones=[w]): a linear warm-up from a·base to base over w steps, then `after` starting
/// at its own epoch 0.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "optim/optimizer.h"

namespace kz {

/// lr(base_lr, epoch): a schedule.
using LRSchedule = std::function<double(double base_lr, int64_t epoch)>;

/// base · γ^⌊e/step_size⌋ (StepLR).
LRSchedule step_lr(int64_t step_size, double gamma = 0.1);
/// η + (base − η)·(1 + cos(π·e/T))/2 with T = t_max, η = eta_min (CosineAnnealingLR).
LRSchedule cosine_annealing_lr(int64_t t_max, double eta_min = 0.0);
/// base · (a + (b − a)·min(e, n)/n) with a, b the factors, n = total_iters (LinearLR).
LRSchedule linear_lr(double start_factor = 1.0 / 3.0, double end_factor = 1.0,
                     int64_t total_iters = 5);
/// A linear warm-up from start_factor·base to base over warmup_iters steps, then `after`.
LRSchedule warmup_lr(int64_t warmup_iters, double start_factor, LRSchedule after);

/// Sets every group's lr to schedule(initial_lr, epoch). Construction applies epoch 0 (as
/// PyTorch's schedulers do); step() advances one epoch. To resume, build the optimizer and
/// scheduler as before, load the optimizer's state, then set_epoch(saved epoch).
class LRScheduler {
 public:
  LRScheduler(Optimizer& optimizer, LRSchedule schedule);  ///< applies epoch 0
  void step() { set_epoch(epoch_ + 1); }  ///< the next epoch
  void set_epoch(int64_t epoch);  ///< applies schedule(initial_lr, epoch) to every group
  int64_t epoch() const { return epoch_; }  ///< the epoch last applied
  std::vector<double> last_lr() const;  ///< each group's current lr

 private:
  Optimizer& optimizer_;
  LRSchedule schedule_;
  int64_t epoch_ = 0;
};

}  // namespace kz
