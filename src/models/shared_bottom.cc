#include "models/shared_bottom.h"

namespace mtrec {

SharedBottom::SharedBottom(const Config& config, const InputLayout& layout, int64_t max_batch)
    : Model(config, layout, max_batch) {
  bottom_ = AddMlp({.name = "bottom",
                    .input_cols = input_.OutputCols(),
                    .hidden = config.model.bottom,
                    .dropout_stream = DropoutStream::kInput});
  for (size_t k = 0; k < config.tasks.size(); ++k) {
    towers_.push_back(AddMlp({.name = "towers." + config.tasks[k].name,
                              .input_cols = bottom_->OutputCols(),
                              .hidden = config.model.tower,
                              .outputs = 1,
                              .dropout_stream = DropoutStream::Tower(k)}));
  }
  diff_hidden_.Resize(max_batch, bottom_->OutputCols());
  diff_tower_input_.Resize(max_batch, bottom_->OutputCols());
  diff_tower_output_.Resize(max_batch, 1);
}

void SharedBottom::BodyForward(const Tensor& src, const Tensor& dst, Mode mode) {
  hidden_ = bottom_->Forward(src, mode, SharedInput());
  for (size_t k = 0; k < towers_.size(); ++k) {
    Tensor out = towers_[k]->Forward(hidden_, mode);
    for (int64_t r = 0; r < src.rows; ++r) dst.At(r, k) = out.At(r, 0);
  }
}

// d L / d h = sum_k d L_k / d h: every tower's gradient flows into the shared bottom.
void SharedBottom::BodyBackward(const Tensor& src, const Tensor& diff_dst, const Tensor& diff_src) {
  const int64_t n = src.rows;
  Tensor diff_hidden = diff_hidden_.View().TopRows(n);
  Tensor diff_part = diff_tower_input_.View().TopRows(n);
  Tensor diff_out = diff_tower_output_.View().TopRows(n);
  for (size_t k = 0; k < towers_.size(); ++k) {
    for (int64_t r = 0; r < n; ++r) diff_out.At(r, 0) = diff_dst.At(r, k);
    towers_[k]->Backward(hidden_, diff_out, k == 0 ? &diff_hidden : &diff_part);
    if (k > 0) {
      for (int64_t r = 0; r < n; ++r) {
        float* into = diff_hidden.Row(r);
        const float* from = diff_part.Row(r);
        for (int64_t c = 0; c < diff_hidden.cols; ++c) into[c] += from[c];
      }
    }
  }
  bottom_->Backward(src, diff_hidden, &diff_src);
}

}  // namespace mtrec
