// Inverted dropout: in training each element is kept with probability 1 - rate and scaled by 1 / (1 - rate), so
// that inference is the identity. The mask is a hash of (step seed, stream, row, column), so it is the same for
// any thread count and any batch split, and a run with a fixed seed is reproducible.
//
//   Dropout dropout(64, 0.1f, /*stream=*/3);        // stream: tells this layer's masks from other layers'
//   dropout.SetStepSeed(step_seed);                 // once per step, before Forward
//   dropout.Forward(h, h, Mode::kTrain);            // may run in place
//   dropout.Backward(h, h, diff_h, &diff_h);        // uses the mask of the last Forward
//
// The layer keeps the mask of its last training Forward in a buffer that grows only when a larger batch is
// seen. One instance must not run two Forwards at once.
#pragma once

#include <cstdint>

#include "common/aligned.h"
#include "common/rng.h"
#include "nn/layer.h"

namespace mtrec {

// The mask of one training step, for a pass that applies it itself (BatchNorm::ForwardRelu fuses a following
// ReLU and dropout into its own pass): element (r, c) is Value(RowBase(r), c).
struct DropoutMask {
  uint64_t key = 0;
  uint64_t first_row = 0;
  uint64_t threshold = 0;
  float scale = 1.f;  // 1 / (1 - rate): the factor of a kept element

  uint64_t RowBase(int64_t row) const { return key + ((first_row + static_cast<uint64_t>(row)) << 32); }
  static float Value(uint64_t row_base, int64_t col, uint64_t threshold, float scale) {
    return Mix64(row_base + static_cast<uint64_t>(col)) >= threshold ? scale : 0.f;
  }
};

class Dropout : public Layer {
 public:
  Dropout(int64_t cols, float rate, uint64_t stream = 0);

  // `first_row`: the batch's first row in the step's whole batch (under mpirun, this rank's offset in it), so
  // that a row draws the same mask whichever rank holds it.
  void SetStepSeed(uint64_t seed, int64_t first_row = 0);
  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return cols_; }
  int64_t OutputCols() const override { return cols_; }

  float rate() const { return rate_; }
  // This step's mask (after SetStepSeed), the one Forward draws.
  DropoutMask Mask() const { return {key_, first_row_, threshold_, scale_}; }

 private:
  int64_t cols_;
  float rate_;
  float scale_;          // 1 / (1 - rate)
  uint64_t threshold_;   // an element is dropped when its 64-bit hash is below rate · 2^64
  uint64_t stream_;
  uint64_t first_row_ = 0;
  uint64_t key_ = 0;     // mixes the step seed and the stream
  AlignedBuffer<float> mask_;  // rows × cols of 0 or scale_, for the last training Forward
  int64_t mask_rows_ = -1;     // rows of the last training Forward; -1 when the last Forward was inference
};

}  // namespace mtrec
