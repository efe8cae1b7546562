#include "nn/cross_stitch.h"

#include <algorithm>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {

CrossStitch::CrossStitch(ParameterArena& arena, const std::string& name, int64_t tasks, int64_t width)
    : arena_(&arena), label_("cross-stitch unit '" + name + "'"), tasks_(tasks), width_(width) {
  MTREC_CHECK(tasks > 0 && width > 0, "{} of {} networks of width {}: expected positive sizes", label_, tasks, width);
  alpha_id_ = arena.Reserve(name + ".alpha", tasks, tasks, Init::kStitch, /*decay=*/false);
}

void CrossStitch::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, tasks_ * width_, label_, "src");
  CheckTensor(dst, src.rows, tasks_ * width_, label_, "dst");
  const float* alpha = arena_->Value(alpha_id_);
  ParallelRows(src.rows, src.rows * tasks_ * tasks_ * width_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t k = 0; k < tasks_; ++k) {
        float* out = dst.Row(r) + k * width_;
        std::fill_n(out, width_, 0.f);
        for (int64_t j = 0; j < tasks_; ++j) {
          const float a = alpha[k * tasks_ + j];
          const float* in = src.Row(r) + j * width_;
          for (int64_t c = 0; c < width_; ++c) out[c] += a * in[c];
        }
      }
    }
  });
}

void CrossStitch::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  CheckTensor(src, src.rows, tasks_ * width_, label_, "src");
  CheckTensor(diff_dst, src.rows, tasks_ * width_, label_, "diff_dst");
  if (diff_src) CheckTensor(*diff_src, src.rows, tasks_ * width_, label_, "diff_src");
  const float* alpha = arena_->Value(alpha_id_);
  float* diff_alpha = arena_->Grad(alpha_id_);
  // K² dot products over the batch, in a fixed order (so the sums do not depend on the thread count).
  for (int64_t k = 0; k < tasks_; ++k) {
    for (int64_t j = 0; j < tasks_; ++j) {
      double sum = 0;
      for (int64_t r = 0; r < src.rows; ++r) {
        const float* d = diff_dst.Row(r) + k * width_;
        const float* in = src.Row(r) + j * width_;
        float dot = 0.f;
        for (int64_t c = 0; c < width_; ++c) dot += d[c] * in[c];
        sum += dot;
      }
      diff_alpha[k * tasks_ + j] += static_cast<float>(sum);
    }
  }
  if (!diff_src) return;
  ParallelRows(src.rows, src.rows * tasks_ * tasks_ * width_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t j = 0; j < tasks_; ++j) {
        float* out = diff_src->Row(r) + j * width_;
        std::fill_n(out, width_, 0.f);
        for (int64_t k = 0; k < tasks_; ++k) {
          const float a = alpha[k * tasks_ + j];
          const float* d = diff_dst.Row(r) + k * width_;
          for (int64_t c = 0; c < width_; ++c) out[c] += a * d[c];
        }
      }
    }
  });
}

}  // namespace mtrec
