#include "models/sharded_tables.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace mtrec {
namespace {

template <typename T>
void Append(std::string& out, const T* data, size_t count) {
  out.append(reinterpret_cast<const char*>(data), count * sizeof(T));
}

// Reads what Append wrote, in order.
class Reader {
 public:
  explicit Reader(const char* at) : at_(at) {}
  uint64_t Count() {
    uint64_t count = 0;
    std::memcpy(&count, at_, sizeof(count));
    at_ += sizeof(count);
    return count;
  }
  template <typename T>
  const T* Take(size_t count) {
    const auto* data = reinterpret_cast<const T*>(at_);
    at_ += count * sizeof(T);
    return data;
  }

 private:
  const char* at_;
};

// A reader of each rank's bytes in what an all-to-all received.
std::vector<Reader> ReadersOf(const std::string& in, const std::vector<size_t>& offsets) {
  std::vector<Reader> readers;
  for (size_t p = 0; p + 1 < offsets.size(); ++p) readers.emplace_back(in.data() + offsets[p]);
  return readers;
}

}  // namespace

template <typename Write>
void ShardedTables::Exchange(std::string& out, std::vector<size_t>& offsets, Write&& write) {
  out.clear();
  offsets.assign(static_cast<size_t>(ranks()) + 1, 0);
  for (int p = 0; p < ranks(); ++p) {
    for (size_t t = 0; t < sharded_.size(); ++t) {
      if (sharded_[t]) write(p, t);
    }
    offsets[p + 1] = out.size();
  }
  world_.AllToAll(out, offsets, in_, in_offsets_);
}

int64_t PartRows(int64_t rows, int rank, int ranks) { return rows > rank ? (rows - rank + ranks - 1) / ranks : 0; }

void PartitionLayout(InputLayout& layout, int64_t shard_rows, const Communicator& world) {
  if (!world.distributed()) return;
  for (TableSpec& spec : layout.tables) {
    if (!ShardsTable(spec.rows, shard_rows)) continue;
    spec.part_rank = world.rank();
    spec.part_ranks = world.size();
  }
}

void MergeSparsePieces(const std::vector<SparsePiece>& pieces, int64_t dim, SparseGrad* out) {
  std::vector<int32_t>& merged = out->rows;
  merged.clear();
  for (const SparsePiece& piece : pieces) merged.insert(merged.end(), piece.rows, piece.rows + piece.count);
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  out->dim = dim;
  out->values.assign(merged.size() * static_cast<size_t>(dim), 0.f);
  for (const SparsePiece& piece : pieces) {
    size_t at = 0;  // a piece's rows are ascending, so one pass over the merged rows places them
    for (size_t i = 0; i < piece.count; ++i) {
      while (merged[at] != piece.rows[i]) ++at;
      float* into = out->Row(static_cast<int64_t>(at));
      const float* from = piece.values + i * static_cast<size_t>(dim);
      for (int64_t j = 0; j < dim; ++j) into[j] += from[j];
    }
  }
}

ShardedTables::ShardedTables(Communicator& world, std::vector<bool> sharded)
    : world_(world), sharded_(std::move(sharded)) {}

AlignedBuffer<float> ShardedTables::Split(const float* whole, int64_t rows, int64_t width) const {
  const int64_t part = PartRows(rows, rank(), ranks());
  AlignedBuffer<float> out(static_cast<size_t>(part * width));
  for (int64_t i = 0; i < part; ++i) {
    std::copy_n(whole + (i * ranks() + rank()) * width, width, out.data() + i * width);
  }
  return out;
}

AlignedBuffer<float> ShardedTables::GatherToRoot(const float* part, int64_t rows, int64_t width,
                                                int64_t round_bytes) {
  const int64_t mine = PartRows(rows, rank(), ranks());
  AlignedBuffer<float> whole;
  if (world_.is_root()) whole.Resize(static_cast<size_t>(rows * width));
  // In rounds of at most round_bytes a rank, so that rank 0 needs the whole table and one round, not the table
  // twice. Every rank takes as many rounds as rank 0, which owns the most rows.
  const int64_t block = std::max<int64_t>(1, round_bytes / (std::max<int64_t>(width, 1) * 4));
  const int64_t most = PartRows(rows, 0, ranks());
  std::string all;
  std::vector<size_t> offsets;
  for (int64_t first = 0; first < most || first == 0; first += block) {
    const int64_t count = std::clamp<int64_t>(mine - first, 0, block);
    world_.Gather({reinterpret_cast<const char*>(part + first * width), static_cast<size_t>(count * width) * 4}, all,
                  offsets, 0);
    if (!world_.is_root()) continue;
    for (int p = 0; p < ranks(); ++p) {
      const int64_t from_rows = std::clamp<int64_t>(PartRows(rows, p, ranks()) - first, 0, block);
      MTREC_CHECK(offsets[p + 1] - offsets[p] == static_cast<size_t>(from_rows * width) * sizeof(float),
                  "rank {} sent {} bytes of {} rows × {} of a table part", p, offsets[p + 1] - offsets[p], from_rows,
                  width);
      const auto* from = reinterpret_cast<const float*>(all.data() + offsets[p]);
      for (int64_t i = 0; i < from_rows; ++i) {
        std::copy_n(from + i * width, width, whole.data() + ((first + i) * ranks() + p) * width);
      }
    }
  }
  return whole;
}

void ShardedTables::Fetch(const std::vector<EmbeddingTable>& parts,
                          const std::vector<const std::vector<int32_t>*>& ids, std::vector<EmbeddingTable>& fetched) {
  const int n = ranks();
  // The requests: for every rank p, for every sharded table, the count and the ids p owns (ascending).
  std::vector<int32_t> owned;
  Exchange(out_, out_offsets_, [&](int p, size_t t) {
    owned.clear();
    for (const int32_t id : *ids[t]) {
      if (id % n == p) owned.push_back(id);
    }
    const uint64_t count = owned.size();
    Append(out_, &count, 1);
    Append(out_, owned.data(), owned.size());
  });
  // The answers: the values of the rows each rank asked this one for, in the order asked.
  std::vector<Reader> asked = ReadersOf(in_, in_offsets_);
  Exchange(back_, back_offsets_, [&](int p, size_t t) {
    const EmbeddingTable& part = parts[t];
    const uint64_t count = asked[p].Count();
    const int32_t* rows = asked[p].Take<int32_t>(count);
    for (uint64_t i = 0; i < count; ++i) {
      const int32_t id = rows[i];
      const int64_t row = id / n;
      MTREC_CHECK(id >= 0 && id % n == rank() && row < part.rows(),
                  "embedding '{}': rank {} asked rank {} for row {}, which it does not hold", part.name(), p, rank(),
                  id);
      Append(back_, part.Row(row), static_cast<size_t>(part.dim()));
    }
  });
  std::vector<Reader> answers = ReadersOf(in_, in_offsets_);
  for (size_t t = 0; t < sharded_.size(); ++t) {
    if (!sharded_[t]) continue;
    const std::vector<int32_t>& wanted = *ids[t];
    EmbeddingTable& into = fetched[t];
    into.ResizeScratch(static_cast<int64_t>(wanted.size()));
    const int64_t dim = into.dim();
    // Owner p answered its ids in ascending order, which is their order in `wanted` too.
    for (size_t i = 0; i < wanted.size(); ++i) {
      std::copy_n(answers[wanted[i] % n].Take<float>(static_cast<size_t>(dim)), dim,
                  into.Row(static_cast<int64_t>(i)));
    }
  }
}

void ShardedTables::Push(const std::vector<EmbeddingTable>& parts, std::vector<SparseGrad>& grads) {
  const int n = ranks();
  // For every rank p, for every sharded table: the count, the rows p owns and their gradients.
  std::vector<size_t> owned;
  Exchange(out_, out_offsets_, [&](int p, size_t t) {
    const SparseGrad& grad = grads[t];
    const int64_t dim = parts[t].dim();
    MTREC_CHECK(grad.rows.empty() || grad.dim == dim, "embedding '{}': a gradient of dim {} for a table of {}",
                parts[t].name(), grad.dim, dim);
    owned.clear();
    for (size_t i = 0; i < grad.rows.size(); ++i) {
      if (grad.rows[i] % n == p) owned.push_back(i);
    }
    const uint64_t count = owned.size();
    Append(out_, &count, 1);
    for (const size_t i : owned) Append(out_, &grad.rows[i], 1);
    for (const size_t i : owned) Append(out_, grad.Row(static_cast<int64_t>(i)), static_cast<size_t>(dim));
  });
  std::vector<Reader> sent = ReadersOf(in_, in_offsets_);
  std::vector<std::vector<int32_t>> local(static_cast<size_t>(n));
  std::vector<SparsePiece> pieces(static_cast<size_t>(n));
  for (size_t t = 0; t < sharded_.size(); ++t) {
    if (!sharded_[t]) continue;
    const int64_t dim = parts[t].dim();
    for (int p = 0; p < n; ++p) {
      const uint64_t count = sent[p].Count();
      const int32_t* rows = sent[p].Take<int32_t>(count);
      // Whole-table rows of this rank, ascending, become its part's rows, ascending too.
      local[p].assign(rows, rows + count);
      for (int32_t& row : local[p]) row /= n;
      pieces[p] = {local[p].data(), count, sent[p].Take<float>(count * static_cast<size_t>(dim))};
    }
    MergeSparsePieces(pieces, dim, &grads[t]);
  }
}

}  // namespace mtrec
