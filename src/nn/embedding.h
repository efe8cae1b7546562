// An embedding table with its own aligned storage (rows × dim, row-major, no padding) and sparse gradients:
// a step touches a few rows, so gradients are kept only for the unique rows a batch used, sorted by row id,
// and an optimizer updates just those rows.
//
//   EmbeddingTable table("item", vocabulary_size, 16);
//   table.Initialize(seed, 0.01f);
//   table.Lookup(ids, batch, x.Columns(0, 16));                        // one id per example
//   table.LookupPooled(ids, offsets, batch, Pooling::kMean, slot);     // a bag of ids per example
//   SparseGrad grad;
//   table.AccumulateGrad(ids, batch, diff_x.Columns(0, 16), &grad);    // may be called for several features
//   optimizer.Step(grad);
//   grad.Clear();
//
// Lookups only read the table, so several threads may look up at once while nobody updates it. AccumulateGrad
// writes only into the SparseGrad it is given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/aligned.h"
#include "common/pooling.h"
#include "nn/tensor.h"

namespace mtrec {

// The gradient of one table for one step: the unique rows touched, ascending, and the summed gradient of each.
// Its vectors keep their capacity across Clear(), so a warmed-up step allocates nothing.
struct SparseGrad {
  int64_t dim = 0;             // set by the first AccumulateGrad
  std::vector<int32_t> rows;   // unique row ids, ascending
  std::vector<float> values;   // rows.size() × dim, row i is the gradient of table row rows[i]
  std::vector<uint64_t> keys;  // scratch: (id, example) pairs of the last accumulation, sorted

  int64_t count() const { return static_cast<int64_t>(rows.size()); }
  float* Row(int64_t i) { return values.data() + i * dim; }
  const float* Row(int64_t i) const { return values.data() + i * dim; }
  void Clear() {
    rows.clear();
    values.clear();
  }
};

class EmbeddingTable {
 public:
  EmbeddingTable(std::string name, int64_t rows, int64_t dim);

  // Uniform with standard deviation `stddev`; row r draws from its own stream (seed, r), so the values of a row
  // do not depend on the size of the table or on the thread count. A table that is one process's part of a
  // row-sharded one (models/sharded_tables.h) holds whole-table rows first_row, first_row + row_stride, ...: its
  // row r draws the stream of whole-table row first_row + r × row_stride, as the whole table's would.
  void Initialize(uint64_t seed, float stddev, int64_t first_row = 0, int64_t row_stride = 1);

  // dst.Row(r)[0..dim) = table row ids[r]. dst is batch × dim with any ld.
  void Lookup(const int32_t* ids, int64_t batch, const Tensor& dst) const;
  // Example r pools ids[offsets[r] .. offsets[r + 1]); an example with no ids gives a row of zeros.
  void LookupPooled(const int32_t* ids, const int64_t* offsets, int64_t batch, Pooling pooling,
                    const Tensor& dst) const;

  // Adds the gradients of a Lookup / LookupPooled with upstream gradient diff_dst into `grad`, merging with
  // rows it already holds.
  void AccumulateGrad(const int32_t* ids, int64_t batch, const Tensor& diff_dst, SparseGrad* grad) const;
  void AccumulateGradPooled(const int32_t* ids, const int64_t* offsets, int64_t batch, Pooling pooling,
                            const Tensor& diff_dst, SparseGrad* grad) const;

  // Rebuilds the table with source.size() rows: row r takes the old row source[r], or (source[r] < 0) is
  // initialised as Initialize(seed, stddev) would initialise row r. Streams use it to add the rows of admitted ids
  // and to drop evicted ones (train/streaming.h).
  void Remap(const std::vector<int32_t>& source, uint64_t seed, float stddev);

  // Replaces the storage by `data` (rows × dim values, rows may be 0): a row-sharded table
  // (models/sharded_tables.h) keeps only this process's rows while it trains and gathers them back at the end.
  void Adopt(int64_t rows, AlignedBuffer<float> data);
  // Reads the rows of `source`, a table of the same name and shape, from now on: the served copies of a model
  // look up one set of tables. Its own storage is let go; neither table may be written any more.
  void ShareStorageOf(const EmbeddingTable& source);
  // Reads its rows (rows × dim values at `data`) where they lie in memory that `owner` keeps alive, a served model
  // file's bytes, instead of a copy: its own storage is let go, and the table must not be written any more.
  void ViewRowsIn(std::shared_ptr<const void> owner, const float* data);
  // rows() becomes `rows`, keeping the storage when it is large enough; the values are left as they are. For the
  // scratch table that holds the rows a batch fetched from other processes.
  void ResizeScratch(int64_t rows);

  const std::string& name() const { return name_; }
  int64_t rows() const { return rows_; }
  int64_t dim() const { return dim_; }
  float* Row(int64_t id) { return data_.data() + id * dim_; }
  const float* Row(int64_t id) const { return data_.data() + id * dim_; }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }

 private:
  void CheckId(int64_t id, int64_t example) const;
  void CheckDst(const Tensor& t, int64_t batch, const char* what) const;
  // Sorts grad->keys (id << 32 | example) and adds diff_dst.Row(example) into the row of each id, scaled by
  // 1 / bag size when offsets are given and pooling is kMean.
  void MergeKeys(const Tensor& diff_dst, const int64_t* offsets, Pooling pooling, SparseGrad* grad) const;

  std::string name_;
  int64_t rows_;
  int64_t dim_;
  AlignedBuffer<float> data_;
};

}  // namespace mtrec
