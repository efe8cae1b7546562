// AITM (Xi et al., KDD 2021): each task k has its own encoder q_k = MLP_k(x) (widths model.bottom) over the shared
// embeddings. A task with a parent p in the task graph receives the parent's information p_p = g_p(z_p) (one
// dense layer with ReLU) through an adaptive information transfer unit, z_k = AIT(p_p, q_k); a task without a
// parent has z_k = q_k. Towers read z_k. As in the authors' code, the information passed on is computed from the
// parent's transferred representation z_p (not its raw q_p), so a chain click → cart → purchase carries the
// click's information to the purchase. The calibrator loss (model.calibrator) is applied by the trainer on
// `mode = "direct"` links; chain links already keep p(child) ≤ p(parent).
#pragma once

#include <memory>
#include <vector>

#include "models/mlp.h"
#include "models/model.h"
#include "nn/attention_transfer.h"

namespace mtrec {

class Aitm : public Model {
 public:
  Aitm(const Config& config, const InputLayout& layout, int64_t max_batch);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  Tensor Block(Matrix& m, int64_t task, int64_t rows) { return m.View().TopRows(rows).Columns(task * width_, width_); }

  int64_t width_;
  Mlp* encoders_ = nullptr;                                // the MLPs are owned by the base
  std::vector<Mlp*> transfer_;                             // per task with children, else null
  std::vector<std::unique_ptr<AttentionTransfer>> units_;  // per task with a parent, else null
  Mlp* towers_ = nullptr;
  Tensor encoded_;                  // q, batch × tasks·width (the encoders' buffer)
  std::vector<Tensor> information_; // g_p(z_p) of the last Forward, per task with children
  Matrix z_, diff_z_, diff_encoded_, diff_information_, scratch_;
};

}  // namespace mtrec
