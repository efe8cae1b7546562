#include "models/adatt.h"

#include <fmt/format.h>

#include <algorithm>

namespace mtrec {

Adatt::Adatt(const Config& config, const InputLayout& layout, int64_t max_batch) : Model(config, layout, max_batch) {
  task_experts_ = config.model.task_experts;
  const int64_t m = task_experts_;
  const int tasks = static_cast<int>(tasks_);
  for (const TaskConfig& task : config.tasks) task_names_.push_back(task.name);
  const size_t depth = config.model.expert.size();
  levels_.resize(depth);
  for (size_t l = 0; l < depth; ++l) {
    Level& level = levels_[l];
    level.width = config.model.expert[l];
    level.in_width = l == 0 ? input_.OutputCols() : levels_[l - 1].width;
    const std::string prefix = fmt::format("adatt.{}", l);
    if (l == 0) {  // every expert reads x: one bank, one wide GEMM
      Bank bank;
      bank.mlp = AddMlp({.name = prefix + ".experts",
                         .input_cols = level.in_width,
                         .hidden = {level.width},
                         .groups = tasks * m,
                         .dropout_stream = DropoutStream::PleLevel(l)});
      level.banks.push_back(std::move(bank));
    } else {
      for (int k = 0; k < tasks; ++k) {
        Bank bank;
        bank.mlp = AddMlp({.name = prefix + ".experts." + task_names_[k],
                           .input_cols = level.in_width,
                           .hidden = {level.width},
                           .groups = m,
                           .dropout_stream = DropoutStream::PleBank(l, k)});
        bank.task = k;
        level.banks.push_back(std::move(bank));
      }
    }
    for (Bank& bank : level.banks) bank.diff_out.Resize(max_batch, bank.mlp->OutputCols());
    const int64_t all = tasks * m;
    for (int k = 0; k < tasks; ++k) {
      Gate gate;
      gate.name = fmt::format("level{}.{}", l, task_names_[k]);
      gate.dense = std::make_unique<Dense>(arena_, fmt::format("{}.gates.{}", prefix, task_names_[k]), level.in_width,
                                           all, Init::kGlorotUniform);
      gate.softmax = std::make_unique<GateSoftmax>(1, all);
      if (m > 1) {
        gate.native_id = arena_.Reserve(fmt::format("{}.native.{}", prefix, task_names_[k]), 1, m,
                                        Init::kUniformInverseSqrtCols, /*decay=*/false);
      }
      for (Matrix* matrix : {&gate.logits, &gate.probabilities, &gate.weights, &gate.diff_weights, &gate.diff_logits}) {
        matrix->Resize(max_batch, all);
      }
      std::vector<std::string> experts;
      for (const std::string& task : task_names_) {
        for (int64_t i = 0; i < task_experts_; ++i) experts.push_back(fmt::format("{}.{}", task, i));
      }
      gate.usage = gate_usage_.AddGate(gate.name, std::move(experts));
      level.gates.push_back(std::move(gate));
    }
    level.mixture = std::make_unique<Mixture>(level.width);
    level.blocks.resize(level.banks.size());
    level.diff_blocks.resize(level.banks.size());
    level.out.Resize(max_batch, tasks * level.width);
    level.diff_out.Resize(max_batch, tasks * level.width);
    level.diff_in_scratch.Resize(max_batch, level.in_width);
  }
  towers_ = AddTaskTowers(levels_.back().width);
}

Tensor Adatt::TaskInput(size_t l, int task, const Tensor& src, int64_t rows) {
  if (l == 0 || task < 0) return src;
  Level& previous = levels_[l - 1];
  return previous.out.View().TopRows(rows).Columns(task * previous.width, previous.width);
}

Tensor Adatt::TaskDiffInput(size_t l, int task, const Tensor& diff_in, int64_t rows) {
  if (l == 0 || task < 0) return diff_in;
  const int64_t width = levels_[l - 1].width;
  return diff_in.TopRows(rows).Columns(task * width, width);
}

void Adatt::FillBlocks(Level& level, int64_t rows) {
  for (size_t b = 0; b < level.banks.size(); ++b) {
    level.blocks[b] = level.banks[b].out;
    level.diff_blocks[b] = level.banks[b].diff_out.View().TopRows(rows);
  }
}

void Adatt::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  const int64_t n = src.rows;
  const int64_t m = task_experts_;
  for (size_t l = 0; l < levels_.size(); ++l) {
    Level& level = levels_[l];
    const SharedColumns* shared = l == 0 ? SharedInput() : nullptr;  // the first level reads the model's input
    for (Bank& bank : level.banks) bank.out = bank.mlp->Forward(TaskInput(l, bank.task, src, n), mode, shared);
    FillBlocks(level, n);
    Tensor out = level.out.View().TopRows(n);
    for (int k = 0; k < static_cast<int>(level.gates.size()); ++k) {
      Gate& gate = level.gates[k];
      Tensor logits = gate.logits.View().TopRows(n);
      Tensor probabilities = gate.probabilities.View().TopRows(n);
      Tensor weights = gate.weights.View().TopRows(n);
      gate.dense->Forward(TaskInput(l, k, src, n), logits, mode, shared);
      gate.softmax->Forward(logits, probabilities, mode);
      // The native unit: the task's own experts again, with v (or 1 for a single expert), on top of the gate.
      const float* native = m > 1 ? arena_.Value(gate.native_id) : nullptr;
      CopyInto(weights, probabilities);
      for (int64_t r = 0; r < n; ++r) {
        float* row = weights.Row(r) + k * m;
        for (int64_t i = 0; i < m; ++i) row[i] += native ? native[i] : 1.f;
      }
      level.mixture->Forward(level.blocks, weights, out.Columns(k * level.width, level.width));
      if (mode == Mode::kInfer) gate_usage_.Record(gate.usage, probabilities);
    }
  }
  if (mode == Mode::kInfer) gate_usage_.AddRows(n);
  CopyInto(dst, towers_->Forward(levels_.back().out.View().TopRows(n), mode));
}

// Level by level from the top: each task's mixture sends its gradient to every expert (accumulated), to its native
// weights (the mixture weights' gradient on its own experts, summed over the rows) and through its softmax and gate
// layer to its input; the banks then send theirs to their inputs. A task's input gradient is the sum of its gate's
// and its bank's (x's, at the first level, of every gate and the one bank).
void Adatt::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t n = src.rows;
  const int64_t m = task_experts_;
  Tensor diff_top = levels_.back().diff_out.View().TopRows(n);
  towers_->Backward(levels_.back().out.View().TopRows(n), diff_dst, &diff_top);
  for (size_t l = levels_.size(); l-- > 0;) {
    Level& level = levels_[l];
    Tensor diff_out = level.diff_out.View().TopRows(n);
    Tensor diff_in_total = l == 0 ? diff_src : levels_[l - 1].diff_out.View().TopRows(n);
    ZeroFill(diff_in_total);
    for (Bank& bank : level.banks) ZeroFill(bank.diff_out.View().TopRows(n));
    FillBlocks(level, n);
    Tensor scratch = level.diff_in_scratch.View().TopRows(n);
    for (int k = 0; k < static_cast<int>(level.gates.size()); ++k) {
      Gate& gate = level.gates[k];
      Tensor weights = gate.weights.View().TopRows(n);
      Tensor diff_weights = gate.diff_weights.View().TopRows(n);
      Tensor diff_logits = gate.diff_logits.View().TopRows(n);
      level.mixture->Backward(level.blocks, weights, diff_out.Columns(k * level.width, level.width), level.diff_blocks,
                              diff_weights);
      if (m > 1) {  // d v_i = Σ_rows d weights[:, k·m + i]
        float* diff_native = arena_.Grad(gate.native_id);
        for (int64_t i = 0; i < m; ++i) {
          double sum = 0;
          for (int64_t r = 0; r < n; ++r) sum += diff_weights.At(r, k * m + i);
          diff_native[i] += static_cast<float>(sum);
        }
      }
      // The softmax's part of the weights: its backward reads the probabilities, not the weights with v added.
      gate.softmax->Backward(gate.logits.View().TopRows(n), gate.probabilities.View().TopRows(n), diff_weights,
                             &diff_logits);
      gate.dense->Backward(TaskInput(l, k, src, n), gate.logits.View().TopRows(n), diff_logits, &scratch);
      AddInto(TaskDiffInput(l, k, diff_in_total, n), scratch);
    }
    for (Bank& bank : level.banks) {
      bank.mlp->Backward(TaskInput(l, bank.task, src, n), bank.diff_out.View().TopRows(n), &scratch);
      AddInto(TaskDiffInput(l, bank.task, diff_in_total, n), scratch);
    }
  }
}

}  // namespace mtrec
