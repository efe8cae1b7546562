// AITM's adaptive information transfer unit (Xi et al., KDD 2021): a task's representation q and the information
// p passed from its parent task are mixed by attention over the two: for u ∈ {p, q}, a_u = h1(u) and
// s_u = ⟨h2(u), h3(u)⟩ / √d; (w_p, w_q) = softmax(s_p, s_q) per row; z = w_p a_p + w_q a_q. h1, h2, h3 are dense
// d → d layers with bias ("<name>.h1", ".h2", ".h3", Glorot-uniform). Not a Layer: it has two inputs.
//
//   AttentionTransfer unit(arena, "ait.purchase", /*width=*/64, max_batch);
//   unit.Forward(p, q, z, Mode::kTrain);                  // all batch × 64 (any ld >= 64)
//   unit.Backward(p, q, diff_z, &diff_p, &diff_q);        // diff_p, diff_q overwritten; either may be null
//   float w_p = unit.weights()[2 * r];                    // row r's attention on p; w_q at [2 * r + 1]
//
// p and q are copied into one 2·batch-row buffer so that each of h1, h2, h3 is one GEMM over both; the unit owns
// that buffer and every intermediate, sized for max_batch at construction, and Backward reuses the activations
// of the last Forward (so it must follow the Forward of the same p and q). z may alias p or q.
#pragma once

#include <cstdint>
#include <string>

#include "nn/dense.h"
#include "nn/tensor.h"

namespace mtrec {

class AttentionTransfer {
 public:
  AttentionTransfer(ParameterArena& arena, const std::string& name, int64_t width, int64_t max_batch);

  void Forward(const Tensor& p, const Tensor& q, const Tensor& z, Mode mode);
  // Accumulates into h1, h2, h3's parameter gradients; diff_p and diff_q (either may be null) are overwritten.
  void Backward(const Tensor& p, const Tensor& q, const Tensor& diff_z, const Tensor* diff_p, const Tensor* diff_q);

  // The attention weights of the last Forward, for diagnostics: row r's (w_p, w_q) at weights()[2r] and
  // weights()[2r + 1] (they sum to 1), for the rows of that Forward; valid until the next Forward.
  const float* weights() const { return w_.data(); }
  int64_t width() const { return width_; }
  const Dense& h1() const { return h1_; }
  const Dense& h2() const { return h2_; }
  const Dense& h3() const { return h3_; }

 private:
  std::string label_;  // "attention transfer unit '<name>'", for messages
  int64_t width_;
  int64_t max_batch_;
  int64_t rows_ = -1;  // batch of the last Forward, checked by Backward
  Dense h1_, h2_, h3_;
  Matrix u_, a_, b_, c_;  // 2·max_batch × width: u = [p; q] and its images under h1, h2, h3; rows [0, n) for p
  Matrix w_;              // max_batch × 2: (w_p, w_q) per row
  Matrix diff_a_, diff_b_, diff_c_, diff_u_, diff_u_part_;  // 2·max_batch × width
};

}  // namespace mtrec
