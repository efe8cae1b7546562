// AITM's adaptive information transfer unit (Xi et al., KDD 2021): a task's representation q and the information
// p passed from its parent task are mixed by attention over the two: for u ∈ {p, q}, a_u = h1(u) and
// s_u = ⟨h2(u), h3(u)⟩ / √d; (w_p, w_q) = softmax(s_p, s_q) per row; z = w_p a_p + w_q a_q. h1, h2, h3 are dense
// d → d layers ("<name>.h1", ".h2", ".h3"); p and q are stacked into one 2·batch-row buffer so each is one GEMM.
//
//   AttentionTransfer unit(arena, "ait.purchase", /*width=*/64, max_batch);
//   unit.Forward(p, q, z, Mode::kTrain);                  // all batch × 64
//   unit.Backward(p, q, diff_z, &diff_p, &diff_q);
#pragma once

#include <string>

#include "nn/dense.h"
#include "nn/tensor.h"

namespace mtrec {

class AttentionTransfer {
 public:
  AttentionTransfer(ParameterArena& arena, const std::string& name, int64_t width, int64_t max_batch);

  void Forward(const Tensor& p, const Tensor& q, const Tensor& z, Mode mode);
  // With G = diff_z: d a_u = w_u G; d w_u = ⟨a_u, G⟩; the softmax gives d s_u = w_u (d w_u − Σ_v w_v d w_v);
  // d h2(u) = d s_u h3(u) / √d and d h3(u) = d s_u h2(u) / √d; then the three dense layers' backward passes,
  // whose input gradients add up for u. diff_p and diff_q (either may be null) are overwritten.
  void Backward(const Tensor& p, const Tensor& q, const Tensor& diff_z, const Tensor* diff_p, const Tensor* diff_q);

  // The attention weights of the last Forward: row r's (w_p, w_q) at weights()[2r], weights()[2r + 1].
  const float* weights() const { return w_.data(); }

 private:
  int64_t width_;
  Dense h1_, h2_, h3_;
  Matrix u_, a_, b_, c_;   // 2·max_batch × width: rows [0, n) for p, [n, 2n) for q
  Matrix w_;               // max_batch × 2
  Matrix diff_a_, diff_b_, diff_c_, diff_u_, diff_u_part_;
};

}  // namespace mtrec
