#include "models/model.h"

#include "common/error.h"
#include "common/rng.h"

namespace mtrec {

Model::Model(const Config& config, const InputLayout& layout, int64_t max_batch)
    : input_(layout),
      max_batch_(max_batch),
      tasks_(static_cast<int64_t>(config.tasks.size())),
      embedding_init_std_(static_cast<float>(config.model.embedding_init_std)) {
  x_.Resize(max_batch, input_.OutputCols());
  diff_x_.Resize(max_batch, input_.OutputCols());
  outputs_.Resize(max_batch, tasks_);
}

void Model::Initialize(uint64_t seed) {
  arena_.Initialize(Mix64(seed));
  input_.Initialize(Mix64(seed ^ 0xe4b3d2a1ULL), embedding_init_std_);
}

Tensor Model::Forward(const Batch& batch, Mode mode) {
  MTREC_CHECK(batch.size <= max_batch_, "batch of {} rows exceeds the model's buffers ({})", batch.size, max_batch_);
  Tensor x = x_.View().TopRows(batch.size);
  Tensor outputs = outputs_.View().TopRows(batch.size);
  input_.Forward(batch, x);
  BodyForward(x, outputs, mode);
  return outputs;
}

void Model::Backward(const Batch& batch, const Tensor& diff_outputs) {
  Tensor x = x_.View().TopRows(batch.size);
  Tensor diff_x = diff_x_.View().TopRows(batch.size);
  BodyBackward(x, diff_outputs, diff_x);
  input_.Backward(batch, diff_x);
}

}  // namespace mtrec
