#include "train/warm_start.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "models/task_outputs.h"

namespace mtrec {
namespace {

std::vector<std::string> ColumnNames(const Config& config) {
  std::vector<std::string> names;
  for (const TaskConfig& task : HeadsConfig(config).tasks) names.push_back(task.name);
  return names;
}

// Copies the base tensor `from` into `to` block by block along their column axis: block j of `to` from block
// source[j] of `from` (-1: left as it is).
void CopyColumnBlocks(const ParameterInfo& from, const float* src, const ParameterInfo& to, float* dst,
                      const std::vector<int64_t>& source) {
  if (to.column_axis == 0) {
    const int64_t block = to.rows / to.columns;
    for (int64_t j = 0; j < to.columns; ++j) {
      if (source[j] < 0) continue;
      std::copy_n(src + source[j] * block * from.cols, block * to.cols, dst + j * block * to.cols);
    }
    return;
  }
  const int64_t block = to.cols / to.columns;
  for (int64_t r = 0; r < to.rows; ++r) {
    for (int64_t j = 0; j < to.columns; ++j) {
      if (source[j] < 0) continue;
      std::copy_n(src + r * from.cols + source[j] * block, block, dst + r * to.cols + j * block);
    }
  }
}

// A new task's own tensor ("towers.purchase.0.weight") under the name of the task it starts from
// (task.warm_start_from: "towers.cart.0.weight"); the name itself when no such task is part of it.
std::string RelatedTaskTensor(const Config& config, const std::string& name) {
  for (const TaskConfig& task : config.tasks) {
    if (task.warm_start_from.empty()) continue;
    const std::string part = "." + task.name;
    for (size_t at = name.find(part); at != std::string::npos; at = name.find(part, at + 1)) {
      const size_t end = at + part.size();
      if (end == name.size() || name[end] == '.') {
        return name.substr(0, at + 1) + task.warm_start_from + name.substr(end);
      }
    }
  }
  return name;
}

// Whether per-column tensors `from` (base) and `to` hold blocks of one shape, so that blocks can move between them.
bool SameBlocks(const ParameterInfo& from, const ParameterInfo& to) {
  if (from.column_axis != to.column_axis || from.columns <= 0 || to.columns <= 0) return false;
  if (to.column_axis == 0) return from.cols == to.cols && from.rows / from.columns == to.rows / to.columns;
  return from.rows == to.rows && from.cols / from.columns == to.cols / to.columns;
}

}  // namespace

std::string WarmStartReport::Describe(const std::string& base_path) const {
  std::string text = fmt::format("warm start from {}: {} dense tensors loaded, {} per task", base_path,
                                 tensors_carried, tensors_partly);
  text += fmt::format("; embedding rows: {} loaded, {} new", embedding_rows_carried, embedding_rows_new);
  if (!new_columns.empty()) text += fmt::format("\n  new outputs, trained from scratch: {}", fmt::join(new_columns, ", "));
  if (!dropped_columns.empty()) text += fmt::format("\n  outputs dropped: {}", fmt::join(dropped_columns, ", "));
  if (!fresh.empty()) text += fmt::format("\n  new tensors: {}", fmt::join(fresh, ", "));
  if (!dropped.empty()) text += fmt::format("\n  tensors dropped: {}", fmt::join(dropped, ", "));
  return text;
}

WarmStartReport CarryWeights(const Config& base_config, const Model& base, const std::string& base_path,
                             const Config& config, const WarmStartFeatures& kept, Model& model) {
  WarmStartReport report;
  const std::vector<std::string> columns = ColumnNames(config);
  const std::vector<std::string> base_columns = ColumnNames(base_config);
  std::vector<int64_t> source(columns.size(), -1);
  for (size_t j = 0; j < columns.size(); ++j) {
    const auto it = std::find(base_columns.begin(), base_columns.end(), columns[j]);
    if (it != base_columns.end()) source[j] = it - base_columns.begin();
    report.carried_column.push_back(source[j] >= 0);
    if (source[j] >= 0) continue;
    report.new_columns.push_back(columns[j]);
    // A new task may start from a related base task's tower (task.warm_start_from); its bias stays its own.
    const TaskConfig* task = config.FindTask(columns[j]);
    if (task == nullptr || task->warm_start_from.empty()) continue;
    const auto from = std::find(base_columns.begin(), base_columns.end(), task->warm_start_from);
    if (from == base_columns.end()) {
      Fail("--init-from {}: task '{}' has warm_start_from = \"{}\", which is no task of that model (it has {})",
           base_path, task->name, task->warm_start_from, fmt::join(base_columns, ", "));
    }
    source[j] = from - base_columns.begin();
    report.new_columns.back() += " (from " + task->warm_start_from + ")";
  }

  for (const std::string& name : base_columns) {
    if (std::find(columns.begin(), columns.end(), name) == columns.end()) report.dropped_columns.push_back(name);
  }

  // Dense tensors by name.
  ParameterArena& arena = model.arena();
  const ParameterArena& base_arena = base.arena();
  std::map<std::string, size_t> base_ids;
  for (size_t id = 0; id < base_arena.Infos().size(); ++id) base_ids.emplace(base_arena.Info(id).name, id);
  std::set<std::string> loaded;  // base tensors used (one may seed a related new task's too)
  for (size_t id = 0; id < arena.Infos().size(); ++id) {
    const ParameterInfo& to = arena.Info(id);
    auto it = base_ids.find(to.name);
    if (it == base_ids.end()) it = base_ids.find(RelatedTaskTensor(config, to.name));
    if (it == base_ids.end()) {
      report.fresh.push_back(to.name);
      continue;
    }
    const ParameterInfo& from = base_arena.Info(it->second);
    const float* src = base_arena.values() + from.offset;
    loaded.insert(it->first);
    if (to.column_axis >= 0 && SameBlocks(from, to)) {
      CopyColumnBlocks(from, src, to, arena.Value(id), source);
      const bool whole = from.rows == to.rows && from.cols == to.cols &&
                         std::all_of(source.begin(), source.end(), [&, j = int64_t{0}](int64_t s) mutable {
                           return s == j++;
                         });
      ++(whole ? report.tensors_carried : report.tensors_partly);
      continue;
    }
    if (from.rows != to.rows || from.cols != to.cols) {
      const std::string why =
          columns != base_columns
              ? fmt::format("the tasks changed ({} there, {} here) and this tensor's shape depends on their number; "
                            "ple's and cross-stitch's shared layers and adatt's, stem's and home's gates do, mmoe's, "
                            "shared-bottom's, esmm's and aitm's do not",
                            fmt::join(base_columns, ", "), fmt::join(columns, ", "))
              : "the width or number of experts, layers or towers, the embedding width or the inputs changed";
      Fail("--init-from {}: tensor '{}' is {} × {} there and {} × {} in this config's model: {}; a warm start keeps "
           "such shapes, so train this config from scratch or keep those settings as they were",
           base_path, to.name, from.rows, from.cols, to.rows, to.cols, why);
    }
    std::copy_n(src, to.size(), arena.Value(id));
    ++report.tensors_carried;
  }
  for (const auto& [name, id] : base_ids) {
    if (!loaded.count(name)) report.dropped.push_back(name);
  }

  // Embedding tables by name, the rows of carried features by id.
  auto& tables = model.input().tables();
  const auto& base_tables = base.input().tables();
  std::vector<bool> used(base_tables.size(), false);
  for (size_t t = 0; t < tables.size(); ++t) {
    EmbeddingTable& table = tables[t];
    const std::string& feature = model.input().TableFeature(t);
    const auto index = std::find_if(config.features.begin(), config.features.end(),
                                    [&](const FeatureConfig& f) { return f.name == feature; }) -
                       config.features.begin();
    const bool carried = index < std::ssize(kept.kept) && kept.kept[index];
    const auto match = std::find_if(base_tables.begin(), base_tables.end(),
                                    [&](const EmbeddingTable& b) { return b.name() == table.name(); });
    if (match == base_tables.end() || !carried) {
      report.fresh.push_back(table.name());
      report.embedding_rows_new += table.rows();
      if (match != base_tables.end()) used[match - base_tables.begin()] = true;
      continue;
    }
    used[match - base_tables.begin()] = true;
    if (match->dim() != table.dim()) {
      Fail("--init-from {}: embedding table '{}' is {} wide there and {} here; an embedding's width cannot change "
           "on a warm start", base_path, table.name(), match->dim(), table.dim());
    }
    const int64_t rows = std::min(match->rows(), table.rows());
    std::copy_n(match->Row(0), rows * table.dim(), table.Row(0));
    report.embedding_rows_carried += rows;
    report.embedding_rows_new += table.rows() - rows;
  }
  for (size_t t = 0; t < base_tables.size(); ++t) {
    if (!used[t]) report.dropped.push_back(base_tables[t].name());
  }
  return report;
}

}  // namespace mtrec
