#include "models/aitm.h"

namespace mtrec {

Aitm::Aitm(const Config& config, const InputLayout& layout, int64_t max_batch)
    : Model(config, layout, max_batch), width_(config.model.bottom.back()) {
  // The task graph (in the base class) holds the parent links and an order with parents first.
  std::vector<bool> has_children(tasks_, false);
  for (int64_t k = 0; k < tasks_; ++k) {
    if (graph().parent(k) >= 0) has_children[graph().parent(k)] = true;
  }

  encoders_ = AddMlp({.name = "encoders",
                      .input_cols = input_.OutputCols(),
                      .hidden = config.model.bottom,
                      .groups = tasks_,
                      .per_column = true,
                      .dropout_stream = DropoutStream::kInput});
  transfer_.resize(tasks_);
  units_.resize(tasks_);
  information_.resize(tasks_);
  for (int64_t k = 0; k < tasks_; ++k) {
    const std::string& name = config.tasks[k].name;
    if (has_children[k]) {
      transfer_[k] = AddMlp({.name = "transfer." + name,
                             .input_cols = width_,
                             .hidden = {width_},
                             .dropout_stream = DropoutStream::Transfer(k)});
    }
    if (graph().parent(k) >= 0)
      units_[k] = std::make_unique<AttentionTransfer>(arena_, "ait." + name, width_, max_batch);
  }
  towers_ = AddTaskTowers(width_);
  for (Matrix* m : {&z_, &diff_z_, &diff_encoded_}) m->Resize(max_batch, tasks_ * width_);
  diff_information_.Resize(max_batch, tasks_ * width_);
  scratch_.Resize(max_batch, width_);
}

void Aitm::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  const int64_t n = src.rows;
  encoded_ = encoders_->Forward(src, mode, SharedInput());
  for (int k : graph().order()) {
    Tensor q = encoded_.Columns(k * width_, width_);
    Tensor z = Block(z_, k, n);
    if (graph().parent(k) >= 0) {
      units_[k]->Forward(information_[graph().parent(k)], q, z, mode);
    } else {
      CopyInto(z, q);
    }
    if (transfer_[k]) information_[k] = transfer_[k]->Forward(z, mode);
  }
  CopyInto(dst, towers_->Forward(z_.View().TopRows(n), mode));
}

// In reverse order, so that a task's z has received every child's gradient (through g) before its own unit
// passes it on: d z_p += g_pᵀ(Σ_children d p_p); d q_k comes from the unit (or is d z_k without a parent).
void Aitm::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t n = src.rows;
  Tensor diff_z_all = diff_z_.View().TopRows(n);
  towers_->Backward(z_.View().TopRows(n), diff_dst, &diff_z_all);
  Tensor diff_information_all = diff_information_.View().TopRows(n);
  ZeroFill(diff_information_all);
  Tensor scratch = scratch_.View().TopRows(n);
  for (auto it = graph().order().rbegin(); it != graph().order().rend(); ++it) {
    const int k = *it;
    Tensor diff_z = Block(diff_z_, k, n);
    if (transfer_[k]) {
      transfer_[k]->Backward(Block(z_, k, n), Block(diff_information_, k, n), &scratch);
      AddInto(diff_z, scratch);
    }
    Tensor diff_q = Block(diff_encoded_, k, n);
    if (graph().parent(k) >= 0) {
      units_[k]->Backward(information_[graph().parent(k)], encoded_.Columns(k * width_, width_), diff_z, &scratch,
                          &diff_q);
      AddInto(Block(diff_information_, graph().parent(k), n), scratch);
    } else {
      CopyInto(diff_q, diff_z);
    }
  }
  encoders_->Backward(src, diff_encoded_.View().TopRows(n), &diff_src);
}

}  // namespace mtrec
