// A stack of hidden layers Dense -> [BatchNorm ->] ReLU (or Swish) -> Dropout, optionally followed by a linear
// output layer.
// It owns its activation buffers, sized once for the largest batch. With batch norm, BatchNorm -> ReLU -> Dropout
// runs as one pass over the rows (BatchNorm::ForwardRelu, BackwardRelu).
//
// With groups = G it is G independent MLPs of the same shape computed side by side, group g's output in columns
// [g·out, (g+1)·out): experts, or one tower per task. Groups that read the same input make the first layer one
// wide GEMM (shared_input); otherwise group g reads column block g of src, and every later layer is one grouped
// (batched) GEMM. cross_stitch mixes the groups after each hidden layer (Misra et al. 2016).
//
//   MlpSettings settings{.dropout = 0.1f, .max_batch = 4096};  // the same for every MLP of a model
//   Mlp bottom(arena, {.name = "bottom", .input_cols = input_width, .hidden = {256, 128}, .dropout_stream = 1},
//              settings);
//   arena.Allocate();
//   bottom.SetStepSeed(step_seed);                        // once per training step, before Forward
//   Tensor h = bottom.Forward(x, Mode::kTrain);            // batch × 128
//   bottom.Backward(x, diff_h, &diff_x);
//   Mlp experts(arena, {.name = "experts", .input_cols = input_width, .hidden = {64}, .groups = 8}, settings);
//                                                          // batch × 8·64
//
// Inside a model, Model::AddMlp builds an MLP with the model's settings and reseeds its dropout every step.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/batch_norm.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/grouped_dense.h"
#include "nn/relu.h"
#include "nn/swish.h"

namespace mtrec {

// The hidden layers' nonlinearity.
enum class Activation : uint8_t { kRelu, kSwish };

// What one MLP is. Fields in declaration order, so that a designated initialiser names only what differs.
struct MlpOptions {
  std::string name;             // its parameters are "<name>.<layer>.weight", "<name>.<layer>.bias", ...
  int64_t input_cols = 0;       // what one group reads
  std::vector<int64_t> hidden;  // widths of the hidden layers
  int64_t outputs = 0;          // width of the linear output layer; 0: the last hidden layer (after ReLU and
                                // dropout) is the output
  int64_t groups = 1;
  bool per_column = false;      // group k belongs to the model's output column k (task towers): its parameters are
                                // marked per column (ParameterArena::MarkColumnBlocks)
  bool shared_input = true;     // every group reads all of src; else group g reads columns [g·in, (g+1)·in)
  bool cross_stitch = false;    // a cross-stitch unit after each hidden layer's dropout
  bool plain = false;           // neither batch norm nor dropout, whatever the model's settings (gate networks)
  bool normalized = false;      // batch norm after every hidden Dense, whatever model.batch_norm (HoME's experts)
  Activation activation = Activation::kRelu;
  uint64_t dropout_stream = 0;  // hidden layer i draws its masks from stream 131·dropout_stream + i; within a
                                // model the streams are named in DropoutStream (models/model.h)
};

// What every MLP of a model shares (model.dropout, model.batch_norm, the largest batch).
struct MlpSettings {
  float dropout = 0.f;      // rate after each hidden layer's ReLU; 0: no dropout layers
  bool batch_norm = false;  // batch normalisation between each hidden layer's Dense and ReLU (per column, so
                            // each group's units are normalised on their own)
  int64_t max_batch = 0;    // rows of the activation buffers
};

class Mlp {
 public:
  // Reserves the parameters in `arena` (allocate it before Forward).
  Mlp(ParameterArena& arena, const MlpOptions& options, const MlpSettings& settings);

  // shared: src's rows in groups that share columns (inference in a server), for the first layer when it reads
  // src whole (one group, or groups sharing their input).
  Tensor Forward(const Tensor& src, Mode mode, const SharedColumns* shared = nullptr);
  // diff_dst: batch × OutputCols(); diff_src may be null.
  void Backward(const Tensor& src, const Tensor& diff_dst, const Tensor* diff_src);
  // The seed of this training step's dropout masks; required before a training Forward when there is dropout.
  void SetStepSeed(uint64_t seed, int64_t first_row = 0);  // first_row: Dropout::SetStepSeed

  int64_t InputCols() const { return input_cols_; }   // of src (all groups)
  int64_t OutputCols() const { return output_cols_; }  // of the output (all groups)
  int64_t GroupCols() const { return output_cols_ / groups_; }
  int64_t groups() const { return groups_; }
  // The linear output layer's bias in the arena, g · outputs + j for group g's unit j; kNoOutputLayer without one.
  static constexpr size_t kNoOutputLayer = static_cast<size_t>(-1);
  size_t output_bias_id() const { return output_bias_id_; }

 private:
  std::string name_;
  int64_t input_cols_;
  int64_t output_cols_;
  int64_t groups_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> profile_names_;  // per layer: "<name>.<i> <kind> forward", then "... backward"
  std::vector<Dropout*> dropouts_;
  std::vector<bool> is_dropout_;  // per layer
  // Per layer, for inference: the layer as a Dense or GroupedDense (else null), and whether a ReLU follows it
  // directly (it then runs inside the product and the ReLU layer is skipped).
  std::vector<Dense*> dense_;
  std::vector<GroupedDense*> grouped_;
  std::vector<bool> relu_follows_;
  // Fused groups BatchNorm -> ReLU [-> Dropout]: per layer the first and last layer of its group (itself when it
  // is in none); at a group's first layer its BatchNorm and its Dropout (or null).
  std::vector<size_t> group_first_;
  std::vector<size_t> group_last_;
  std::vector<BatchNorm*> norm_;
  std::vector<Dropout*> group_dropout_;
  size_t output_bias_id_ = kNoOutputLayer;
  bool seeded_ = false;              // whether SetStepSeed has been called: a training Forward with dropout needs it
  std::vector<Matrix> activations_;  // output of each layer
  std::vector<Matrix> diffs_;        // gradient w.r.t. each layer's output
};

}  // namespace mtrec
