// Concatenation of N inputs along columns: dst = [src_0 | src_1 | ... ], every input with the same rows. Backward
// splits diff_dst back into the inputs' column blocks. Where an input can be written straight into its column
// block of the wider matrix (Tensor::Columns), that is cheaper and Concat is not needed.
//
//   Concat concat({16, 8, 32});                          // input widths
//   const Tensor srcs[] = {user, item, context};
//   concat.Forward(srcs, x);                             // x: batch × 56
//   const Tensor diff_srcs[] = {diff_user, Tensor{}, diff_context};
//   concat.Backward(diff_x, diff_srcs);                  // an entry with null data gets no gradient
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "nn/tensor.h"

namespace mtrec {

class Concat {
 public:
  explicit Concat(std::vector<int64_t> input_cols);

  void Forward(std::span<const Tensor> srcs, const Tensor& dst) const;
  // Writes (not accumulates) each diff_src; an entry whose data is null is skipped.
  void Backward(const Tensor& diff_dst, std::span<const Tensor> diff_srcs) const;

  int64_t Inputs() const { return static_cast<int64_t>(input_cols_.size()); }
  int64_t InputCols(int64_t i) const { return input_cols_[i]; }
  int64_t OutputCols() const { return output_cols_; }
  int64_t ColumnOffset(int64_t i) const { return offsets_[i]; }  // first column of input i in dst

 private:
  std::vector<int64_t> input_cols_;
  std::vector<int64_t> offsets_;
  int64_t output_cols_ = 0;
};

}  // namespace mtrec
