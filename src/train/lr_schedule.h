// Learning-rate schedule: the factor applied to train.lr and train.embedding_lr at each optimizer step.
// Warm-up rises linearly from 1/warmup to 1 over the first `warmup` steps; then "constant" keeps 1, while
// "cosine" and "linear" decay from 1 to `final_ratio` at the last step of the run (epochs x steps per epoch).
// Decaying the step size lets the weights settle into a minimum instead of circling it at the full rate, which
// is what the last epochs of a constant-rate run spend their time on.
//
//   LrSchedule schedule{.kind = LrScheduleKind::kCosine, .warmup = 100, .final_ratio = 0.05, .total = 2340};
//   optimizer.SetLearningRate(base_lr * schedule.Factor(step));   // step = 1, 2, ... total
#pragma once

#include <cstdint>
#include <string>

#include "common/names.h"

namespace mtrec {

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  int64_t warmup = 0;         // steps of linear warm-up
  double final_ratio = 0.0;   // factor at the last step (cosine, linear)
  int64_t total = 1;          // steps of the whole run

  // The factor of the 1-based `step`; steps past `total` keep the last factor.
  double Factor(int64_t step) const;
};

}  // namespace mtrec
