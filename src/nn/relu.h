// The rectifier, dst = max(src, 0), element-wise. It may run in place (src and dst the same tensor), and its
// Backward may write diff_src over diff_dst.
//
//   Relu relu(32);
//   relu.Forward(h, h, Mode::kTrain);
//   relu.Backward(h, h, diff_h, &diff_h);
#pragma once

#include <cstdint>

#include "nn/layer.h"

namespace mtrec {

class Relu : public Layer {
 public:
  explicit Relu(int64_t cols);

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return cols_; }
  int64_t OutputCols() const override { return cols_; }

 private:
  int64_t cols_;
};

}  // namespace mtrec
