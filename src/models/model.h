// A multi-task model: an encoded batch in, one output column per task (a logit for binary tasks, the value for
// regression tasks), each over every row. Every architecture shares the input layer, the parameter arena and the
// task graph; a subclass provides the body between the concatenated input and the per-task outputs, which for a
// chain task is the logit of p(task | parent) — the task graph turns it into the logit of p(task).
//
//   std::unique_ptr<Model> model = CreateModel(config, pipeline.layout(), /*max_batch=*/4096);
//   model->Initialize(seed);
//   Tensor logits = model->Forward(batch, Mode::kTrain);   // batch × tasks
//   model->Backward(batch, diff_logits);                    // dense grads into arena(), sparse into input().grads()
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "features/batcher.h"
#include "models/input_layer.h"
#include "models/mlp.h"
#include "models/task_graph.h"
#include "nn/dense.h"
#include "nn/layer.h"
#include "nn/parameters.h"

namespace mtrec {

// Expert utilisation of one gate: which gate (e.g. "click" or "level1.click"), the experts it weighs, and the
// mean weight it gave each of them.
struct GateUsage {
  std::string gate;
  std::vector<std::string> experts;
  std::vector<double> mean_weight;
};

class Model {
 public:
  // `embedding_sets`: one independent set of embedding tables per prefix (see InputLayer).
  Model(const Config& config, const InputLayout& layout, int64_t max_batch,
        const std::vector<std::string>& embedding_sets = {"embeddings"});
  virtual ~Model() = default;

  void Initialize(uint64_t seed);
  Tensor Forward(const Batch& batch, Mode mode);
  // diff_outputs: batch × tasks. Dense gradients accumulate into arena() (zero them first), sparse gradients are
  // rebuilt in input().grads().
  void Backward(const Batch& batch, const Tensor& diff_outputs);
  // Backward in two halves, for per-task gradients: the body's (dense gradients accumulate) leaves the gradient of
  // the input layer's output, the representation every architecture shares, which the input half turns into the
  // sparse embedding gradients. Backward = BackwardToInput, then BackwardInput on its result.
  Tensor BackwardToInput(int64_t rows, const Tensor& diff_outputs);
  void BackwardInput(const Batch& batch, const Tensor& diff_x);
  int64_t input_width() const { return input_.OutputCols(); }
  virtual void SetStepSeed(uint64_t seed) = 0;
  // The body's outputs of the last Forward (batch × tasks): for a chain task the logit of p(task | parent),
  // otherwise the same as Forward's result.
  Tensor Conditional(int64_t rows) { return conditional_.View().TopRows(rows); }
  // Mean gate weight of each expert over the inference batches since the last reset (expert utilisation); empty for
  // architectures without gates.
  virtual std::vector<GateUsage> GateUsages() const { return {}; }
  virtual void ResetGateUsage() {}

  ParameterArena& arena() { return arena_; }
  const ParameterArena& arena() const { return arena_; }
  InputLayer& input() { return input_; }
  const InputLayer& input() const { return input_; }
  int64_t max_batch() const { return max_batch_; }
  int64_t tasks() const { return tasks_; }
  const TaskGraph& graph() const { return graph_; }

 protected:
  // src: batch × input width; dst: batch × tasks.
  virtual void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) = 0;
  virtual void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) = 0;

  // The options every hidden stack of the model shares (model.batch_norm), for `groups` side-by-side MLPs.
  MlpOptions Hidden(int64_t groups = 1) const {
    MlpOptions options;
    options.groups = groups;
    options.batch_norm = batch_norm_;
    return options;
  }

  Tensor ProjectionColumns(const Tensor& x, size_t c) const;

  ParameterArena arena_;
  InputLayer input_;
  // model.numeric_projection: per set of embeddings, the linear map of the numeric block into its columns.
  std::vector<std::unique_ptr<Dense>> numeric_projections_;
  Matrix numeric_in_;  // the last Forward's numeric block (its Backward's src), copied from the batch
  int64_t max_batch_;
  int64_t tasks_;
  float embedding_init_std_;
  bool batch_norm_;

 private:
  TaskGraph graph_;
  Matrix x_;
  Matrix diff_x_;
  Matrix conditional_;
  Matrix diff_conditional_;
  Matrix outputs_;
};

// The model named by config.model.arch.
std::unique_ptr<Model> CreateModel(const Config& config, const InputLayout& layout, int64_t max_batch);

}  // namespace mtrec
