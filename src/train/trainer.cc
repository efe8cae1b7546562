#include "train/trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/math.h"
#include "common/metric_info.h"
#include "common/profiler.h"
#include "common/progress.h"
#include "common/rng.h"
#include "common/threads.h"
#include "eval/multitask_gain.h"
#include "features/batcher.h"
#include "models/output_link.h"
#include "models/predict.h"
#include "models/ziln.h"
#include "models/weights.h"
#include "train/diagnostics.h"
#include "train/losses.h"
#include "train/task_scores.h"

namespace mtrec {
namespace {

DenseOptimizerOptions DenseOptions(const TrainConfig& train) {
  DenseOptimizerOptions options;
  options.kind = train.optimizer;
  options.lr = static_cast<float>(train.lr);
  options.beta1 = static_cast<float>(train.beta1);
  options.beta2 = static_cast<float>(train.beta2);
  options.eps = static_cast<float>(train.eps);
  options.weight_decay = static_cast<float>(train.weight_decay);
  options.momentum = static_cast<float>(train.momentum);
  return options;
}

SparseOptimizerOptions SparseOptions(const TrainConfig& train) {
  SparseOptimizerOptions options;
  options.kind = train.embedding_optimizer;
  options.lr = static_cast<float>(train.embedding_lr);
  options.l2 = static_cast<float>(train.embedding_l2);
  options.eps = static_cast<float>(train.eps);
  options.beta1 = static_cast<float>(train.beta1);
  options.beta2 = static_cast<float>(train.beta2);
  return options;
}

// Task k's censored flags in a batch or file; null without.
const float* CensoredOf(const std::vector<std::vector<float>>& censored, int64_t k) {
  return static_cast<size_t>(k) < censored.size() && !censored[k].empty() ? censored[k].data() : nullptr;
}

// A ladder rung's starting gap above the rung below when their constants are equal (two quantiles of a count on
// the same value): small, but not so small that softplus⁻¹ sits far out where its gradient vanishes.
constexpr double kMinRungGap = 0.1;

}  // namespace

Trainer::Trainer(const Config& config, Model& model, Communicator& world)
    : config_(config),
      model_(model),
      world_(world),
      outputs_(config),
      frozen_(config, model),
      weighting_(WeightingOptions::From(config), static_cast<int>(config.tasks.size())) {
  MTREC_CHECK(model.columns() == outputs_.columns(), "the model has {} output columns, its config's tasks {}",
              model.columns(), outputs_.columns());
  dense_ = std::make_unique<DenseOptimizer>(model.arena(), DenseOptions(config.train));
  auto& tables = model.input().tables();
  for (size_t t = 0; t < tables.size(); ++t) {
    SparseOptimizerOptions options = SparseOptions(config.train);
    const FeatureConfig* owner = config.FindFeature(model.input().TableFeature(t));
    if (owner != nullptr && owner->embedding_l2 >= 0) options.l2 = static_cast<float>(owner->embedding_l2);
    sparse_.push_back(std::make_unique<SparseOptimizer>(tables[t], options));
  }
  if (config.train.ema_decay > 0) average_ = std::make_unique<WeightAverage>(model, config.train.ema_decay);
  if (!frozen_.empty()) LogInfo("{}", frozen_.Describe());
  diff_outputs_.Resize(config.train.batch_size, model.columns());
  calibrator_diff_.Resize(config.train.batch_size, model.columns());
  weight_sum_.assign(config.tasks.size(), 0.0);
  // Each task's loss weight; Fit divides it by the constant predictor's loss under train.normalize_losses.
  for (const TaskConfig& task : config.tasks) loss_scale_.push_back(static_cast<float>(task.weight));
  for (int64_t k = 0; k < std::ssize(config.tasks); ++k) {
    column_task_.insert(column_task_.end(), outputs_.width(k), static_cast<int>(k));
    propensity_task_.push_back(config.tasks[k].propensity.empty() ? -1 : config.TaskIndex(config.tasks[k].propensity));
  }
  for (int64_t k = 0; k < std::ssize(config.tasks); ++k) {
    const TaskConfig& task = config.tasks[k];
    if (task.parent.empty()) continue;
    const int parent = config.TaskIndex(task.parent);
    if (task.mode == TaskMode::kMasked) masked_labels_.emplace(k, std::vector<float>(config.train.batch_size));
    if (task.mode == TaskMode::kDirect && task.kind == TaskKind::kBinary && config.model.calibrator > 0) {
      calibrated_links_.emplace_back(k, parent);
    }
    if (task.counterfactual != CounterfactualKind::kNone) {
      counterfactual_links_.emplace_back(k, CounterfactualLink{.kind = task.counterfactual,
                                                               .column = outputs_.first(k),
                                                               .parent_column = outputs_.first(parent),
                                                               .imputation_column = outputs_.imputation_column(k),
                                                               .weight = static_cast<float>(task.counterfactual_weight),
                                                               .clip = static_cast<float>(task.counterfactual_clip)});
    }
  }
  if (!counterfactual_links_.empty()) counterfactual_diff_.Resize(config.train.batch_size, model.columns());
  if (!config.train.baseline.empty()) {
    baseline_ = ReadBaselineReports(DataPath(config, config.train.baseline));
    bool overlap = false;
    for (const auto& report : baseline_) overlap = overlap || config.FindTask(report.name) != nullptr;
    MTREC_CHECK(overlap, "train.baseline '{}' has metrics for none of this config's tasks", config.train.baseline);
  }
}

Trainer::~Trainer() {
  if (shards_) model_.input().UseShards(nullptr);
}

void Trainer::AddTaskWeights(const TaskCoefficients& c) {
  for (size_t k = 0; k < weight_sum_.size(); ++k) weight_sum_[k] += c.shared[k];
  ++weight_steps_;
}

void Trainer::Backpropagate(const Batch& batch, const Tensor& diff, const ExtraGradients& extra,
                            const std::vector<double>& losses, uint64_t seed) {
  const int64_t every = config_.train.conflict_every;
  const bool measure = weighting_.NeedsGradients() || (every > 0 && step_ % every == 1 % every);
  if (!measure) {
    const TaskCoefficients c = weighting_.Step(losses, nullptr, seed);
    WeightLossColumns(diff, c.shared, extra.outputs, column_task_);
    model_.arena().ZeroGrad();
    model_.Backward(batch, diff, extra.conditional);
    AddTaskWeights(c);
    return;
  }
  if (!task_gradients_) {
    task_gradients_ = std::make_unique<TaskGradients>(model_, config_.train.batch_size,
                                                      config_.train.gradient_space == GradientSpace::kRepresentation,
                                                      column_task_, world_);
  }
  const TaskMatrix gram = task_gradients_->Measure(batch.size, diff);
  const TaskCoefficients c = weighting_.Step(losses, &gram, seed);
  task_gradients_->Apply(batch, diff, c, extra);
  AddTaskWeights(c);
  const TaskMatrix cosines = CosineSimilarities(gram);
  if (conflict_sum_.empty()) conflict_sum_.assign(cosines.size(), std::vector<double>(cosines.size(), 0.0));
  for (size_t i = 0; i < cosines.size(); ++i) {
    for (size_t j = 0; j < cosines.size(); ++j) conflict_sum_[i][j] += cosines[i][j];
  }
  ++conflict_steps_;
}

// A masked task learns p(task | parent): its label counts only where the parent's label is 1 (NaN elsewhere).
const float* Trainer::TaskLabels(const Batch& batch, int64_t k) {
  auto masked = masked_labels_.find(k);
  if (masked == masked_labels_.end()) return batch.labels[k].data();
  const float* labels = batch.labels[k].data();
  const float* parent = batch.labels[config_.TaskIndex(config_.tasks[k].parent)].data();
  float* out = masked->second.data();
  for (int64_t r = 0; r < batch.size; ++r) out[r] = parent[r] == 1.f ? labels[r] : NAN;
  return out;
}

namespace {

// Whether "loss" takes a task's validation loss in its own terms (ValidationLosses) rather than from its report.
bool HasOwnValidationLoss(const TaskConfig& task) {
  return IsCountLoss(task.loss) || task.loss == LossKind::kPinball || task.loss == LossKind::kZiln;
}

// A ziln task's mean negative log-likelihood over the rows with a label, each under its own arm's columns of the
// model outputs `outputs` ([column][row]); rows without a treatment are left out, as in training.
double ZilnValidationLoss(const TaskOutputs& task_outputs, int64_t k, const EncodedData& data,
                          const std::vector<std::vector<float>>& outputs) {
  const std::vector<float>& labels = data.labels[k];
  const std::vector<float>* treatment =
      task_outputs.has_treatment(k) && k < std::ssize(data.treatment) && !data.treatment[k].empty()
          ? &data.treatment[k]
          : nullptr;
  double sum = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < data.rows; ++r) {
    if (std::isnan(labels[r])) continue;
    const float t = treatment ? (*treatment)[r] : NAN;
    if (task_outputs.has_treatment(k) && std::isnan(t)) continue;
    const int64_t first = task_outputs.ArmColumn(k, t);
    const float row[kZilnColumns] = {outputs[first][r], outputs[first + 1][r], outputs[first + 2][r]};
    sum += ZilnNll(row, labels[r], nullptr);
    ++count;
  }
  return count > 0 ? sum / static_cast<double>(count) : NAN;
}

}  // namespace

std::vector<double> ValidationLosses(const Config& config, const EncodedData& data,
                                     const std::vector<std::vector<float>>& predictions,
                                     const std::vector<std::vector<float>>& outputs) {
  std::vector<double> losses(config.tasks.size(), NAN);
  const TaskOutputs task_outputs(config);
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    if (task.loss == LossKind::kZiln) {
      MTREC_CHECK(std::ssize(outputs) == task_outputs.columns(), "ValidationLosses: task '{}' needs the model outputs",
                  task.name);
      losses[k] = ZilnValidationLoss(task_outputs, static_cast<int64_t>(k), data, outputs);
      continue;
    }
    if (!HasOwnValidationLoss(task)) continue;
    const OutputLink link = LinkOf(task);
    std::vector<float> values(predictions[k].size());
    for (size_t r = 0; r < values.size(); ++r) values[r] = static_cast<float>(InverseLink(link, predictions[k][r]));
    std::vector<float> labels = data.labels[k];
    if (task.mode == TaskMode::kMasked) {
      const std::vector<float>& parent = data.labels[config.TaskIndex(task.parent)];
      for (size_t r = 0; r < labels.size(); ++r) labels[r] = parent[r] == 1.f ? labels[r] : NAN;
    }
    losses[k] = TaskLoss(task, values.data(), 1, labels.data(), CensoredOf(data.censored, static_cast<int64_t>(k)),
                         data.rows, 1.f, nullptr, 0)
                    .Mean();
  }
  return losses;
}

double ValidationMonitor(const Config& config, const std::vector<TaskReport>& reports,
                         const std::vector<double>& losses) {
  const std::string& metric = config.train.early_stop_metric;
  if (metric == kNoEarlyStopping || reports.empty()) return NAN;
  double sum = 0;
  int count = 0;
  for (size_t k = 0; k < reports.size(); ++k) {
    const TaskConfig& task = config.tasks[k];
    if (config.train.early_stop_task.empty() ? task.auxiliary : task.name != config.train.early_stop_task) continue;
    // "loss" is the validation loss in the training objective's terms (the weighted sum of logloss for binary
    // tasks, squared error for mse and huber, and the task's own loss for count, pinball and ziln tasks); any other
    // metric is averaged over the tasks that have it.
    double value = reports[k].Get(metric);
    if (metric == "loss") {
      const bool own = k < losses.size() && HasOwnValidationLoss(task);
      value = task.weight * (own                              ? losses[k]
                             : task.kind == TaskKind::kBinary ? reports[k].Get("logloss")
                                                              : std::pow(reports[k].Get("rmse"), 2));
    }
    if (!std::isfinite(value)) continue;
    sum += value;
    ++count;
  }
  if (count == 0) return NAN;
  return metric == "loss" ? sum : sum / count;
}

bool Trainer::IsBetterScore(double score) const {
  return IsBetter(GetMetric(config_.train.early_stop_metric), score, state_.best_score);
}

// Inverse-propensity weights of a batch's rows for a treated task: 1/e treated, 1/(1 − e) control, e the propensity
// task's current prediction (no gradient flows through it) clipped to [clip, 1 − clip]; 0 where the treatment is
// missing.
void PropensityWeights(const Tensor& outputs, int64_t propensity_column, const std::vector<float>& treatment,
                       double clip, std::vector<float>& weights) {
  weights.resize(treatment.size());
  for (size_t r = 0; r < treatment.size(); ++r) {
    const double e = std::clamp<double>(Sigmoid(outputs.At(static_cast<int64_t>(r), propensity_column)), clip, 1 - clip);
    const float t = treatment[r];
    weights[r] = std::isnan(t) ? 0.f : static_cast<float>(t == 1.f ? 1 / e : 1 / (1 - e));
  }
}

StepLosses Trainer::Step(const Batch& batch) {
  const auto tasks = static_cast<int64_t>(config_.tasks.size());
  StepLosses result;
  result.sum.assign(tasks, 0.0);
  result.count.assign(tasks, 0);
  std::vector<double>& batch_losses = step_losses_;
  batch_losses.resize(tasks);
  const uint64_t step_seed = Mix64(config_.train.seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(++step_)));
  Tensor diff = diff_outputs_.View().TopRows(batch.size);
  Tensor calibrator = calibrator_diff_.View().TopRows(batch.size);
  Tensor counterfactual = counterfactual_links_.empty() ? Tensor{} : counterfactual_diff_.View().TopRows(batch.size);
  {
    // Rank r's rows are rows r·B.. of the step's whole batch (ShardRows), and draw their dropout masks as such.
    model_.SetStepSeed(step_seed, world_.rank() * config_.train.batch_size);
    Tensor outputs = model_.Forward(batch, Mode::kTrain);
    ProfileScope scope("loss");
    for (int64_t k = 0; k < tasks; ++k) {
      const TaskConfig& task = config_.tasks[k];
      const int64_t first = outputs_.first(k);
      LossValue loss;
      if (!outputs_.has_treatment(k)) {
        loss = TaskLoss(task, outputs.data + first, outputs.ld, TaskLabels(batch, k), CensoredOf(batch.censored, k),
                        outputs.rows, loss_scale_[k], diff.data + first, diff.ld);
      } else {
        const std::vector<float>& treatment = batch.treatment[k];
        const float* weights = nullptr;
        if (propensity_task_[k] >= 0) {
          PropensityWeights(outputs, outputs_.first(propensity_task_[k]), treatment, task.propensity_clip,
                            propensity_weights_);
          weights = propensity_weights_.data();
        }
        const float* labels = TaskLabels(batch, k);
        double normaliser = 0;  // the batch's own
        if (weights && world_.distributed()) {
          // The weights are normalised to a mean of 1 over the labelled rows of the whole step, every rank's.
          double totals[2] = {0, 0};
          for (int64_t r = 0; r < batch.size; ++r) {
            if (std::isnan(treatment[r]) || std::isnan(labels[r])) continue;
            totals[0] += 1;
            totals[1] += weights[r];
          }
          world_.AllReduceSum(totals, 2);
          normaliser = totals[1] > 0 ? totals[0] / totals[1] : 0;
        }
        loss = ArmLoss(task, outputs_.arm_width(k), outputs.data + first, outputs.ld, labels,
                       CensoredOf(batch.censored, k), treatment.data(), weights, outputs.rows, loss_scale_[k],
                       diff.data + first, diff.ld, normaliser);
      }
      result.sum[k] += loss.sum;
      result.count[k] += loss.count;
    }
    // The calibrator is a term of its own, outside the task weighting: its gradient is kept apart and added as is.
    if (!calibrated_links_.empty()) {
      for (int64_t r = 0; r < batch.size; ++r) std::fill_n(calibrator.Row(r), calibrator.cols, 0.f);
    }
    for (const auto& [child_task, parent_task] : calibrated_links_) {
      const int64_t child = outputs_.first(child_task);
      const int64_t parent = outputs_.first(parent_task);
      LossValue penalty = CalibratorPenalty(outputs.data + child, outputs.data + parent, outputs.ld, batch.size,
                                            static_cast<float>(config_.model.calibrator), calibrator.data + child,
                                            calibrator.data + parent, calibrator.ld);
      result.calibrator_sum += penalty.sum;
      result.calibrator_count += penalty.count;
    }
    // ESCM²'s terms, also outside the weighting, on the body's outputs: p(task | parent) and the imputation.
    if (!counterfactual_links_.empty()) {
      if (calibrated_links_.empty()) {
        for (int64_t r = 0; r < batch.size; ++r) std::fill_n(calibrator.Row(r), calibrator.cols, 0.f);
      }
      for (int64_t r = 0; r < batch.size; ++r) std::fill_n(counterfactual.Row(r), counterfactual.cols, 0.f);
      const Tensor conditional = model_.Conditional(batch.size);
      for (const auto& [k, link] : counterfactual_links_) {
        const float* parent_labels = batch.labels[config_.TaskIndex(config_.tasks[k].parent)].data();
        const float* labels = batch.labels[k].data();
        double normaliser = 0;
        if (world_.distributed()) {
          // 1/N over the rows of the whole step, every rank's.
          double rows = static_cast<double>(
              CounterfactualRisk(link, conditional, outputs, parent_labels, labels, batch.size, nullptr).count);
          world_.AllReduceSum(&rows, 1);
          normaliser = rows > 0 ? 1 / rows : 0;
        }
        const CounterfactualValue value = CounterfactualRisk(link, conditional, outputs, parent_labels, labels,
                                                             batch.size, &counterfactual, normaliser);
        result.counterfactual_sum += link.weight * (value.risk_sum + value.imputation_sum);
        result.counterfactual_count += value.count;
      }
    }
  }
  ExtraGradients extra;
  if (!calibrated_links_.empty() || !counterfactual_links_.empty()) extra.outputs = &calibrator;
  if (!counterfactual_links_.empty()) extra.conditional = &counterfactual;
  if (world_.distributed()) ReduceLosses(result, diff, extra);
  for (int64_t k = 0; k < tasks; ++k) {
    batch_losses[k] = result.count[k] > 0 ? loss_scale_[k] * (result.sum[k] / static_cast<double>(result.count[k]))
                                          : NAN;
  }
  Backpropagate(batch, diff, extra, batch_losses, Mix64(step_seed ^ 0x5851f42d4c957f2dULL));
  if (world_.distributed()) ReduceGradients();
  const double lr_factor = schedule_.Factor(step_);
  if (average_) average_->BeginStep();
  {
    ProfileScope scope("optimizer (dense)");
    dense_->SetLearningRate(static_cast<float>(config_.train.lr * lr_factor));
    dense_->Step();
    frozen_.Restore(model_);
  }
  if (average_) {
    ProfileScope scope("weight average");
    average_->UpdateDense();
  }
  {
    ProfileScope scope("optimizer (embeddings)");
    auto& grads = model_.input().grads();
    const auto embedding_lr = static_cast<float>(config_.train.embedding_lr * lr_factor);
    ParallelForBlocks(sparse_.size(), [&](size_t t, int) {
      if (frozen_.TableFrozen(t)) return;
      sparse_[t]->SetLearningRate(embedding_lr);
      if (average_) average_->BeforeRowsChange(t, grads[t].rows);
      sparse_[t]->Step(grads[t]);
      if (average_) average_->AfterRowsChange(t, grads[t].rows);
    });
  }
  return result;
}

void Trainer::ReduceLosses(StepLosses& losses, const Tensor& diff, const ExtraGradients& extra) {
  const auto tasks = static_cast<int64_t>(config_.tasks.size());
  std::vector<double> totals(static_cast<size_t>(2 * tasks + 4));
  for (int64_t k = 0; k < tasks; ++k) {
    totals[k] = losses.sum[k];
    totals[tasks + k] = static_cast<double>(losses.count[k]);
  }
  totals[2 * tasks] = losses.calibrator_sum;
  totals[2 * tasks + 1] = static_cast<double>(losses.calibrator_count);
  // The counterfactual terms' gradients are the whole step's already (their 1/N counts every rank's rows).
  totals[2 * tasks + 2] = losses.counterfactual_sum;
  totals[2 * tasks + 3] = static_cast<double>(losses.counterfactual_count);
  world_.AllReduceSum(totals.data(), totals.size());
  // A loss's gradient was divided by this rank's count of labels; the loss of the step divides by all ranks'.
  const auto rescale = [&](const Tensor& tensor, int64_t first, int64_t width, int64_t mine, double all) {
    if (mine == 0 || all <= 0) return;
    const auto factor = static_cast<float>(static_cast<double>(mine) / all);
    for (int64_t r = 0; r < tensor.rows; ++r) {
      for (int64_t j = first; j < first + width; ++j) tensor.Row(r)[j] *= factor;
    }
  };
  for (int64_t k = 0; k < tasks; ++k) {
    rescale(diff, outputs_.first(k), outputs_.width(k), losses.count[k], totals[tasks + k]);
    losses.sum[k] = totals[k];
    losses.count[k] = static_cast<int64_t>(totals[tasks + k]);
  }
  if (!calibrated_links_.empty()) {
    rescale(*extra.outputs, 0, extra.outputs->cols, losses.calibrator_count, totals[2 * tasks + 1]);
  }
  losses.calibrator_sum = totals[2 * tasks];
  losses.calibrator_count = static_cast<int64_t>(totals[2 * tasks + 1]);
  losses.counterfactual_sum = totals[2 * tasks + 2];
  losses.counterfactual_count = static_cast<int64_t>(totals[2 * tasks + 3]);
}

void Trainer::ReduceGradients() {
  {
    ProfileScope scope("all-reduce (dense)");
    ParameterArena& arena = model_.arena();
    world_.AllReduceSum(arena.grads(), static_cast<size_t>(arena.size()));
  }
  auto& grads = model_.input().grads();
  const auto& tables = model_.input().tables();
  // Every table's touched rows (ascending) and their gradients in one exchange: per table the row count (8
  // bytes), the rows, the gradients. Then merged per table in rank order: the same sums on every rank.
  {
    ProfileScope scope("exchange (embedding rows)");
    // A row-sharded table's gradients reached their owners in the input layer's backward pass: none here.
    const auto replicated = [&](size_t t) { return !shards_ || !shards_->sharded(t); };
    size_t bytes = 0;
    for (size_t t = 0; t < grads.size(); ++t) {
      if (replicated(t)) bytes += sizeof(uint64_t) + 4 * (grads[t].rows.size() + grads[t].values.size());
    }
    exchange_out_.resize(bytes);
    char* at = exchange_out_.data();
    for (size_t t = 0; t < grads.size(); ++t) {
      if (!replicated(t)) continue;
      const SparseGrad& grad = grads[t];
      const uint64_t count = grad.rows.size();
      std::memcpy(at, &count, sizeof(count));
      at += sizeof(count);
      std::memcpy(at, grad.rows.data(), 4 * grad.rows.size());
      at += 4 * grad.rows.size();
      std::memcpy(at, grad.values.data(), 4 * grad.values.size());
      at += 4 * grad.values.size();
    }
    world_.AllGather(exchange_out_, exchange_all_, exchange_offsets_);
  }
  ProfileScope scope("merge (embedding rows)");
  const size_t ranks = exchange_offsets_.size() - 1;
  std::vector<const char*> read(ranks);
  for (size_t p = 0; p < ranks; ++p) read[p] = exchange_all_.data() + exchange_offsets_[p];
  std::vector<SparsePiece> pieces(ranks);
  for (size_t t = 0; t < grads.size(); ++t) {
    if (shards_ && shards_->sharded(t)) continue;
    const int64_t dim = tables[t].dim();
    for (size_t p = 0; p < ranks; ++p) {
      uint64_t count = 0;
      std::memcpy(&count, read[p], sizeof(count));
      read[p] += sizeof(count);
      const auto* rows = reinterpret_cast<const int32_t*>(read[p]);
      read[p] += 4 * count;
      pieces[p] = {rows, count, reinterpret_cast<const float*>(read[p])};
      read[p] += 4 * count * static_cast<size_t>(dim);
    }
    MergeSparsePieces(pieces, dim, &grads[t]);
  }
}

void Trainer::ShardTables() {
  if (!world_.distributed() || shards_) return;
  auto& tables = model_.input().tables();
  const std::vector<TableSpec>& specs = model_.input().layout().tables;
  std::vector<bool> sharded(tables.size(), false);
  std::string names;
  // A model built from a partitioned layout (PartitionLayout) holds its sharded tables' parts already; one built
  // whole (a resumed checkpoint, bench train) is split here.
  whole_rows_.clear();
  int64_t built_as_parts = 0;
  for (size_t t = 0; t < tables.size(); ++t) {
    const TableSpec& spec = specs[t % specs.size()];
    whole_rows_.push_back(spec.rows);
    sharded[t] = ShardsTable(spec.rows, config_.train.shard_rows);
    MTREC_CHECK(spec.part_ranks == 1 || (sharded[t] && spec.part_ranks == world_.size() &&
                                         spec.part_rank == world_.rank()),
                "embedding table '{}' was built as part {} of {}, not as train.shard_rows = {} on rank {} of {} makes it",
                tables[t].name(), spec.part_rank, spec.part_ranks, config_.train.shard_rows, world_.rank(),
                world_.size());
    built_as_parts += spec.part_ranks > 1;
    if (!sharded[t]) continue;
    names += fmt::format("{}{} ({} rows)", names.empty() ? "" : ", ", tables[t].name(), spec.rows);
  }
  if (names.empty()) return;
  MTREC_CHECK(built_as_parts == 0 || built_as_parts == std::count(sharded.begin(), sharded.end(), true),
              "{} of the sharded embedding tables were built as parts, not all", built_as_parts);
  MTREC_CHECK(!average_, "train.ema_decay averages every table's weights on every rank, which row-sharded tables "
                         "(train.shard_rows = {}) do not hold: set train.ema_decay = 0, or train.shard_rows above the "
                         "largest table",
              config_.train.shard_rows);
  shards_ = std::make_unique<ShardedTables>(world_, std::move(sharded));
  if (built_as_parts == 0) SplitShards();
  model_.input().UseShards(shards_.get());
  LogInfo("row-sharded over {} ranks (train.shard_rows = {}): {}; the other tables are replicated", world_.size(),
          config_.train.shard_rows, names);
}

void Trainer::SplitShards() {
  auto& tables = model_.input().tables();
  for (size_t t = 0; t < tables.size(); ++t) {
    if (!shards_->sharded(t)) continue;
    const int64_t rows = whole_rows_[t];
    for (const SparseOptimizer::RowState& state : sparse_[t]->RowStates()) {
      *state.values = shards_->Split(state.values->data(), rows, state.width);
    }
    tables[t].Adopt(PartRows(rows, world_.rank(), world_.size()),
                    shards_->Split(tables[t].data(), rows, tables[t].dim()));
  }
}

void Trainer::GatherShards() {
  ProfileScope scope("gather (sharded tables)");
  auto& tables = model_.input().tables();
  for (size_t t = 0; t < tables.size(); ++t) {
    if (!shards_->sharded(t)) continue;
    const int64_t rows = whole_rows_[t];
    for (const SparseOptimizer::RowState& state : sparse_[t]->RowStates()) {
      AlignedBuffer<float> whole = shards_->GatherToRoot(state.values->data(), rows, state.width);
      if (world_.is_root()) *state.values = std::move(whole);
    }
    AlignedBuffer<float> whole = shards_->GatherToRoot(tables[t].data(), rows, tables[t].dim());
    if (world_.is_root()) tables[t].Adopt(rows, std::move(whole));
  }
}

int64_t Trainer::StepsPerEpoch(int64_t rows) const {
  int64_t steps = (rows + config_.train.batch_size - 1) / config_.train.batch_size;
  world_.AllReduceMax(&steps, 1);
  return steps;
}

EncodedData Trainer::AllLabels(const EncodedData& train) const {
  EncodedData all;
  const auto gather = [&](const std::vector<std::vector<float>>& columns, std::vector<std::vector<float>>& into) {
    into.resize(columns.size());
    for (size_t k = 0; k < columns.size(); ++k) {
      const std::string mine(reinterpret_cast<const char*>(columns[k].data()), columns[k].size() * sizeof(float));
      for (const std::string& part : world_.AllGather(mine)) {
        const auto* begin = reinterpret_cast<const float*>(part.data());
        into[k].insert(into[k].end(), begin, begin + part.size() / sizeof(float));
      }
    }
  };
  gather(train.labels, all.labels);
  gather(train.censored, all.censored);
  int64_t rows = train.rows;
  world_.AllReduceSum(&rows, 1);
  all.rows = rows;
  return all;
}

std::vector<double> Trainer::TrainEpoch(const EncodedData& train, uint64_t shuffle_seed, const std::string& label) {
  const auto tasks = static_cast<int64_t>(config_.tasks.size());
  std::vector<double> loss_sum(tasks, 0.0);
  std::vector<int64_t> loss_count(tasks, 0);
  double calibrator_sum = 0;
  int64_t calibrator_count = 0;
  double counterfactual_sum = 0;
  int64_t counterfactual_count = 0;
  std::vector<std::vector<double>> past_losses;
  for (const auto& record : state_.history) past_losses.push_back(record.train_loss);
  weighting_.BeginEpoch(past_losses);
  weight_sum_.assign(tasks, 0.0);
  weight_steps_ = 0;
  conflict_sum_.clear();
  conflict_steps_ = 0;
  std::vector<int64_t> order;
  if (config_.train.shuffle) {
    order = ShuffledOrder(train.rows, shuffle_seed);
  } else {
    order.resize(static_cast<size_t>(train.rows));
    std::iota(order.begin(), order.end(), int64_t{0});
  }
  BatchStream stream(train, config_.train.batch_size, std::move(order));
  const int64_t steps = StepsPerEpoch(train.rows);
  int64_t rows = train.rows;
  world_.AllReduceSum(&rows, 1);
  Progress progress(label, static_cast<size_t>(rows));
  int64_t done = 0;
  Batch no_rows;  // under mpirun, a rank whose share ran out before the others' takes its last steps on no rows
  GatherBatch(train, nullptr, 0, &no_rows);
  // --profile: the scopes of this epoch's steps only (the next epoch starts afresh), off again when the epoch ends,
  // however it ends, before validation runs.
  struct ProfiledLoop {
    explicit ProfiledLoop(bool on) : on(on) {
      if (on) Profiler::Reset(), Profiler::Enable(true);
    }
    ~ProfiledLoop() {
      if (on) Profiler::Enable(false);
    }
    bool on;
  } profiled(profile_);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) {
    const Batch* batch = nullptr;
    {
      ProfileScope scope("data (waiting for the next batch)");
      batch = stream.Next();
    }
    const StepLosses step = Step(batch ? *batch : no_rows);
    for (int64_t k = 0; k < tasks; ++k) {
      loss_sum[k] += step.sum[k];
      loss_count[k] += step.count[k];
    }
    calibrator_sum += step.calibrator_sum;
    calibrator_count += step.calibrator_count;
    counterfactual_sum += step.counterfactual_sum;
    counterfactual_count += step.counterfactual_count;
    done = std::min(rows, done + config_.train.batch_size * world_.size());
    std::string losses;
    for (int64_t k = 0; k < tasks; ++k) {
      losses += fmt::format("{}{} {:.4f}", k ? " " : "", config_.tasks[k].name,
                            loss_count[k] ? loss_sum[k] / loss_count[k] : 0.0);
    }
    progress.Update(static_cast<size_t>(done), losses);
    // Between steps the model is whole: stopping here leaves nothing half-updated. Under mpirun no check is set.
    if (InterruptRequested()) throw Interrupted();
  }
  std::string profile;  // printed after the progress line is finished, never onto its bar
  if (profile_) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    profile = ProfileTable(seconds, steps, config_.train.batch_size);
  }
  std::vector<double> means(tasks);
  std::string losses;
  for (int64_t k = 0; k < tasks; ++k) {
    means[k] = loss_count[k] ? loss_sum[k] / loss_count[k] : NAN;
    losses += fmt::format("{}{} {:.4f}", k ? " " : "", config_.tasks[k].name, means[k]);
  }
  if (calibrator_count > 0) losses += fmt::format(" calibrator {:.5f}", calibrator_sum / calibrator_count);
  if (counterfactual_count > 0) {
    losses += fmt::format(" counterfactual {:.5f}", counterfactual_sum / counterfactual_count);
  }
  // A schedule's rates at the epoch's last step, so a log shows how far the decay has gone.
  if (schedule_.kind != LrScheduleKind::kConstant || schedule_.warmup > 0) {
    const double factor = schedule_.Factor(step_);
    losses += fmt::format("  lr {:.4g} embedding_lr {:.4g}", config_.train.lr * factor,
                          config_.train.embedding_lr * factor);
  }
  progress.Finish("train loss: " + losses);
  if (!profile.empty() && world_.is_root()) {
    std::istringstream table(profile);
    for (std::string line; std::getline(table, line);) LogLine(label + " " + line);
  }
  return means;
}

void Trainer::SaveOptimizerStates() {
  state_.dense_optimizer.clear();
  dense_->Serialize(&state_.dense_optimizer);
  state_.sparse_optimizers.assign(sparse_.size(), std::string());
  for (size_t t = 0; t < sparse_.size(); ++t) sparse_[t]->Serialize(&state_.sparse_optimizers[t]);
  state_.weighting.clear();
  weighting_.Serialize(&state_.weighting);
  state_.weight_average.clear();
  if (average_) average_->Serialize(&state_.weight_average);
}

// Epochs of fewer than kMinConflictStepsShown measured steps print no cosines; their average over the whole run may
// still say something, and is printed once.
void Trainer::LogRunConflict() const {
  TaskMatrix sum;
  int64_t steps = 0;
  for (const auto& record : state_.history) {
    if (ConflictWorthShowing(record.conflict.size(), record.conflict_steps)) return;  // printed with its epoch
    if (record.conflict.empty() || record.conflict_steps == 0) continue;
    if (sum.empty()) sum.assign(record.conflict.size(), std::vector<double>(record.conflict.size(), 0.0));
    for (size_t i = 0; i < sum.size(); ++i) {
      for (size_t j = 0; j < sum.size(); ++j) sum[i][j] += record.conflict[i][j] * record.conflict_steps;
    }
    steps += record.conflict_steps;
  }
  for (auto& row : sum) {
    for (double& v : row) v /= static_cast<double>(steps);
  }
  // No weights: adaptive ones were printed with each epoch.
  const std::string table = FormatWeightingDiagnostics(config_, {}, sum, steps);
  if (!table.empty()) LogInfo("gradient cosines over the {} measured steps of the run:\n{}", steps, table);
}

// Count and quantile tasks start from their best constant in their tower's output bias rather than from an output
// near 0, which is a mean of 1 unit for every row (or a quantile of 0) that the first epochs would spend undoing.
// A ladder's upper rung starts at its gap to the rung below.
void Trainer::InitializeOutputBiases(const EncodedData& train) {
  const auto tasks = static_cast<int64_t>(config_.tasks.size());
  std::vector<double> constant(tasks, NAN);
  for (int64_t k = 0; k < tasks; ++k) {
    const TaskConfig& task = config_.tasks[k];
    if (task.loss == LossKind::kZiln) {
      // Each arm's three outputs start at the best constant distribution of all the task's labels.
      double start[kZilnColumns];
      ZilnConstantOutputs(train.labels[k].data(), static_cast<long>(train.labels[k].size()), start);
      for (int64_t j = 0; j < outputs_.width(k); ++j) {
        const double bias = start[j % kZilnColumns];
        if (std::isfinite(bias) && !KeepsBias(outputs_.first(k) + j)) {
          model_.SetOutputBias(outputs_.first(k) + j, static_cast<float>(bias));
        }
      }
      const float first[kZilnColumns] = {static_cast<float>(start[0]), static_cast<float>(start[1]),
                                         static_cast<float>(start[2])};
      const Ziln d = ZilnOf(first);
      LogInfo("task {}: outputs start at the best constant: P(value > 0) {:.4g}, log value {:.4g} ± {:.4g}",
              task.name, d.p, d.mu, d.sigma);
      continue;
    }
    if (!IsCountLoss(task.loss) && task.loss != LossKind::kPinball) continue;
    const std::vector<float>* parent =
        task.mode == TaskMode::kMasked ? &train.labels[config_.TaskIndex(task.parent)] : nullptr;
    constant[k] = BestConstantOutput(task, train.labels[k], parent);
  }
  for (int64_t k = 0; k < tasks; ++k) {
    if (!std::isfinite(constant[k])) continue;  // no labels, or a count task whose labels are all 0
    const int64_t column = outputs_.first(k);
    const int below_column = model_.graph().rung_below(column);
    const int below = below_column >= 0 ? column_task_[below_column] : -1;
    const double bias = below >= 0 && std::isfinite(constant[below])
                            ? InverseSoftplus(std::max(constant[k] - constant[below], kMinRungGap))
                            : constant[k];
    for (int64_t j = 0; j < outputs_.width(k); ++j) {
      if (!KeepsBias(column + j)) model_.SetOutputBias(column + j, static_cast<float>(bias));
    }
    LogInfo("task {}: output bias starts at {:.6g}, its best constant", config_.tasks[k].name, bias);
  }
}

void Trainer::Resume(const TrainerState& state) {
  state_ = state;
  dense_->Deserialize(state_.dense_optimizer);
  MTREC_CHECK(state_.sparse_optimizers.size() == sparse_.size(),
              "the checkpoint has {} embedding optimizers, the model {}", state_.sparse_optimizers.size(),
              sparse_.size());
  for (size_t t = 0; t < sparse_.size(); ++t) sparse_[t]->Deserialize(state_.sparse_optimizers[t]);
  if (!state_.weighting.empty()) weighting_.Deserialize(state_.weighting);
  if (average_) {
    MTREC_CHECK(!state_.weight_average.empty(),
                "the checkpoint was trained without train.ema_decay; resume it without, or start again");
    average_->Deserialize(state_.weight_average);
  } else if (!state_.weight_average.empty()) {
    LogInfo("train.ema_decay is 0: the checkpoint's average of the weights is dropped, training goes on without");
  }
  step_ = dense_->step();
  biases_started_ = true;
}

void Trainer::ScaleLosses(const EncodedData& train) {
  for (int64_t k = 0; k < std::ssize(config_.tasks); ++k) {
    const TaskConfig& task = config_.tasks[k];
    double scale = task.weight;
    if (config_.train.normalize_losses) {
      const std::vector<float>* parent =
          task.mode == TaskMode::kMasked ? &train.labels[config_.TaskIndex(task.parent)] : nullptr;
      const double constant = ConstantPredictorLoss(task, train.labels[k], parent,
                                                    k < std::ssize(train.censored) ? &train.censored[k] : nullptr);
      if (std::isfinite(constant) && constant > 0) {
        scale /= constant;
        LogInfo("task {}: loss divided by {:.6g}, the loss of predicting its mean label", task.name, constant);
      } else {
        LogInfo("task {}: its training labels are constant; its loss is not normalised", task.name);
      }
    }
    loss_scale_[k] = static_cast<float>(scale);
  }
}

std::vector<double> Trainer::TrainPartition(const EncodedData& data, const std::string& name, int64_t passes) {
  MTREC_CHECK(data.rows > 0, "partition {} has no rows", name);
  // A stream has no planned end for a schedule to decay towards: the rates stay at train.lr and embedding_lr.
  schedule_ = {.kind = LrScheduleKind::kConstant, .warmup = 0, .final_ratio = 1.0, .total = 1};
  ScaleLosses(data);
  if (!biases_started_ && state_.history.empty()) InitializeOutputBiases(data);
  biases_started_ = true;
  const auto index = static_cast<int64_t>(state_.history.size()) + 1;
  std::vector<double> losses;
  for (int64_t pass = 1; pass <= passes; ++pass) {
    const std::string label = passes == 1 ? name : fmt::format("{} pass {}/{}", name, pass, passes);
    losses = TrainEpoch(data, Mix64(config_.train.seed + static_cast<uint64_t>(index) * 1000 + pass), label);
  }
  return losses;
}

void Trainer::RemapEmbeddingRows(size_t t, const std::vector<int32_t>& source, uint64_t seed) {
  MTREC_CHECK(!average_, "train.ema_decay: a stream's tables change size, which the average of the weights does "
                         "not follow; set train.ema_decay = 0 for --follow");
  model_.RemapEmbeddingRows(t, source, seed);
  const auto sets = static_cast<size_t>(model_.input().tables().size() / model_.input().FeatureTables());
  for (size_t c = 0; c < sets; ++c) {
    sparse_[c * static_cast<size_t>(model_.input().FeatureTables()) + t]->Remap(source);
  }
}

const TrainerState& Trainer::CheckpointState() {
  SaveOptimizerStates();
  return state_;
}

void Trainer::Fit(const EncodedData& train, const EncodedData* valid,
                  const std::function<void(const TrainerState&)>& on_epoch, const TrainerState* resume) {
  MTREC_CHECK(train.rows > 0, "the training data has no rows{}",
              world_.distributed() ? fmt::format(" on rank {} of {}", world_.rank(), world_.size()) : "");
  const int64_t steps_per_epoch = StepsPerEpoch(train.rows);
  schedule_ = {.kind = config_.train.lr_schedule,
               .warmup = config_.train.warmup_steps,
               .final_ratio = config_.train.final_lr_ratio,
               .total = steps_per_epoch * config_.train.epochs};
  if (resume) {
    Resume(*resume);
    LogInfo("resuming after epoch {} of {}", state_.epochs_done, config_.train.epochs);
  }
  ShardTables();
  {
    // The loss normalisers and the starting biases are statistics of the whole training set.
    std::optional<EncodedData> all;
    if (world_.distributed()) all = AllLabels(train);
    ScaleLosses(all ? *all : train);
    if (!resume) InitializeOutputBiases(all ? *all : train);
  }
  const bool early_stopping = valid != nullptr && config_.train.early_stop_metric != kNoEarlyStopping;
  const bool holds_model = !shards_ || world_.is_root();
  const int64_t stop_after = config_.train.stop_after_epochs > 0
                                 ? std::min(config_.train.stop_after_epochs, config_.train.epochs)
                                 : config_.train.epochs;
  bool gathered = false;  // sharded tables: rank 0 holds them whole since the last epoch's end
  while (state_.epochs_done < stop_after) {
    if (gathered && world_.is_root()) SplitShards();
    gathered = false;
    const int64_t epoch = state_.epochs_done + 1;
    EpochRecord record;
    record.epoch = epoch;
    record.train_loss =
        TrainEpoch(train, Mix64(config_.train.seed + epoch), fmt::format("epoch {}/{}", epoch, config_.train.epochs));
    record.monitor = NAN;
    record.delta_m = NAN;
    record.task_weights.assign(weight_sum_.size(), NAN);
    for (size_t k = 0; k < weight_sum_.size() && weight_steps_ > 0; ++k)
      record.task_weights[k] = weight_sum_[k] / weight_steps_;
    record.conflict = conflict_sum_;
    for (auto& row : record.conflict) {
      for (double& v : row) v /= static_cast<double>(conflict_steps_);
    }
    record.conflict_steps = conflict_steps_;
    const std::string diagnostics =
        FormatWeightingDiagnostics(config_, record.task_weights, record.conflict, conflict_steps_);
    if (!diagnostics.empty()) {
      const bool cosines = ConflictWorthShowing(record.conflict.size(), conflict_steps_);
      LogInfo("epoch {} task weighting '{}'{}:\n{}", epoch, config_.train.weighting,
              cosines ? fmt::format(", gradient cosines over {} steps", conflict_steps_) : "", diagnostics);
    }
    // Validation, the best epoch's snapshot and the final model see the average; training goes on from the
    // model's own weights.
    if (average_ && valid) average_->Apply();
    if (valid) {
      std::vector<std::vector<float>> conditional;
      std::vector<std::vector<float>> outputs;  // only a ziln task's validation loss reads them
      const bool ziln = std::any_of(config_.tasks.begin(), config_.tasks.end(),
                                    [](const TaskConfig& task) { return task.loss == LossKind::kZiln; });
      std::vector<std::vector<float>> predictions =
          Predict(model_, config_, *valid, &conditional, ziln ? &outputs : nullptr);
      record.valid = EvaluateTasks(MakeTaskScores(config_, *valid, predictions, &conditional), config_.eval);
      record.monitor =
          ValidationMonitor(config_, record.valid, ValidationLosses(config_, *valid, predictions, outputs));
      std::string summary;
      for (const auto& report : record.valid) {
        const char* metric = HeadlineMetric(report.binary).name;
        summary += fmt::format("  {} {} {:.4f}", report.name, metric, report.Get(metric));
      }
      if (!baseline_.empty()) {
        const MultiTaskGain gain = ComputeMultiTaskGain(record.valid, baseline_);
        record.delta_m = gain.delta_m;
        summary += fmt::format("  delta_m {:+.3f}%", gain.delta_m);
      }
      LogInfo("epoch {} valid:{}", epoch, summary);
    }
    state_.epochs_done = epoch;
    if (early_stopping && !std::isfinite(record.monitor) && state_.best_epoch == 0 && !warned_unmeasured_) {
      // Otherwise no epoch is ever better and the run silently keeps its last one.
      LogWarning("early stopping watches train.early_stop_metric = \"{}\"{}, which no task reports on the "
                 "validation data: the model keeps the last epoch; choose a metric the tasks have (mtrec list "
                 "metrics) or \"{}\"",
                 config_.train.early_stop_metric,
                 config_.train.early_stop_task.empty() ? "" : " of task '" + config_.train.early_stop_task + "'",
                 kNoEarlyStopping);
      warned_unmeasured_ = true;
    }
    if (shards_) {
      GatherShards();  // rank 0 holds the whole tables for the best weights and the checkpoint
      gathered = true;
    }
    if (early_stopping && std::isfinite(record.monitor)) {
      const bool better = state_.best_epoch == 0 || IsBetterScore(record.monitor);
      if (better) {
        state_.best_epoch = epoch;
        state_.best_score = record.monitor;
        state_.stale_epochs = 0;
        // With sharded tables rank 0 alone holds (and later restores) the whole weights.
        state_.best_weights = holds_model ? SerializeWeights(model_) : std::string();
      } else {
        ++state_.stale_epochs;
      }
    }
    if (average_) average_->Restore();
    state_.history.push_back(std::move(record));
    SaveOptimizerStates();
    if (on_epoch) on_epoch(state_);
    // After the last planned epoch training ends anyway: no early stop to report.
    if (early_stopping && config_.train.patience > 0 && state_.stale_epochs >= config_.train.patience &&
        epoch < config_.train.epochs) {
      LogInfo("early stop: no better valid {} for {} epochs; keeping epoch {}", config_.train.early_stop_metric,
              state_.stale_epochs, state_.best_epoch);
      break;
    }
  }
  LogRunConflict();
  if (shards_) {
    // Rank 0 keeps the whole model, which it writes; the other ranks' parts are of no further use. After an epoch
    // rank 0 holds the whole tables already: the run ends without splitting and gathering them once more.
    if (!gathered) GatherShards();
    model_.input().UseShards(nullptr);
    if (!world_.is_root()) return;
  }
  if (early_stopping && state_.best_epoch > 0 && state_.best_epoch != state_.epochs_done) {
    LoadWeights(model_, state_.best_weights);
    LogInfo("restored the {}weights of epoch {} (best valid {} {:.5f})", average_ ? "averaged " : "",
            state_.best_epoch, config_.train.early_stop_metric, state_.best_score);
  } else if (average_) {
    average_->Apply();  // the model keeps the average of the weights
    LogInfo("the model holds the average of the weights over {} steps (ema_decay {})", average_->steps(),
            config_.train.ema_decay);
  }
}

}  // namespace mtrec
