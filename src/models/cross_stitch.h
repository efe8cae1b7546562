// Cross-stitch networks (Misra et al., CVPR 2016): one network per task (widths model.bottom) over the shared
// embeddings; after each hidden layer the tasks' activations are mixed, x̃_k = Σ_j α_kj x_j, with α learned
// (initialised at 0.9 on the diagonal, 0.1/(K−1) elsewhere). Then one tower per task. The first layers of all
// networks read x: one wide GEMM; later layers are grouped GEMMs.
#pragma once

#include "models/mlp.h"
#include "models/model.h"

namespace mtrec {

class CrossStitchNetwork : public Model {
 public:
  CrossStitchNetwork(const Config& config, const InputLayout& layout, int64_t max_batch);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  Mlp* networks_ = nullptr;  // the MLPs are owned by the base
  Mlp* towers_ = nullptr;
  Tensor hidden_;
  Matrix diff_hidden_;
};

}  // namespace mtrec
