#include "models/stem.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/profiler.h"

namespace mtrec {
namespace {

// The shared set, then one per task (InputLayer writes them side by side in this order).
std::vector<std::string> StemEmbeddingSets(const Config& config) {
  std::vector<std::string> sets = {"embeddings"};
  for (const auto& task : config.tasks) sets.push_back("embeddings." + task.name);
  return sets;
}

}  // namespace

Stem::Stem(const Config& config, const InputLayout& layout, int64_t max_batch)
    : Model(config, layout, max_batch, StemEmbeddingSets(config)),
      softmax_(1, config.model.experts + tasks_ * config.model.task_experts),
      mixture_(config.model.expert.back()) {
  const int64_t width = config.model.expert.back();
  const int64_t experts = config.model.experts + tasks_ * config.model.task_experts;
  std::vector<std::string> expert_names;  // in the gates' order: shared.0, ..., <task>.0, ...
  for (size_t set = 0; set <= static_cast<size_t>(tasks_); ++set) {
    const bool shared = set == 0;
    Bank bank;
    bank.mlp = AddMlp({.name = "stem.experts." + (shared ? std::string("shared") : config.tasks[set - 1].name),
                       .input_cols = input_.CopyCols(),
                       .hidden = config.model.expert,
                       .groups = shared ? config.model.experts : config.model.task_experts,
                       .dropout_stream = DropoutStream::PleBank(0, set)});
    bank.diff_out.Resize(max_batch, bank.mlp->OutputCols());
    const std::string owner = shared ? "shared" : config.tasks[set - 1].name;
    for (int64_t e = 0; e < bank.mlp->groups(); ++e) expert_names.push_back(fmt::format("{}.{}", owner, e));
    banks_.push_back(std::move(bank));
  }
  gates_.resize(static_cast<size_t>(tasks_));
  for (int64_t t = 0; t < tasks_; ++t) {
    Gate& gate = gates_[static_cast<size_t>(t)];
    gate.dense = std::make_unique<Dense>(arena_, "stem.gates." + config.tasks[t].name, input_.OutputCols(), experts,
                                         Init::kGlorotUniform);
    for (Matrix* m : {&gate.logits, &gate.weights, &gate.diff_weights, &gate.diff_logits}) m->Resize(max_batch, experts);
    gate.usage = gate_usage_.AddGate(config.tasks[t].name, expert_names);
  }
  towers_ = AddTaskTowers(width);
  mixed_.Resize(max_batch, tasks_ * width);
  diff_mixed_.Resize(max_batch, tasks_ * width);
  diff_gate_in_.Resize(max_batch, input_.OutputCols());
  blocks_.resize(banks_.size());
  diff_blocks_.resize(banks_.size());
}

Tensor Stem::SetColumns(const Tensor& x, size_t set) const {
  return x.Columns(static_cast<int64_t>(set) * input_.CopyCols(), input_.CopyCols());
}

void Stem::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  const int64_t n = src.rows;
  const int64_t width = mixture_.width();
  // Each bank reads one set's columns: the input's shared columns (a request's context, indexed over all of x) are
  // cut to the set's and shifted to its first column.
  const SharedColumns* shared = SharedInput();
  for (size_t b = 0; b < banks_.size(); ++b) {
    SharedColumns* set_shared = nullptr;
    if (shared != nullptr) {
      const int64_t begin = static_cast<int64_t>(b) * input_.CopyCols(), end = begin + input_.CopyCols();
      set_shared_.group_starts = shared->group_starts;
      set_shared_.columns.clear();
      for (const ColumnRange& range : shared->columns) {
        if (range.end > begin && range.begin < end) {
          set_shared_.columns.push_back({std::max(range.begin, begin) - begin, std::min(range.end, end) - begin});
        }
      }
      set_shared = &set_shared_;
    }
    banks_[b].out = banks_[b].mlp->Forward(SetColumns(src, b), mode, set_shared);
    blocks_[b] = banks_[b].out;
  }
  Tensor mixed = mixed_.View().TopRows(n);
  {
    ProfileScope scope("gates and mixture forward");
    for (size_t t = 0; t < gates_.size(); ++t) {
      Gate& gate = gates_[t];
      Tensor logits = gate.logits.View().TopRows(n);
      Tensor weights = gate.weights.View().TopRows(n);
      gate.dense->Forward(src, logits, mode, shared);
      softmax_.Forward(logits, weights, mode);
      mixture_.Forward(blocks_, weights, mixed.Columns(static_cast<int64_t>(t) * width, width));
      if (mode == Mode::kInfer) gate_usage_.Record(gate.usage, weights);
    }
  }
  if (mode == Mode::kInfer) gate_usage_.AddRows(n);
  CopyInto(dst, towers_->Forward(mixed, mode));
}

// Task t's mixture sends its gradient to the shared experts and t's own (diff blocks of the others left null: the
// stop-gradient), and its gate's input gradient to the shared set and t's own set of x only.
void Stem::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t n = src.rows;
  const int64_t width = mixture_.width();
  Tensor mixed = mixed_.View().TopRows(n);
  Tensor diff_mixed = diff_mixed_.View().TopRows(n);
  towers_->Backward(mixed, diff_dst, &diff_mixed);
  ZeroFill(diff_src);
  {
    ProfileScope scope("gates and mixture backward");
    for (Bank& bank : banks_) ZeroFill(bank.diff_out.View().TopRows(n));
    Tensor diff_gate_in = diff_gate_in_.View().TopRows(n);
    for (size_t t = 0; t < gates_.size(); ++t) {
      Gate& gate = gates_[t];
      for (size_t b = 0; b < banks_.size(); ++b) {
        const int64_t cols = banks_[b].out.cols;
        const bool reaches = !stop_gradient_ || b == 0 || b == t + 1;
        diff_blocks_[b] = reaches ? banks_[b].diff_out.View().TopRows(n) : Tensor{nullptr, n, cols, cols};
      }
      Tensor weights = gate.weights.View().TopRows(n);
      Tensor diff_weights = gate.diff_weights.View().TopRows(n);
      Tensor diff_logits = gate.diff_logits.View().TopRows(n);
      mixture_.Backward(blocks_, weights, diff_mixed.Columns(static_cast<int64_t>(t) * width, width), diff_blocks_,
                        diff_weights);
      softmax_.Backward(gate.logits.View().TopRows(n), weights, diff_weights, &diff_logits);
      gate.dense->Backward(src, gate.logits.View().TopRows(n), diff_logits, &diff_gate_in);
      if (stop_gradient_) {
        AddInto(SetColumns(diff_src, 0), SetColumns(diff_gate_in, 0));
        AddInto(SetColumns(diff_src, t + 1), SetColumns(diff_gate_in, t + 1));
      } else {
        AddInto(diff_src, diff_gate_in);
      }
    }
  }
  for (size_t b = 0; b < banks_.size(); ++b) {
    Tensor diff_in = diff_gate_in_.View().TopRows(n).Columns(0, input_.CopyCols());  // scratch of one set's width
    banks_[b].mlp->Backward(SetColumns(src, b), banks_[b].diff_out.View().TopRows(n), &diff_in);
    AddInto(SetColumns(diff_src, b), diff_in);
  }
}

}  // namespace mtrec
