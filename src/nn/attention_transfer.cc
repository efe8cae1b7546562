#include "nn/attention_transfer.h"

#include <cmath>

#include "common/error.h"

namespace mtrec {
namespace {

float RowDot(const float* x, const float* y, int64_t n) {
  float dot = 0.f;
  for (int64_t i = 0; i < n; ++i) dot += x[i] * y[i];
  return dot;
}

}  // namespace

AttentionTransfer::AttentionTransfer(ParameterArena& arena, const std::string& name, int64_t width, int64_t max_batch)
    : width_(width),
      h1_(arena, name + ".h1", width, width, Init::kGlorotUniform),
      h2_(arena, name + ".h2", width, width, Init::kGlorotUniform),
      h3_(arena, name + ".h3", width, width, Init::kGlorotUniform) {
  for (Matrix* m : {&u_, &a_, &b_, &c_, &diff_a_, &diff_b_, &diff_c_, &diff_u_, &diff_u_part_}) {
    m->Resize(2 * max_batch, width);
  }
  w_.Resize(max_batch, 2);
}

void AttentionTransfer::Forward(const Tensor& p, const Tensor& q, const Tensor& z, Mode mode) {
  const int64_t n = p.rows;
  CheckTensor(p, n, width_, "attention transfer", "p");
  CheckTensor(q, n, width_, "attention transfer", "q");
  CheckTensor(z, n, width_, "attention transfer", "z");
  MTREC_CHECK(2 * n <= u_.rows(), "attention transfer: batch of {} rows exceeds its buffers ({})", n, u_.rows() / 2);
  Tensor u = u_.View().TopRows(2 * n);
  CopyInto(u.TopRows(n), p);
  CopyInto(Tensor{u.Row(n), n, width_, u.ld}, q);
  Tensor a = a_.View().TopRows(2 * n), b = b_.View().TopRows(2 * n), c = c_.View().TopRows(2 * n);
  h1_.Forward(u, a, mode);
  h2_.Forward(u, b, mode);
  h3_.Forward(u, c, mode);
  const float scale = 1.f / std::sqrt(static_cast<float>(width_));
  for (int64_t r = 0; r < n; ++r) {
    const float s_p = RowDot(b.Row(r), c.Row(r), width_) * scale;
    const float s_q = RowDot(b.Row(n + r), c.Row(n + r), width_) * scale;
    // A two-way softmax is a sigmoid of the difference: w_p = σ(s_p − s_q), stable for any scores.
    const float w_p = 1.f / (1.f + std::exp(s_q - s_p));
    const float w_q = 1.f - w_p;
    w_.View().At(r, 0) = w_p;
    w_.View().At(r, 1) = w_q;
    const float* a_p = a.Row(r);
    const float* a_q = a.Row(n + r);
    float* out = z.Row(r);
    for (int64_t j = 0; j < width_; ++j) out[j] = w_p * a_p[j] + w_q * a_q[j];
  }
}

void AttentionTransfer::Backward(const Tensor& p, const Tensor& q, const Tensor& diff_z, const Tensor* diff_p,
                                 const Tensor* diff_q) {
  const int64_t n = p.rows;
  CheckTensor(diff_z, n, width_, "attention transfer", "diff_z");
  Tensor u = u_.View().TopRows(2 * n);
  Tensor a = a_.View().TopRows(2 * n), b = b_.View().TopRows(2 * n), c = c_.View().TopRows(2 * n);
  Tensor diff_a = diff_a_.View().TopRows(2 * n), diff_b = diff_b_.View().TopRows(2 * n);
  Tensor diff_c = diff_c_.View().TopRows(2 * n);
  const float scale = 1.f / std::sqrt(static_cast<float>(width_));
  for (int64_t r = 0; r < n; ++r) {
    const float* g = diff_z.Row(r);
    const float w[2] = {w_.View().At(r, 0), w_.View().At(r, 1)};
    const float diff_w[2] = {RowDot(a.Row(r), g, width_), RowDot(a.Row(n + r), g, width_)};
    const float mean = w[0] * diff_w[0] + w[1] * diff_w[1];
    for (int i = 0; i < 2; ++i) {
      const int64_t row = i * n + r;
      const float diff_s = w[i] * (diff_w[i] - mean) * scale;
      float* da = diff_a.Row(row);
      float* db = diff_b.Row(row);
      float* dc = diff_c.Row(row);
      const float* bb = b.Row(row);
      const float* cc = c.Row(row);
      for (int64_t j = 0; j < width_; ++j) {
        da[j] = w[i] * g[j];
        db[j] = diff_s * cc[j];
        dc[j] = diff_s * bb[j];
      }
    }
  }
  Tensor diff_u = diff_u_.View().TopRows(2 * n);
  Tensor part = diff_u_part_.View().TopRows(2 * n);
  h1_.Backward(u, a, diff_a, &diff_u);
  h2_.Backward(u, b, diff_b, &part);
  AddInto(diff_u, part);
  h3_.Backward(u, c, diff_c, &part);
  AddInto(diff_u, part);
  if (diff_p) CopyInto(*diff_p, diff_u.TopRows(n));
  if (diff_q) CopyInto(*diff_q, Tensor{diff_u.Row(n), n, width_, diff_u.ld});
}

}  // namespace mtrec
