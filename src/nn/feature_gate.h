// HoME's feature gates (Wang et al. 2024): E private views of one input, one per expert, each the input rescaled
// column by column by a low-rank gate of the input itself,
//   dst_e = x ⊙ 2σ(A_e · (B_e · x + b_e) + a_e),    B_e: cols → rank,  A_e: rank → cols,  e = 0 .. E−1,
// so every factor lies in (0, 2) and each expert can weigh the features differently from the others. The E down
// maps B_e run as one GEMM ("<name>.down", cols → E·rank), the up maps A_e as one grouped GEMM ("<name>.up", E
// groups rank → cols). It keeps its last Forward's gate values for Backward (sized once for max_batch rows).
//
//   FeatureGate gates(arena, "home.features", /*cols=*/64, /*copies=*/6, /*rank=*/8, max_batch);
//   gates.Forward(x, views, Mode::kTrain);            // views: batch × 6·64
//   gates.Backward(x, views, diff_views, &diff_x);    // diff_x overwritten: the direct term plus the gates'
#pragma once

#include <cstdint>
#include <string>

#include "nn/dense.h"
#include "nn/grouped_dense.h"
#include "nn/layer.h"
#include "nn/parameters.h"
#include "nn/shared_columns.h"
#include "nn/tensor.h"

namespace mtrec {

class FeatureGate : public Layer {
 public:
  FeatureGate(ParameterArena& arena, const std::string& name, int64_t cols, int64_t copies, int64_t rank,
              int64_t max_batch);

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override { Forward(src, dst, mode, nullptr); }
  // shared: a server's groups of rows (nn/shared_columns.h), for the down GEMM, which reads src whole.
  void Forward(const Tensor& src, const Tensor& dst, Mode mode, const SharedColumns* shared);
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return cols_; }
  int64_t OutputCols() const override { return copies_ * cols_; }

 private:
  int64_t cols_, copies_, rank_;
  Dense down_;
  GroupedDense up_;
  Matrix low_;      // B·x + b, batch × E·rank
  Matrix factors_;  // 2σ(A·low + a), batch × E·cols
  Matrix diff_low_, diff_up_, diff_src_scratch_;
};

}  // namespace mtrec
