#include "nn/tensor.h"

#include "common/error.h"

namespace mtrec {

void CheckTensor(const Tensor& t, int64_t rows, int64_t cols, std::string_view layer, std::string_view what) {
  MTREC_CHECK(t.data != nullptr, "{}: {} is null", layer, what);
  MTREC_CHECK(t.rows == rows && t.cols == cols, "{}: {} is {}x{}, expected {}x{}", layer, what, t.rows, t.cols, rows,
              cols);
  MTREC_CHECK(t.ld >= t.cols, "{}: {} has ld {} < cols {}", layer, what, t.ld, t.cols);
}

}  // namespace mtrec
