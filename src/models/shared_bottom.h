// Shared-bottom (Caruana 1997): one MLP f over the input shared by every task, then one tower t_k per task:
// y_k = t_k(f(x)).
#pragma once

#include <vector>

#include "models/mlp.h"
#include "models/model.h"

namespace mtrec {

class SharedBottom : public Model {
 public:
  SharedBottom(const Config& config, const InputLayout& layout, int64_t max_batch);

 protected:
  void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;

 private:
  Mlp* bottom_ = nullptr;  // the MLPs are owned by the base
  std::vector<Mlp*> towers_;
  Tensor hidden_;             // the bottom's output in the last Forward (a view of its buffer)
  Matrix diff_hidden_;        // sum over towers of d loss / d bottom output
  Matrix diff_tower_input_;   // one tower's contribution
  Matrix diff_tower_output_;  // one task's column of diff_dst, contiguous
};

}  // namespace mtrec
