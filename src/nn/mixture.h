// The gated sum of expert outputs, dst = Σ_e gates[:, e] ⊙ expert_e: one task's (or one branch's) view of the
// experts in a mixture-of-experts model. The experts come as column blocks of the banks that computed them
// (block i holds E_i experts of `width` columns each, expert e of the block at columns [e·width, (e+1)·width)),
// so a PLE gate can mix a task's own experts and the shared ones without copying them together; gates has
// Σ_i E_i columns in the same order.
//
//   Mixture mixture(/*width=*/64);
//   mixture.Forward({experts}, gates, h);                                   // h: batch × 64
//   mixture.Backward({experts}, gates, diff_h, {diff_experts}, diff_gates);  // diff_experts +=, diff_gates =
#pragma once

#include <vector>

#include "nn/tensor.h"

namespace mtrec {

class Mixture {
 public:
  explicit Mixture(int64_t width);

  void Forward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& dst) const;
  // d expert_e += gates[:, e] ⊙ diff_dst (accumulated: several gates read the same experts);
  // d gates[:, e] = ⟨expert_e, diff_dst⟩ per row (overwritten).
  void Backward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& diff_dst,
                const std::vector<Tensor>& diff_expert_blocks, const Tensor& diff_gates) const;
  int64_t width() const { return width_; }

 private:
  int64_t Experts(const std::vector<Tensor>& blocks, const Tensor& gates, const char* what) const;

  int64_t width_;
};

}  // namespace mtrec
