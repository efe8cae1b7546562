#include "train/frozen_parts.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "models/task_outputs.h"

namespace mtrec {
namespace {

// Whether `name` is `part` or lies under it ("experts.0.weight" under "experts").
bool Under(const std::string& name, const std::string& part) {
  return name == part || (name.size() > part.size() && name.starts_with(part) && name[part.size()] == '.');
}

}  // namespace

FrozenParts::FrozenParts(const Config& config, Model& model) {
  const std::vector<std::string>& names = config.train.freeze;
  const TaskOutputs outputs(config);
  ParameterArena& arena = model.arena();
  auto& tables = model.input().tables();
  tables_.assign(tables.size(), false);
  std::vector<bool> whole(arena.Infos().size(), false);
  // Per tensor, the output columns frozen in it (per-column tensors only).
  std::vector<std::set<int64_t>> columns(arena.Infos().size());
  for (const std::string& name : names) {
    bool matched = false;
    for (size_t t = 0; t < tables.size(); ++t) {
      if (Under(tables[t].name(), name)) tables_[t] = matched = true;
    }
    for (size_t id = 0; id < arena.Infos().size(); ++id) {
      if (Under(arena.Info(id).name, name)) whole[id] = matched = true;
    }
    const size_t dot = name.rfind('.');
    const TaskConfig* task = dot == std::string::npos ? nullptr : config.FindTask(name.substr(dot + 1));
    if (task != nullptr) {
      const std::string part = name.substr(0, dot);
      const int64_t k = config.TaskIndex(task->name);
      for (size_t id = 0; id < arena.Infos().size(); ++id) {
        const ParameterInfo& info = arena.Info(id);
        if (info.column_axis < 0 || !Under(info.name, part)) continue;
        for (int64_t c = outputs.first(k); c < outputs.first(k) + outputs.width(k); ++c) columns[id].insert(c);
        matched = true;
      }
    }
    if (!matched) {
      std::set<std::string> parts = {"embeddings"};
      for (const ParameterInfo& info : arena.Infos()) parts.insert(info.name.substr(0, info.name.find('.')));
      Fail("train.freeze: '{}' names no part of this model; it has {}, each embedding table "
           "(\"embeddings.<feature>\"), and the tasks' own blocks of its per-task tensors (\"towers.<task>\")",
           name, fmt::join(parts, ", "));
    }
  }
  for (size_t id = 0; id < arena.Infos().size(); ++id) {
    const ParameterInfo& info = arena.Info(id);
    if (whole[id]) {
      spans_.push_back({info.offset, info.size()});
      continue;
    }
    for (const int64_t c : columns[id]) {
      if (info.column_axis == 0) {
        const size_t block = static_cast<size_t>(info.rows / info.columns * info.cols);
        spans_.push_back({info.offset + static_cast<size_t>(c) * block, block});
      } else {
        const auto block = static_cast<size_t>(info.cols / info.columns);
        for (int64_t r = 0; r < info.rows; ++r) {
          spans_.push_back({info.offset + static_cast<size_t>(r * info.cols) + static_cast<size_t>(c) * block, block});
        }
      }
    }
  }
  for (const Span& span : spans_) {
    values_.insert(values_.end(), arena.values() + span.offset, arena.values() + span.offset + span.length);
  }
  for (size_t t = 0; t < tables.size(); ++t) {
    if (!tables_[t]) continue;
    ++frozen_tables_;
    frozen_rows_ += static_cast<size_t>(tables[t].rows());
  }
}

void FrozenParts::Restore(Model& model) const {
  float* values = model.arena().values();
  const float* saved = values_.data();
  for (const Span& span : spans_) {
    std::copy_n(saved, span.length, values + span.offset);
    saved += span.length;
  }
}

std::string FrozenParts::Describe() const {
  return fmt::format("frozen: {} dense values, {} embedding tables ({} rows)", values_.size(), frozen_tables_,
                     frozen_rows_);
}

}  // namespace mtrec
