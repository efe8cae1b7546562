#include "nn/swish.h"

#include <cmath>

#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"
#include "common/vector_exp.h"

namespace mtrec {
namespace {

// x and y may be the same row (in-place use).
MTREC_HOT_LOOP void SwishRow(const float* x, float* y, int64_t n) {
  for (int64_t c = 0; c < n; ++c) y[c] = x[c] * VectorSigmoid(x[c]);
}

// d(x σ(x))/dx = σ(x) + x σ(x)(1 − σ(x)) = σ(x)(1 + x(1 − σ(x))).
MTREC_HOT_LOOP void SwishBackwardRow(const float* x, const float* g, float* out, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float s = VectorSigmoid(x[c]);
    out[c] = g[c] * s * (1.f + x[c] * (1.f - s));
  }
}

}  // namespace

Swish::Swish(int64_t cols) : cols_(cols) {
  MTREC_CHECK(cols > 0, "swish: {} columns; expected a positive count", cols);
}

void Swish::Forward(const Tensor& src, const Tensor& dst, Mode /*mode*/) {
  CheckTensor(src, src.rows, cols_, "swish", "src");
  CheckTensor(dst, src.rows, cols_, "swish", "dst");
  ParallelRows(src.rows, src.rows * cols_ * 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) SwishRow(src.Row(r), dst.Row(r), cols_);
  });
}

void Swish::Backward(const Tensor& src, const Tensor& /*dst*/, const Tensor& diff_dst, const Tensor* diff_src) {
  if (!diff_src) return;
  CheckTensor(src, src.rows, cols_, "swish", "src");
  CheckTensor(diff_dst, src.rows, cols_, "swish", "diff_dst");
  CheckTensor(*diff_src, src.rows, cols_, "swish", "diff_src");
  ParallelRows(src.rows, src.rows * cols_ * 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) SwishBackwardRow(src.Row(r), diff_dst.Row(r), diff_src->Row(r), cols_);
  });
}

}  // namespace mtrec
