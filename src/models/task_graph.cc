#include "models/task_graph.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/threads.h"

namespace mtrec {
namespace {

// log σ(x) = −log(1 + e^{−x}), stable for large |x|.
double LogSigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

// log(1 − e^{a}) for a < 0 (Mächler 2012): expm1 near 0, log1p further out.
double Log1mExp(double a) { return a > -0.6931471805599453 ? std::log(-std::expm1(a)) : std::log1p(-std::exp(a)); }

double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double Sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

// The logit of a probability given by its log, bounded so that a product that rounds to 1 stays finite.
constexpr double kMaxLogit = 80.0;

}  // namespace

TaskGraph::TaskGraph(const Config& config, int64_t max_batch)
    : tasks_(static_cast<int64_t>(config.tasks.size())),
      parent_(tasks_, -1),
      chain_(tasks_, false),
      rung_below_(tasks_, -1) {
  for (int64_t k = 0; k < tasks_; ++k) {
    const TaskConfig& task = config.tasks[k];
    if (task.parent.empty()) continue;
    parent_[k] = config.TaskIndex(task.parent);
    chain_[k] = task.mode == TaskMode::kChain;
  }
  // Depth-first: a chain task after its parent (validated acyclic by the config).
  std::vector<bool> placed(tasks_, false);
  auto place = [&](auto&& self, int k) -> void {
    if (placed[k]) return;
    placed[k] = true;
    if (parent_[k] >= 0) self(self, parent_[k]);
    order_.push_back(k);
    if (chain_[k]) chain_order_.push_back(k);
  };
  for (int k = 0; k < tasks_; ++k) place(place, k);
  // Ladders: the pinball tasks of each column by quantile (distinct, validated by the config).
  std::map<std::string, std::map<double, int>> ladders;
  for (int k = 0; k < tasks_; ++k) {
    const TaskConfig& task = config.tasks[k];
    if (task.loss == LossKind::kPinball) ladders[task.column][task.quantile] = k;
  }
  for (const auto& [column, rungs] : ladders) {
    int below = -1;
    for (const auto& [quantile, k] : rungs) {
      rung_below_[k] = below;
      if (below >= 0) rung_order_.push_back(k);
      below = k;
    }
  }
  if (HasChains() || !rung_order_.empty()) diff_work_.Resize(max_batch, tasks_);
}

void TaskGraph::Forward(const Tensor& conditional, const Tensor& dst) const {
  CheckTensor(conditional, conditional.rows, tasks_, "task graph", "conditional");
  CheckTensor(dst, conditional.rows, tasks_, "task graph", "dst");
  ParallelRows(conditional.rows, conditional.rows * tasks_ * 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::copy_n(conditional.Row(r), tasks_, dst.Row(r));
      for (int k : chain_order_) {
        const double log_p = LogSigmoid(conditional.At(r, k)) + LogSigmoid(dst.At(r, parent_[k]));
        const double logit = log_p - Log1mExp(std::min(log_p, -1e-300));
        dst.At(r, k) = static_cast<float>(std::clamp(logit, -kMaxLogit, kMaxLogit));
      }
      for (int k : rung_order_) {
        dst.At(r, k) = static_cast<float>(dst.At(r, rung_below_[k]) + Softplus(conditional.At(r, k)));
      }
    }
  });
}

void TaskGraph::Backward(const Tensor& conditional, const Tensor& dst, const Tensor& diff_dst,
                         const Tensor& diff_conditional) {
  const int64_t n = conditional.rows;
  CheckTensor(diff_dst, n, tasks_, "task graph", "diff_dst");
  CheckTensor(diff_conditional, n, tasks_, "task graph", "diff_conditional");
  if (!HasChains() && rung_order_.empty()) {
    for (int64_t r = 0; r < n; ++r) std::copy_n(diff_dst.Row(r), tasks_, diff_conditional.Row(r));
    return;
  }
  Tensor work = diff_work_.View().TopRows(n);
  ParallelRows(n, n * tasks_ * 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* diff = work.Row(r);
      std::copy_n(diff_dst.Row(r), tasks_, diff);
      for (auto it = chain_order_.rbegin(); it != chain_order_.rend(); ++it) {
        const int k = *it;
        const double s = conditional.At(r, k);
        const double parent_logit = dst.At(r, parent_[k]);
        const double log_p = LogSigmoid(s) + LogSigmoid(parent_logit);
        const double log_one_minus_p = Log1mExp(std::min(log_p, -1e-300));
        const double d_self = std::exp(LogSigmoid(-s) - log_one_minus_p);
        const double d_parent = std::exp(LogSigmoid(-parent_logit) - log_one_minus_p);
        diff[parent_[k]] += static_cast<float>(diff[k] * d_parent);
        diff[k] = static_cast<float>(diff[k] * d_self);
      }
      for (auto it = rung_order_.rbegin(); it != rung_order_.rend(); ++it) {
        const int k = *it;
        diff[rung_below_[k]] += diff[k];
        diff[k] = static_cast<float>(diff[k] * Sigmoid(conditional.At(r, k)));
      }
      std::copy_n(diff, tasks_, diff_conditional.Row(r));
    }
  });
}

}  // namespace mtrec
