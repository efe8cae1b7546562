#include "nn/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// Columns per block of the column-parallel loops: 16 floats, one cache line of each row.
constexpr int64_t kBlock = 16;

template <typename Fn>
void ForColumnBlocks(int64_t cols, int64_t rows, const Fn& fn) {
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  if (rows * cols < kMinParallelWork || blocks < 2) {
    for (int64_t b = 0; b < blocks; ++b) fn(b * kBlock, std::min(cols, (b + 1) * kBlock));
    return;
  }
  ParallelForBlocks(static_cast<size_t>(blocks), [&](size_t b, int) {
    const int64_t begin = static_cast<int64_t>(b) * kBlock;
    fn(begin, std::min(cols, begin + kBlock));
  });
}

}  // namespace

BatchNorm::BatchNorm(ParameterArena& arena, const std::string& name, int64_t cols, float momentum, float eps)
    : arena_(&arena), label_("batch norm '" + name + "'"), cols_(cols), momentum_(momentum), eps_(eps) {
  MTREC_CHECK(cols > 0, "{}: {} columns; expected a positive count", label_, cols);
  gamma_id_ = arena.Reserve(name + ".weight", 1, cols, Init::kOne, /*decay=*/false);
  beta_id_ = arena.Reserve(name + ".bias", 1, cols, Init::kZero, /*decay=*/false);
  mean_id_ = arena.ReserveBuffer(name + ".running_mean", 1, cols, Init::kZero);
  var_id_ = arena.ReserveBuffer(name + ".running_var", 1, cols, Init::kOne);
  batch_mean_.resize(cols);
  batch_inv_std_.resize(cols);
}

void BatchNorm::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, cols_, label_, "src");
  CheckTensor(dst, src.rows, cols_, label_, "dst");
  const int64_t n = src.rows;
  const float* gamma = arena_->Value(gamma_id_);
  const float* beta = arena_->Value(beta_id_);
  float* running_mean = arena_->Value(mean_id_);
  float* running_var = arena_->Value(var_id_);
  const bool train = mode == Mode::kTrain;
  MTREC_CHECK(!train || n >= 2, "{}: a training batch of {} row(s); batch statistics need at least 2", label_, n);
  MTREC_CHECK(!train || src.data != dst.data, "{}: training Forward cannot run in place", label_);
  ForColumnBlocks(cols_, n, [&](int64_t c0, int64_t c1) {
    float scale[kBlock], shift[kBlock];
    if (train) {
      // One pass of sums in double: the variance E[x²] − E[x]² loses nothing that matters at float precision.
      double sum[kBlock] = {}, squares[kBlock] = {};
      for (int64_t r = 0; r < n; ++r) {
        const float* x = src.Row(r);
        for (int64_t c = c0; c < c1; ++c) {
          sum[c - c0] += x[c];
          squares[c - c0] += static_cast<double>(x[c]) * x[c];
        }
      }
      for (int64_t c = c0; c < c1; ++c) {
        const double mean = sum[c - c0] / static_cast<double>(n);
        const double var = std::max(squares[c - c0] / static_cast<double>(n) - mean * mean, 0.0);
        const float inv_std = static_cast<float>(1.0 / std::sqrt(var + eps_));
        batch_mean_[c] = static_cast<float>(mean);
        batch_inv_std_[c] = inv_std;
        running_mean[c] = (1.f - momentum_) * running_mean[c] + momentum_ * static_cast<float>(mean);
        running_var[c] = (1.f - momentum_) * running_var[c] +
                         momentum_ * static_cast<float>(var * static_cast<double>(n) / static_cast<double>(n - 1));
        scale[c - c0] = gamma[c] * inv_std;
        shift[c - c0] = beta[c] - static_cast<float>(mean) * scale[c - c0];
      }
    } else {
      for (int64_t c = c0; c < c1; ++c) {
        scale[c - c0] = gamma[c] / std::sqrt(running_var[c] + eps_);
        shift[c - c0] = beta[c] - running_mean[c] * scale[c - c0];
      }
    }
    for (int64_t r = 0; r < n; ++r) {
      const float* x = src.Row(r);
      float* y = dst.Row(r);
      for (int64_t c = c0; c < c1; ++c) y[c] = x[c] * scale[c - c0] + shift[c - c0];
    }
  });
  batch_rows_ = train ? n : -1;
}

// With x̂ = (x − μ) / σ and y = γ x̂ + β over a batch of N rows (σ includes ε):
//   ∂L/∂β = Σ_r dy,   ∂L/∂γ = Σ_r dy · x̂,
//   ∂L/∂x = (γ / σ) · (dy − mean_r(dy) − x̂ · mean_r(dy · x̂))
// (the batch statistics depend on x; Ioffe & Szegedy 2015, section 3).
void BatchNorm::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  const int64_t n = diff_dst.rows;
  MTREC_CHECK(batch_rows_ == n, "{}: Backward of {} rows without a training Forward of those rows", label_, n);
  CheckTensor(src, n, cols_, label_, "src");
  CheckTensor(diff_dst, n, cols_, label_, "diff_dst");
  if (diff_src) CheckTensor(*diff_src, n, cols_, label_, "diff_src");
  (void)dst;
  const float* gamma = arena_->Value(gamma_id_);
  float* diff_gamma = arena_->Grad(gamma_id_);
  float* diff_beta = arena_->Grad(beta_id_);
  ForColumnBlocks(cols_, n, [&](int64_t c0, int64_t c1) {
    double sum_dy[kBlock] = {}, sum_dy_xhat[kBlock] = {};
    for (int64_t r = 0; r < n; ++r) {
      const float* x = src.Row(r);
      const float* dy = diff_dst.Row(r);
      for (int64_t c = c0; c < c1; ++c) {
        const float xhat = (x[c] - batch_mean_[c]) * batch_inv_std_[c];
        sum_dy[c - c0] += dy[c];
        sum_dy_xhat[c - c0] += static_cast<double>(dy[c]) * xhat;
      }
    }
    float mean_dy[kBlock], mean_dy_xhat[kBlock], k[kBlock];
    for (int64_t c = c0; c < c1; ++c) {
      diff_beta[c] += static_cast<float>(sum_dy[c - c0]);
      diff_gamma[c] += static_cast<float>(sum_dy_xhat[c - c0]);
      mean_dy[c - c0] = static_cast<float>(sum_dy[c - c0] / static_cast<double>(n));
      mean_dy_xhat[c - c0] = static_cast<float>(sum_dy_xhat[c - c0] / static_cast<double>(n));
      k[c - c0] = gamma[c] * batch_inv_std_[c];
    }
    if (!diff_src) return;
    for (int64_t r = 0; r < n; ++r) {
      const float* x = src.Row(r);
      const float* dy = diff_dst.Row(r);
      float* dx = diff_src->Row(r);
      for (int64_t c = c0; c < c1; ++c) {
        const float xhat = (x[c] - batch_mean_[c]) * batch_inv_std_[c];
        dx[c] = k[c - c0] * (dy[c] - mean_dy[c - c0] - xhat * mean_dy_xhat[c - c0]);
      }
    }
  });
}

}  // namespace mtrec
