#include "models/model.h"

#include "common/error.h"
#include "common/rng.h"

namespace mtrec {

Model::Model(const Config& config, const InputLayout& layout, int64_t max_batch,
             const std::vector<std::string>& embedding_sets)
    : input_(layout, embedding_sets),
      max_batch_(max_batch),
      tasks_(static_cast<int64_t>(config.tasks.size())),
      embedding_init_std_(static_cast<float>(config.model.embedding_init_std)),
      batch_norm_(config.model.batch_norm),
      graph_(config, max_batch) {
  x_.Resize(max_batch, input_.OutputCols());
  diff_x_.Resize(max_batch, input_.OutputCols());
  conditional_.Resize(max_batch, tasks_);
  diff_conditional_.Resize(max_batch, tasks_);
  outputs_.Resize(max_batch, tasks_);
}

void Model::Initialize(uint64_t seed) {
  arena_.Initialize(Mix64(seed));
  input_.Initialize(Mix64(seed ^ 0xe4b3d2a1ULL), embedding_init_std_);
}

Tensor Model::Forward(const Batch& batch, Mode mode) {
  MTREC_CHECK(batch.size <= max_batch_, "batch of {} rows exceeds the model's buffers ({})", batch.size, max_batch_);
  Tensor x = x_.View().TopRows(batch.size);
  Tensor conditional = conditional_.View().TopRows(batch.size);
  Tensor outputs = outputs_.View().TopRows(batch.size);
  input_.Forward(batch, x);
  BodyForward(x, conditional, mode);
  graph_.Forward(conditional, outputs);
  return outputs;
}

void Model::Backward(const Batch& batch, const Tensor& diff_outputs) {
  BackwardInput(batch, BackwardToInput(batch.size, diff_outputs));
}

Tensor Model::BackwardToInput(int64_t rows, const Tensor& diff_outputs) {
  Tensor x = x_.View().TopRows(rows);
  Tensor diff_x = diff_x_.View().TopRows(rows);
  Tensor conditional = conditional_.View().TopRows(rows);
  Tensor diff_conditional = diff_conditional_.View().TopRows(rows);
  graph_.Backward(conditional, outputs_.View().TopRows(rows), diff_outputs, diff_conditional);
  BodyBackward(x, diff_conditional, diff_x);
  return diff_x;
}

void Model::BackwardInput(const Batch& batch, const Tensor& diff_x) { input_.Backward(batch, diff_x); }

}  // namespace mtrec
