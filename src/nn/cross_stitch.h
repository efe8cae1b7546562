// A cross-stitch unit (Misra et al., CVPR 2016) between K task networks of equal width d: src holds the K
// networks' activations side by side (network k at columns [k·d, (k+1)·d)), dst_k = Σ_j α_kj src_j with α a
// learned K × K matrix ("<name>.alpha", row k mixes into network k; initialised near identity by Init::kStitch:
// 0.9 on the diagonal, 0.1/(K−1) elsewhere; not weight-decayed).
//
//   CrossStitch stitch(arena, "networks.0.stitch", /*tasks=*/3, /*width=*/64);
//   stitch.Forward(h, mixed, Mode::kTrain);               // batch × 3·64; mixed must not alias h
//   stitch.Backward(h, mixed, diff_mixed, &diff_h);       // diff_α += ..., diff_h = αᵀ-mixed diff_mixed
//
// The K² per-row mixes are plain loops: K is small (the number of tasks), so a GEMM would not pay. The α
// gradient is summed over fixed chunks of rows and then over the chunks in order, so it does not depend on the
// thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/parameters.h"

namespace mtrec {

class CrossStitch : public Layer {
 public:
  CrossStitch(ParameterArena& arena, const std::string& name, int64_t tasks, int64_t width);

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  // diff_α_kj += Σ_rows ⟨diff_dst_k, src_j⟩;  diff_src_j = Σ_k α_kj diff_dst_k (overwritten; must not alias
  // diff_dst).
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return tasks_ * width_; }
  int64_t OutputCols() const override { return tasks_ * width_; }
  int64_t tasks() const { return tasks_; }
  size_t alpha_id() const { return alpha_id_; }

 private:
  ParameterArena* arena_;
  std::string label_;  // "cross-stitch unit '<name>'", for messages
  int64_t tasks_;
  int64_t width_;
  size_t alpha_id_;
  std::vector<double> partial_;  // K² sums per chunk of rows; grows with the largest batch seen
};

}  // namespace mtrec
