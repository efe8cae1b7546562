#include "train/task_scores.h"

#include <algorithm>
#include <utility>

#include "models/task_outputs.h"

namespace mtrec {

std::vector<TaskScores> MakeTaskScores(const Config& config, const EncodedData& data,
                                       const std::vector<std::vector<float>>& predictions,
                                       const std::vector<std::vector<float>>* conditional) {
  const TaskOutputs outputs(config);
  std::vector<TaskScores> scores;
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    TaskScores s;
    s.name = task.name;
    s.binary = task.kind == TaskKind::kBinary;
    s.predictions = predictions[k];
    s.labels = data.labels[k];
    if (k < data.oracle.size()) s.oracle = data.oracle[k];
    if (task.loss == LossKind::kPinball) s.quantile = task.quantile;
    if (k < data.naive.size()) s.naive = data.naive[k];
    s.horizon = task.horizon;
    s.value_metrics = task.loss == LossKind::kZiln;
    if (!task.treatment.empty() && k < data.treatment.size() && !data.treatment[k].empty()) {
      s.uplift = predictions[outputs.UpliftColumn(static_cast<int64_t>(k))];
      s.treatment = data.treatment[k];
      if (!task.propensity.empty()) {
        s.propensity = predictions[config.TaskIndex(task.propensity)];
        s.propensity_clip = task.propensity_clip;
      }
      if (k < data.oracle_uplift.size()) s.true_uplift = data.oracle_uplift[k];
    }
    if (!task.parent.empty()) {
      const int parent = config.TaskIndex(task.parent);
      if (task.mode == TaskMode::kMasked) s.sample_space = data.labels[parent];
      if (conditional && k < data.oracle_given_parent.size() && !data.oracle_given_parent[k].empty()) {
        s.conditional = (*conditional)[k];
        s.conditional_oracle = data.oracle_given_parent[k];
      }
    }
    scores.push_back(s);
  }
  return scores;
}

std::vector<TaskScores> MakeSampleSpaceScores(const Config& config, const EncodedData& data,
                                              const std::vector<std::vector<float>>& predictions,
                                              const std::vector<std::vector<float>>& conditional) {
  std::vector<std::pair<int, int>> pairs;  // (task, condition)
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    if (!task.parent.empty() && task.mode == TaskMode::kChain)
      pairs.emplace_back(static_cast<int>(k), config.TaskIndex(task.parent));
  }
  for (const std::string& entry : config.eval.sample_spaces) {
    const size_t bar = entry.find('|');
    const std::pair<int, int> pair = {config.TaskIndex(entry.substr(0, bar)), config.TaskIndex(entry.substr(bar + 1))};
    if (std::find(pairs.begin(), pairs.end(), pair) == pairs.end()) pairs.push_back(pair);
  }
  std::vector<TaskScores> scores;
  for (const auto& [k, condition] : pairs) {
    const TaskConfig& task = config.tasks[k];
    const bool is_parent = task.parent == config.tasks[condition].name;
    TaskScores s;
    s.name = task.name + "|" + config.tasks[condition].name;
    s.binary = task.kind == TaskKind::kBinary;
    // Conditioned on its own parent, a chain task's conditional tower is the model's answer (for other tasks
    // `conditional` equals the prediction); on another task, its own prediction is.
    s.predictions = is_parent ? conditional[k] : predictions[k];
    s.labels = data.labels[k];
    s.sample_space = data.labels[condition];
    if (is_parent && k < static_cast<int>(data.oracle_given_parent.size()) && !data.oracle_given_parent[k].empty()) {
      s.oracle = data.oracle_given_parent[k];
    }
    scores.push_back(s);
  }
  return scores;
}

}  // namespace mtrec
