#include "nn/relu.h"

#include <algorithm>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

void CheckShape(const Tensor& t, int64_t rows, int64_t cols, const char* what) {
  MTREC_CHECK(t.data != nullptr, "relu: {} is null", what);
  MTREC_CHECK(t.rows == rows && t.cols == cols, "relu: {} is {}x{}, expected {}x{}", what, t.rows, t.cols, rows,
              cols);
  MTREC_CHECK(t.ld >= t.cols, "relu: {} has ld {} < cols {}", what, t.ld, t.cols);
}

}  // namespace

Relu::Relu(int64_t cols) : cols_(cols) { MTREC_CHECK(cols > 0, "relu: {} columns; expected a positive count", cols); }

void Relu::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckShape(src, src.rows, cols_, "src");
  CheckShape(dst, src.rows, cols_, "dst");
  ParallelRows(src.rows, src.rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* x = src.Row(r);
      float* y = dst.Row(r);
      for (int64_t c = 0; c < cols_; ++c) y[c] = x[c] > 0.f ? x[c] : 0.f;
    }
  });
}

// d max(x, 0)/dx = 1 where x > 0, else 0 (the subgradient 0 is taken at x = 0). dst > 0 exactly where src > 0,
// so the mask is read from dst, which is still valid when Forward ran in place.
void Relu::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  if (!diff_src) return;
  CheckShape(dst, dst.rows, cols_, "dst");
  CheckShape(diff_dst, dst.rows, cols_, "diff_dst");
  CheckShape(*diff_src, dst.rows, cols_, "diff_src");
  ParallelRows(dst.rows, dst.rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* y = dst.Row(r);
      const float* g = diff_dst.Row(r);
      float* out = diff_src->Row(r);
      for (int64_t c = 0; c < cols_; ++c) out[c] = y[c] > 0.f ? g[c] : 0.f;
    }
  });
}

}  // namespace mtrec
