// Swish (SiLU), dst = x · σ(x), element-wise: HoME's expert activation (models/home.h). Unlike ReLU it is smooth
// and never exactly zero, so a normalised expert has no dead units whose share a gate would have to ignore. It may
// run in place only in Forward; Backward reads src.
//
//   Swish swish(32);
//   swish.Forward(h, y, Mode::kTrain);
//   swish.Backward(h, y, diff_y, &diff_h);   // diff_h = diff_y ⊙ σ(h)(1 + h(1 − σ(h)))
#pragma once

#include <cstdint>

#include "nn/layer.h"

namespace mtrec {

class Swish : public Layer {
 public:
  explicit Swish(int64_t cols);

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return cols_; }
  int64_t OutputCols() const override { return cols_; }

 private:
  int64_t cols_;
};

}  // namespace mtrec
