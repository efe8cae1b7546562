#include "models/model.h"

#include <algorithm>

#include "common/error.h"
#include "common/profiler.h"
#include "common/rng.h"

namespace mtrec {

Model::Model(const Config& config, const InputLayout& layout, int64_t max_batch,
             const std::vector<std::string>& embedding_sets)
    : input_(layout, embedding_sets, layout.NumericWidth() > 0 ? config.model.numeric_projection : 0),
      max_batch_(max_batch),
      tasks_(static_cast<int64_t>(config.tasks.size())),
      embedding_init_std_(static_cast<float>(config.model.embedding_init_std)),
      mlp_settings_{.dropout = static_cast<float>(config.model.dropout),
                    .batch_norm = config.model.batch_norm,
                    .max_batch = max_batch},
      graph_(config, max_batch),
      tower_widths_(config.model.tower) {
  if (input_.projects_numeric()) {
    for (const std::string& set : embedding_sets) {
      // "embeddings" → "numeric_projection"; "embeddings.click" (single_task) → "numeric_projection.click".
      const std::string name = "numeric_projection" + set.substr(std::string("embeddings").size());
      numeric_projections_.push_back(std::make_unique<Dense>(arena_, name, layout.NumericWidth(),
                                                             config.model.numeric_projection, Init::kGlorotUniform));
    }
  }
  if (input_.projects_numeric()) numeric_in_.Resize(max_batch, layout.NumericWidth());
  x_.Resize(max_batch, input_.OutputCols());
  diff_x_.Resize(max_batch, input_.OutputCols());
  conditional_.Resize(max_batch, tasks_);
  diff_conditional_.Resize(max_batch, tasks_);
  outputs_.Resize(max_batch, tasks_);
}

Mlp* Model::AddMlp(const MlpOptions& options) {
  MTREC_CHECK(!options.per_column || options.groups == tasks_, "MLP '{}': {} groups cannot be one per column of {}",
              options.name, options.groups, tasks_);
  const size_t first = arena_.Infos().size();
  mlps_.push_back(std::make_unique<Mlp>(arena_, options, mlp_settings_));
  if (options.per_column) arena_.MarkColumnBlocks(first, tasks_);
  return mlps_.back().get();
}

Mlp* Model::AddTaskTowers(int64_t input_cols, bool shared_input) {
  return AddMlp({.name = "towers",
                 .input_cols = input_cols,
                 .hidden = tower_widths_,
                 .outputs = 1,
                 .groups = tasks_,
                 .per_column = true,
                 .shared_input = shared_input,
                 .dropout_stream = DropoutStream::Tower(0)});
}

void Model::SetStepSeed(uint64_t seed, int64_t first_row) {
  for (const auto& mlp : mlps_) mlp->SetStepSeed(seed, first_row);
}

void Model::CheckAllocated() const {
  MTREC_CHECK(arena_.allocated(),
              "the model's parameter arena was never allocated; build a model with CreateModel or Model::Build, "
              "which allocate it after the architecture's constructor has reserved every parameter");
}

void Model::Initialize(uint64_t seed) {
  CheckAllocated();
  arena_.Initialize(Mix64(seed));
  input_.Initialize(Mix64(seed ^ 0xe4b3d2a1ULL), embedding_init_std_);
}

void Model::ShareWeightsOf(const Model& source) {
  CheckAllocated();
  arena_.ShareValuesOf(source.arena());
  auto& tables = input_.tables();
  const auto& theirs = source.input().tables();
  MTREC_CHECK(tables.size() == theirs.size(), "a model of {} embedding tables cannot share those of one of {}",
              tables.size(), theirs.size());
  for (size_t t = 0; t < tables.size(); ++t) tables[t].ShareStorageOf(theirs[t]);
}

void Model::SetOutputBias(int64_t task, float value) {
  CheckAllocated();
  MTREC_CHECK(task >= 0 && task < tasks_, "SetOutputBias: task {} of {}", task, tasks_);
  int64_t first = 0;  // the task column of the current MLP's first group
  float* bias = nullptr;
  for (const auto& mlp : mlps_) {
    if (mlp->output_bias_id() == Mlp::kNoOutputLayer || mlp->GroupCols() != 1) continue;
    if (task >= first && task < first + mlp->groups()) bias = arena_.Value(mlp->output_bias_id()) + (task - first);
    first += mlp->groups();
  }
  MTREC_CHECK(first == tasks_ && bias != nullptr,
              "the model's one-unit output layers give {} task columns, not the {} tasks: the architecture does not "
              "end in task towers",
              first, tasks_);
  *bias = value;
}

// The columns set c's numeric projection writes: its block of the input layer's output.
Tensor Model::ProjectionColumns(const Tensor& x, size_t c) const {
  return x.Columns(static_cast<int64_t>(c) * input_.CopyCols() + input_.NumericOffset(),
                   input_.CopyCols() - input_.NumericOffset());
}

Tensor Model::Forward(const Batch& batch, Mode mode) {
  CheckAllocated();
  MTREC_CHECK(batch.size <= max_batch_, "batch of {} rows exceeds the model's buffers ({})", batch.size, max_batch_);
  Tensor x = x_.View().TopRows(batch.size);
  Tensor conditional = conditional_.View().TopRows(batch.size);
  Tensor outputs = outputs_.View().TopRows(batch.size);
  {
    ProfileScope scope("input (embeddings) forward");
    input_.Forward(batch, x);
    if (mode == Mode::kInfer) {
      input_.SharedColumnsOf(batch, &shared_input_);
    } else {
      shared_input_ = {};
    }
  }
  if (!numeric_projections_.empty()) {
    ProfileScope scope("numeric projection forward");
    Tensor numeric = numeric_in_.View().TopRows(batch.size);
    std::copy_n(batch.numeric.data(), batch.size * numeric.cols, numeric.data);
    for (size_t c = 0; c < numeric_projections_.size(); ++c) {
      numeric_projections_[c]->Forward(numeric, ProjectionColumns(x, c), mode);
    }
  }
  BodyForward(x, conditional, mode);
  graph_.Forward(conditional, outputs);
  return outputs;
}

void Model::Backward(const Batch& batch, const Tensor& diff_outputs, const Tensor* diff_conditional_extra) {
  BackwardInput(batch, BackwardToInput(batch.size, diff_outputs, diff_conditional_extra));
}

Tensor Model::BackwardToInput(int64_t rows, const Tensor& diff_outputs, const Tensor* diff_conditional_extra) {
  Tensor x = x_.View().TopRows(rows);
  Tensor diff_x = diff_x_.View().TopRows(rows);
  Tensor conditional = conditional_.View().TopRows(rows);
  Tensor diff_conditional = diff_conditional_.View().TopRows(rows);
  graph_.Backward(conditional, outputs_.View().TopRows(rows), diff_outputs, diff_conditional);
  if (diff_conditional_extra) {
    MTREC_CHECK(diff_conditional_extra->rows == rows && diff_conditional_extra->cols == diff_conditional.cols,
                "model: an extra conditional gradient of {}×{} for {}×{} outputs", diff_conditional_extra->rows,
                diff_conditional_extra->cols, rows, diff_conditional.cols);
    AddInto(diff_conditional, *diff_conditional_extra);
  }
  BodyBackward(x, diff_conditional, diff_x);
  if (!numeric_projections_.empty()) {
    ProfileScope scope("numeric projection backward");
    for (size_t c = 0; c < numeric_projections_.size(); ++c) {
      numeric_projections_[c]->Backward(numeric_in_.View().TopRows(rows), ProjectionColumns(x, c),
                                        ProjectionColumns(diff_x, c), nullptr);
    }
  }
  return diff_x;
}

void Model::BackwardInput(const Batch& batch, const Tensor& diff_x) {
  ProfileScope scope("input (embeddings) backward");
  input_.Backward(batch, diff_x);
}

}  // namespace mtrec
