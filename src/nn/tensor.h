// A row-major 2-D view over float storage, with a row stride (`ld`) so that a block of columns of a wider
// matrix (one feature's slot in the concatenated input, one task's column of the logits) is a Tensor too.
//
//   Matrix activations(max_batch, 256);                // owns aligned storage
//   Tensor x = activations.View().TopRows(batch);      // the rows of this batch
//   Tensor slot = x.Columns(16, 8);                    // columns 16..23 of every row
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/aligned.h"

namespace mtrec {

struct Tensor {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;  // distance between the starts of consecutive rows, in floats (>= cols)

  float* Row(int64_t r) const { return data + r * ld; }
  float& At(int64_t r, int64_t c) const { return data[r * ld + c]; }
  Tensor Columns(int64_t begin, int64_t count) const { return Tensor{data + begin, rows, count, ld}; }
  Tensor TopRows(int64_t n) const { return Tensor{data, n, cols, ld}; }
  bool Contiguous() const { return ld == cols; }
};

// Throws an Error unless `t` is a non-null rows × cols view with ld >= cols; `layer` and `what` (e.g. "dense
// layer 'bottom.0'", "diff_dst") name it in the message.
void CheckTensor(const Tensor& t, int64_t rows, int64_t cols, std::string_view layer, std::string_view what);

// into += from, element-wise (same shape); and into = from.
void AddInto(const Tensor& into, const Tensor& from);
void CopyInto(const Tensor& into, const Tensor& from);
// Every element of the view set to 0 (a gradient buffer that several backward passes accumulate into).
void ZeroFill(const Tensor& t);
// sums[c] += Σ_rows t(r, c), in double, for each of t's columns (a gate's mean weights over an evaluation).
void AddColumnSums(const Tensor& t, std::vector<double>& sums);
// sums[c] += Σ_r t[r, c] in float, threads taking column ranges and each column summed over the rows in order, so
// the result does not depend on the thread count (a dense layer's bias gradient).
void AddColumnSumsParallel(const Tensor& t, float* sums);

// Aligned storage for a rows × cols matrix, allocated once and zero-initialised.
class Matrix {
 public:
  Matrix() = default;
  Matrix(int64_t rows, int64_t cols) { Resize(rows, cols); }
  void Resize(int64_t rows, int64_t cols) {
    buffer_.Resize(static_cast<size_t>(rows * cols));
    rows_ = rows;
    cols_ = cols;
  }
  Tensor View() { return Tensor{buffer_.data(), rows_, cols_, cols_}; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  float* data() { return buffer_.data(); }
  const float* data() const { return buffer_.data(); }

 private:
  AlignedBuffer<float> buffer_;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
};

}  // namespace mtrec
