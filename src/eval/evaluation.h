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
  // A masked task is measured where its parent's label is 1 (CVR on clicks): when not empty, other rows are left out.
  std::span<const float> sample_space;
  // A task with a parent: its prediction of p(task | parent) on every row, and the truth of it (simulated data).
  // With both, cond_mae and cond_auc (SoftAuc against the truth) measure it over every row.
  std::span<const float> conditional;
  std::span<const float> conditional_oracle;
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
// The reports of ReportsToJson(...)["tasks"]; a task is binary when it has an AUC. `what` names the source in errors.
std::vector<TaskReport> ReportsFromJson(const nlohmann::ordered_json& tasks, const std::string& what);

}  // namespace mtrec
