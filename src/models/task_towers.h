// One network per task over the input, nothing shared between tasks but (for esmm) the embeddings:
//   single_task — each task has its own embedding tables and its own MLP: the baseline every multi-task result
//                 is measured against (trained in one run, but no parameter is shared).
//   esmm        — per-task MLPs over the shared embeddings (Ma et al., SIGIR 2018); the probability chain of ESMM
//                 comes from the task graph (`parent = "click", mode = "chain"`), which works with any architecture.
// Each task's network has the widths model.bottom followed by model.tower, then one output. All tasks' networks
// run as grouped GEMMs (the first layer is one wide GEMM when the input is shared).
#pragma once

#include "models/mlp.h"
#include "models/model.h"

namespace mtrec {

class TaskTowers : public Model {
 public:
  TaskTowers(const Config& config, const InputLayout& layout, int64_t max_batch, bool own_embeddings);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  Mlp* networks_ = nullptr;  // owned by the base
};

}  // namespace mtrec
