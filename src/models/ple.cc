#include "models/ple.h"

#include <fmt/format.h>

#include <algorithm>

namespace mtrec {

Ple::Ple(const Config& config, const InputLayout& layout, int64_t max_batch) : Model(config, layout, max_batch) {
  const int64_t task_experts = config.model.task_experts;
  const int64_t shared_experts = config.model.experts;
  const int tasks = static_cast<int>(tasks_);
  const size_t depth = config.model.expert.size();
  levels_.resize(depth);
  for (size_t l = 0; l < depth; ++l) {
    Level& level = levels_[l];
    level.width = config.model.expert[l];
    level.in_width = l == 0 ? input_.OutputCols() : levels_[l - 1].width;
    const bool last = l + 1 == depth;
    const std::string prefix = fmt::format("ple.{}", l);
    // Experts: at the first level one bank for all (one wide GEMM over x); later one bank per branch.
    std::vector<ExpertRange> task_ranges(tasks);
    ExpertRange shared_range{};
    if (l == 0) {
      Bank bank;
      bank.mlp = AddMlp({.name = prefix + ".experts",
                         .input_cols = level.in_width,
                         .hidden = {level.width},
                         .groups = tasks * task_experts + shared_experts,
                         .dropout_stream = DropoutStream::PleLevel(l)});
      level.banks.push_back(std::move(bank));
      for (int k = 0; k < tasks; ++k) task_ranges[k] = {0, k * task_experts * level.width, task_experts * level.width};
      shared_range = {0, tasks * task_experts * level.width, shared_experts * level.width};
    } else {
      for (int b = 0; b <= tasks; ++b) {
        Bank bank;
        bank.input_branch = b;
        bank.mlp = AddMlp({.name = prefix + ".experts." + (b < tasks ? config.tasks[b].name : "shared"),
                           .input_cols = level.in_width,
                           .hidden = {level.width},
                           .groups = b < tasks ? task_experts : shared_experts,
                           .dropout_stream = DropoutStream::PleBank(l, b)});
        level.banks.push_back(std::move(bank));
        if (b < tasks) task_ranges[b] = {b, 0, task_experts * level.width};
      }
      shared_range = {tasks, 0, shared_experts * level.width};
    }
    for (Bank& bank : level.banks) bank.diff_out.Resize(max_batch, bank.mlp->OutputCols());
    // Gates: each task over its own and the shared experts; the shared branch (not at the last level) over all.
    auto names = [&](const std::string& owner, int64_t count) {
      std::vector<std::string> out;
      for (int64_t e = 0; e < count; ++e) out.push_back(fmt::format("{}.{}", owner, e));
      return out;
    };
    const int branches = last ? tasks : tasks + 1;
    for (int b = 0; b < branches; ++b) {
      Gate gate;
      gate.branch = b;
      if (b < tasks) {
        gate.name = fmt::format("level{}.{}", l, config.tasks[b].name);
        gate.ranges = {task_ranges[b], shared_range};
        gate.expert_names = names(config.tasks[b].name, task_experts);
      } else {
        gate.name = fmt::format("level{}.shared", l);
        gate.ranges = task_ranges;
        gate.ranges.push_back(shared_range);
        for (int k = 0; k < tasks; ++k) {
          auto more = names(config.tasks[k].name, task_experts);
          gate.expert_names.insert(gate.expert_names.end(), more.begin(), more.end());
        }
      }
      auto shared_names = names("shared", shared_experts);
      gate.expert_names.insert(gate.expert_names.end(), shared_names.begin(), shared_names.end());
      const int64_t count = static_cast<int64_t>(gate.expert_names.size());
      gate.dense = std::make_unique<Dense>(arena_, fmt::format("{}.gates.{}", prefix, b < tasks ? config.tasks[b].name : "shared"),
                                           level.in_width, count, Init::kGlorotUniform);
      gate.softmax = std::make_unique<GateSoftmax>(1, count);
      for (Matrix* m : {&gate.logits, &gate.weights, &gate.diff_weights, &gate.diff_logits}) m->Resize(max_batch, count);
      gate.blocks.resize(gate.ranges.size());
      gate.diff_blocks.resize(gate.ranges.size());
      gate.usage = gate_usage_.AddGate(gate.name, gate.expert_names);
      level.gates.push_back(std::move(gate));
    }
    level.mixture = std::make_unique<Mixture>(level.width);
    level.out.Resize(max_batch, branches * level.width);
    level.diff_out.Resize(max_batch, branches * level.width);
    level.diff_in_scratch.Resize(max_batch, level.in_width);
  }
  towers_ = AddTaskTowers(levels_.back().width);
}

Tensor Ple::BranchInput(size_t l, int branch, const Tensor& src, int64_t rows) {
  if (l == 0) return src;
  Level& previous = levels_[l - 1];
  return previous.out.View().TopRows(rows).Columns(branch * previous.width, previous.width);
}

Tensor Ple::BranchDiffInput(size_t l, int branch, const Tensor& diff_in, int64_t rows) {
  if (l == 0) return diff_in;
  const int64_t width = levels_[l - 1].width;
  return diff_in.TopRows(rows).Columns(branch * width, width);
}

void Ple::FillBlocks(Level& level, Gate& gate, int64_t rows) {
  for (size_t i = 0; i < gate.ranges.size(); ++i) {
    const ExpertRange& range = gate.ranges[i];
    Bank& bank = level.banks[range.bank];
    gate.blocks[i] = bank.out.Columns(range.begin, range.cols);
    gate.diff_blocks[i] = bank.diff_out.View().TopRows(rows).Columns(range.begin, range.cols);
  }
}

void Ple::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  const int64_t n = src.rows;
  for (size_t l = 0; l < levels_.size(); ++l) {
    Level& level = levels_[l];
    const SharedColumns* shared = l == 0 ? SharedInput() : nullptr;  // the first level reads the model's input
    for (Bank& bank : level.banks) {
      bank.out = bank.mlp->Forward(BranchInput(l, std::max(bank.input_branch, 0), src, n), mode, shared);
    }
    Tensor out = level.out.View().TopRows(n);
    for (Gate& gate : level.gates) {
      Tensor logits = gate.logits.View().TopRows(n);
      Tensor weights = gate.weights.View().TopRows(n);
      gate.dense->Forward(BranchInput(l, gate.branch, src, n), logits, mode, shared);
      gate.softmax->Forward(logits, weights, mode);
      FillBlocks(level, gate, n);
      level.mixture->Forward(gate.blocks, weights, out.Columns(gate.branch * level.width, level.width));
      if (mode == Mode::kInfer) gate_usage_.Record(gate.usage, weights);
    }
  }
  if (mode == Mode::kInfer) gate_usage_.AddRows(n);
  CopyInto(dst, towers_->Forward(levels_.back().out.View().TopRows(n), mode));
}

// Level by level from the top: each gate's mixture sends its gradient to the experts it weighs (accumulated) and
// through its softmax and gate layer to its branch input; the banks then send theirs to their inputs. A branch
// input's gradient is the sum over everything that read it (its experts, its gate, and at later levels nothing
// else), gathered in the previous level's diff_out (or diff_src at the first level).
void Ple::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t n = src.rows;
  Tensor diff_top = levels_.back().diff_out.View().TopRows(n);
  towers_->Backward(levels_.back().out.View().TopRows(n), diff_dst, &diff_top);
  for (size_t l = levels_.size(); l-- > 0;) {
    Level& level = levels_[l];
    Tensor diff_out = level.diff_out.View().TopRows(n);
    Tensor diff_in_total = l == 0 ? diff_src : levels_[l - 1].diff_out.View().TopRows(n);
    ZeroFill(diff_in_total);
    for (Bank& bank : level.banks) ZeroFill(bank.diff_out.View().TopRows(n));
    Tensor scratch = level.diff_in_scratch.View().TopRows(n);
    for (Gate& gate : level.gates) {
      Tensor weights = gate.weights.View().TopRows(n);
      Tensor diff_weights = gate.diff_weights.View().TopRows(n);
      Tensor diff_logits = gate.diff_logits.View().TopRows(n);
      FillBlocks(level, gate, n);
      level.mixture->Backward(gate.blocks, weights, diff_out.Columns(gate.branch * level.width, level.width),
                              gate.diff_blocks, diff_weights);
      gate.softmax->Backward(gate.logits.View().TopRows(n), weights, diff_weights, &diff_logits);
      gate.dense->Backward(BranchInput(l, gate.branch, src, n), gate.logits.View().TopRows(n), diff_logits, &scratch);
      AddInto(BranchDiffInput(l, gate.branch, diff_in_total, n), scratch);
    }
    for (Bank& bank : level.banks) {
      const int branch = std::max(bank.input_branch, 0);
      bank.mlp->Backward(BranchInput(l, branch, src, n), bank.diff_out.View().TopRows(n), &scratch);
      AddInto(BranchDiffInput(l, branch, diff_in_total, n), scratch);
    }
  }
}

}  // namespace mtrec
