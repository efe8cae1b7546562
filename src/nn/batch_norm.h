// Batch normalisation over the rows of a batch, one statistic per column (Ioffe & Szegedy 2015), as PyTorch's
// BatchNorm1d: in training, y = γ (x − μ_B) / √(σ²_B + ε) + β with the batch's mean and biased variance, and the
// running statistics move by `momentum` towards μ_B and the unbiased σ²_B; in inference the running statistics
// replace the batch's. γ, β, the running mean and the running variance live in the ParameterArena as
// "<name>.weight", "<name>.bias", "<name>.running_mean", "<name>.running_var" (PyTorch's names), so they are saved,
// exported and restored with the other weights; the running statistics are not trained (their gradient stays 0,
// so no optimizer moves them).
//
//   BatchNorm norm(arena, "experts.0.norm", 512);
//   norm.Forward(h, h, Mode::kTrain);             // may run in place
//   norm.Backward(h_in, h, diff_h, &diff_h_in);   // src must be the Forward's input: x̂ is recomputed from it
//
// The statistics are summed over fixed chunks of rows, then the chunks in order, so the result does not depend on
// the thread count. Under mpirun (common/communicator.h) a training batch's statistics are those of the step's whole
// batch, every rank's rows (synchronised batch norm): the column sums are all-reduced in Forward and Backward, so
// every rank must run both, a rank without rows on a batch of none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/dropout.h"
#include "nn/layer.h"
#include "nn/parameters.h"

namespace mtrec {

class BatchNorm : public Layer {
 public:
  BatchNorm(ParameterArena& arena, const std::string& name, int64_t cols, float momentum = 0.1f, float eps = 1e-5f);

  // Forward may run in place (dst == src) only in inference: training's Backward needs the input.
  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  // BatchNorm -> ReLU [-> Dropout] in one pass over the rows (Mlp's hidden layers): dst = max(0, y) ⊙ mask, the
  // mask that `dropout` draws in training (null: none), as the three layers one after the other would give. No
  // mask is stored: dst > 0 exactly where the ReLU passed and the mask kept, which is what BackwardRelu reads.
  void ForwardRelu(const Tensor& src, const Tensor& dst, Mode mode, const Dropout* dropout);
  // dst: ForwardRelu's output, diff_dst the gradient w.r.t. it; the same `dropout` as the forward pass.
  void BackwardRelu(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src,
                    const Dropout* dropout);
  int64_t InputCols() const override { return cols_; }
  int64_t OutputCols() const override { return cols_; }

 private:
  ParameterArena* arena_;
  std::string label_;
  // Sets scale_ and shift_ (the affine map of this Forward): from the batch's statistics in training, which it
  // records for Backward, else from the running statistics.
  void PrepareForward(const Tensor& src, const Tensor& dst, Mode mode);
  // What the gradient passes of Backward and BackwardRelu share: `moments(chunk sums, begin, end)` adds the rows'
  // Σ dy and Σ dy·x̂ to the chunk's sums, then the parameters' gradients are added and the means over the whole
  // batch are left in scale_ (of dy) and shift_ (of dy·x̂).
  template <typename Moments>
  void ReduceGradientMoments(int64_t n, const Moments& moments);
  void CheckBackward(const Tensor& src, const Tensor& diff_dst, const Tensor* diff_src) const;

  int64_t cols_;
  float momentum_;
  float eps_;
  size_t gamma_id_, beta_id_, mean_id_, var_id_;
  // The statistics of the last training Forward, for its Backward.
  std::vector<float> batch_mean_;
  std::vector<float> batch_inv_std_;
  int64_t batch_rows_ = -1;
  std::vector<float> scale_, shift_;  // per column: the affine map of this Forward (then Backward's means)
  std::vector<double> partial_;       // per row chunk: partial sums of the statistics passes
  std::vector<double> totals_;        // the column sums, reduced over the ranks under mpirun
  double batch_total_rows_ = 0;       // rows of the last training Forward, over all ranks
};

}  // namespace mtrec
