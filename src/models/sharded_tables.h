// Row-sharded embedding tables (`mpirun -np N mtrec train` with train.shard_rows): row r of a sharded table lives
// on rank r % N as row r / N of that rank's part, with its optimizer state, so no rank holds the whole table while
// it trains (the model-parallel scheme of HugeCTR and TorchRec). Around each batch the input layer
//   - fetches the rows the batch reads from their owners: one all-to-all of ids, one of vectors (Fetch);
//   - after its backward pass sends each touched row's gradient to its owner, who sums the ranks' gradients in
//     rank order, as the replicated tables' exchange does, so both modes train the same model (Push).
// Every table's rows travel in the same exchange. At the end (and for each checkpoint) the parts are gathered into
// whole tables on rank 0, which writes the one model file.
//
//   ShardedTables shards(World(), sharded);                     // sharded[t]: table t is split
//   table.Adopt(PartRows(rows, rank, ranks), shards.Split(table.data(), rows, table.dim()));
//   input.UseShards(&shards);                                  // lookups and gradients go through the owners
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/aligned.h"
#include "common/communicator.h"
#include "features/pipeline.h"
#include "nn/embedding.h"

namespace mtrec {

// The number of rows of a table of `rows` rows that rank `rank` of `ranks` owns: rank, rank + ranks, ...
int64_t PartRows(int64_t rows, int rank, int ranks);

// Whether a table of `rows` rows is row-sharded under train.shard_rows = `shard_rows` (0: every table).
inline bool ShardsTable(int64_t rows, int64_t shard_rows) { return rows >= shard_rows; }

// Marks the tables of `layout` that ShardsTable picks as this rank's parts (TableSpec::part_rank), so that a model
// built from it allocates and initialises only this rank's rows of them: no rank ever holds such a table whole
// while it trains. Nothing changes in a world of one.
void PartitionLayout(InputLayout& layout, int64_t shard_rows, const Communicator& world);

// Sparse gradients in pieces (each: ascending unique rows and their gradients) summed piece by piece, in the
// pieces' order and starting from zero, into `out` (ascending unique rows): every process that merges the same
// pieces gets the same sums, bit for bit.
struct SparsePiece {
  const int32_t* rows;
  size_t count;
  const float* values;  // count × dim
};
void MergeSparsePieces(const std::vector<SparsePiece>& pieces, int64_t dim, SparseGrad* out);

class ShardedTables {
 public:
  // The most bytes a rank sends in one round of GatherToRoot.
  static constexpr int64_t kGatherBytes = int64_t{64} << 20;

  // sharded[t]: table t of the input layer is split over the world's ranks.
  ShardedTables(Communicator& world, std::vector<bool> sharded);

  bool sharded(size_t t) const { return t < sharded_.size() && sharded_[t]; }
  int rank() const { return world_.rank(); }
  int ranks() const { return world_.size(); }

  // This rank's rows of a whole row-major buffer of `rows` rows × `width` floats.
  AlignedBuffer<float> Split(const float* whole, int64_t rows, int64_t width) const;
  // The whole buffer of `rows` rows on rank 0, from every rank's part (a collective); empty on the other ranks.
  // Sent in rounds of at most `round_bytes` a rank.
  AlignedBuffer<float> GatherToRoot(const float* part, int64_t rows, int64_t width,
                                    int64_t round_bytes = kGatherBytes);

  // For each sharded table t, ids[t] lists the ascending unique ids a batch reads; fetched[t] becomes a table of
  // ids[t]->size() rows holding their values, read from `parts` (this rank's parts) on their owners. A collective:
  // every rank calls it for every batch, a rank without rows with empty lists.
  void Fetch(const std::vector<EmbeddingTable>& parts, const std::vector<const std::vector<int32_t>*>& ids,
             std::vector<EmbeddingTable>& fetched);
  // For each sharded table t, grads[t] holds this rank's gradients by whole-table row (ascending); afterwards it
  // holds the summed gradients of this rank's rows from every rank, by part row (ascending). A collective.
  void Push(const std::vector<EmbeddingTable>& parts, std::vector<SparseGrad>& grads);

 private:
  // Packs write(p, t) for every rank p and sharded table t into `out` (rank p's bytes from offsets[p]) and sends
  // each rank its bytes; what every rank sent this one lands in in_ (rank p's from in_offsets_[p]).
  template <typename Write>
  void Exchange(std::string& out, std::vector<size_t>& offsets, Write&& write);

  Communicator& world_;
  std::vector<bool> sharded_;
  // Reused from batch to batch.
  std::string out_, in_, back_;
  std::vector<size_t> out_offsets_, in_offsets_, back_offsets_;
};

}  // namespace mtrec
