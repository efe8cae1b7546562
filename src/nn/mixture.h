// The gated sum of expert outputs, dst = Σ_e gates[:, e] ⊙ expert_e: one task's (or one branch's) view of the
// experts in a mixture-of-experts model. The experts come as column blocks of the banks that computed them
// (block i holds E_i experts of `width` columns each, expert e of the block at columns [e·width, (e+1)·width)),
// so a PLE gate can mix a task's own experts and the shared ones without copying them together; gates has
// E_total = Σ_i E_i columns in the same order (usually the output of a GateSoftmax). Not a Layer: it has two
// inputs. No parameters.
//
//   Mixture mixture(/*width=*/64);
//   mixture.Forward({experts}, gates, h);                                   // h: batch × 64
//   mixture.Backward({experts}, gates, diff_h, {diff_experts}, diff_gates);  // diff_experts +=, diff_gates =
//
// Backward accumulates into the experts' gradients because several mixtures (one per task) read the same
// experts; zero them once per step before the first mixture's Backward.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/tensor.h"

namespace mtrec {

class Mixture {
 public:
  explicit Mixture(int64_t width);

  // expert_blocks[i]: batch × (E_i·width); gates: batch × Σ_i E_i; dst: batch × width (overwritten; it must not
  // alias an expert block).
  void Forward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& dst) const;
  // diff_expert_e += gates[:, e] ⊙ diff_dst (accumulated); diff_gates[:, e] = ⟨expert_e, diff_dst⟩ per row
  // (overwritten). diff_expert_blocks matches expert_blocks block for block; a block whose data is null gets no
  // gradient (a stop-gradient: STEM's task t mixes other tasks' experts without training them).
  void Backward(const std::vector<Tensor>& expert_blocks, const Tensor& gates, const Tensor& diff_dst,
                const std::vector<Tensor>& diff_expert_blocks, const Tensor& diff_gates) const;
  int64_t width() const { return width_; }

 private:
  // Checks the blocks against each other and against gates; `what` is "expert" or "gradient". null_allowed: a
  // block with null data is accepted (a gradient block that is not wanted).
  void CheckBlocks(const std::vector<Tensor>& blocks, const Tensor& gates, const char* what,
                   bool null_allowed = false) const;

  int64_t width_;
};

}  // namespace mtrec
