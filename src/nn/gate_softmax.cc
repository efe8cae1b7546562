#include "nn/gate_softmax.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// exp() costs several multiply-adds; the work estimate tells ParallelRows when splitting pays.
constexpr int64_t kExpCost = 8;

}  // namespace

GateSoftmax::GateSoftmax(int64_t blocks, int64_t experts) : blocks_(blocks), experts_(experts) {
  MTREC_CHECK(blocks > 0 && experts > 0, "gate softmax of {} blocks of {} experts: expected positive sizes", blocks,
              experts);
}

void GateSoftmax::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, blocks_ * experts_, "gate softmax", "src");
  CheckTensor(dst, src.rows, blocks_ * experts_, "gate softmax", "dst");
  ParallelRows(src.rows, src.rows * src.cols * kExpCost, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t b = 0; b < blocks_; ++b) {
        const float* s = src.Row(r) + b * experts_;
        float* y = dst.Row(r) + b * experts_;
        // Subtracting the block's maximum keeps exp() in (0, 1] for any finite logits: no overflow at 1000, and
        // the largest term is exactly 1, so the sum is at least 1.
        const float top = *std::max_element(s, s + experts_);
        double sum = 0;
        for (int64_t e = 0; e < experts_; ++e) {
          y[e] = std::exp(s[e] - top);
          sum += y[e];
        }
        const float scale = static_cast<float>(1.0 / sum);
        for (int64_t e = 0; e < experts_; ++e) y[e] *= scale;
      }
    }
  });
}

// Per block, y = softmax(s) has Jacobian ∂y_i/∂s_j = y_i (δ_ij − y_j), so with G = diff_dst:
//   diff_src_j = Σ_i G_i y_i (δ_ij − y_j) = y_j (G_j − Σ_i y_i G_i).
void GateSoftmax::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  if (!diff_src) return;
  const int64_t cols = blocks_ * experts_;
  CheckTensor(dst, dst.rows, cols, "gate softmax", "dst");
  CheckTensor(diff_dst, dst.rows, cols, "gate softmax", "diff_dst");
  CheckTensor(*diff_src, dst.rows, cols, "gate softmax", "diff_src");
  ParallelRows(dst.rows, dst.rows * cols * 3, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t b = 0; b < blocks_; ++b) {
        const float* y = dst.Row(r) + b * experts_;
        const float* g = diff_dst.Row(r) + b * experts_;
        float* d = diff_src->Row(r) + b * experts_;
        double dot = 0;
        for (int64_t e = 0; e < experts_; ++e) dot += static_cast<double>(y[e]) * g[e];
        const float mean = static_cast<float>(dot);
        for (int64_t e = 0; e < experts_; ++e) d[e] = y[e] * (g[e] - mean);
      }
    }
  });
}

}  // namespace mtrec
