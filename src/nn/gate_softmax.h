// Softmax within each block of E columns: the gates of mixture-of-experts models. src holds T blocks of E gate
// logits per row (T gates computed by one GEMM: a gate is a Dense(in → T·E) followed by GateSoftmax), dst the T
// probability vectors over the E experts. No parameters.
//
//   GateSoftmax softmax(/*blocks=*/tasks, /*experts=*/8);
//   softmax.Forward(logits, weights, Mode::kTrain);         // batch × tasks·8, each block of 8 sums to 1
//   softmax.Backward(logits, weights, diff_weights, &diff_logits);
//
// Forward may run in place (dst = src), and Backward with diff_src = diff_dst; Backward reads only dst.
#pragma once

#include "nn/layer.h"

namespace mtrec {

class GateSoftmax : public Layer {
 public:
  GateSoftmax(int64_t blocks, int64_t experts);

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  // y = softmax(s) per block: diff_src = y ⊙ (diff_dst − ⟨y, diff_dst⟩), the Jacobian (diag(y) − y yᵀ) applied.
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return blocks_ * experts_; }
  int64_t OutputCols() const override { return blocks_ * experts_; }
  int64_t blocks() const { return blocks_; }
  int64_t experts() const { return experts_; }

 private:
  int64_t blocks_;
  int64_t experts_;
};

}  // namespace mtrec
