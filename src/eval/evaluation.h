// Per-task evaluation of predictions: the metrics of each task (binary or regression), the same metrics of the
// oracle column beside them when the data has one, a printable table and the JSON of `mtrec eval --json`:
// {"tasks": {"<task>": {"auc": ..., "logloss": ..., ...}}, "rows": N}.
//
//   std::vector<TaskScores> scores = {{"click", true, predictions[0], labels[0], oracle[0]}};
//   std::vector<TaskReport> reports = EvaluateTasks(scores, /*threshold=*/0.5);
//   fmt::print("{}", FormatMetricTable(reports));
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace mtrec {

struct TaskScores {
  std::string name;
  bool binary = true;
  std::span<const float> predictions;  // probabilities for binary tasks
  std::span<const float> labels;       // NaN = missing
  std::span<const float> oracle;       // empty when there is no oracle column
};

struct TaskReport {
  std::string name;
  bool binary = true;
  std::vector<std::pair<std::string, double>> metrics;  // in display order; oracle_* keys for the oracle

  double Get(const std::string& key) const;  // NaN when absent
};

std::vector<TaskReport> EvaluateTasks(const std::vector<TaskScores>& tasks, double threshold);
std::string FormatMetricTable(const std::vector<TaskReport>& reports);
nlohmann::ordered_json ReportsToJson(const std::vector<TaskReport>& reports, int64_t rows);

}  // namespace mtrec
