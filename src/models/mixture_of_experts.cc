#include "models/mixture_of_experts.h"

#include <fmt/format.h>

#include "common/profiler.h"

namespace mtrec {

MixtureOfExperts::MixtureOfExperts(const Config& config, const InputLayout& layout, int64_t max_batch,
                                   bool per_task_gates)
    : Model(config, layout, max_batch),
      experts_(config.model.experts),
      width_(config.model.expert.back()),
      gates_(per_task_gates ? tasks_ : 1),
      gate_softmax_(gates_, experts_),
      mixture_(config.model.expert.back()) {
  const int64_t width = width_;
  expert_bank_ = AddMlp({.name = "experts",
                         .input_cols = input_.OutputCols(),
                         .hidden = config.model.expert,
                         .groups = experts_,
                         .dropout_stream = DropoutStream::kInput});
  const size_t first_gate_parameter = arena_.Infos().size();
  gate_layer_ = std::make_unique<Dense>(arena_, "gates", input_.OutputCols(), gates_ * experts_, Init::kGlorotUniform);
  if (per_task_gates) arena_.MarkColumnBlocks(first_gate_parameter, tasks_);  // mmoe: gate k for column k
  // omoe: one mixture read by every tower; mmoe: mixture k by tower k.
  towers_ = AddTaskTowers(width, /*shared_input=*/gates_ == 1);
  std::vector<std::string> expert_names;
  for (int64_t e = 0; e < experts_; ++e) expert_names.push_back(fmt::format("expert{}", e));
  for (int64_t g = 0; g < gates_; ++g) {
    const int usage = gate_usage_.AddGate(per_task_gates ? config.tasks[g].name : "all tasks", expert_names);
    if (g == 0) first_gate_usage_ = usage;
  }
  gate_logits_.Resize(max_batch, gates_ * experts_);
  gate_weights_.Resize(max_batch, gates_ * experts_);
  mixed_.Resize(max_batch, gates_ * width);
  diff_mixed_.Resize(max_batch, gates_ * width);
  diff_experts_.Resize(max_batch, experts_ * width);
  diff_gate_weights_.Resize(max_batch, gates_ * experts_);
  diff_gate_logits_.Resize(max_batch, gates_ * experts_);
  diff_src_gates_.Resize(max_batch, input_.OutputCols());
}

void MixtureOfExperts::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  const int64_t n = src.rows;
  const int64_t width = width_;
  expert_out_ = expert_bank_->Forward(src, mode, SharedInput());
  Tensor logits = gate_logits_.View().TopRows(n);
  Tensor weights = gate_weights_.View().TopRows(n);
  Tensor mixed = mixed_.View().TopRows(n);
  {
    ProfileScope scope("gates and mixture forward");
    gate_layer_->Forward(src, logits, mode, SharedInput());
    gate_softmax_.Forward(logits, weights, mode);
    blocks_[0] = expert_out_;
    for (int64_t g = 0; g < gates_; ++g) {
      mixture_.Forward(blocks_, weights.Columns(g * experts_, experts_), mixed.Columns(g * width, width));
    }
  }
  CopyInto(dst, towers_->Forward(mixed, mode));
  if (mode == Mode::kInfer) {
    gate_usage_.Record(first_gate_usage_, weights, static_cast<int>(gates_));  // every gate's experts side by side
    gate_usage_.AddRows(n);
  }
}

// The experts get Σ_g g_e^g · diff h_g (Mixture accumulates); each gate's logits get the softmax backward of
// ⟨f_e, diff h_g⟩; the input's gradient is the experts' plus the gates'.
void MixtureOfExperts::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t n = src.rows;
  const int64_t width = width_;
  Tensor mixed = mixed_.View().TopRows(n);
  Tensor diff_mixed = diff_mixed_.View().TopRows(n);
  towers_->Backward(mixed, diff_dst, &diff_mixed);
  Tensor weights = gate_weights_.View().TopRows(n);
  Tensor diff_experts = diff_experts_.View().TopRows(n);
  Tensor diff_weights = diff_gate_weights_.View().TopRows(n);
  Tensor diff_src_gates = diff_src_gates_.View().TopRows(n);
  {
    ProfileScope scope("gates and mixture backward");
    ZeroFill(diff_experts);
    blocks_[0] = expert_out_;
    diff_blocks_[0] = diff_experts;
    for (int64_t g = 0; g < gates_; ++g) {
      mixture_.Backward(blocks_, weights.Columns(g * experts_, experts_), diff_mixed.Columns(g * width, width),
                        diff_blocks_, diff_weights.Columns(g * experts_, experts_));
    }
    Tensor diff_logits = diff_gate_logits_.View().TopRows(n);
    gate_softmax_.Backward(gate_logits_.View().TopRows(n), weights, diff_weights, &diff_logits);
    gate_layer_->Backward(src, gate_logits_.View().TopRows(n), diff_logits, &diff_src_gates);
  }
  expert_bank_->Backward(src, diff_experts, &diff_src);
  ProfileScope scope("gates and mixture backward");
  AddInto(diff_src, diff_src_gates);
}

}  // namespace mtrec
