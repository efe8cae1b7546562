// STEM, shared and task-specific embeddings (Su et al., AAAI 2024), as STEM-Net: besides the shared embedding
// tables ("embeddings.*") each task t has its own set ("embeddings.<t>.*"), so x = [x_s | x_1 | ... | x_T]. The
// shared experts (model.experts) read x_s, task t's experts (model.task_experts) read x_t. Task t's gate reads the
// whole of x and weighs every expert, shared and every task's (softmax over S + T·m):
//   h_t = Σ_e g^t_e(x) f_e,   tower_t(h_t)
// forward as written, backward "all forward, task-specific backward": task t's loss reaches the shared experts and
// tables and t's own, never another task's — the other tasks' experts enter h_t and t's gate reads their tables,
// but through a stop-gradient. So each task-specific table is trained by its own task alone, which is what keeps
// the tasks' embeddings apart when their preferences conflict. Experts are MLPs of model.expert, like mmoe's.
// Parameters: stem.experts.shared, stem.experts.<task>, stem.gates.<task>, towers.
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

class Stem : public Model {
 public:
  Stem(const Config& config, const InputLayout& layout, int64_t max_batch);
  // Off: the full gradient, every task's loss reaching every expert and table it reads (the paper's ablation
  // without the stop-gradient, and what a finite-difference check can verify). On by default.
  void set_stop_gradient(bool on) { stop_gradient_ = on; }

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  // The experts of one set of embeddings: bank 0 the shared ones over x_s, bank 1 + t task t's over x_t.
  struct Bank {
    Mlp* mlp = nullptr;  // owned by the base
    Tensor out;          // of the last Forward
    Matrix diff_out;
  };
  struct Gate {
    std::unique_ptr<Dense> dense;
    Matrix logits, weights, diff_weights, diff_logits;
    int usage = -1;  // its index in gate_usage_
  };

  // Set s of x's columns: 0 the shared embeddings, 1 + t task t's.
  Tensor SetColumns(const Tensor& x, size_t set) const;

  std::vector<Bank> banks_;
  std::vector<Gate> gates_;
  GateSoftmax softmax_;
  Mixture mixture_;
  Mlp* towers_ = nullptr;  // owned by the base
  Matrix mixed_, diff_mixed_;
  Matrix diff_gate_in_;  // a gate's input gradient (all of x), of which two sets are kept
  std::vector<Tensor> blocks_, diff_blocks_;
  SharedColumns set_shared_;  // the input's shared columns within one set, for that set's bank
  bool stop_gradient_ = true;
};

}  // namespace mtrec
