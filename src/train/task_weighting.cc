#include "train/task_weighting.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/binary.h"
#include "common/error.h"
#include "common/rng.h"

namespace mtrec {
namespace {

constexpr double kAdamBeta1 = 0.9;
constexpr double kAdamBeta2 = 0.999;
constexpr double kAdamEps = 1e-8;
// GradNorm's weights stay positive: a weight driven to zero would silence its task for good.
constexpr double kMinGradNormWeight = 1e-3;

// K · softmax(x): weights with mean 1, so that a uniform draw is the `static` update.
std::vector<double> ScaledSoftmax(const std::vector<double>& x) {
  const double top = *std::max_element(x.begin(), x.end());
  std::vector<double> w(x.size());
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += w[i] = std::exp(x[i] - top);
  for (double& v : w) v *= static_cast<double>(x.size()) / sum;
  return w;
}

// The tasks a gradient strategy combines: those with labels in the batch and a gradient on what tasks share
// (above a relative 1e-12 of the largest). The others — a task without labels in the batch, or one whose
// gradient meets no other task's (single_task's networks) — keep their own gradient, coefficient 1: a zero vector
// in the hull would otherwise be MGDA's min-norm point and stop every other task.
std::vector<int> CombinedTasks(const std::vector<double>& losses, const TaskMatrix& gram) {
  double top = 0;
  for (size_t k = 0; k < gram.size(); ++k) top = std::max(top, gram[k][k]);
  std::vector<int> tasks;
  for (size_t k = 0; k < gram.size(); ++k) {
    if (std::isfinite(losses[k]) && gram[k][k] > 1e-12 * top) tasks.push_back(static_cast<int>(k));
  }
  return tasks;
}

TaskMatrix Restrict(const TaskMatrix& gram, const std::vector<int>& tasks) {
  TaskMatrix out(tasks.size(), std::vector<double>(tasks.size()));
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (size_t j = 0; j < tasks.size(); ++j) out[i][j] = gram[tasks[i]][tasks[j]];
  }
  return out;
}

}  // namespace

WeightingOptions WeightingOptions::From(const Config& config) {
  WeightingOptions options;
  options.kind = config.train.weighting;
  for (const auto& task : config.tasks) options.regression.push_back(task.kind == TaskKind::kRegression);
  options.lr = config.train.weighting_lr;
  options.gradnorm_alpha = config.train.gradnorm_alpha;
  options.dwa_temperature = config.train.dwa_temperature;
  options.cagrad_c = config.train.cagrad_c;
  return options;
}

TaskWeighting::TaskWeighting(const WeightingOptions& options, int tasks) : options_(options), tasks_(tasks) {
  MTREC_CHECK(tasks >= 1, "task weighting needs at least one task");
  if (options_.regression.empty()) options_.regression.assign(tasks, false);
  MTREC_CHECK(static_cast<int>(options_.regression.size()) == tasks, "task weighting: {} task kinds for {} tasks",
              options_.regression.size(), tasks);
  if (options_.kind == WeightingKind::kUncertainty) params_.assign(tasks, 0.0);  // log σ² = 0: weight 1 (or ½)
  if (options_.kind == WeightingKind::kGradNorm) params_.assign(tasks, 1.0);
  m_.assign(params_.size(), 0.0);
  v_.assign(params_.size(), 0.0);
  adam_steps_.assign(params_.size(), 0);
  initial_losses_.assign(tasks, NAN);
  epoch_weights_.assign(tasks, 1.0);
}

bool TaskWeighting::NeedsGradients() const {
  return options_.kind == WeightingKind::kGradNorm || CombinesGradients();
}

bool TaskWeighting::CombinesGradients() const {
  return options_.kind == WeightingKind::kPcgrad || options_.kind == WeightingKind::kMgda ||
         options_.kind == WeightingKind::kCagrad;
}

void TaskWeighting::BeginEpoch(const std::vector<std::vector<double>>& epoch_losses) {
  epoch_weights_.assign(tasks_, 1.0);
  if (options_.kind != WeightingKind::kDwa || epoch_losses.size() < 2) return;
  // DWA: w_k = K softmax(r_k / T) with r_k = L_k(t-1) / L_k(t-2), the relative descent rate of each task.
  const auto& last = epoch_losses[epoch_losses.size() - 1];
  const auto& before = epoch_losses[epoch_losses.size() - 2];
  std::vector<double> rate(tasks_, 1.0);
  for (int k = 0; k < tasks_; ++k) {
    if (std::isfinite(last[k]) && std::isfinite(before[k]) && before[k] > 0) rate[k] = last[k] / before[k];
    rate[k] /= options_.dwa_temperature;
  }
  epoch_weights_ = ScaledSoftmax(rate);
}

TaskCoefficients TaskWeighting::Uniform(const std::vector<double>& weights) const { return {weights, weights}; }

void TaskWeighting::AdamStep(const std::vector<double>& grad, const std::vector<bool>& active) {
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!active[k]) continue;
    // One step count per weight, as a task may first have labels late (bias correction follows its own updates).
    const double step = static_cast<double>(++adam_steps_[k]);
    const double correction1 = 1 - std::pow(kAdamBeta1, step);
    const double correction2 = 1 - std::pow(kAdamBeta2, step);
    m_[k] = kAdamBeta1 * m_[k] + (1 - kAdamBeta1) * grad[k];
    v_[k] = kAdamBeta2 * v_[k] + (1 - kAdamBeta2) * grad[k] * grad[k];
    params_[k] -= options_.lr * (m_[k] / correction1) / (std::sqrt(v_[k] / correction2) + kAdamEps);
  }
}

TaskCoefficients TaskWeighting::Step(const std::vector<double>& losses, const TaskMatrix* gram, uint64_t seed) {
  MTREC_CHECK(static_cast<int>(losses.size()) == tasks_, "task weighting: {} losses for {} tasks", losses.size(),
              tasks_);
  MTREC_CHECK(!NeedsGradients() || (gram != nullptr && static_cast<int>(gram->size()) == tasks_),
              "task weighting: the strategy needs the Gram matrix of the task gradients");
  const std::vector<double> ones(tasks_, 1.0);
  std::vector<bool> active(tasks_);
  for (int k = 0; k < tasks_; ++k) active[k] = std::isfinite(losses[k]);

  switch (options_.kind) {
    case WeightingKind::kStatic:
      return Uniform(ones);

    case WeightingKind::kDwa:
      return Uniform(epoch_weights_);

    case WeightingKind::kRlw: {
      // Random loss weighting (Lin et al. 2021): weights drawn from K softmax(z), z ~ N(0, I), every step.
      Rng rng(seed);
      std::vector<double> z(tasks_);
      for (double& v : z) v = rng.Normal();
      return Uniform(ScaledSoftmax(z));
    }

    case WeightingKind::kUncertainty: {
      // Kendall et al. 2018 with s_k = log σ_k²: c_k L_k + ½ s_k, c_k = e^{-s_k} for a classification task and
      // ½ e^{-s_k} for a regression task. d/ds_k = ½ − c_k L_k, zero at c_k L_k = ½.
      std::vector<double> coefficients(tasks_), grad(tasks_, 0.0);
      for (int k = 0; k < tasks_; ++k) {
        coefficients[k] = (options_.regression[k] ? 0.5 : 1.0) * std::exp(-params_[k]);
        if (active[k]) grad[k] = 0.5 - coefficients[k] * losses[k];
      }
      AdamStep(grad, active);
      return Uniform(coefficients);
    }

    case WeightingKind::kGradNorm: {
      // Chen et al. 2018: G_k = w_k |g_k| should approach mean(G) · r_k^α, r_k the task's loss ratio L_k / L_k(0)
      // relative to the mean ratio. The target is held constant; d|G_k − target_k| / dw_k = sign(·) |g_k|.
      const std::vector<double> coefficients = params_;
      for (int k = 0; k < tasks_; ++k) {
        if (active[k] && !std::isfinite(initial_losses_[k]) && losses[k] > 0) initial_losses_[k] = losses[k];
        active[k] = active[k] && std::isfinite(initial_losses_[k]) && (*gram)[k][k] > 0;
      }
      std::vector<double> norm(tasks_), ratio(tasks_);
      double mean_norm = 0, mean_ratio = 0;
      int counted = 0;
      for (int k = 0; k < tasks_; ++k) {
        norm[k] = std::sqrt(std::max((*gram)[k][k], 0.0));
        if (!active[k]) continue;
        ratio[k] = losses[k] / initial_losses_[k];
        mean_norm += params_[k] * norm[k];
        mean_ratio += ratio[k];
        ++counted;
      }
      if (counted > 0) {
        mean_norm /= counted;
        mean_ratio /= counted;
        std::vector<double> grad(tasks_, 0.0);
        for (int k = 0; k < tasks_; ++k) {
          if (!active[k]) continue;
          const double target = mean_norm * std::pow(ratio[k] / mean_ratio, options_.gradnorm_alpha);
          const double gap = params_[k] * norm[k] - target;
          grad[k] = (gap > 0 ? 1.0 : gap < 0 ? -1.0 : 0.0) * norm[k];
        }
        AdamStep(grad, active);
        // Renormalise so that the weights sum to K (the paper's w_i ← K w_i / Σ w_j).
        double sum = 0;
        for (double& w : params_) sum += w = std::max(w, kMinGradNormWeight);
        for (double& w : params_) w *= tasks_ / sum;
      }
      return Uniform(coefficients);
    }

    case WeightingKind::kPcgrad:
    case WeightingKind::kMgda:
    case WeightingKind::kCagrad: {
      const std::vector<int> tasks = CombinedTasks(losses, *gram);
      TaskCoefficients c{ones, ones};
      if (tasks.empty()) return c;
      const TaskMatrix sub = Restrict(*gram, tasks);
      const int n = static_cast<int>(tasks.size());
      std::vector<double> a;
      if (options_.kind == WeightingKind::kPcgrad) {
        // Each task meets the others in its own random order, drawn every step.
        Rng rng(seed);
        std::vector<std::vector<int>> orders(n);
        for (int i = 0; i < n; ++i) {
          for (int j = 0; j < n; ++j) {
            if (j != i) orders[i].push_back(j);
          }
          for (size_t m = orders[i].size(); m > 1; --m) std::swap(orders[i][m - 1], orders[i][rng.Below(m)]);
        }
        a = PcgradCoefficients(sub, orders);
      } else if (options_.kind == WeightingKind::kMgda) {
        a = MinNormCoefficients(sub);
      } else {
        a = CagradCoefficients(sub, options_.cagrad_c);
      }
      for (int i = 0; i < n; ++i) c.shared[tasks[i]] = a[i];
      return c;
    }
  }
  Fail("unhandled task weighting");
}

void TaskWeighting::Serialize(std::string* out) const {
  BinaryWriter w;
  w.Pod<uint32_t>(static_cast<uint32_t>(options_.kind));
  w.Vector(params_);
  w.Vector(m_);
  w.Vector(v_);
  w.Vector(adam_steps_);
  w.Vector(initial_losses_);
  out->append(w.str());
}

void TaskWeighting::Deserialize(std::string_view bytes) {
  BinaryReader r(bytes.data(), bytes.size(), "task weighting state");
  const auto kind = static_cast<WeightingKind>(r.Pod<uint32_t>());
  MTREC_CHECK(kind == options_.kind, "the checkpoint was trained with another train.weighting");
  auto read = [&](std::vector<double>& values) {
    size_t count = 0;
    const double* data = r.Array<double>(&count);
    MTREC_CHECK(count == values.size(), "task weighting state: {} values where {} were expected", count,
                values.size());
    values.assign(data, data + count);
  };
  read(params_);
  read(m_);
  read(v_);
  const std::vector<int64_t> steps = r.Vector<int64_t>();
  MTREC_CHECK(steps.size() == adam_steps_.size(), "task weighting state: {} step counts where {} were expected",
              steps.size(), adam_steps_.size());
  adam_steps_ = steps;
  read(initial_losses_);
}

}  // namespace mtrec
