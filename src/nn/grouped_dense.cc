#include "nn/grouped_dense.h"

#include "common/error.h"
#include "nn/matmul.h"

namespace mtrec {

struct GroupedDense::Plans {
  PlanCache forward;
  PlanCache backward_weights;
  PlanCache backward_data;
};

GroupedDense::GroupedDense(ParameterArena& arena, const std::string& name, int64_t groups, int64_t in, int64_t out,
                           Init init)
    : arena_(&arena),
      label_("grouped dense layer '" + name + "'"),
      groups_(groups),
      in_(in),
      out_(out),
      plans_(std::make_unique<Plans>()) {
  MTREC_CHECK(groups > 0 && in > 0 && out > 0, "{} has {} groups of {}x{}; expected positive sizes", label_, groups,
              in, out);
  weight_id_ = arena.ReserveLinearWeight(name + ".weight", groups * in, out, init, groups);
  bias_id_ = arena.Reserve(name + ".bias", groups, out, Init::kZero, /*decay=*/false);
}

GroupedDense::~GroupedDense() = default;

void GroupedDense::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, groups_ * in_, label_, "src");
  CheckTensor(dst, src.rows, groups_ * out_, label_, "dst");
  MTREC_CHECK(arena_->allocated(), "{} used before the parameter arena was allocated", label_);
  const int64_t batch = src.rows;
  if (batch == 0) return;
  Plan& plan = plans_->forward.Get(batch, src.ld, dst.ld, [&] {
    const dnnl::memory::desc bias = Describe(1, out_, out_, 1);
    return MakePlan(Describe(batch, in_, src.ld, 1), Describe(in_, out_, out_, 1), &bias,
                    Describe(batch, out_, dst.ld, 1), /*accumulate=*/false);
  });
  const float* weights = arena_->Value(weight_id_);
  const float* bias = arena_->Value(bias_id_);
  for (int64_t g = 0; g < groups_; ++g) {
    Execute(plan, src.data + g * in_, weights + g * in_ * out_, bias + g * out_, dst.data + g * out_);
  }
}

// Per group, with G_g = diff_dst_g:
//   diff_W_g += src_gᵀ · G_g,   diff_b_g += 1ᵀ · G_g,   diff_src_g = G_g · W_gᵀ
void GroupedDense::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  CheckTensor(src, src.rows, groups_ * in_, label_, "src");
  CheckTensor(diff_dst, src.rows, groups_ * out_, label_, "diff_dst");
  if (diff_src) CheckTensor(*diff_src, src.rows, groups_ * in_, label_, "diff_src");
  const int64_t batch = src.rows;
  if (batch == 0) return;
  Plan& weights_plan = plans_->backward_weights.Get(batch, src.ld, diff_dst.ld, [&] {
    return MakePlan(Describe(in_, batch, 1, src.ld), Describe(batch, out_, diff_dst.ld, 1), nullptr,
                    Describe(in_, out_, out_, 1), /*accumulate=*/true);
  });
  float* diff_weights = arena_->Grad(weight_id_);
  for (int64_t g = 0; g < groups_; ++g) {
    Execute(weights_plan, src.data + g * in_, diff_dst.data + g * out_, nullptr, diff_weights + g * in_ * out_);
  }
  // Rows in a fixed order, so the sums do not depend on the thread count.
  float* diff_bias = arena_->Grad(bias_id_);
  const int64_t cols = groups_ * out_;
  for (int64_t r = 0; r < batch; ++r) {
    const float* d = diff_dst.Row(r);
    for (int64_t c = 0; c < cols; ++c) diff_bias[c] += d[c];
  }
  if (diff_src) {
    Plan& data_plan = plans_->backward_data.Get(batch, diff_dst.ld, diff_src->ld, [&] {
      return MakePlan(Describe(batch, out_, diff_dst.ld, 1), Describe(out_, in_, 1, out_), nullptr,
                      Describe(batch, in_, diff_src->ld, 1), /*accumulate=*/false);
    });
    const float* weights = arena_->Value(weight_id_);
    for (int64_t g = 0; g < groups_; ++g) {
      Execute(data_plan, diff_dst.data + g * out_, weights + g * in_ * out_, nullptr, diff_src->data + g * in_);
    }
  }
}

}  // namespace mtrec
