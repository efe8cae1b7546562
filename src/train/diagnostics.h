// Multi-task diagnostics in printable and JSON form. Expert utilisation: the mean weight each gate gave each
// expert over a file (a gate that puts all its weight on a few experts, or tasks that share none, shows here).
// Task weighting: the weight each task got and how its gradient agrees with the others' (cosine < 0: conflict).
//
//   model.ResetGateUsage();
//   Predict(model, config, valid);
//   fmt::print("{}", FormatGateUsage(model.GateUsages()));
//   json["gates"] = GateUsageToJson(model.GateUsages());
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/config.h"
#include "models/model.h"
#include "train/gradient_combination.h"

namespace mtrec {

// One line per gate: "gate  expert=weight ...  effective=N of E", weights in percent. Empty without gates.
std::string FormatGateUsage(const std::vector<GateUsage>& usages);
// How many experts a gate uses: exp of the entropy of its mean weights, E when it weighs its E experts alike, 1
// when it gives one expert everything (expert collapse).
double EffectiveExperts(const GateUsage& usage);
// {"<gate>": {"<expert>": mean weight, ...}, ...}
nlohmann::ordered_json GateUsageToJson(const std::vector<GateUsage>& usages);

// The fewest measured steps whose mean gradient cosines are worth a table in the log: a cosine of one batch's
// gradients is mostly noise.
inline constexpr int64_t kMinConflictStepsShown = 10;

// Whether a conflict matrix of `tasks` tasks measured over `steps` steps is worth a table in the log.
inline bool ConflictWorthShowing(size_t tasks, int64_t steps) {
  return tasks >= 2 && steps >= kMinConflictStepsShown;
}

// Task weighting of one epoch, what of it says something: the mean coefficient of each task when the strategy
// adapts them (static weights are the config's), and the conflict matrix (mean cosine of the task gradients) as a
// table when ConflictWorthShowing says so. Empty when there is neither.
std::string FormatWeightingDiagnostics(const Config& config, const std::vector<double>& weights,
                                       const TaskMatrix& conflict, int64_t conflict_steps);
// {"strategy": ..., "task_weights": {"<task>": w}, "conflict": {"<task>": {"<task>": cos}}, "conflict_steps": n}
nlohmann::ordered_json WeightingToJson(const Config& config, const std::vector<double>& weights,
                                       const TaskMatrix& conflict, int64_t conflict_steps);

}  // namespace mtrec
