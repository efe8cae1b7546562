#include "nn/attention_transfer.h"

#include <cmath>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

float RowDot(const float* x, const float* y, int64_t n) {
  float dot = 0.f;
  for (int64_t i = 0; i < n; ++i) dot += x[i] * y[i];
  return dot;
}

// Rows [begin, begin + n) of a view.
Tensor Rows(const Tensor& t, int64_t begin, int64_t n) { return Tensor{t.Row(begin), n, t.cols, t.ld}; }

}  // namespace

AttentionTransfer::AttentionTransfer(ParameterArena& arena, const std::string& name, int64_t width, int64_t max_batch)
    : label_("attention transfer unit '" + name + "'"),
      width_(width),
      max_batch_(max_batch),
      h1_(arena, name + ".h1", width, width, Init::kGlorotUniform),
      h2_(arena, name + ".h2", width, width, Init::kGlorotUniform),
      h3_(arena, name + ".h3", width, width, Init::kGlorotUniform) {
  MTREC_CHECK(max_batch > 0, "{}: max_batch {}; expected a positive count", label_, max_batch);
  for (Matrix* m : {&u_, &a_, &b_, &c_, &diff_a_, &diff_b_, &diff_c_, &diff_u_, &diff_u_part_}) {
    m->Resize(2 * max_batch, width);
  }
  w_.Resize(max_batch, 2);
}

void AttentionTransfer::Forward(const Tensor& p, const Tensor& q, const Tensor& z, Mode mode) {
  const int64_t n = p.rows;
  CheckTensor(p, n, width_, label_, "p");
  CheckTensor(q, n, width_, label_, "q");
  CheckTensor(z, n, width_, label_, "z");
  MTREC_CHECK(n <= max_batch_, "{}: a batch of {} rows exceeds max_batch {}", label_, n, max_batch_);
  rows_ = n;
  if (n == 0) return;
  const Tensor u = u_.View().TopRows(2 * n);
  CopyInto(Rows(u, 0, n), p);
  CopyInto(Rows(u, n, n), q);
  const Tensor a = a_.View().TopRows(2 * n), b = b_.View().TopRows(2 * n), c = c_.View().TopRows(2 * n);
  h1_.Forward(u, a, mode);
  h2_.Forward(u, b, mode);
  h3_.Forward(u, c, mode);
  const float scale = 1.f / std::sqrt(static_cast<float>(width_));
  float* w = w_.data();
  ParallelRows(n, n * width_ * 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float s_p = RowDot(b.Row(r), c.Row(r), width_) * scale;
      const float s_q = RowDot(b.Row(n + r), c.Row(n + r), width_) * scale;
      // A two-way softmax is a sigmoid of the difference: w_p = σ(s_p − s_q), finite for any scores.
      const float w_p = 1.f / (1.f + std::exp(s_q - s_p));
      const float w_q = 1.f - w_p;
      w[2 * r] = w_p;
      w[2 * r + 1] = w_q;
      const float* a_p = a.Row(r);
      const float* a_q = a.Row(n + r);
      float* out = z.Row(r);
      for (int64_t j = 0; j < width_; ++j) out[j] = w_p * a_p[j] + w_q * a_q[j];
    }
  });
}

// Per row, with G = diff_z, a_u = h1(u), b_u = h2(u), c_u = h3(u), s_u = ⟨b_u, c_u⟩/√d, w = softmax(s_p, s_q)
// and z = Σ_u w_u a_u:
//   ∂L/∂a_u = w_u G                                   ∂L/∂w_u = ⟨a_u, G⟩
//   ∂L/∂s_u = w_u (∂L/∂w_u − Σ_v w_v ∂L/∂w_v)          (the softmax Jacobian diag(w) − w wᵀ)
//   ∂L/∂b_u = ∂L/∂s_u · c_u / √d                       ∂L/∂c_u = ∂L/∂s_u · b_u / √d
// then each h's backward over the stacked rows [p; q] accumulates its parameter gradients (summed over the p
// and q rows, which share the layer) and gives its input gradient; u's gradient is the sum of the three:
//   ∂L/∂u = ∂L/∂a_u · W1ᵀ + ∂L/∂b_u · W2ᵀ + ∂L/∂c_u · W3ᵀ,   split back into diff_p (rows [0, n)) and diff_q.
void AttentionTransfer::Backward(const Tensor& p, const Tensor& q, const Tensor& diff_z, const Tensor* diff_p,
                                 const Tensor* diff_q) {
  const int64_t n = p.rows;
  CheckTensor(p, n, width_, label_, "p");
  CheckTensor(q, n, width_, label_, "q");
  CheckTensor(diff_z, n, width_, label_, "diff_z");
  if (diff_p) CheckTensor(*diff_p, n, width_, label_, "diff_p");
  if (diff_q) CheckTensor(*diff_q, n, width_, label_, "diff_q");
  MTREC_CHECK(n == rows_, "{}: Backward of {} rows after a Forward of {}; it needs that Forward's activations", label_,
              n, rows_);
  if (n == 0) return;
  const Tensor u = u_.View().TopRows(2 * n);
  const Tensor a = a_.View().TopRows(2 * n), b = b_.View().TopRows(2 * n), c = c_.View().TopRows(2 * n);
  const Tensor diff_a = diff_a_.View().TopRows(2 * n), diff_b = diff_b_.View().TopRows(2 * n),
               diff_c = diff_c_.View().TopRows(2 * n);
  const float scale = 1.f / std::sqrt(static_cast<float>(width_));
  const float* weights = w_.data();
  ParallelRows(n, n * width_ * 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* g = diff_z.Row(r);
      const float w[2] = {weights[2 * r], weights[2 * r + 1]};
      const float diff_w[2] = {RowDot(a.Row(r), g, width_), RowDot(a.Row(n + r), g, width_)};
      const float mean = w[0] * diff_w[0] + w[1] * diff_w[1];
      for (int i = 0; i < 2; ++i) {
        const int64_t row = i * n + r;
        const float diff_s = w[i] * (diff_w[i] - mean) * scale;  // ∂L/∂s_u already divided by √d
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
  });
  const bool need_input = diff_p != nullptr || diff_q != nullptr;
  const Tensor diff_u = diff_u_.View().TopRows(2 * n);
  const Tensor part = diff_u_part_.View().TopRows(2 * n);
  h1_.Backward(u, a, diff_a, need_input ? &diff_u : nullptr);
  h2_.Backward(u, b, diff_b, need_input ? &part : nullptr);
  if (need_input) AddInto(diff_u, part);
  h3_.Backward(u, c, diff_c, need_input ? &part : nullptr);
  if (!need_input) return;
  AddInto(diff_u, part);
  if (diff_p) CopyInto(*diff_p, Rows(diff_u, 0, n));
  if (diff_q) CopyInto(*diff_q, Rows(diff_u, n, n));
}

}  // namespace mtrec
