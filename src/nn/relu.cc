#include "nn/relu.h"

#include <algorithm>

#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// x and y may be the same row (in-place use).
MTREC_HOT_LOOP void ReluRow(const float* x, float* y, int64_t n) {
  for (int64_t c = 0; c < n; ++c) y[c] = x[c] > 0.f ? x[c] : 0.f;
}

MTREC_HOT_LOOP void ReluBackwardRow(const float* y, const float* g, float* out, int64_t n) {
  for (int64_t c = 0; c < n; ++c) out[c] = y[c] > 0.f ? g[c] : 0.f;
}

}  // namespace

Relu::Relu(int64_t cols) : cols_(cols) { MTREC_CHECK(cols > 0, "relu: {} columns; expected a positive count", cols); }

void Relu::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, cols_, "relu", "src");
  CheckTensor(dst, src.rows, cols_, "relu", "dst");
  ParallelRows(src.rows, src.rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      ReluRow(src.Row(r), dst.Row(r), cols_);
    }
  });
}

// d max(x, 0)/dx = 1 where x > 0, else 0 (the subgradient 0 is taken at x = 0). dst > 0 exactly where src > 0,
// so the mask is read from dst, which is still valid when Forward ran in place.
void Relu::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  if (!diff_src) return;
  CheckTensor(dst, dst.rows, cols_, "relu", "dst");
  CheckTensor(diff_dst, dst.rows, cols_, "relu", "diff_dst");
  CheckTensor(*diff_src, dst.rows, cols_, "relu", "diff_src");
  ParallelRows(dst.rows, dst.rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      ReluBackwardRow(dst.Row(r), diff_dst.Row(r), diff_src->Row(r), cols_);
    }
  });
}

}  // namespace mtrec
