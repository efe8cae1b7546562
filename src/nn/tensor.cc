#include "nn/tensor.h"

#include <algorithm>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {

void CheckTensor(const Tensor& t, int64_t rows, int64_t cols, std::string_view layer, std::string_view what) {
  MTREC_CHECK(t.data != nullptr, "{}: {} is null", layer, what);
  MTREC_CHECK(t.rows == rows && t.cols == cols, "{}: {} is {}x{}, expected {}x{}", layer, what, t.rows, t.cols, rows,
              cols);
  MTREC_CHECK(t.ld >= t.cols, "{}: {} has ld {} < cols {}", layer, what, t.ld, t.cols);
}

void AddInto(const Tensor& into, const Tensor& from) {
  CheckTensor(from, into.rows, into.cols, "AddInto", "from");
  ParallelRows(into.rows, into.rows * into.cols, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* to = into.Row(r);
      const float* add = from.Row(r);
      for (int64_t c = 0; c < into.cols; ++c) to[c] += add[c];
    }
  });
}

void ZeroFill(const Tensor& t) {
  for (int64_t r = 0; r < t.rows; ++r) std::fill_n(t.Row(r), t.cols, 0.f);
}

void AddColumnSums(const Tensor& t, std::vector<double>& sums) {
  MTREC_CHECK(sums.size() >= static_cast<size_t>(t.cols), "AddColumnSums: {} sums for {} columns", sums.size(), t.cols);
  for (int64_t r = 0; r < t.rows; ++r) {
    const float* row = t.Row(r);
    for (int64_t c = 0; c < t.cols; ++c) sums[c] += row[c];
  }
}

void AddColumnSumsParallel(const Tensor& t, float* sums) {
  ParallelRows(t.cols, t.rows * t.cols, [&](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < t.rows; ++r) {
      const float* row = t.Row(r);
      for (int64_t c = begin; c < end; ++c) sums[c] += row[c];
    }
  });
}

void CopyInto(const Tensor& into, const Tensor& from) {
  CheckTensor(from, into.rows, into.cols, "CopyInto", "from");
  for (int64_t r = 0; r < into.rows; ++r) std::copy_n(from.Row(r), into.cols, into.Row(r));
}

}  // namespace mtrec
