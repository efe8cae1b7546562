// Joint training of a multi-task model: shuffled mini-batches, the weighted sum of per-task losses (each the
// mean over the task's valid labels), dense and sparse optimizer steps, validation after every epoch, early
// stopping on a configurable metric (keeping the best epoch's weights), and a hook after every epoch that the
// command line uses to write checkpoints. With a fixed seed and thread count a run is reproducible bit for bit.
//
//   Trainer trainer(config, model);
//   trainer.Fit(train, &valid, [&](const TrainerState& state) { WriteCheckpoint(...); });
//   std::vector<std::vector<float>> scores = Predict(model, config, test);   // [task][row]
#pragma once

#include <functional>
#include <map>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "eval/evaluation.h"
#include "features/pipeline.h"
#include "models/model.h"
#include "train/dense_optimizer.h"
#include "train/lr_schedule.h"
#include "train/sparse_optimizer.h"
#include "train/task_gradients.h"
#include "train/task_weighting.h"
#include "train/weight_average.h"

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
};

// Everything needed to continue training where it stopped (saved in checkpoints).
struct TrainerState {
  int64_t epochs_done = 0;
  int64_t best_epoch = 0;        // 0: none yet
  double best_score = 0.0;
  int64_t stale_epochs = 0;      // epochs since the best one
  std::vector<EpochRecord> history;
  std::string dense_optimizer;                 // serialized optimizer states
  std::vector<std::string> sparse_optimizers;
  std::string best_weights;                    // weights of the best epoch so far
  std::string weighting;                       // serialized learned task weights
  std::string weight_average;                  // serialized running average of the weights (train.ema_decay)
};

std::string HistoryToJson(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> HistoryFromJson(const std::string& text);

// The losses of one step: per task, the sum over its valid labels and their count (before weighting).
struct StepLosses {
  std::vector<double> sum;
  std::vector<int64_t> count;
  double calibrator_sum = 0.0;
  int64_t calibrator_count = 0;
};

// The validation number early stopping and the kept epoch watch: train.early_stop_metric of train.early_stop_task,
// or its mean over the tasks that have it, auxiliary tasks left out ("loss": the weighted sum); NaN when none.
// `losses`: ValidationLosses, which "loss" takes for the count and pinball tasks.
double ValidationMonitor(const Config& config, const std::vector<TaskReport>& reports,
                         const std::vector<double>& losses = {});

// Per task, the mean loss of `predictions` on `data` in the count and pinball losses' own terms (censored rows
// included, a masked task's on its parent's positives); NaN for the other tasks, which the reports describe.
std::vector<double> ValidationLosses(const Config& config, const EncodedData& data,
                                     const std::vector<std::vector<float>>& predictions);

class Trainer {
 public:
  Trainer(const Config& config, Model& model);

  // One optimisation step on a batch: forward, task losses, backward under the weighting strategy, optimizer
  // steps. Fit runs these; `mtrec bench train` times them.
  StepLosses Step(const Batch& batch);

  // Trains until config.train.epochs or early stopping. `resume` continues a checkpointed run. After each epoch
  // `on_epoch` gets the state (with optimizer states filled in). On return the model holds the best epoch's
  // weights (or the last epoch's with early_stop_metric = "none").
  void Fit(const EncodedData& train, const EncodedData* valid, const std::function<void(const TrainerState&)>& on_epoch,
           const TrainerState* resume = nullptr);

  const TrainerState& state() const { return state_; }
  // The optimizer of the model's embedding table t (as model.input().tables() orders them).
  const SparseOptimizer& sparse_optimizer(size_t t) const { return *sparse_[t]; }

 private:
  std::vector<double> TrainEpoch(const EncodedData& train, int64_t epoch);
  void InitializeOutputBiases(const EncodedData& train);
  // Whether a validation score beats the best so far, in the direction of train.early_stop_metric.
  bool IsBetterScore(double score) const;
  void SaveOptimizerStates();
  void LogRunConflict() const;

  const float* TaskLabels(const Batch& batch, int64_t task);
  // Sets the model's gradients for this step's task-loss gradients `diff` under the weighting strategy, plus
  // `extra` (the calibrator's gradient, when there is one) unweighted.
  void Backpropagate(const Batch& batch, const Tensor& diff, const Tensor* extra, const std::vector<double>& losses,
                     uint64_t seed);
  void AddTaskWeights(const TaskCoefficients& c);  // into this epoch's weighting diagnostics

  const Config& config_;
  Model& model_;
  std::map<int64_t, std::vector<float>> masked_labels_;  // per masked task, its labels where the parent's is 1
  std::vector<std::pair<int64_t, int64_t>> calibrated_links_;  // (child, parent) under the calibrator loss
  std::unique_ptr<DenseOptimizer> dense_;
  std::vector<std::unique_ptr<SparseOptimizer>> sparse_;
  std::vector<float> loss_scale_;  // per task: its weight, divided by its constant predictor's loss when normalised
  TaskWeighting weighting_;
  std::unique_ptr<TaskGradients> task_gradients_;  // built on the first step that measures task gradients
  std::vector<TaskReport> baseline_;                // single-task metrics of train.baseline
  // This epoch's weighting diagnostics.
  std::vector<double> weight_sum_;
  int64_t weight_steps_ = 0;
  TaskMatrix conflict_sum_;
  int64_t conflict_steps_ = 0;
  TrainerState state_;
  Matrix diff_outputs_;
  Matrix calibrator_diff_;
  std::vector<double> step_losses_;  // this step's weighted mean loss per task, for the weighting strategy
  int64_t step_ = 0;
  LrSchedule schedule_;  // constant until Fit knows the run's length
  std::unique_ptr<WeightAverage> average_;  // train.ema_decay > 0
};

// Per-task predictions in row order: probabilities for binary tasks, values for regression tasks (e^output for the
// count losses, models/output_link.h); a chain task's is its unconditional probability. `conditional`, when given,
// receives p(task | parent) for chain tasks (the same as the prediction for other tasks; a masked task's prediction is
// already conditional).
std::vector<std::vector<float>> Predict(Model& model, const Config& config, const EncodedData& data,
                                        std::vector<std::vector<float>>* conditional = nullptr);

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
