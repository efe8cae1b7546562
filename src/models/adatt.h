// AdaTT, the adaptive task-to-task fusion network (Li et al., KDD 2023), in its AdaTT-sp form: no shared experts,
// every task fuses every task's experts. Level l has, for each task k, model.task_experts (m) experts E_{k,i}^l
// reading task k's h_k^{l−1} (h^0 = x for every task, so the first level's experts run as one wide GEMM). Task k's
// output at the level is its fusion unit plus its native unit:
//   h_k^l = Σ_{j,i} g^{k,l}_{j,i}(h_k^{l−1}) E_{j,i}^l  +  Σ_i v^{k,l}_i E_{k,i}^l,
// g^{k,l} = softmax(W^{k,l} h_k^{l−1} + b^{k,l}) over all T·m experts of the level, v^{k,l} a learned linear
// combination of the task's own experts (U(−√(1/m), √(1/m)) at the start; with m = 1 the residual is the expert
// itself, v = 1 fixed). Both units are one mixture: the gate's softmax plus v on the task's own experts. Experts are
// one layer of width model.expert[l] (ReLU); towers read h_k^L. Parameters: adatt.<l>.experts (the first level),
// adatt.<l>.experts.<task>, adatt.<l>.gates.<task>, adatt.<l>.native.<task> (1 × m, when m > 1).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/mlp.h"
#include "models/model.h"
#include "nn/dense.h"
#include "nn/gate_softmax.h"
#include "nn/mixture.h"

namespace mtrec {

class Adatt : public Model {
 public:
  Adatt(const Config& config, const InputLayout& layout, int64_t max_batch);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  // The experts of one input: all of the first level's (over x), or task k's at a later level.
  struct Bank {
    Mlp* mlp = nullptr;  // owned by the base
    int task = -1;       // -1: reads the level's src (x); else block `task` of the previous level's output
    Tensor out;          // of the last Forward
    Matrix diff_out;
  };
  struct Gate {
    std::string name;   // "level<l>.<task>"
    std::unique_ptr<Dense> dense;
    std::unique_ptr<GateSoftmax> softmax;
    size_t native_id = 0;  // the native weights v (1 × m) in the arena, when m > 1
    Matrix logits, probabilities, weights, diff_weights, diff_logits;  // weights = probabilities + native
    int usage = -1;  // its index in gate_usage_
  };
  struct Level {
    int64_t width = 0;     // of each expert's output
    int64_t in_width = 0;  // of each task's input
    std::vector<Bank> banks;
    std::vector<Gate> gates;  // one per task
    std::unique_ptr<Mixture> mixture;
    std::vector<Tensor> blocks, diff_blocks;  // every bank's output, in task order; refilled per call
    Matrix out, diff_out;                     // tasks × width
    Matrix diff_in_scratch;
  };

  Tensor TaskInput(size_t level, int task, const Tensor& src, int64_t rows);
  Tensor TaskDiffInput(size_t level, int task, const Tensor& diff_in, int64_t rows);
  void FillBlocks(Level& level, int64_t rows);

  int64_t task_experts_ = 1;
  std::vector<std::string> task_names_;
  std::vector<Level> levels_;
  Mlp* towers_ = nullptr;  // owned by the base
};

}  // namespace mtrec
