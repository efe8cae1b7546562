// Which of a model's output columns each task owns, and what it predicts from them. Most tasks own one column (a
// logit, log μ or a value: models/output_link.h). A ziln task owns three (models/ziln.h). A task with a treatment
// owns its columns once per arm, control then treated, each arm with its own tower over the shared body (TARNet,
// Shalit et al. 2017). A chain task with counterfactual = "dr" owns one more, after its own: its imputation tower's
// logit (train/counterfactual.h), trained but never predicted. The architectures are built from HeadsConfig, in
// which every output column is a task of its own, so each column gets its tower (and its gate) as any task does,
// and a config without ziln, treatment or dr tasks builds the very same model as before.
//
//   const TaskOutputs outputs(config);
//   std::unique_ptr<Model> model = CreateModel(config, layout, max_batch);  // outputs.columns() columns
//   const float* revenue = row + outputs.first(k);                          // task k's columns of one output row
//   outputs.Predict(row, treatment_of_row, dst);                            // one row's prediction columns
//   outputs.names()                    // "converted", "revenue", ..., "revenue_q90", "converted_uplift", ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "models/output_link.h"

namespace mtrec {

// The config the architectures are built from: config.tasks replaced by one task per output column. A task with
// one column stays as it is; the columns of the others are named "<task>[.control|.treated][.purchase|.mu|.sigma]",
// with neither a parent nor a loss of their own. A dr task stays as it is, followed by "<task>.imputation".
Config HeadsConfig(const Config& config);

class TaskOutputs {
 public:
  // What a prediction column holds.
  enum class What : uint8_t {
    kValue,     // the task's prediction for the row's arm (control where the treatment is missing)
    kQuantile,  // a ziln task's quantile, for the row's arm
    kUplift,    // the treated arm's prediction minus the control arm's
    kTreated,
    kControl,
  };
  struct Column {
    std::string name;
    int64_t task = 0;
    What what = What::kValue;
    double quantile = 0;  // kQuantile
  };

  explicit TaskOutputs(const Config& config);

  int64_t columns() const { return columns_; }  // the model's output columns
  int64_t first(int64_t task) const { return tasks_[task].first; }
  int64_t arm_width(int64_t task) const { return tasks_[task].arm_width; }  // 1, or kZilnColumns
  bool has_treatment(int64_t task) const { return tasks_[task].arms == 2; }
  // Every column of task k: its arms' and a dr task's imputation column.
  int64_t width(int64_t task) const {
    return tasks_[task].arm_width * tasks_[task].arms + (tasks_[task].imputation ? 1 : 0);
  }
  // A dr task's imputation column; -1 for the others.
  int64_t imputation_column(int64_t task) const {
    const Task& t = tasks_[task];
    return t.imputation ? t.first + t.arm_width * t.arms : -1;
  }
  // Whether every task owns exactly one column (no ziln, no treatment, no imputation): output column k is task k.
  bool one_per_task() const { return columns_ == static_cast<int64_t>(tasks_.size()); }

  // The prediction columns: the tasks' predictions in task order (column k is task k's), then the extras: each
  // ziln task's quantiles, each treated task's uplift, treated and control predictions.
  const std::vector<Column>& prediction_columns() const { return prediction_columns_; }
  std::vector<std::string> names() const;
  // The prediction column of a treated task's uplift; -1 for a task without a treatment.
  int64_t UpliftColumn(int64_t task) const;

  // The first output column of the arm task k predicts a row with treatment value `treatment` from: the treated
  // arm's for 1, the control arm's (the task's first column) for anything else, NaN included.
  int64_t ArmColumn(int64_t task, float treatment) const {
    const Task& t = tasks_[task];
    return t.first + (t.arms == 2 && treatment == 1.f ? t.arm_width : 0);
  }
  // Task k's prediction from its arm's columns `arm_outputs` (a probability, an expected value...).
  double ArmValue(int64_t task, const float* arm_outputs) const;
  // Prediction column c of one row: `outputs` is the row's model outputs, `treatment` its treatment value for the
  // column's task (NaN, or anything but 1: control; ignored by tasks without one).
  double Predict(size_t c, const float* outputs, float treatment) const;

 private:
  struct Task {
    int64_t first = 0;
    int64_t arm_width = 1;
    int64_t arms = 1;
    OutputLink link = OutputLink::kIdentity;
    bool ziln = false;
    bool imputation = false;
  };
  std::vector<Task> tasks_;
  std::vector<Column> prediction_columns_;
  int64_t columns_ = 0;
};

}  // namespace mtrec
