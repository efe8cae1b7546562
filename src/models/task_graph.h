// The task graph on top of every architecture: a task with `parent = P, mode = "chain"` turns the body's output
// s_k, read as the logit of p(k | P), into the logit of the unconditional p(k) = σ(s_k) · p(P) (ESMM). Chains of
// any length work because parents are processed first. Pinball tasks on one label column form a ladder ordered by
// quantile that never crosses: the lowest rung's output is its body output, each next rung's the rung below plus
// softplus(its body output). Other tasks pass through unchanged, so the model's output is always "one logit (or
// value) per task over every row", and losses, predict and serving need no special case.
//
//   TaskGraph graph(config);
//   graph.Forward(conditional, dst);                       // batch × tasks, logits of p(k | parent) -> of p(k)
//   graph.Backward(conditional, dst, diff_dst, diff_conditional);
#pragma once

#include <vector>

#include "common/config.h"
#include "nn/tensor.h"

namespace mtrec {

class TaskGraph {
 public:
  TaskGraph(const Config& config, int64_t max_batch);

  void Forward(const Tensor& conditional, const Tensor& dst) const;
  // d dst_k / d s_k = σ(−s_k) / (1 − p_k) and d dst_k / d dst_P = σ(−dst_P) / (1 − p_k), with p_k the product:
  // from dst_k = log p_k − log(1 − p_k) and log p_k = log σ(s_k) + log σ(dst_P). Both factors lie in [0, 1].
  // A rung passes its gradient on to the rung below unchanged and its own times σ(s_k). Gradients flow from
  // children to parents (and upper rungs to lower ones) in reverse order; diff_conditional is overwritten.
  void Backward(const Tensor& conditional, const Tensor& dst, const Tensor& diff_dst, const Tensor& diff_conditional);

  bool HasChains() const { return !chain_order_.empty(); }
  int parent(int64_t task) const { return parent_[task]; }  // -1 without one
  bool IsChain(int64_t task) const { return chain_[task]; }
  // The pinball task of the next lower quantile on the same column; -1 for a ladder's lowest rung and other tasks.
  int rung_below(int64_t task) const { return rung_below_[task]; }
  const std::vector<int>& order() const { return order_; }  // every task, each after its parent

 private:
  int64_t tasks_;
  std::vector<int> parent_;
  std::vector<bool> chain_;
  std::vector<int> order_;        // every task, parents before their children
  std::vector<int> chain_order_;  // the chain tasks of order_
  std::vector<int> rung_below_;
  std::vector<int> rung_order_;   // the rungs above a ladder's lowest, each after the rung below it
  Matrix diff_work_;              // diff_dst plus what children pass to their parents
};

}  // namespace mtrec
