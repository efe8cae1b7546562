// The first layer of every model: looks up the embeddings of each categorical slot, pools multi-valued slots,
// and appends the numeric block, writing one concatenated row per example. Its backward pass produces sparse
// gradients: one SparseGrad per table holding only the rows the batch touched.
//
// With several prefixes the layer holds one independent set of tables per prefix (single-task networks that share
// nothing) and writes the sets side by side: columns [c·width, (c+1)·width) come from set c.
//
//   InputLayer input(pipeline.layout());     // tables "embeddings.<feature>"
//   input.Initialize(seed, 0.05f);
//   input.Forward(batch, x);                 // x: batch × layout.InputWidth()
//   input.Backward(batch, diff_x);           // then optimizers step on input.grads()
#pragma once

#include <string>
#include <vector>

#include "features/batcher.h"
#include "features/pipeline.h"
#include "nn/embedding.h"
#include "nn/shared_columns.h"
#include "nn/tensor.h"

namespace mtrec {

class ShardedTables;

class InputLayer {
 public:
  // numeric_projection > 0: the numeric block's columns are left to a linear layer of that width that the model
  // owns (it has dense parameters); Forward then writes only the embeddings.
  explicit InputLayer(const InputLayout& layout, const std::vector<std::string>& prefixes = {"embeddings"},
                      int64_t numeric_projection = 0);

  void Initialize(uint64_t seed, float stddev);
  // Rebuilds feature table t (layout.tables[t], in every set) with source.size() rows (EmbeddingTable::Remap):
  // new rows drawn with `stddev` from `seed`.
  void RemapRows(size_t t, const std::vector<int32_t>& source, uint64_t seed, float stddev);
  int64_t FeatureTables() const { return static_cast<int64_t>(layout_.tables.size()); }
  void Forward(const Batch& batch, const Tensor& dst) const;
  // The columns of Forward's output that are equal on every row of each of the batch's groups (the slots every
  // group shares, in every set of tables) and the groups' first rows; empty without groups.
  void SharedColumnsOf(const Batch& batch, SharedColumns* out) const;
  // Clears, then fills grads() from diff_dst (batch × InputWidth()).
  void Backward(const Batch& batch, const Tensor& diff_dst);

  // Row-sharded tables (models/sharded_tables.h): from now on the sharded tables() hold this rank's parts, and
  // Forward and Backward become collectives that fetch the batch's rows from their owners and send their
  // gradients back, grads() then holding the sums of this rank's rows by part row. nullptr: every table whole.
  // Every set's copy of a feature's table must be sharded alike.
  void UseShards(ShardedTables* shards);
  ShardedTables* shards() const { return shards_; }

  int64_t OutputCols() const { return width_ * copies_; }
  int64_t CopyCols() const { return width_; }  // the columns of one set of tables
  // Within each set's columns, the numeric block is [NumericOffset(), CopyCols()): the raw numeric inputs, or the
  // projection's output — either way no embedding parameters behind them.
  int64_t NumericOffset() const { return numeric_offset_; }
  bool projects_numeric() const { return projected_; }
  std::vector<EmbeddingTable>& tables() { return tables_; }
  const std::vector<EmbeddingTable>& tables() const { return tables_; }
  std::vector<SparseGrad>& grads() { return grads_; }
  const InputLayout& layout() const { return layout_; }
  // The columns of the first set that feature `name` writes: its embedding (each slot it fills), or without one
  // its numeric columns ("<name>" and "<name>.missing"; none under a numeric projection). Empty for a feature
  // the layout does not hold.
  std::vector<ColumnRange> FeatureColumns(const std::string& name) const;
  // The feature that owns table t (every set of tables has the same owners).
  const std::string& TableFeature(size_t t) const { return layout_.tables[t % layout_.tables.size()].name; }

 private:
  InputLayout layout_;
  std::vector<EmbeddingTable> tables_;
  std::vector<SparseGrad> grads_;
  std::vector<int64_t> single_offsets_;  // first column of each single slot in the output
  std::vector<int64_t> multi_offsets_;
  int64_t numeric_offset_ = 0;
  int64_t width_ = 0;
  int64_t copies_ = 1;
  bool projected_ = false;

  // With sharded tables: the table a slot reads (the fetched rows when sharded) and the ids it reads them by.
  const EmbeddingTable& LookupTable(size_t t) const;
  const int32_t* SingleIds(const Batch& batch, size_t s) const;
  const int32_t* MultiIds(const Batch& batch, size_t m) const;
  // Fetches the rows of the sharded tables a batch reads and renumbers its ids into them.
  void FetchShardedRows(const Batch& batch) const;

  ShardedTables* shards_ = nullptr;
  // Per batch, kept by Forward for Backward (Forward is const for the model's callers; these are scratch).
  mutable std::vector<std::vector<int32_t>> batch_ids_;        // per feature table: ascending unique ids
  mutable std::vector<EmbeddingTable> fetched_;                // per table: the rows of batch_ids_
  mutable std::vector<std::vector<int32_t>> local_single_ids_;  // per single slot: positions in batch_ids_
  mutable std::vector<std::vector<int32_t>> local_multi_ids_;   // per multi slot
};

}  // namespace mtrec
