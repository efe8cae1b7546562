// An exponential moving average of a model's weights over the training steps (train.ema_decay). Validation,
// early stopping and the saved model use the average instead of the last step's weights: the last steps of a
// run move the weights around a minimum with the noise of their mini-batches, and the average sits nearer its
// centre.
//
// The average after step t is sum_i (1 - d) d^(t - i) w_i / (1 - d^t) over the steps i = 1..t (bias-corrected,
// so the first steps are not pulled towards zero or the initial weights). Dense parameters (and batch norm's
// running statistics) are averaged every step. An embedding row changes only on the steps that look it up, so
// its average is brought up to date lazily: n steps of an unchanged value w move the running sum s to
// d^n s + (1 - d^n) w, which is exact, and a step costs the rows it touches rather than the whole table.
//
//   WeightAverage average(model, 0.999);
//   average.BeginStep();                                   // once per optimizer step, before the updates
//   dense.Step();  average.UpdateDense();
//   average.BeforeRowsChange(t, grad.rows);  sparse[t].Step(grad);  average.AfterRowsChange(t, grad.rows);
//   average.Apply();  Evaluate(model);  average.Restore();  // the model holds the average, then its own weights
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/model.h"

namespace mtrec {

class WeightAverage {
 public:
  WeightAverage(Model& model, double decay);

  void BeginStep() { ++steps_; }
  // After the dense optimizer's step: every dense parameter and buffer joins the average.
  void UpdateDense();
  // Around the sparse optimizer's step of table t, with the rows it updates (ascending or not, unique). Calls for
  // different tables may run in parallel.
  void BeforeRowsChange(size_t table, const std::vector<int32_t>& rows);
  void AfterRowsChange(size_t table, const std::vector<int32_t>& rows);

  // Apply: the model's weights become the average (its own are kept aside); Restore puts them back. A model
  // that has not been stepped yet is left as it is.
  void Apply();
  void Restore();
  bool applied() const { return applied_; }

  int64_t steps() const { return steps_; }
  double decay() const { return decay_; }

  // The running sums and the step count; Deserialize refuses a blob of another model or decay.
  void Serialize(std::string* out);
  void Deserialize(std::string_view blob);

 private:
  void CatchUpRow(size_t table, int32_t row, int64_t to_step);
  void CatchUpAll();

  Model& model_;
  double decay_;
  int64_t steps_ = 0;
  std::vector<float> dense_sum_;                  // arena layout, padding included
  std::vector<std::vector<float>> table_sums_;    // per table, rows x dim
  std::vector<std::vector<int64_t>> row_step_;    // per table and row: the step its sum is up to date with
  std::vector<float> kept_dense_;                 // the model's own weights while the average is applied
  std::vector<std::vector<float>> kept_tables_;
  bool applied_ = false;
};

}  // namespace mtrec
