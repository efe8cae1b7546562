// Mixtures of experts over a shared input: E experts f_e (MLPs of widths model.expert, computed as one wide GEMM
// then grouped GEMMs) and softmax gates g(x) = softmax(W x).
//   omoe — one gate: h = Σ_e g_e(x) f_e(x) feeds every task's tower.
//   mmoe — one gate per task (Ma et al., KDD 2018): h_k = Σ_e g^k_e(x) f_e(x); ŷ_k = t_k(h_k).
// The gates' mean weights over inference batches are kept for the expert-utilisation diagnostics.
#pragma once

#include <memory>
#include <vector>

#include "models/mlp.h"
#include "models/model.h"
#include "nn/dense.h"
#include "nn/gate_softmax.h"
#include "nn/mixture.h"

namespace mtrec {

class MixtureOfExperts : public Model {
 public:
  // per_task_gates: mmoe when true, omoe when false.
  MixtureOfExperts(const Config& config, const InputLayout& layout, int64_t max_batch, bool per_task_gates);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  int64_t experts_;
  int64_t width_;  // of one expert's output
  int64_t gates_;  // 1 (omoe) or tasks (mmoe)
  int first_gate_usage_ = 0;  // gate 0's index in gate_usage_ (the others follow it)
  Mlp* expert_bank_ = nullptr;         // the MLPs are owned by the base
  std::unique_ptr<Dense> gate_layer_;  // all gates' logits as one GEMM: batch × gates·experts
  GateSoftmax gate_softmax_;
  Mixture mixture_;
  Mlp* towers_ = nullptr;
  Tensor expert_out_;            // the bank's output of the last Forward
  std::vector<Tensor> blocks_ = std::vector<Tensor>(1), diff_blocks_ = std::vector<Tensor>(1);  // no allocation per step
  Matrix gate_logits_, gate_weights_, mixed_, diff_mixed_;
  Matrix diff_experts_, diff_gate_weights_, diff_gate_logits_, diff_src_gates_;
};

}  // namespace mtrec
