// A multi-task model: an encoded batch in, one output column per task (a logit for binary tasks, the value for
// regression tasks; three for a ziln task, and twice that for a task with a treatment: models/task_outputs.h),
// each over every row. Every architecture shares the input layer, the parameter arena and the
// task graph; a subclass provides the body between the concatenated input and the per-task outputs, which for a
// chain task is the logit of p(task | parent) — the task graph turns it into the logit of p(task).
//
//   std::unique_ptr<Model> model = CreateModel(config, pipeline.layout(), InferenceBatch(config));  // predict.h
//   model->Initialize(seed);
//   model->SetStepSeed(step_seed);                          // once per training step: every dropout's masks
//   Tensor logits = model->Forward(batch, Mode::kTrain);   // batch × tasks
//   model->Backward(batch, diff_logits);                    // dense grads into arena(), sparse into input().grads()
//
// The protocol an architecture follows: its constructor builds its layers, which reserve their parameters in
// arena_ (their order is the arena's, so it fixes the initial values and the model file's layout), and its MLPs
// through AddMlp, which gives them the model's dropout, batch norm and batch size and reseeds them in
// SetStepSeed. It neither allocates the arena nor forwards step seeds: Model::Build allocates the arena once the
// constructor has returned, and CreateModel builds every architecture through it.
//
//   class Towers : public Model {
//    public:
//     Towers(const Config& config, const InputLayout& layout, int64_t max_batch) : Model(config, layout, max_batch) {
//       towers_ = AddMlp({.name = "towers", .input_cols = input_.OutputCols(), .hidden = config.model.tower,
//                         .outputs = 1, .groups = tasks_, .dropout_stream = DropoutStream::Tower(0)});
//     }
//    protected:
//     void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) override;     // src → dst (batch × tasks)
//     void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) override;
//    private:
//     Mlp* towers_;  // owned by the base
//   };
//   case Arch::kTowers: return Model::Build<Towers>(config, layout, max_batch);   // in CreateModel
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "features/batcher.h"
#include "models/gate_usage.h"
#include "models/input_layer.h"
#include "models/mlp.h"
#include "models/task_graph.h"
#include "nn/dense.h"
#include "nn/layer.h"
#include "nn/parameters.h"

namespace mtrec {

// The dropout stream of every MLP of the architectures, named in one place: hidden layer i of an MLP on stream s
// draws its masks from Mix64(131·s + i), so two MLPs of one model must not share a stream. The numbers are those
// the examples' figures were trained with; changing one changes the masks, hence the results, of every run with
// model.dropout > 0.
struct DropoutStream {
  // The first stack over the input: shared_bottom's bottom, the experts of omoe/mmoe, the per-task networks of
  // single_task, esmm and cross_stitch, aitm's encoders.
  static constexpr uint64_t kInput = 1;
  // Task k's tower; towers computed side by side as one grouped MLP use Tower(0).
  static constexpr uint64_t Tower(size_t task) { return 100 + task; }
  // aitm: task k's transfer g_k, the information it passes to its children.
  static constexpr uint64_t Transfer(size_t task) { return 50 + task; }
  // ple and adatt level l: the experts over x at the first level (one bank), ...
  static constexpr uint64_t PleLevel(size_t level) { return 1 + 10 * level; }
  // ... and at a later level the bank of branch b (a task's experts, then ple's shared ones after the last task).
  static constexpr uint64_t PleBank(size_t level, size_t branch) { return PleLevel(level) + 1 + branch; }
};

class Model {
 public:
  // Builds architecture A (its constructor reserves every parameter) and allocates the parameter arena, which the
  // constructors leave to this one place. A model built otherwise is refused by Initialize, Forward and arena().
  template <typename A, typename... Args>
  static std::unique_ptr<A> Build(Args&&... args) {
    std::unique_ptr<A> model = std::make_unique<A>(std::forward<Args>(args)...);
    static_cast<Model&>(*model).arena_.Allocate();
    return model;
  }

  // `embedding_sets`: one independent set of embedding tables per prefix (see InputLayer).
  Model(const Config& config, const InputLayout& layout, int64_t max_batch,
        const std::vector<std::string>& embedding_sets = {"embeddings"});
  virtual ~Model() = default;

  void Initialize(uint64_t seed);
  // Scores with the weights and embedding tables of `source` (the same config and layout built again, frozen)
  // instead of its own, and freezes: the served copies of a model hold its weights once, each only its buffers.
  void ShareWeightsOf(const Model& source);
  // Sets the bias of task k's output unit (after Initialize, before training): the task's output before its
  // weights learn anything, e.g. log of a count's mean. Every architecture ends in task towers whose one-unit
  // output layers, in the order their MLPs were added, give the task columns; the body adds nothing after them.
  void SetOutputBias(int64_t task, float value);
  Tensor Forward(const Batch& batch, Mode mode);
  // diff_outputs: batch × tasks. Dense gradients accumulate into arena() (zero them first), sparse gradients are
  // rebuilt in input().grads(). diff_conditional_extra (batch × tasks), when given, is a gradient of the body's
  // outputs (Conditional) added after the task graph's: a term on p(task | parent) itself (ESCM²).
  void Backward(const Batch& batch, const Tensor& diff_outputs, const Tensor* diff_conditional_extra = nullptr);
  // Backward in two halves, for per-task gradients: the body's (dense gradients accumulate) leaves the gradient of
  // the input layer's output, the representation every architecture shares, which the input half turns into the
  // sparse embedding gradients. Backward = BackwardToInput, then BackwardInput on its result.
  Tensor BackwardToInput(int64_t rows, const Tensor& diff_outputs, const Tensor* diff_conditional_extra = nullptr);
  void BackwardInput(const Batch& batch, const Tensor& diff_x);
  int64_t input_width() const { return input_.OutputCols(); }
  // The seed of this training step's dropout masks, passed to every MLP made by AddMlp.
  void SetStepSeed(uint64_t seed, int64_t first_row = 0);  // first_row: Dropout::SetStepSeed
  // The body's outputs of the last Forward (batch × tasks): for a chain task the logit of p(task | parent),
  // otherwise the same as Forward's result.
  Tensor Conditional(int64_t rows) { return conditional_.View().TopRows(rows); }
  // Mean gate weight of each expert over the inference batches since the last reset (expert utilisation); empty for
  // architectures without gates.
  std::vector<GateUsage> GateUsages() const { return gate_usage_.Usages(); }
  void ResetGateUsage() { gate_usage_.Reset(); }

  ParameterArena& arena() {
    CheckAllocated();
    return arena_;
  }
  const ParameterArena& arena() const {
    CheckAllocated();
    return arena_;
  }
  InputLayer& input() { return input_; }
  // A stream's admitted and evicted ids (train/streaming.h): feature table t rebuilt with source.size() rows,
  // row r from old row source[r] or (source[r] < 0) drawn as Initialize draws embeddings, from `seed`.
  void RemapEmbeddingRows(size_t t, const std::vector<int32_t>& source, uint64_t seed) {
    input_.RemapRows(t, source, seed, embedding_init_std_);
  }
  const InputLayer& input() const { return input_; }
  int64_t max_batch() const { return max_batch_; }
  // Output columns: one per task, more for ziln and treatment tasks (models/task_outputs.h). The architectures are
  // built from HeadsConfig, where each column is a task, so inside them tasks_ counts columns.
  int64_t columns() const { return tasks_; }
  const TaskGraph& graph() const { return graph_; }

 protected:
  // src: batch × input width; dst: batch × tasks.
  virtual void BodyForward(const Tensor& src, const Tensor& dst, Mode mode) = 0;
  virtual void BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) = 0;

  // An MLP of this model, owned by the base: built with the model's settings (model.dropout, model.batch_norm,
  // max_batch), its parameters reserved now (after those reserved before it), its dropout reseeded by SetStepSeed.
  // The task towers every architecture but single_task and esmm ends in: one MLP of model.tower per task with one
  // output unit (the task's column), side by side as one grouped MLP. Tower k reads column block k of its input
  // (input_cols wide), or with shared_input all of it.
  Mlp* AddTaskTowers(int64_t input_cols, bool shared_input = false);
  Mlp* AddMlp(const MlpOptions& options);

  Tensor ProjectionColumns(const Tensor& x, size_t c) const;
  // During an inference Forward of a batch in groups (a server's requests): the input columns every group shares,
  // for the layers that read src to compute their share once per group (Dense::Forward, Mlp::Forward); otherwise
  // null.
  const SharedColumns* SharedInput() const { return shared_input_.empty() ? nullptr : &shared_input_; }

  ParameterArena arena_;
  InputLayer input_;
  // model.numeric_projection: per set of embeddings, the linear map of the numeric block into its columns.
  std::vector<std::unique_ptr<Dense>> numeric_projections_;
  Matrix numeric_in_;  // the last Forward's numeric block (its Backward's src), copied from the batch
  int64_t max_batch_;
  int64_t tasks_;
  float embedding_init_std_;
  GateUsageLog gate_usage_;  // the architectures with gates add them and record their inference weights

 private:
  void CheckAllocated() const;

  MlpSettings mlp_settings_;
  std::vector<std::unique_ptr<Mlp>> mlps_;  // every MLP of the body, in the order they were added
  TaskGraph graph_;
  std::vector<int64_t> tower_widths_;  // model.tower, for AddTaskTowers
  Matrix x_;
  Matrix diff_x_;
  Matrix conditional_;
  Matrix diff_conditional_;
  Matrix outputs_;
  SharedColumns shared_input_;
};

// The model named by config.model.arch, built from HeadsConfig(config) (models/task_outputs.h).
std::unique_ptr<Model> CreateModel(const Config& config, const InputLayout& layout, int64_t max_batch);

}  // namespace mtrec
