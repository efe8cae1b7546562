// The multi-task gain Δm (Maninis et al. 2019; the summary number of LibMTL's tables): the mean over tasks of the
// relative change of each task's metric against a single-task run, signed so that positive is better:
//   Δm = 100 / K · Σ_k (−1)^{l_k} (M_k − B_k) / B_k,   l_k = 1 when lower is better.
// The metric is AUC for a binary task and RMSE for a regression task; tasks the baseline lacks are left out.
//
//   std::vector<TaskReport> single = ReadBaselineReports("single_task.json");   // `mtrec eval --json` output
//   MultiTaskGain gain = ComputeMultiTaskGain(reports, single);
//   fmt::print("delta_m {:+.3f}%\n", gain.delta_m);
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "eval/evaluation.h"

namespace mtrec {

struct MultiTaskGain {
  double delta_m = 0.0;  // percent; NaN when no task could be compared
  std::vector<std::pair<std::string, double>> per_task;  // each compared task's signed relative change, percent
};

MultiTaskGain ComputeMultiTaskGain(const std::vector<TaskReport>& reports, const std::vector<TaskReport>& baseline);

// The per-task metrics of an eval JSON file; errors name the file.
std::vector<TaskReport> ReadBaselineReports(const std::string& path);

}  // namespace mtrec
