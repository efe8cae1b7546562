#include "nn/cross_stitch.h"

#include <algorithm>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// Rows per partial sum of the α gradient: fixed, so the summation order is the same for any thread count.
constexpr int64_t kChunkRows = 64;

}  // namespace

CrossStitch::CrossStitch(ParameterArena& arena, const std::string& name, int64_t tasks, int64_t width)
    : arena_(&arena), label_("cross-stitch unit '" + name + "'"), tasks_(tasks), width_(width) {
  MTREC_CHECK(tasks > 0 && width > 0, "{} of {} networks of width {}: expected positive sizes", label_, tasks, width);
  alpha_id_ = arena.Reserve(name + ".alpha", tasks, tasks, Init::kStitch, /*decay=*/false);
}

void CrossStitch::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, tasks_ * width_, label_, "src");
  CheckTensor(dst, src.rows, tasks_ * width_, label_, "dst");
  MTREC_CHECK(arena_->allocated(), "{} used before the parameter arena was allocated", label_);
  MTREC_CHECK(src.data != dst.data, "{}: dst aliases src; the unit cannot run in place", label_);
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

// With dst_k = Σ_j α_kj src_j (row by row) and G = diff_dst:
//   ∂L/∂α_kj = Σ_rows ⟨G_k, src_j⟩        (accumulated into the arena's gradient)
//   ∂L/∂src_j = Σ_k α_kj G_k               (the transpose of α applied to the blocks of G)
void CrossStitch::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  CheckTensor(src, src.rows, tasks_ * width_, label_, "src");
  CheckTensor(diff_dst, src.rows, tasks_ * width_, label_, "diff_dst");
  if (diff_src) {
    CheckTensor(*diff_src, src.rows, tasks_ * width_, label_, "diff_src");
    MTREC_CHECK(diff_src->data != diff_dst.data, "{}: diff_src aliases diff_dst; the unit cannot run in place", label_);
  }
  MTREC_CHECK(arena_->allocated(), "{} used before the parameter arena was allocated", label_);
  const int64_t batch = src.rows;
  const int64_t pairs = tasks_ * tasks_;
  const float* alpha = arena_->Value(alpha_id_);

  const int64_t chunks = (batch + kChunkRows - 1) / kChunkRows;
  if (partial_.size() < static_cast<size_t>(chunks * pairs)) partial_.resize(chunks * pairs);
  ParallelRows(chunks, batch * pairs * width_, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      double* sums = partial_.data() + chunk * pairs;
      std::fill_n(sums, pairs, 0.0);
      const int64_t last = std::min(batch, (chunk + 1) * kChunkRows);
      for (int64_t r = chunk * kChunkRows; r < last; ++r) {
        for (int64_t k = 0; k < tasks_; ++k) {
          const float* g = diff_dst.Row(r) + k * width_;
          for (int64_t j = 0; j < tasks_; ++j) {
            const float* in = src.Row(r) + j * width_;
            float dot = 0.f;
            for (int64_t c = 0; c < width_; ++c) dot += g[c] * in[c];
            sums[k * tasks_ + j] += dot;
          }
        }
      }
    }
  });
  float* diff_alpha = arena_->Grad(alpha_id_);
  for (int64_t i = 0; i < pairs; ++i) {
    double sum = 0;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) sum += partial_[chunk * pairs + i];
    diff_alpha[i] += static_cast<float>(sum);
  }

  if (!diff_src) return;
  ParallelRows(batch, batch * pairs * width_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t j = 0; j < tasks_; ++j) {
        float* out = diff_src->Row(r) + j * width_;
        std::fill_n(out, width_, 0.f);
        for (int64_t k = 0; k < tasks_; ++k) {
          const float a = alpha[k * tasks_ + j];
          const float* g = diff_dst.Row(r) + k * width_;
          for (int64_t c = 0; c < width_; ++c) out[c] += a * g[c];
        }
      }
    }
  });
}

}  // namespace mtrec
