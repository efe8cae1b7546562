// What EvaluateTasks measures for a model's predictions of a file: per task, the views of its predictions,
// labels, oracle and sample space (eval/evaluation.h), as the config's task graph and eval.sample_spaces say.
// Training's validation, `mtrec train`'s test metrics and `mtrec eval` build them here alike.
//
//   std::vector<std::vector<float>> conditional;
//   std::vector<std::vector<float>> predictions = Predict(model, config, data, &conditional);
//   std::vector<TaskScores> scores = MakeTaskScores(config, data, predictions, &conditional);
//   std::vector<TaskReport> reports = EvaluateTasks(scores, config.eval);
#pragma once

#include <vector>

#include "common/config.h"
#include "eval/evaluation.h"
#include "features/pipeline.h"

namespace mtrec {

// Task scores of a file for EvaluateTasks (views into `predictions`, `conditional` and `data`): masked tasks are
// measured on their parent's positives, conditional predictions against the data's oracle_given_parent column.
std::vector<TaskScores> MakeTaskScores(const Config& config, const EncodedData& data,
                                       const std::vector<std::vector<float>>& predictions,
                                       const std::vector<std::vector<float>>* conditional = nullptr);

// The sample-space evaluations "TASK|CONDITION" of a file: TASK's prediction on the rows where CONDITION's label is
// 1 — every chain task on its parent's positives (its conditional prediction p(task | parent), against the data's
// oracle_given_parent column when it has one: CVR on clicks), then the pairs of eval.sample_spaces not already
// there. Views into `predictions`, `conditional` and `data`, like MakeTaskScores.
std::vector<TaskScores> MakeSampleSpaceScores(const Config& config, const EncodedData& data,
                                              const std::vector<std::vector<float>>& predictions,
                                              const std::vector<std::vector<float>>& conditional);

}  // namespace mtrec
