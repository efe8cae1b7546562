// Joint training of a multi-task model: shuffled mini-batches, the weighted sum of per-task losses (each the
// mean over the task's valid labels), dense and sparse optimizer steps, validation after every epoch, early
// stopping on a configurable metric (keeping the best epoch's weights), and a hook after every epoch that the
// command line uses to write checkpoints. With a fixed seed and thread count a run is reproducible bit for bit.
//
//   Trainer trainer(config, model);
//   trainer.Fit(train, &valid, [&](const TrainerState& state) { WriteCheckpoint(...); });
#pragma once

#include <functional>
#include <map>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "common/communicator.h"
#include "common/config.h"
#include "eval/evaluation.h"
#include "features/pipeline.h"
#include "models/model.h"
#include "models/sharded_tables.h"
#include "models/task_outputs.h"
#include "train/counterfactual.h"
#include "train/frozen_parts.h"
#include "train/dense_optimizer.h"
#include "train/history.h"
#include "train/lr_schedule.h"
#include "train/sparse_optimizer.h"
#include "train/task_gradients.h"
#include "train/task_weighting.h"
#include "train/weight_average.h"

namespace mtrec {

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
  std::string stream;                          // a stream's own state (train/streaming.h); empty otherwise
};

// The losses of one step: per task, the sum over its valid labels and their count (before weighting).
struct StepLosses {
  std::vector<double> sum;
  std::vector<int64_t> count;
  double calibrator_sum = 0.0;
  int64_t calibrator_count = 0;
  // ESCM²'s terms (train/counterfactual.h), summed over the step's counterfactual tasks: risk plus imputation.
  double counterfactual_sum = 0.0;
  int64_t counterfactual_count = 0;
};

// The validation number early stopping and the kept epoch watch: train.early_stop_metric of train.early_stop_task,
// or its mean over the tasks that have it, auxiliary tasks left out ("loss": the weighted sum); NaN when none.
// `losses`: ValidationLosses, which "loss" takes for the count, pinball and ziln tasks.
double ValidationMonitor(const Config& config, const std::vector<TaskReport>& reports,
                         const std::vector<double>& losses = {});

// Per task, the mean loss on `data` in the count, pinball and ziln losses' own terms (censored rows included, a
// masked task's on its parent's positives, a treated task's under each row's arm); NaN for the other tasks, which
// the reports describe. `predictions` are Predict's columns, `outputs` the model's output columns (Predict's
// `outputs`), which a ziln task's negative log-likelihood needs.
std::vector<double> ValidationLosses(const Config& config, const EncodedData& data,
                                     const std::vector<std::vector<float>>& predictions,
                                     const std::vector<std::vector<float>>& outputs = {});

// Under mpirun (common/communicator.h) every rank holds a replica of the model and its own share of the training
// rows; a step's losses, their counts and the gradients (dense all-reduced, embedding rows exchanged) are summed
// over the ranks before the optimizers run, so the replicas take the same steps as one process whose batch is
// all the ranks' batches together.
class Trainer {
 public:
  Trainer(const Config& config, Model& model, Communicator& world = World());
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One optimisation step on a batch: forward, task losses, backward under the weighting strategy, optimizer
  // steps. Fit runs these; `mtrec bench train` times them. Under mpirun a rank whose share ran out before the
  // others' takes its last steps on a batch of no rows, still joining the step's reductions.
  StepLosses Step(const Batch& batch);

  // Trains until config.train.epochs or early stopping. `resume` continues a checkpointed run. After each epoch
  // `on_epoch` gets the state (with optimizer states filled in). On return the model holds the best epoch's
  // weights (or the last epoch's with early_stop_metric = "none").
  void Fit(const EncodedData& train, const EncodedData* valid, const std::function<void(const TrainerState&)>& on_epoch,
           const TrainerState* resume = nullptr);

  const TrainerState& state() const { return state_; }

  // Streams (`mtrec train --follow`, train/streaming.h). Resume: a checkpoint's state (optimizer moments, learned
  // task weights, history) to go on from. TrainPartition: `passes` passes over one partition at the constant
  // rates train.lr and embedding_lr, no validation; the output biases start at the first partition's constants
  // unless resumed or kept. Returns the last pass's mean loss per task. RemapEmbeddingRows: feature table t
  // rebuilt with its optimizer state (Model::RemapEmbeddingRows, SparseOptimizer::Remap). CheckpointState: the
  // state with the optimizer moments written, for a checkpoint; history() takes the partitions' records.
  void Resume(const TrainerState& state);
  std::vector<double> TrainPartition(const EncodedData& data, const std::string& name, int64_t passes);
  void RemapEmbeddingRows(size_t t, const std::vector<int32_t>& source, uint64_t seed);
  const TrainerState& CheckpointState();
  std::vector<EpochRecord>& history() { return state_.history; }
  // A warm start (train/warm_start.h): the output columns marked true keep their output biases, loaded from the
  // base model, where Fit would otherwise start them at their task's best constant.
  void KeepOutputBiases(std::vector<bool> columns) { kept_biases_ = std::move(columns); }
  // `mtrec train --profile`: after each epoch, where its training steps spent their time (common/profiler.h), on
  // stderr; validation is not counted.
  void ProfileEpochs(bool on) { profile_ = on; }
  // Under mpirun: splits the embedding tables of at least train.shard_rows rows (and their optimizer states) over
  // the ranks (models/sharded_tables.h); Fit calls it, `mtrec bench train` too. In one process it does nothing.
  void ShardTables();
  // The optimizer of the model's embedding table t (as model.input().tables() orders them).
  const SparseOptimizer& sparse_optimizer(size_t t) const { return *sparse_[t]; }

 private:
  std::vector<double> TrainEpoch(const EncodedData& train, uint64_t shuffle_seed, const std::string& label);
  // Under mpirun: the step's per-task loss sums and counts summed over the ranks, and this rank's loss gradients
  // rescaled from its own counts to the ranks' together (a task's loss is the mean over all its labels).
  void ReduceLosses(StepLosses& losses, const Tensor& diff, const ExtraGradients& extra);
  // Under mpirun: the dense gradients summed over the ranks, and each table's touched rows merged.
  void ReduceGradients();
  // The steps of an epoch over `rows` (this rank's), the most any rank has.
  int64_t StepsPerEpoch(int64_t rows) const;
  // Each task's labels of every rank's rows (this rank's alone in one process), for the statistics of the whole
  // training set that Fit needs: the loss normalisers and the output biases' starting constants.
  EncodedData AllLabels(const EncodedData& train) const;
  // Per task: its weight, divided by its constant predictor's loss on `train` when train.normalize_losses.
  void ScaleLosses(const EncodedData& train);
  void InitializeOutputBiases(const EncodedData& train);
  bool KeepsBias(int64_t column) const { return column < std::ssize(kept_biases_) && kept_biases_[column]; }
  // Whether a validation score beats the best so far, in the direction of train.early_stop_metric.
  bool IsBetterScore(double score) const;
  void SaveOptimizerStates();
  void LogRunConflict() const;
  // Row-sharded tables: SplitShards keeps this rank's rows of whole tables (and of their optimizer states);
  // GatherShards puts every rank's parts together on rank 0 (the other ranks keep theirs), for the best epoch's
  // weights, a checkpoint and the final model, which rank 0 writes.
  void SplitShards();
  void GatherShards();

  const float* TaskLabels(const Batch& batch, int64_t task);
  // Sets the model's gradients for this step's task-loss gradients `diff` under the weighting strategy, plus
  // `extra` (the calibrator's and the counterfactual terms' gradients, when there are) unweighted.
  void Backpropagate(const Batch& batch, const Tensor& diff, const ExtraGradients& extra,
                     const std::vector<double>& losses, uint64_t seed);
  void AddTaskWeights(const TaskCoefficients& c);  // into this epoch's weighting diagnostics

  const Config& config_;
  Model& model_;
  Communicator& world_;
  TaskOutputs outputs_;             // which output columns each task owns
  std::vector<int> column_task_;    // per output column, its task
  std::vector<int> propensity_task_;  // per task, the task giving its inverse-propensity weights; -1: none
  std::vector<float> propensity_weights_;
  std::map<int64_t, std::vector<float>> masked_labels_;  // per masked task, its labels where the parent's is 1
  std::vector<std::pair<int64_t, int64_t>> calibrated_links_;  // (child, parent) under the calibrator loss
  std::vector<std::pair<int64_t, CounterfactualLink>> counterfactual_links_;  // (task, link): ESCM²
  std::unique_ptr<DenseOptimizer> dense_;
  std::vector<std::unique_ptr<SparseOptimizer>> sparse_;
  FrozenParts frozen_;              // train.freeze
  std::vector<bool> kept_biases_;   // KeepOutputBiases
  bool profile_ = false;            // ProfileEpochs
  bool biases_started_ = false;     // TrainPartition: the output biases were started (or resumed)
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
  Matrix counterfactual_diff_;  // of the body's outputs (Model::Conditional)
  std::vector<double> step_losses_;  // this step's weighted mean loss per task, for the weighting strategy
  int64_t step_ = 0;
  bool warned_unmeasured_ = false;  // the early-stopping metric was absent from a validation epoch
  LrSchedule schedule_;  // constant until Fit knows the run's length
  std::unique_ptr<WeightAverage> average_;  // train.ema_decay > 0
  std::unique_ptr<ShardedTables> shards_;   // under mpirun, when some table has train.shard_rows rows
  std::vector<int64_t> whole_rows_;         // per table: its rows before sharding
  // ReduceGradients' buffers, kept from step to step: this rank's embedding rows and gradients, every rank's.
  std::string exchange_out_;
  std::string exchange_all_;
  std::vector<size_t> exchange_offsets_;
};

}  // namespace mtrec
