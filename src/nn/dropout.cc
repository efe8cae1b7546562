#include "nn/dropout.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/hot_loop.h"
#include "common/rng.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// Copies unless the two views are the same memory (in-place use).
void CopyRows(const Tensor& from, const Tensor& to) {
  if (from.data == to.data && from.ld == to.ld) return;
  for (int64_t r = 0; r < from.rows; ++r) std::memmove(to.Row(r), from.Row(r), sizeof(float) * from.cols);
}

// One row: mask m (0 or 1/(1-rate)) from SplitMix64 over the counter (row, column), y = x ⊙ m. A counter-based
// stream needs no state between elements, so the loop vectorises (AVX-512 has the 64-bit multiplies it needs).
// x and y may be the same row (in-place use).
MTREC_HOT_LOOP void DropoutRow(const float* x, float* y, float* __restrict m, int64_t n, uint64_t row_base,
                               uint64_t threshold, float scale) {
  for (int64_t c = 0; c < n; ++c) {
    m[c] = DropoutMask::Value(row_base, c, threshold, scale);
    y[c] = x[c] * m[c];
  }
}

MTREC_HOT_LOOP void MultiplyRow(const float* g, const float* __restrict m, float* out, int64_t n) {
  for (int64_t c = 0; c < n; ++c) out[c] = g[c] * m[c];
}

}  // namespace

Dropout::Dropout(int64_t cols, float rate, uint64_t stream) : cols_(cols), rate_(rate), stream_(stream) {
  MTREC_CHECK(cols > 0, "dropout: {} columns; expected a positive count", cols);
  MTREC_CHECK(rate >= 0.f && rate < 1.f, "dropout rate {} is outside [0, 1)", rate);
  scale_ = 1.f / (1.f - rate);
  threshold_ = static_cast<uint64_t>(std::ldexp(static_cast<double>(rate), 64));
  SetStepSeed(0);
}

void Dropout::SetStepSeed(uint64_t seed, int64_t first_row) {
  key_ = Mix64(Mix64(seed) ^ Mix64(~stream_));
  first_row_ = static_cast<uint64_t>(first_row);
}

void Dropout::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, cols_, "dropout", "src");
  CheckTensor(dst, src.rows, cols_, "dropout", "dst");
  if (mode == Mode::kInfer || rate_ == 0.f) {
    mask_rows_ = -1;
    CopyRows(src, dst);
    return;
  }
  const int64_t rows = src.rows;
  if (static_cast<size_t>(rows * cols_) > mask_.size()) mask_.Resize(static_cast<size_t>(rows * cols_));
  mask_rows_ = rows;
  const DropoutMask mask = Mask();
  ParallelRows(rows, rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      DropoutRow(src.Row(r), dst.Row(r), mask_.data() + r * cols_, cols_, mask.RowBase(r), mask.threshold, mask.scale);
    }
  });
}

// dst = src ⊙ mask, so diff_src = diff_dst ⊙ mask with the mask of the matching Forward (identity after an
// inference Forward).
void Dropout::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  if (!diff_src) return;
  CheckTensor(diff_dst, diff_dst.rows, cols_, "dropout", "diff_dst");
  CheckTensor(*diff_src, diff_dst.rows, cols_, "dropout", "diff_src");
  if (mask_rows_ < 0) {
    CopyRows(diff_dst, *diff_src);
    return;
  }
  MTREC_CHECK(diff_dst.rows == mask_rows_, "dropout: Backward of {} rows after a Forward of {} rows", diff_dst.rows,
              mask_rows_);
  ParallelRows(diff_dst.rows, diff_dst.rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      MultiplyRow(diff_dst.Row(r), mask_.data() + r * cols_, diff_src->Row(r), cols_);
    }
  });
}

}  // namespace mtrec
