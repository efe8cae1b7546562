// Dense parameters live in one arena: values in one aligned block, gradients in another of the same layout, so
// that an optimizer step is one loop over contiguous memory and nothing is allocated during training.
// Layers reserve their parameters when they are built; the model allocates the arena once, then initialises it.
//
//   ParameterArena arena;
//   size_t w = arena.Reserve("bottom.0.weight", in, out, Init::kHeUniform, /*decay=*/true);
//   arena.Allocate();
//   arena.Initialize(seed);
//   float* weights = arena.Value(w);        // in × out, row-major
//   float* diff_weights = arena.Grad(w);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/aligned.h"
#include "common/error.h"

namespace mtrec {

enum class Init {
  kZero,
  kOne,
  kHeUniform,      // U(-sqrt(6/fan_in), sqrt(6/fan_in)): for layers followed by ReLU
  kGlorotUniform,  // U(-sqrt(6/(fan_in+fan_out)), ...): for output layers
  kStitch,         // a square mixing matrix near identity: 0.9 on the diagonal, 0.1/(n-1) elsewhere (cross-stitch)
  kUniformInverseSqrtCols,  // U(-sqrt(1/cols), sqrt(1/cols)): weights of a linear combination of `cols` experts
};

struct ParameterInfo {
  std::string name;  // dotted path, e.g. "towers.click.1.weight"; used in model files and exports
  int64_t rows = 0;  // for a weight matrix: fan_in
  int64_t cols = 0;  // for a weight matrix: fan_out; a bias is 1 × n
  Init init = Init::kZero;
  bool decay = true;  // whether weight decay applies (not to biases)
  // A linear map's weight is stored in × out (rows = groups × fan_in for `groups` stacked maps of a grouped
  // layer); exports transpose it to PyTorch's out × in.
  bool linear_weight = false;
  int64_t groups = 1;
  // False for state that is not trained (batch norm's running statistics): no layer writes its gradient, so
  // every optimizer leaves it as the layer sets it.
  bool trainable = true;
  // Per-column parameters (task towers, per-task gates) stack one equal block per output column of the model along
  // one axis (0: rows, 1: cols; -1: not per column), `columns` blocks in all: a warm start (train/warm_start.h)
  // maps the blocks by column name when tasks are added or removed.
  int column_axis = -1;
  int64_t columns = 0;
  size_t offset = 0;  // in floats from the start of the arena; each parameter starts 64-byte aligned
  size_t size() const { return static_cast<size_t>(rows * cols); }
};

// A tensor's name and shape as a model file's weights section stores it.
struct ParameterShape {
  std::string name;
  int64_t rows = 0;
  int64_t cols = 0;
};

// While alive, ParameterArena::Reserve on this thread requires the i-th parameter reserved to be shapes[i]: a model
// file's config must build exactly the tensors its weights section holds. A layer the config asks for beyond them
// (5,000 tower layers, a width of millions) is refused when it is reserved, before the layer or any buffer sized
// from it is allocated.
class ExpectedParameters {
 public:
  explicit ExpectedParameters(const std::vector<ParameterShape>& shapes);
  ~ExpectedParameters();
  ExpectedParameters(const ExpectedParameters&) = delete;
  ExpectedParameters& operator=(const ExpectedParameters&) = delete;

 private:
  const std::vector<ParameterShape>* previous_;
};

class ParameterArena {
 public:
  size_t Reserve(std::string name, int64_t rows, int64_t cols, Init init, bool decay);
  // A linear map's weight: `groups` stacked (rows / groups) × cols blocks (fan_in = rows / groups).
  size_t ReserveLinearWeight(std::string name, int64_t rows, int64_t cols, Init init, int64_t groups = 1);
  // Non-trained state saved with the weights (running statistics): no weight decay, gradient always 0.
  size_t ReserveBuffer(std::string name, int64_t rows, int64_t cols, Init init);
  // Marks every parameter reserved from id `first` on as per column, `columns` blocks: a linear weight of
  // `columns` groups and a tensor of `columns` rows stack them along the rows, any other along the columns.
  void MarkColumnBlocks(size_t first, int64_t columns);
  void Allocate();
  // Deterministic for a seed: parameter i draws from its own stream (seed, i).
  void Initialize(uint64_t seed);
  void ZeroGrad();

  float* Value(size_t id) { return values_.data() + infos_[id].offset; }
  float* Grad(size_t id) {
    MTREC_CHECK(!frozen_, "gradient of '{}' asked of a frozen (served) model, which keeps none", infos_[id].name);
    return grads_.data() + infos_[id].offset;
  }
  const ParameterInfo& Info(size_t id) const { return infos_[id]; }
  const std::vector<ParameterInfo>& Infos() const { return infos_; }

  float* values() { return values_.data(); }
  float* grads() {
    MTREC_CHECK(!frozen_, "gradients asked of a frozen (served) model, which keeps none");
    return grads_.data();
  }
  const float* values() const { return values_.data(); }
  size_t size() const { return total_; }  // floats, padding included
  bool allocated() const { return allocated_; }
  // A promise that the values will not change any more (a model loaded to serve): the dense layers then pack
  // their weights into oneDNN's layout (and under bf16 convert them) once, instead of on every call, and the
  // gradients, never written again, are let go. One way: nothing unfreezes an arena.
  void FreezeValues();
  bool values_frozen() const { return frozen_; }
  // Freezes this arena on the values of `source`, an arena of the same layout (the same model built again), which
  // must be frozen: the served copies of a model read one set of weights. Its own values are let go; it must not be
  // frozen already (its layers may hold packed copies of its own values, known by their address).
  void ShareValuesOf(const ParameterArena& source);
  bool values_shared() const { return values_.shared(); }

 private:
  std::vector<ParameterInfo> infos_;
  AlignedBuffer<float> values_;
  AlignedBuffer<float> grads_;
  size_t total_ = 0;
  bool allocated_ = false;
  bool frozen_ = false;
};

}  // namespace mtrec
