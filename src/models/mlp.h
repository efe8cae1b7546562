// A stack of hidden layers Dense -> ReLU -> Dropout, optionally followed by a linear output layer. It owns its
// activation buffers, sized once for the largest batch.
//
//   Mlp bottom(arena, "bottom", input_width, {256, 128}, /*outputs=*/0, /*dropout=*/0.1f, max_batch, stream);
//   Tensor h = bottom.Forward(x, Mode::kTrain);          // batch × 128
//   bottom.Backward(x, diff_h, &diff_x);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/relu.h"

namespace mtrec {

class Mlp {
 public:
  // outputs = 0: the last hidden layer (after ReLU and dropout) is the output.
  Mlp(ParameterArena& arena, const std::string& name, int64_t input_cols, const std::vector<int64_t>& hidden,
      int64_t outputs, float dropout, int64_t max_batch, uint64_t stream);

  Tensor Forward(const Tensor& src, Mode mode);
  // diff_dst: batch × OutputCols(); diff_src may be null.
  void Backward(const Tensor& src, const Tensor& diff_dst, const Tensor* diff_src);
  void SetStepSeed(uint64_t seed);

  int64_t InputCols() const { return input_cols_; }
  int64_t OutputCols() const { return output_cols_; }

 private:
  int64_t input_cols_;
  int64_t output_cols_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Dropout*> dropouts_;
  std::vector<Matrix> activations_;  // output of each layer
  std::vector<Matrix> diffs_;        // gradient w.r.t. each layer's output
};

}  // namespace mtrec
