#include "nn/batch_norm.h"

#include <algorithm>
#include <cmath>

#include "common/communicator.h"
#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"

namespace mtrec {
namespace {

// Rows per chunk of the statistics passes. Each chunk sums its rows into its own partial sums (row-major reads,
// vectorised across columns), and the chunks are added in a fixed order: the result is the same for any thread
// count.
constexpr int64_t kChunkRows = 128;

int64_t Chunks(int64_t rows) { return (rows + kChunkRows - 1) / kChunkRows; }

// fn(chunk, begin_row, end_row) for every chunk, in parallel when the work is large enough.
template <typename Fn>
void ForRowChunks(int64_t rows, int64_t cols, const Fn& fn) {
  const int64_t chunks = Chunks(rows);
  auto run = [&](size_t c, int) {
    const int64_t begin = static_cast<int64_t>(c) * kChunkRows;
    fn(static_cast<int64_t>(c), begin, std::min(rows, begin + kChunkRows));
  };
  if (rows * cols < kMinParallelWork || chunks < 2) {
    for (int64_t c = 0; c < chunks; ++c) run(static_cast<size_t>(c), 0);
    return;
  }
  ParallelForBlocks(static_cast<size_t>(chunks), run);
}

// The row loops, one function each so that MTREC_HOT_LOOP can give them wide vectors.
MTREC_HOT_LOOP void AddMoments(const float* x, double* __restrict sum, double* __restrict squares, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    sum[c] += x[c];
    squares[c] += static_cast<double>(x[c]) * x[c];
  }
}

MTREC_HOT_LOOP void AffineRow(const float* x, float* y, const float* __restrict scale, const float* __restrict shift,
                              int64_t n) {
  for (int64_t c = 0; c < n; ++c) y[c] = x[c] * scale[c] + shift[c];
}

MTREC_HOT_LOOP void AddGradientMoments(const float* x, const float* dy, const float* __restrict mean,
                                       const float* __restrict inv_std, double* __restrict sum_dy,
                                       double* __restrict sum_dy_xhat, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float xhat = (x[c] - mean[c]) * inv_std[c];
    sum_dy[c] += dy[c];
    sum_dy_xhat[c] += static_cast<double>(dy[c]) * xhat;
  }
}

MTREC_HOT_LOOP void InputGradientRow(const float* x, const float* dy, float* dx, const float* __restrict gamma,
                                     const float* __restrict mean, const float* __restrict inv_std,
                                     const float* __restrict mean_dy, const float* __restrict mean_dy_xhat,
                                     int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float xhat = (x[c] - mean[c]) * inv_std[c];
    dx[c] = gamma[c] * inv_std[c] * (dy[c] - mean_dy[c] - xhat * mean_dy_xhat[c]);
  }
}

// The fused BatchNorm -> ReLU [-> Dropout] rows (ForwardRelu): the same values, in the same order of operations,
// as AffineRow, ReLU and the dropout mask applied one after the other.
MTREC_HOT_LOOP void AffineReluRow(const float* x, float* y, const float* __restrict scale,
                                  const float* __restrict shift, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float v = x[c] * scale[c] + shift[c];
    y[c] = v > 0.f ? v : 0.f;
  }
}

MTREC_HOT_LOOP void AffineReluDropoutRow(const float* x, float* y, const float* __restrict scale,
                                         const float* __restrict shift, int64_t n, uint64_t row_base,
                                         uint64_t threshold, float keep) {
  for (int64_t c = 0; c < n; ++c) {
    const float v = x[c] * scale[c] + shift[c];
    y[c] = (v > 0.f ? v : 0.f) * DropoutMask::Value(row_base, c, threshold, keep);
  }
}

// The gradient w.r.t. the normalised value, from the fused output y and its gradient g: g · keep where y > 0 (the
// ReLU passed and the mask kept the element), else 0 — what dropout's and ReLU's backward passes give in turn.
// Written as a product with a selected factor, which vectorises (a selected product does not).
MTREC_HOT_LOOP void AddReluGradientMoments(const float* x, const float* y, const float* g, float keep,
                                           const float* __restrict mean, const float* __restrict inv_std,
                                           double* __restrict sum_dy, double* __restrict sum_dy_xhat, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float dy = g[c] * (y[c] > 0.f ? keep : 0.f);
    const float xhat = (x[c] - mean[c]) * inv_std[c];
    sum_dy[c] += dy;
    sum_dy_xhat[c] += static_cast<double>(dy) * xhat;
  }
}

MTREC_HOT_LOOP void ReluInputGradientRow(const float* x, const float* y, const float* g, float keep, float* dx,
                                         const float* __restrict gamma, const float* __restrict mean,
                                         const float* __restrict inv_std, const float* __restrict mean_dy,
                                         const float* __restrict mean_dy_xhat, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float dy = g[c] * (y[c] > 0.f ? keep : 0.f);
    const float xhat = (x[c] - mean[c]) * inv_std[c];
    dx[c] = gamma[c] * inv_std[c] * (dy - mean_dy[c] - xhat * mean_dy_xhat[c]);
  }
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
  scale_.resize(cols);
  shift_.resize(cols);
}

void BatchNorm::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  PrepareForward(src, dst, mode);
  const float* scale = scale_.data();
  const float* shift = shift_.data();
  ParallelRows(src.rows, src.rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) AffineRow(src.Row(r), dst.Row(r), scale, shift, cols_);
  });
}

void BatchNorm::ForwardRelu(const Tensor& src, const Tensor& dst, Mode mode, const Dropout* dropout) {
  PrepareForward(src, dst, mode);
  const float* scale = scale_.data();
  const float* shift = shift_.data();
  const bool drop = dropout != nullptr && mode == Mode::kTrain && dropout->rate() > 0.f;
  MTREC_CHECK(!drop || dropout->OutputCols() == cols_, "{}: a dropout of {} columns after {} columns", label_,
              dropout->OutputCols(), cols_);
  const DropoutMask mask = drop ? dropout->Mask() : DropoutMask{};
  ParallelRows(src.rows, src.rows * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (drop) {
        AffineReluDropoutRow(src.Row(r), dst.Row(r), scale, shift, cols_, mask.RowBase(r), mask.threshold,
                             mask.scale);
      } else {
        AffineReluRow(src.Row(r), dst.Row(r), scale, shift, cols_);
      }
    }
  });
}

void BatchNorm::PrepareForward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, cols_, label_, "src");
  CheckTensor(dst, src.rows, cols_, label_, "dst");
  const int64_t n = src.rows;
  const float* gamma = arena_->Value(gamma_id_);
  const float* beta = arena_->Value(beta_id_);
  float* running_mean = arena_->Value(mean_id_);
  float* running_var = arena_->Value(var_id_);
  const bool train = mode == Mode::kTrain;
  MTREC_CHECK(!train || src.data != dst.data, "{}: training Forward cannot run in place", label_);
  float* scale = scale_.data();
  float* shift = shift_.data();
  if (train) {
    // Per chunk: Σx and Σx² in double (E[x²] − E[x]² then loses nothing that matters at float precision).
    const int64_t chunks = Chunks(n);
    partial_.assign(static_cast<size_t>(2 * chunks * cols_), 0.0);
    ForRowChunks(n, cols_, [&](int64_t chunk, int64_t begin, int64_t end) {
      double* sum = partial_.data() + 2 * chunk * cols_;
      double* squares = sum + cols_;
      for (int64_t r = begin; r < end; ++r) AddMoments(src.Row(r), sum, squares, cols_);
    });
    // Σx and Σx² per column, then (under mpirun) over every rank's rows: the statistics of the step's whole batch.
    totals_.assign(static_cast<size_t>(2 * cols_ + 1), 0.0);
    for (int64_t c = 0; c < cols_; ++c) {
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        totals_[c] += partial_[2 * chunk * cols_ + c];
        totals_[cols_ + c] += partial_[(2 * chunk + 1) * cols_ + c];
      }
    }
    totals_[2 * cols_] = static_cast<double>(n);
    World().AllReduceSum(totals_.data(), totals_.size());
    const double rows = totals_[2 * cols_];
    MTREC_CHECK(rows >= 2, "{}: a training batch of {} row(s); batch statistics need at least 2", label_, rows);
    batch_total_rows_ = rows;
    for (int64_t c = 0; c < cols_; ++c) {
      const double mean = totals_[c] / rows;
      const double var = std::max(totals_[cols_ + c] / rows - mean * mean, 0.0);
      const float inv_std = static_cast<float>(1.0 / std::sqrt(var + eps_));
      batch_mean_[c] = static_cast<float>(mean);
      batch_inv_std_[c] = inv_std;
      running_mean[c] = (1.f - momentum_) * running_mean[c] + momentum_ * static_cast<float>(mean);
      running_var[c] = (1.f - momentum_) * running_var[c] +
                       momentum_ * static_cast<float>(var * rows / (rows - 1));
      scale[c] = gamma[c] * inv_std;
      shift[c] = beta[c] - static_cast<float>(mean) * scale[c];
    }
  } else {
    for (int64_t c = 0; c < cols_; ++c) {
      scale[c] = gamma[c] / std::sqrt(running_var[c] + eps_);
      shift[c] = beta[c] - running_mean[c] * scale[c];
    }
  }
  batch_rows_ = train ? n : -1;
}

void BatchNorm::CheckBackward(const Tensor& src, const Tensor& diff_dst, const Tensor* diff_src) const {
  const int64_t n = diff_dst.rows;
  MTREC_CHECK(batch_rows_ == n, "{}: Backward of {} rows without a training Forward of those rows", label_, n);
  CheckTensor(src, n, cols_, label_, "src");
  CheckTensor(diff_dst, n, cols_, label_, "diff_dst");
  if (diff_src) CheckTensor(*diff_src, n, cols_, label_, "diff_src");
}

template <typename Moments>
void BatchNorm::ReduceGradientMoments(int64_t n, const Moments& moments) {
  float* diff_gamma = arena_->Grad(gamma_id_);
  float* diff_beta = arena_->Grad(beta_id_);
  const int64_t chunks = Chunks(n);
  partial_.assign(static_cast<size_t>(2 * chunks * cols_), 0.0);
  ForRowChunks(n, cols_, [&](int64_t chunk, int64_t begin, int64_t end) {
    double* sum_dy = partial_.data() + 2 * chunk * cols_;
    moments(sum_dy, sum_dy + cols_, begin, end);
  });
  float* mean_dy = scale_.data();  // reused: Forward's scale and shift are not needed any more
  float* mean_dy_xhat = shift_.data();
  totals_.assign(static_cast<size_t>(2 * cols_), 0.0);
  for (int64_t c = 0; c < cols_; ++c) {
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      totals_[c] += partial_[2 * chunk * cols_ + c];
      totals_[cols_ + c] += partial_[(2 * chunk + 1) * cols_ + c];
    }
    // γ and β get this rank's sums: the trainer sums every parameter's gradient over the ranks.
    diff_beta[c] += static_cast<float>(totals_[c]);
    diff_gamma[c] += static_cast<float>(totals_[cols_ + c]);
  }
  // x's gradient needs the means over the step's whole batch (every rank's rows).
  World().AllReduceSum(totals_.data(), totals_.size());
  for (int64_t c = 0; c < cols_; ++c) {
    mean_dy[c] = static_cast<float>(totals_[c] / batch_total_rows_);
    mean_dy_xhat[c] = static_cast<float>(totals_[cols_ + c] / batch_total_rows_);
  }
}

// With x̂ = (x − μ) / σ and y = γ x̂ + β over a batch of N rows (σ includes ε):
//   ∂L/∂β = Σ_r dy,   ∂L/∂γ = Σ_r dy · x̂,
//   ∂L/∂x = (γ / σ) · (dy − mean_r(dy) − x̂ · mean_r(dy · x̂))
// (the batch statistics depend on x; Ioffe & Szegedy 2015, section 3).
void BatchNorm::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  (void)dst;
  CheckBackward(src, diff_dst, diff_src);
  const int64_t n = diff_dst.rows;
  const float* mean = batch_mean_.data();
  const float* inv_std = batch_inv_std_.data();
  ReduceGradientMoments(n, [&](double* sum_dy, double* sum_dy_xhat, int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      AddGradientMoments(src.Row(r), diff_dst.Row(r), mean, inv_std, sum_dy, sum_dy_xhat, cols_);
    }
  });
  if (!diff_src) return;
  const float* gamma = arena_->Value(gamma_id_);
  const float* mean_dy = scale_.data();
  const float* mean_dy_xhat = shift_.data();
  ParallelRows(n, n * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      InputGradientRow(src.Row(r), diff_dst.Row(r), diff_src->Row(r), gamma, mean, inv_std, mean_dy, mean_dy_xhat,
                       cols_);
    }
  });
}

// Backward with dy = diff_dst · keep where dst > 0, else 0 (see AddReluGradientMoments), computed twice on the fly
// rather than stored.
void BatchNorm::BackwardRelu(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src,
                             const Dropout* dropout) {
  CheckBackward(src, diff_dst, diff_src);
  CheckTensor(dst, diff_dst.rows, cols_, label_, "dst");
  const int64_t n = diff_dst.rows;
  const float keep = dropout != nullptr && dropout->rate() > 0.f ? dropout->Mask().scale : 1.f;
  const float* mean = batch_mean_.data();
  const float* inv_std = batch_inv_std_.data();
  ReduceGradientMoments(n, [&](double* sum_dy, double* sum_dy_xhat, int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      AddReluGradientMoments(src.Row(r), dst.Row(r), diff_dst.Row(r), keep, mean, inv_std, sum_dy, sum_dy_xhat,
                             cols_);
    }
  });
  if (!diff_src) return;
  const float* gamma = arena_->Value(gamma_id_);
  const float* mean_dy = scale_.data();
  const float* mean_dy_xhat = shift_.data();
  ParallelRows(n, n * cols_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      ReluInputGradientRow(src.Row(r), dst.Row(r), diff_dst.Row(r), keep, diff_src->Row(r), gamma, mean, inv_std,
                           mean_dy, mean_dy_xhat, cols_);
    }
  });
}

}  // namespace mtrec
