#include "models/cross_stitch.h"

namespace mtrec {

CrossStitchNetwork::CrossStitchNetwork(const Config& config, const InputLayout& layout, int64_t max_batch)
    : Model(config, layout, max_batch) {
  networks_ = AddMlp({.name = "networks",
                      .input_cols = input_.OutputCols(),
                      .hidden = config.model.bottom,
                      .groups = tasks_,
                      .per_column = true,
                      .cross_stitch = true,
                      .dropout_stream = DropoutStream::kInput});
  towers_ = AddTaskTowers(config.model.bottom.back());
  diff_hidden_.Resize(max_batch, networks_->OutputCols());
}

void CrossStitchNetwork::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  hidden_ = networks_->Forward(src, mode, SharedInput());
  CopyInto(dst, towers_->Forward(hidden_, mode));
}

void CrossStitchNetwork::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  Tensor diff_hidden = diff_hidden_.View().TopRows(src.rows);
  towers_->Backward(hidden_, diff_dst, &diff_hidden);
  networks_->Backward(src, diff_hidden, &diff_src);
}

}  // namespace mtrec
