// The contract every dense layer follows (names from oneDNN): Forward(src) -> dst; Backward(diff_dst) ->
// diff_src, accumulating (+=) into the gradients of the layer's parameters in the ParameterArena.
// Callers own the activations: they pass back the src and dst of the matching Forward, so layers keep no
// pointers to buffers they do not own. Shapes: src is batch × InputCols(), dst batch × OutputCols().
//
//   Dense dense(arena, "bottom.0", 64, 32);
//   dense.Forward(x, h, Mode::kTrain);
//   dense.Backward(x, h, diff_h, &diff_x);   // diff_x may be nullptr for the first layer
#pragma once

#include <cstdint>

#include "nn/tensor.h"

namespace mtrec {

enum class Mode { kTrain, kInfer };

class Layer {
 public:
  virtual ~Layer() = default;
  virtual void Forward(const Tensor& src, const Tensor& dst, Mode mode) = 0;
  // diff_src may be null when no gradient is needed below this layer. diff_src may alias diff_dst only for
  // element-wise layers (ReLU, dropout).
  virtual void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) = 0;
  virtual int64_t InputCols() const = 0;
  virtual int64_t OutputCols() const = 0;
};

}  // namespace mtrec
