// Permutation importance per task (`mtrec eval --importance`, eval.importance): each model input feature in turn
// has its encoded values shuffled across the rows of the evaluated file, the model predicts again, and each task's
// headline metric is compared with the unshuffled one: the drop of AUC for a binary task, the rise of RMSE for a
// regression task. A feature the model does not use scores about 0; below 0 is noise.
//
//   EncodedData data = loaded.pipeline->Encode(table);
//   std::vector<TaskImportance> importance = PermutationImportance(loaded, data, config.train.seed);
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "eval/html_report.h"
#include "features/pipeline.h"
#include "io/model_io.h"

namespace mtrec {

struct TaskImportance {
  std::string task;
  std::string metric;  // "auc" (binary: importance = its drop) or "rmse" (regression: importance = its rise)
  double base = 0.0;   // the metric with no feature shuffled
  std::vector<std::pair<std::string, double>> features;  // (feature, importance), most important first
};

// One shuffle per feature, seeded by `seed` and the feature's position; the encoded values move as a whole (a
// numeric value with its missing flag, a multi-valued field with all its ids), so the shuffled column keeps its
// distribution. `data` is shuffled in place and restored before returning; predictions only, no re-encoding.
std::vector<TaskImportance> PermutationImportance(LoadedModel& loaded, EncodedData& data, uint64_t seed);

std::string FormatImportance(const std::vector<TaskImportance>& importance);
// {"<task>": {"metric": "auc", "base": 0.78, "importance": {"<feature>": 0.05, ...}}, ...}, features sorted.
nlohmann::ordered_json ImportanceToJson(const std::vector<TaskImportance>& importance);
ReportSection ImportanceSection(const std::vector<TaskImportance>& importance);

}  // namespace mtrec
