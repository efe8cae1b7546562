#include "nn/concat.h"

#include <cstring>

#include "common/error.h"

namespace mtrec {
namespace {

void CheckShape(const Tensor& t, int64_t rows, int64_t cols, const char* what, size_t index) {
  MTREC_CHECK(t.rows == rows && t.cols == cols, "concat: {} {} is {}x{}, expected {}x{}", what, index, t.rows,
              t.cols, rows, cols);
  MTREC_CHECK(t.ld >= t.cols, "concat: {} {} has ld {} < cols {}", what, index, t.ld, t.cols);
}

}  // namespace

Concat::Concat(std::vector<int64_t> input_cols) : input_cols_(std::move(input_cols)) {
  MTREC_CHECK(!input_cols_.empty(), "concat needs at least one input");
  offsets_.reserve(input_cols_.size());
  for (size_t i = 0; i < input_cols_.size(); ++i) {
    MTREC_CHECK(input_cols_[i] > 0, "concat: input {} has {} columns; expected a positive count", i, input_cols_[i]);
    offsets_.push_back(output_cols_);
    output_cols_ += input_cols_[i];
  }
}

void Concat::Forward(std::span<const Tensor> srcs, const Tensor& dst) const {
  MTREC_CHECK(srcs.size() == input_cols_.size(), "concat: {} inputs given, expected {}", srcs.size(),
              input_cols_.size());
  MTREC_CHECK(dst.data != nullptr, "concat: dst is null");
  CheckShape(dst, dst.rows, output_cols_, "dst", 0);
  for (size_t i = 0; i < srcs.size(); ++i) {
    MTREC_CHECK(srcs[i].data != nullptr, "concat: input {} is null", i);
    CheckShape(srcs[i], dst.rows, input_cols_[i], "input", i);
  }
  for (int64_t r = 0; r < dst.rows; ++r) {
    float* out = dst.Row(r);
    for (size_t i = 0; i < srcs.size(); ++i) {
      std::memcpy(out + offsets_[i], srcs[i].Row(r), sizeof(float) * input_cols_[i]);
    }
  }
}

// Concatenation is a permutation of elements, so each input's gradient is its column block of diff_dst.
void Concat::Backward(const Tensor& diff_dst, std::span<const Tensor> diff_srcs) const {
  MTREC_CHECK(diff_srcs.size() == input_cols_.size(), "concat: {} gradients given, expected {}", diff_srcs.size(),
              input_cols_.size());
  CheckShape(diff_dst, diff_dst.rows, output_cols_, "diff_dst", 0);
  for (size_t i = 0; i < diff_srcs.size(); ++i) {
    if (diff_srcs[i].data == nullptr) continue;
    CheckShape(diff_srcs[i], diff_dst.rows, input_cols_[i], "gradient", i);
  }
  for (int64_t r = 0; r < diff_dst.rows; ++r) {
    const float* g = diff_dst.Row(r);
    for (size_t i = 0; i < diff_srcs.size(); ++i) {
      if (diff_srcs[i].data == nullptr) continue;
      std::memcpy(diff_srcs[i].Row(r), g + offsets_[i], sizeof(float) * input_cols_[i]);
    }
  }
}

}  // namespace mtrec
