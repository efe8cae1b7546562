// The `train.weighting` strategies: how much each task's loss counts in every step. Every task loss the
// strategies see is already λ_k × (mean loss over the task's valid labels), λ_k being the task's `weight`.
// Loss-weighting strategies give one coefficient per task that scales its whole gradient; gradient strategies
// combine the task gradients on what tasks share from their Gram matrix and, in the `shared` gradient space, leave
// each task's own parameters with its own gradient, as in their papers (in the `representation` space the
// coefficients weight whole task losses). A task without labels in the batch, or whose gradient meets no other
// task's, is left out of the combination with coefficient 1.
//
//   TaskWeighting weighting(WeightingOptions::From(config));
//   weighting.BeginEpoch(past_train_losses);
//   TaskCoefficients c = weighting.Step(batch_losses, weighting.NeedsGradients() ? &gram : nullptr, step_seed);
//   // gradient = Σ_k c.shared[k] g_k on shared parameters, c.specific[k] g_k on task k's own parameters
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "train/gradient_combination.h"

namespace mtrec {

struct WeightingOptions {
  WeightingKind kind = WeightingKind::kStatic;
  std::vector<bool> regression;  // per task: uncertainty weighting's factor ½ for a Gaussian likelihood
  double lr = 0.01;              // Adam step of uncertainty's log-variances and GradNorm's weights
  double gradnorm_alpha = 1.5;
  double dwa_temperature = 2.0;
  double cagrad_c = 0.5;

  static WeightingOptions From(const Config& config);
};

struct TaskCoefficients {
  std::vector<double> shared;    // on the parameters (or representation) that several tasks' gradients reach
  std::vector<double> specific;  // on the parameters that only task k's gradient reaches
};

class TaskWeighting {
 public:
  TaskWeighting(const WeightingOptions& options, int tasks);

  // Whether Step needs the Gram matrix of the task gradients (pcgrad, mgda, cagrad, gradnorm).
  bool NeedsGradients() const;
  // Whether the coefficients on shared and task-specific parameters differ (the gradient strategies).
  bool CombinesGradients() const;
  WeightingKind kind() const { return options_.kind; }

  // Before the first step of an epoch; `epoch_losses` holds the mean train losses of the finished epochs (DWA).
  void BeginEpoch(const std::vector<std::vector<double>>& epoch_losses);

  // One step: `losses` are the batch's task losses (NaN for a task without labels in the batch), `gram` the Gram
  // matrix of their gradients when NeedsGradients(), `seed` this step's seed (rlw's draw, pcgrad's orders).
  // Learned weights (uncertainty, gradnorm) are updated after their coefficients are taken, as a joint step.
  TaskCoefficients Step(const std::vector<double>& losses, const TaskMatrix* gram, uint64_t seed);

  // Learned state, for checkpoints (a resumed run continues bit for bit).
  void Serialize(std::string* out) const;
  void Deserialize(std::string_view bytes);

  // uncertainty: log σ_k² per task; gradnorm: w_k; empty for the others.
  const std::vector<double>& learned() const { return params_; }

 private:
  TaskCoefficients Uniform(const std::vector<double>& weights) const;
  void AdamStep(const std::vector<double>& grad, const std::vector<bool>& active);

  WeightingOptions options_;
  int tasks_;
  std::vector<double> params_;
  std::vector<double> m_, v_;
  std::vector<int64_t> adam_steps_;
  std::vector<double> initial_losses_;  // GradNorm's L_k(0): the first finite batch loss of each task
  std::vector<double> epoch_weights_;   // DWA's weights of the current epoch
};

}  // namespace mtrec
