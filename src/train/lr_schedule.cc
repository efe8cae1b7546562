#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/error.h"

namespace mtrec {

double LrSchedule::Factor(int64_t step) const {
  step = std::clamp<int64_t>(step, 1, std::max<int64_t>(total, 1));
  if (step <= warmup) return static_cast<double>(step) / static_cast<double>(warmup);
  if (kind == LrScheduleKind::kConstant) return 1.0;
  // Progress through the decay: 0 at the first step after warm-up, 1 at the last step of the run (a run of
  // one step after warm-up takes it at the full rate).
  const int64_t decay_steps = total - warmup - 1;
  const double t = decay_steps > 0 ? static_cast<double>(step - warmup - 1) / static_cast<double>(decay_steps) : 0.0;
  const double shape = kind == LrScheduleKind::kCosine ? 0.5 * (1.0 + std::cos(std::numbers::pi * t)) : 1.0 - t;
  return final_ratio + (1.0 - final_ratio) * shape;
}

}  // namespace mtrec
