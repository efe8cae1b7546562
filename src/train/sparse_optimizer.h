// The optimizer of one embedding table: it updates only the rows listed in a step's SparseGrad, in ascending
// row order, so an update is deterministic and costs O(rows touched · dim).
//
//   SparseOptimizer optimizer(table, {.kind = SparseOptimizerKind::kAdagrad, .lr = 0.05f});
//   table.AccumulateGrad(ids, batch, diff, &grad);
//   optimizer.Step(grad);
//   grad.Clear();
//
// The constructor allocates the state (one float per row for Adagrad, two per element for lazy Adam); Step()
// allocates nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/aligned.h"
#include "common/names.h"
#include "nn/embedding.h"

namespace mtrec {

struct SparseOptimizerOptions {
  SparseOptimizerKind kind = SparseOptimizerKind::kAdagrad;
  float lr = 0.01f;
  float eps = 1e-8f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float initial_accumulator = 0.f;  // Adagrad's starting G
  float l2 = 0.f;                   // λ: the touched rows' gradient is g + λ·w
};

class SparseOptimizer {
 public:
  SparseOptimizer(EmbeddingTable& table, const SparseOptimizerOptions& options);

  // One update of the rows in grad; every call counts as one step t, even when grad is empty.
  void Step(const SparseGrad& grad);

  void SetLearningRate(float lr) { options_.lr = lr; }
  float learning_rate() const { return options_.lr; }
  int64_t step() const { return t_; }
  const SparseOptimizerOptions& options() const { return options_; }

  // After the table's EmbeddingTable::Remap with the same `source`: each row's state follows its row, new rows
  // (source < 0) start as a fresh optimizer's.
  void Remap(const std::vector<int32_t>& source);

  // The state kept per row, for a row-sharded table (models/sharded_tables.h), which splits and gathers it with the
  // table's rows: Adagrad's accumulators (1 float a row), lazy Adam's m and v (dim floats a row).
  struct RowState {
    AlignedBuffer<float>* values;
    int64_t width;
  };
  std::vector<RowState> RowStates();

  // Appends the state (kind, t, accumulators or m and v) to *out, little-endian.
  void Serialize(std::string* out) const;
  // Restores a state written by Serialize; throws Error when it belongs to another optimizer kind or to a table
  // of another shape, leaving this optimizer unchanged.
  void Deserialize(std::string_view data);

 private:
  EmbeddingTable* table_;
  SparseOptimizerOptions options_;
  int64_t t_ = 0;
  AlignedBuffer<float> accumulator_;  // Adagrad: rows
  AlignedBuffer<float> m_;            // lazy Adam: rows × dim
  AlignedBuffer<float> v_;            // lazy Adam: rows × dim
};

}  // namespace mtrec
