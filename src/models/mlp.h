// A stack of hidden layers Dense -> [BatchNorm ->] ReLU -> Dropout, optionally followed by a linear output layer.
// It owns its activation buffers, sized once for the largest batch.
//
// With groups = G it is G independent MLPs of the same shape computed side by side, group g's output in columns
// [g·out, (g+1)·out): experts, or one tower per task. Groups that read the same input make the first layer one
// wide GEMM (shared_input); otherwise group g reads column block g of src, and every later layer is one grouped
// (batched) GEMM. cross_stitch mixes the groups after each hidden layer (Misra et al. 2016).
//
//   Mlp bottom(arena, "bottom", input_width, {256, 128}, /*outputs=*/0, /*dropout=*/0.1f, max_batch, stream);
//   Tensor h = bottom.Forward(x, Mode::kTrain);          // batch × 128
//   bottom.Backward(x, diff_h, &diff_x);
//   Mlp experts(arena, "experts", input_width, {64}, 0, 0.f, max_batch, stream, {.groups = 8});  // batch × 8·64
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/batch_norm.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/relu.h"

namespace mtrec {

struct MlpOptions {
  int64_t groups = 1;
  bool shared_input = true;   // every group reads all of src; else group g reads columns [g·in, (g+1)·in)
  bool cross_stitch = false;  // a cross-stitch unit after each hidden layer's dropout
  bool batch_norm = false;    // batch normalisation between each hidden layer's Dense and ReLU (per column, so
                              // each group's units are normalised on their own)
};

class Mlp {
 public:
  // outputs = 0: the last hidden layer (after ReLU and dropout) is the output. input_cols: what one group reads.
  Mlp(ParameterArena& arena, const std::string& name, int64_t input_cols, const std::vector<int64_t>& hidden,
      int64_t outputs, float dropout, int64_t max_batch, uint64_t stream, const MlpOptions& options = {});

  Tensor Forward(const Tensor& src, Mode mode);
  // diff_dst: batch × OutputCols(); diff_src may be null.
  void Backward(const Tensor& src, const Tensor& diff_dst, const Tensor* diff_src);
  void SetStepSeed(uint64_t seed);

  int64_t InputCols() const { return input_cols_; }   // of src (all groups)
  int64_t OutputCols() const { return output_cols_; }  // of the output (all groups)
  int64_t GroupCols() const { return output_cols_ / groups_; }

 private:
  int64_t input_cols_;
  int64_t output_cols_;
  int64_t groups_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> profile_names_;  // per layer: "<name>.<i> <kind> forward", then "... backward"
  std::vector<Dropout*> dropouts_;
  std::vector<Matrix> activations_;  // output of each layer
  std::vector<Matrix> diffs_;        // gradient w.r.t. each layer's output
};

}  // namespace mtrec
