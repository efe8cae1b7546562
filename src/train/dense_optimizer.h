// The optimizer of the dense parameters: one update over the whole ParameterArena from its gradients. State
// (m, v) has the arena's layout, so each parameter's update is one loop over contiguous memory.
//
//   DenseOptimizer optimizer(arena, {.kind = DenseOptimizerKind::kAdamW, .lr = 1e-3f, .weight_decay = 1e-4f});
//   arena.ZeroGrad();  ...Backward...  optimizer.Step();
//   std::string state;
//   optimizer.Serialize(&state);          // for a resumable checkpoint
//
// Weight decay applies only to parameters reserved with decay = true (not to biases). The arena must be
// allocated before the optimizer is built; the constructor allocates the state and Step() allocates nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/aligned.h"
#include "common/names.h"
#include "nn/parameters.h"

namespace mtrec {

struct DenseOptimizerOptions {
  DenseOptimizerKind kind = DenseOptimizerKind::kAdam;
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.f;
  float momentum = 0.f;  // SGD only
};

class DenseOptimizer {
 public:
  DenseOptimizer(ParameterArena& arena, const DenseOptimizerOptions& options);

  // One update from arena.grads(); the gradients are left as they are (the caller zeroes them).
  void Step();

  // For learning-rate schedules; takes effect at the next Step().
  void SetLearningRate(float lr) { options_.lr = lr; }
  float learning_rate() const { return options_.lr; }
  int64_t step() const { return t_; }
  const DenseOptimizerOptions& options() const { return options_; }

  // Appends the state (kind, t, m, v) to *out, little-endian.
  void Serialize(std::string* out) const;
  // Restores a state written by Serialize; throws Error when it belongs to another optimizer kind or to an
  // arena of another size, leaving this optimizer unchanged.
  void Deserialize(std::string_view data);

 private:
  ParameterArena* arena_;
  DenseOptimizerOptions options_;
  int64_t t_ = 0;
  AlignedBuffer<float> m_;  // first moment (Adam) or momentum buffer (SGD); empty when unused
  AlignedBuffer<float> v_;  // second moment (Adam); empty when unused
};

}  // namespace mtrec
