// A Tensor's elements row by row, without the gaps of its row stride: what tests compare outputs by.
//
//   EXPECT_EQ(TensorValues(model.Forward(batch, Mode::kInfer)), TensorValues(copy.Forward(batch, Mode::kInfer)));
#pragma once

#include <vector>

#include "nn/tensor.h"

namespace mtrec {

inline std::vector<float> TensorValues(const Tensor& t) {
  std::vector<float> values;
  values.reserve(static_cast<size_t>(t.rows * t.cols));
  for (int64_t r = 0; r < t.rows; ++r) values.insert(values.end(), t.Row(r), t.Row(r) + t.cols);
  return values;
}

}  // namespace mtrec
