// The parts of a model that train.freeze keeps as they are while the rest trains: a warm-started model fine-tuned
// on a small market with its embeddings and experts frozen, or a new task's tower trained over a frozen body.
//
//   FrozenParts frozen(config, model);    // config.train.freeze, e.g. ["embeddings", "experts", "towers.click"]
//   optimizer.Step();
//   frozen.Restore(model);                // the frozen dense values back as they were
//   if (!frozen.TableFrozen(t)) sparse_optimizer[t].Step(grads[t]);
//
// A name freezes the embedding tables and dense tensors it names or prefixes at a dot ("embeddings": every table,
// "embeddings.user_id": one; "experts", "bottom", "gates", "towers", "level1": the tensors under that name); a
// name "PART.TASK" also freezes TASK's own blocks of the per-column tensors under PART ("towers.click": click's
// tower where the towers of all tasks are one grouped tensor). A name that matches nothing is an error that lists
// what can be frozen.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/config.h"
#include "models/model.h"

namespace mtrec {

class FrozenParts {
 public:
  FrozenParts(const Config& config, Model& model);

  bool empty() const { return spans_.empty() && frozen_tables_ == 0; }
  bool TableFrozen(size_t table) const { return table < tables_.size() && tables_[table]; }
  // Writes the frozen dense values back into the model's arena: after every optimizer step.
  void Restore(Model& model) const;
  // One line for the log: how many values and rows are frozen.
  std::string Describe() const;

 private:
  struct Span {
    size_t offset = 0;  // in the arena, in floats
    size_t length = 0;
  };
  std::vector<Span> spans_;
  std::vector<float> values_;  // the spans' values, in order
  std::vector<bool> tables_;
  size_t frozen_tables_ = 0;
  size_t frozen_rows_ = 0;
};

}  // namespace mtrec
