// The training history: one record per epoch (or per partition of a stream) (train losses, validation reports, the early-stopping score, task
// weighting diagnostics, Δm), kept in checkpoints and model files as JSON and drawn by the report.
//
//   file.Add("history", HistoryToJson(trainer.state().history));
//   std::vector<EpochRecord> history = HistoryFromJson(std::string(file.Get("history")));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/evaluation.h"
#include "train/gradient_combination.h"

namespace mtrec {

struct EpochRecord {
  int64_t epoch = 0;
  std::vector<double> train_loss;               // per task, mean over the epoch
  std::vector<TaskReport> valid;                // per task; empty without validation data
  double monitor = 0.0;                         // the early-stopping score of this epoch (NaN without one)
  // Task weighting diagnostics: the mean coefficient each task's gradient got on the shared parameters, and the
  // mean pairwise cosine of the task gradients over the steps where they were measured (empty when none were).
  std::vector<double> task_weights;
  TaskMatrix conflict;
  int64_t conflict_steps = 0;
  double delta_m = 0.0;                         // multi-task gain against train.baseline, percent (NaN without)
  // A stream's record (`mtrec train --follow`): the partition file trained on; `valid` then holds the
  // progressive validation, the partition scored before training on it. Empty for an epoch.
  std::string partition;
};

std::string HistoryToJson(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> HistoryFromJson(const std::string& text);

}  // namespace mtrec
