#include "nn/feature_gate.h"

#include <cmath>

#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"
#include "common/vector_exp.h"

namespace mtrec {
namespace {

// In place: u → 2σ(u).
MTREC_HOT_LOOP void TwiceSigmoidRow(float* u, int64_t n) {
  for (int64_t c = 0; c < n; ++c) u[c] = 2.f * VectorSigmoid(u[c]);
}

// view_e = x ⊙ factor_e for each of the E blocks.
MTREC_HOT_LOOP void ScaleRow(const float* x, const float* factors, float* views, int64_t cols, int64_t copies) {
  for (int64_t e = 0; e < copies; ++e) {
    for (int64_t c = 0; c < cols; ++c) views[e * cols + c] = x[c] * factors[e * cols + c];
  }
}

// For one row: diff_x = Σ_e diff_view_e ⊙ factor_e (the direct term), and the gradient of the gates' logits,
// diff_u_e = diff_view_e ⊙ x ⊙ f(1 − f/2), since d 2σ(u)/du = 2σ(u)(1 − σ(u)) = f(1 − f/2).
MTREC_HOT_LOOP void BackwardRow(const float* x, const float* factors, const float* diff_views, float* diff_x,
                                float* diff_u, int64_t cols, int64_t copies) {
  for (int64_t c = 0; c < cols; ++c) diff_x[c] = 0.f;
  for (int64_t e = 0; e < copies; ++e) {
    const float* f = factors + e * cols;
    const float* g = diff_views + e * cols;
    float* du = diff_u + e * cols;
    for (int64_t c = 0; c < cols; ++c) {
      diff_x[c] += g[c] * f[c];
      du[c] = g[c] * x[c] * f[c] * (1.f - 0.5f * f[c]);
    }
  }
}

}  // namespace

FeatureGate::FeatureGate(ParameterArena& arena, const std::string& name, int64_t cols, int64_t copies, int64_t rank,
                         int64_t max_batch)
    : cols_(cols),
      copies_(copies),
      rank_(rank),
      down_(arena, name + ".down", cols, copies * rank, Init::kGlorotUniform),
      up_(arena, name + ".up", copies, rank, cols, Init::kGlorotUniform) {
  MTREC_CHECK(cols > 0 && copies > 0 && rank > 0,
              "feature gate '{}': {} columns, {} copies, rank {}; expected positive counts", name, cols, copies, rank);
  low_.Resize(max_batch, copies * rank);
  factors_.Resize(max_batch, copies * cols);
  diff_low_.Resize(max_batch, copies * rank);
  diff_up_.Resize(max_batch, copies * cols);
  diff_src_scratch_.Resize(max_batch, cols);
}

void FeatureGate::Forward(const Tensor& src, const Tensor& dst, Mode mode, const SharedColumns* shared) {
  const int64_t n = src.rows;
  CheckTensor(src, n, cols_, "feature gate", "src");
  CheckTensor(dst, n, copies_ * cols_, "feature gate", "dst");
  MTREC_CHECK(n <= low_.rows(), "feature gate: a batch of {} rows; it was sized for {}", n, low_.rows());
  Tensor low = low_.View().TopRows(n);
  Tensor factors = factors_.View().TopRows(n);
  down_.Forward(src, low, mode, shared);
  up_.Forward(low, factors, mode);
  ParallelRows(n, n * copies_ * cols_ * 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      TwiceSigmoidRow(factors.Row(r), copies_ * cols_);
      ScaleRow(src.Row(r), factors.Row(r), dst.Row(r), cols_, copies_);
    }
  });
}

void FeatureGate::Backward(const Tensor& src, const Tensor& /*dst*/, const Tensor& diff_dst, const Tensor* diff_src) {
  const int64_t n = src.rows;
  CheckTensor(diff_dst, n, copies_ * cols_, "feature gate", "diff_dst");
  Tensor factors = factors_.View().TopRows(n);
  Tensor diff_u = diff_up_.View().TopRows(n);
  Tensor direct = diff_src ? *diff_src : diff_src_scratch_.View().TopRows(n);
  if (diff_src) CheckTensor(*diff_src, n, cols_, "feature gate", "diff_src");
  ParallelRows(n, n * copies_ * cols_ * 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      BackwardRow(src.Row(r), factors.Row(r), diff_dst.Row(r), direct.Row(r), diff_u.Row(r), cols_, copies_);
    }
  });
  Tensor low = low_.View().TopRows(n);
  Tensor diff_low = diff_low_.View().TopRows(n);
  up_.Backward(low, factors, diff_u, &diff_low);
  if (!diff_src) {
    down_.Backward(src, low, diff_low, nullptr);
    return;
  }
  Tensor through_gates = diff_src_scratch_.View().TopRows(n);
  down_.Backward(src, low, diff_low, &through_gates);
  AddInto(*diff_src, through_gates);
}

}  // namespace mtrec
