#include "models/input_layer.h"

#include <algorithm>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"
#include "models/sharded_tables.h"

namespace mtrec {

InputLayer::InputLayer(const InputLayout& layout, const std::vector<std::string>& prefixes, int64_t numeric_projection)
    : layout_(layout), copies_(static_cast<int64_t>(prefixes.size())), projected_(numeric_projection > 0) {
  for (const auto& prefix : prefixes) {
    for (const auto& spec : layout.tables) {
      const int64_t rows = spec.part_ranks > 1 ? PartRows(spec.rows, spec.part_rank, spec.part_ranks) : spec.rows;
      tables_.emplace_back(prefix + "." + spec.name, rows, spec.dim);
    }
  }
  grads_.resize(tables_.size());
  int64_t offset = 0;
  for (const auto& slot : layout.single_slots) {
    single_offsets_.push_back(offset);
    offset += layout.tables[slot.table].dim;
  }
  for (const auto& slot : layout.multi_slots) {
    multi_offsets_.push_back(offset);
    offset += layout.tables[slot.table].dim;
  }
  numeric_offset_ = offset;
  width_ = offset + (projected_ ? numeric_projection : layout.NumericWidth());
}

void InputLayer::Initialize(uint64_t seed, float stddev) {
  for (size_t t = 0; t < tables_.size(); ++t) {
    const TableSpec& spec = layout_.tables[t % layout_.tables.size()];
    tables_[t].Initialize(Mix64(seed + 0x1000 + t), stddev, spec.part_rank, spec.part_ranks);
  }
}

void InputLayer::RemapRows(size_t t, const std::vector<int32_t>& source, uint64_t seed, float stddev) {
  const size_t n = layout_.tables.size();
  for (size_t c = 0; c < static_cast<size_t>(copies_); ++c) {
    tables_[c * n + t].Remap(source, Mix64(seed + 0x1000 + c * n + t), stddev);
  }
  layout_.tables[t].rows = static_cast<int64_t>(source.size());
}

void InputLayer::UseShards(ShardedTables* shards) {
  // A slot reads every set's copy of its table by the same ids: the copies are sharded alike.
  const size_t n = layout_.tables.size();
  for (size_t t = n; shards != nullptr && t < tables_.size(); ++t) {
    MTREC_CHECK(shards->sharded(t) == shards->sharded(t % n), "embedding '{}' is {}sharded, '{}' is {}",
                tables_[t].name(), shards->sharded(t) ? "" : "not ", tables_[t % n].name(),
                shards->sharded(t % n) ? "sharded" : "not");
  }
  shards_ = shards;
  fetched_.clear();
  if (shards_ == nullptr) return;
  for (const EmbeddingTable& table : tables_) fetched_.emplace_back(table.name() + " (fetched rows)", 1, table.dim());
  batch_ids_.assign(n, {});
  local_single_ids_.assign(layout_.single_slots.size(), {});
  local_multi_ids_.assign(layout_.multi_slots.size(), {});
}

const EmbeddingTable& InputLayer::LookupTable(size_t t) const {
  return shards_ && shards_->sharded(t) ? fetched_[t] : tables_[t];
}

const int32_t* InputLayer::SingleIds(const Batch& batch, size_t s) const {
  return shards_ && shards_->sharded(layout_.single_slots[s].table) ? local_single_ids_[s].data()
                                                                     : batch.single_ids[s].data();
}

const int32_t* InputLayer::MultiIds(const Batch& batch, size_t m) const {
  return shards_ && shards_->sharded(layout_.multi_slots[m].table) ? local_multi_ids_[m].data()
                                                                    : batch.multi_ids[m].data();
}

void InputLayer::FetchShardedRows(const Batch& batch) const {
  const size_t n = layout_.tables.size();
  const auto ids_of_multi = [&](size_t m) -> std::pair<const int32_t*, size_t> {
    const auto& offsets = batch.multi_offsets[m];
    return {batch.multi_ids[m].data(), batch.size > 0 ? static_cast<size_t>(offsets[batch.size]) : 0};
  };
  const auto check = [&](size_t table, int32_t id) {
    MTREC_CHECK(id >= 0 && id < layout_.tables[table].rows, "embedding '{}': id {} is outside [0, {})",
                tables_[table].name(), id, layout_.tables[table].rows);
  };
  for (size_t table = 0; table < n; ++table) {
    if (!shards_->sharded(table)) continue;
    std::vector<int32_t>& ids = batch_ids_[table];
    ids.clear();
    for (size_t s = 0; s < layout_.single_slots.size(); ++s) {
      if (static_cast<size_t>(layout_.single_slots[s].table) != table) continue;
      ids.insert(ids.end(), batch.single_ids[s].data(), batch.single_ids[s].data() + batch.size);
    }
    for (size_t m = 0; m < layout_.multi_slots.size(); ++m) {
      if (static_cast<size_t>(layout_.multi_slots[m].table) != table) continue;
      const auto [data, count] = ids_of_multi(m);
      ids.insert(ids.end(), data, data + count);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (!ids.empty()) {
      check(table, ids.front());
      check(table, ids.back());
    }
  }
  // A slot's ids become positions among its table's fetched rows: ascending ids keep their order.
  const auto renumber = [&](size_t table, const int32_t* from, size_t count, std::vector<int32_t>& into) {
    const std::vector<int32_t>& ids = batch_ids_[table];
    into.resize(count);
    for (size_t i = 0; i < count; ++i) {
      into[i] = static_cast<int32_t>(std::lower_bound(ids.begin(), ids.end(), from[i]) - ids.begin());
    }
  };
  for (size_t s = 0; s < layout_.single_slots.size(); ++s) {
    const auto table = static_cast<size_t>(layout_.single_slots[s].table);
    if (shards_->sharded(table)) {
      renumber(table, batch.single_ids[s].data(), static_cast<size_t>(batch.size), local_single_ids_[s]);
    }
  }
  for (size_t m = 0; m < layout_.multi_slots.size(); ++m) {
    const auto table = static_cast<size_t>(layout_.multi_slots[m].table);
    if (!shards_->sharded(table)) continue;
    const auto [data, count] = ids_of_multi(m);
    renumber(table, data, count, local_multi_ids_[m]);
  }
  std::vector<const std::vector<int32_t>*> wanted(tables_.size(), nullptr);
  for (size_t t = 0; t < tables_.size(); ++t) wanted[t] = &batch_ids_[t % n];
  shards_->Fetch(tables_, wanted, fetched_);
}

namespace {

Tensor RowsOf(const Tensor& t, int64_t begin, int64_t count) { return Tensor{t.Row(begin), count, t.cols, t.ld}; }

// Calls embed(begin, count) for the rows whose embeddings must be computed: the whole batch without groups;
// per group, either all its rows or, for a slot shared within the group, its first row, copied to the others.
template <typename Embed>
void ForEachGroup(const Batch& batch, size_t slot, size_t slots, const Tensor& columns, Embed&& embed) {
  if (batch.group_starts.empty()) {
    embed(0, batch.size);
    return;
  }
  for (size_t g = 0; g < batch.group_starts.size(); ++g) {
    const int64_t begin = batch.group_starts[g];
    const int64_t end = batch.GroupEnd(g);
    if (end <= begin) continue;
    if (!batch.Shared(g, slot, slots)) {
      embed(begin, end - begin);
      continue;
    }
    embed(begin, 1);
    for (int64_t r = begin + 1; r < end; ++r) std::copy_n(columns.Row(begin), columns.cols, columns.Row(r));
  }
}

}  // namespace

void InputLayer::Forward(const Batch& batch, const Tensor& dst) const {
  const int64_t n = batch.size;
  const size_t singles = layout_.single_slots.size();
  const size_t slots = singles + layout_.multi_slots.size();
  const size_t tables_per_copy = layout_.tables.size();
  if (shards_) FetchShardedRows(batch);
  // Slots write disjoint column blocks, so they can run in parallel (work item = copy × (slots + numeric block)).
  // The lambda captures one pointer so that std::function stores it without allocating.
  auto run = [&](size_t item) {
    const size_t copy = item / (slots + 1);
    const size_t s = item % (slots + 1);
    const Tensor out = dst.TopRows(n).Columns(static_cast<int64_t>(copy) * width_, width_);
    if (s < singles) {
      const auto& slot = layout_.single_slots[s];
      const EmbeddingTable& table = LookupTable(copy * tables_per_copy + slot.table);
      const int32_t* ids = SingleIds(batch, s);
      const Tensor columns = out.Columns(single_offsets_[s], table.dim());
      ForEachGroup(batch, s, slots, columns, [&](int64_t begin, int64_t count) {
        table.Lookup(ids + begin, count, RowsOf(columns, begin, count));
      });
    } else if (s < slots) {
      size_t m = s - singles;
      const auto& slot = layout_.multi_slots[m];
      const EmbeddingTable& table = LookupTable(copy * tables_per_copy + slot.table);
      const int32_t* ids = MultiIds(batch, m);
      const Tensor columns = out.Columns(multi_offsets_[m], table.dim());
      ForEachGroup(batch, s, slots, columns, [&](int64_t begin, int64_t count) {
        // Offsets index the whole batch's ids, so the pooled lookup of rows [begin, begin + count) reads them as is.
        table.LookupPooled(ids, batch.multi_offsets[m].data() + begin, count, slot.pooling,
                           RowsOf(columns, begin, count));
      });
    } else if (!projected_) {
      const int64_t width = layout_.NumericWidth();
      for (int64_t r = 0; r < n; ++r) {
        std::copy_n(batch.numeric.data() + r * width, width, out.Row(r) + numeric_offset_);
      }
    }
  };
  ParallelForBlocks(static_cast<size_t>(copies_) * (slots + 1), [&run](size_t item, int) { run(item); });
}

std::vector<ColumnRange> InputLayer::FeatureColumns(const std::string& name) const {
  std::vector<ColumnRange> out;
  for (size_t s = 0; s < layout_.single_slots.size(); ++s) {
    const SlotSpec& slot = layout_.single_slots[s];
    if (slot.feature == name) out.push_back({single_offsets_[s], single_offsets_[s] + layout_.tables[slot.table].dim});
  }
  for (size_t m = 0; m < layout_.multi_slots.size(); ++m) {
    const SlotSpec& slot = layout_.multi_slots[m];
    if (slot.feature == name) out.push_back({multi_offsets_[m], multi_offsets_[m] + layout_.tables[slot.table].dim});
  }
  if (!out.empty() || projected_) return out;
  for (size_t c = 0; c < layout_.numeric_names.size(); ++c) {
    const std::string& column = layout_.numeric_names[c];
    if (column == name || column == name + ".missing") {
      const auto at = numeric_offset_ + static_cast<int64_t>(c);
      out.push_back({at, at + 1});
    }
  }
  return out;
}

void InputLayer::SharedColumnsOf(const Batch& batch, SharedColumns* out) const {
  out->group_starts.clear();
  out->columns.clear();
  if (batch.group_starts.empty()) return;
  const size_t singles = layout_.single_slots.size();
  const size_t slots = singles + layout_.multi_slots.size();
  for (size_t g = 0; g < batch.group_starts.size(); ++g) {
    if (batch.GroupEnd(g) > batch.group_starts[g]) out->group_starts.push_back(batch.group_starts[g]);
  }
  if (out->group_starts.empty()) return;
  for (size_t s = 0; s < slots; ++s) {
    bool everywhere = true;
    for (size_t g = 0; g < batch.group_starts.size() && everywhere; ++g) {
      everywhere = batch.GroupEnd(g) <= batch.group_starts[g] || batch.Shared(g, s, slots);
    }
    if (!everywhere) continue;
    const int64_t offset = s < singles ? single_offsets_[s] : multi_offsets_[s - singles];
    const int table = s < singles ? layout_.single_slots[s].table : layout_.multi_slots[s - singles].table;
    for (int64_t copy = 0; copy < copies_; ++copy) {
      const int64_t begin = copy * width_ + offset;
      out->columns.push_back({begin, begin + layout_.tables[table].dim});
    }
  }
  // Ascending, neighbours merged (in place: this runs for every scored batch).
  std::vector<ColumnRange>& columns = out->columns;
  std::sort(columns.begin(), columns.end(),
            [](const ColumnRange& a, const ColumnRange& b) { return a.begin < b.begin; });
  size_t kept = 0;
  for (const ColumnRange& range : columns) {
    if (kept > 0 && columns[kept - 1].end == range.begin) {
      columns[kept - 1].end = range.end;
    } else {
      columns[kept++] = range;
    }
  }
  columns.resize(kept);
}

void InputLayer::Backward(const Batch& batch, const Tensor& diff_dst) {
  const int64_t n = batch.size;
  const size_t tables_per_copy = layout_.tables.size();
  // One worker per table: slots sharing a table accumulate into the same SparseGrad in a fixed order.
  auto run = [&](size_t t) {
    SparseGrad& grad = grads_[t];
    grad.Clear();
    const EmbeddingTable& table = LookupTable(t);
    const int table_in_copy = static_cast<int>(t % tables_per_copy);
    const Tensor diff = diff_dst.TopRows(n).Columns(static_cast<int64_t>(t / tables_per_copy) * width_, width_);
    for (size_t s = 0; s < layout_.single_slots.size(); ++s) {
      if (layout_.single_slots[s].table != table_in_copy) continue;
      table.AccumulateGrad(SingleIds(batch, s), n, diff.Columns(single_offsets_[s], table.dim()), &grad);
    }
    for (size_t m = 0; m < layout_.multi_slots.size(); ++m) {
      const auto& slot = layout_.multi_slots[m];
      if (slot.table != table_in_copy) continue;
      table.AccumulateGradPooled(MultiIds(batch, m), batch.multi_offsets[m].data(), n, slot.pooling,
                                 diff.Columns(multi_offsets_[m], table.dim()), &grad);
    }
    if (shards_ && shards_->sharded(t)) {
      // Positions among the fetched rows back to the table's rows (both ascending).
      const std::vector<int32_t>& ids = batch_ids_[static_cast<size_t>(table_in_copy)];
      for (int32_t& row : grad.rows) row = ids[static_cast<size_t>(row)];
    }
  };
  ParallelForBlocks(tables_.size(), [&run](size_t t, int) { run(t); });
  if (shards_) shards_->Push(tables_, grads_);
}

}  // namespace mtrec
