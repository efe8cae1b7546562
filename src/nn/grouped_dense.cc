#include "nn/grouped_dense.h"

#include <algorithm>
#include <string_view>

#include "common/error.h"
#include "common/log.h"
#include "common/threads.h"
#include "nn/matmul.h"

namespace mtrec {

using dnnl::memory;

namespace {

// A 3-D f32 descriptor {groups, rows, cols} with the given strides. Group g of a column-blocked matrix with row
// stride ld starts g·cols floats further: strides {cols, ld, 1}; its transpose is {cols, 1, ld}.
memory::desc Describe3(int64_t groups, int64_t rows, int64_t cols, int64_t group_stride, int64_t row_stride,
                       int64_t col_stride) {
  return memory::desc({groups, rows, cols}, memory::data_type::f32, {group_stride, row_stride, col_stride});
}

std::string ImplOf(const Plan& plan) {
  const char* info = nullptr;
  if (dnnl_primitive_desc_query(plan.primitive.get_primitive_desc(), dnnl_query_impl_info_str, 0, &info) !=
          dnnl_success ||
      info == nullptr) {
    return "unknown";
  }
  return info;
}

// Makes a plan through `make` and records which implementation oneDNN chose for it. A reference kernel is
// correct but hundreds of times slower, so picking one is logged (plans are made once per shape, so this is
// rare): oneDNN 2.6 does so for a 3-D matmul with a per-group bias, which is why the bias is added outside.
template <typename Make>
Plan MakeRecordedPlan(Make&& make, std::string& impl, std::string_view label, std::string_view direction) {
  Plan plan = make();
  impl = ImplOf(plan);
  if (impl.rfind("ref", 0) == 0) {
    LogInfo("warning: {}: oneDNN runs the {} matmul on its slow reference implementation '{}'", label, direction, impl);
  }
  return plan;
}

}  // namespace

// One plan cache per direction, and the implementation oneDNN chose for the latest plan of each.
struct GroupedDense::Plans {
  PlanCache forward;
  PlanCache backward_weights;
  PlanCache backward_data;
  std::string impl[3];
};

GroupedDense::GroupedDense(ParameterArena& arena, const std::string& name, int64_t groups, int64_t in, int64_t out,
                           Init init)
    : arena_(&arena),
      name_(name),
      label_("grouped dense layer '" + name + "'"),
      groups_(groups),
      in_(in),
      out_(out),
      plans_(std::make_unique<Plans>()) {
  MTREC_CHECK(groups > 0 && in > 0 && out > 0, "{} has {} groups of {}x{}; expected positive sizes", label_, groups, in,
              out);
  weight_id_ = arena.ReserveLinearWeight(name + ".weight", groups * in, out, init, groups);
  bias_id_ = arena.Reserve(name + ".bias", groups, out, Init::kZero, /*decay=*/false);
}

GroupedDense::~GroupedDense() = default;

std::string GroupedDense::ImplInfo() const {
  if (plans_->impl[0].empty() && plans_->impl[1].empty() && plans_->impl[2].empty()) return "";
  return plans_->impl[0] + " " + plans_->impl[1] + " " + plans_->impl[2];
}

// Training and inference compute the same product; inference may fuse the ReLU that follows.
void GroupedDense::Forward(const Tensor& src, const Tensor& dst, Mode) { Infer(src, dst, /*relu=*/false); }

void GroupedDense::Infer(const Tensor& src, const Tensor& dst, bool relu) {
  CheckTensor(src, src.rows, groups_ * in_, label_, "src");
  CheckTensor(dst, src.rows, groups_ * out_, label_, "dst");
  MTREC_CHECK(arena_->allocated(), "{} used before the parameter arena was allocated", label_);
  const int64_t batch = src.rows;
  if (batch == 0) return;
  // dst_g = src_g · W_g for every g at once: {G, batch, in} · {G, in, out} -> {G, batch, out}.
  Plan& plan = plans_->forward.Get(batch, src.ld, dst.ld, [&] {
    return MakeRecordedPlan(
        [&] {
          // Frozen weights are packed into oneDNN's layout once (nn/matmul.h); changing ones stay in place.
          const bool frozen = arena_->values_frozen();
          return MakePlan(Describe3(groups_, batch, in_, in_, src.ld, 1),
                          Describe3(groups_, in_, out_, in_ * out_, out_, 1), nullptr,
                          Describe3(groups_, batch, out_, out_, dst.ld, 1), /*accumulate=*/false,
                          /*blocked_b=*/frozen, /*pack_once=*/frozen);
        },
        plans_->impl[0], label_, "forward");
  });
  // The G biases are one row of G·out floats, in the same column order as a row of dst.
  const float* bias = arena_->Value(bias_id_);
  if (plan.int8) {  // its own pass scales the product back: the bias and the ReLU go there too
    ExecuteInt8(plan, src.data, arena_->Value(weight_id_), bias, dst.data, relu);
    return;
  }
  Execute(plan, src.data, arena_->Value(weight_id_), nullptr, dst.data);
  const int64_t cols = groups_ * out_;
  ParallelRows(batch, batch * cols, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* y = dst.Row(r);
      if (relu) {
        for (int64_t c = 0; c < cols; ++c) y[c] = std::max(y[c] + bias[c], 0.f);
      } else {
        for (int64_t c = 0; c < cols; ++c) y[c] += bias[c];
      }
    }
  });
}

// Per group g, with dst_g = src_g·W_g + b_g and upstream gradient G_g = diff_dst_g:
//   diff_W_g += src_gᵀ · G_g     (in × batch) · (batch × out), all groups in one batched matmul
//   diff_b_g += 1ᵀ · G_g         the column sums of G_g
//   diff_src_g = G_g · W_gᵀ      (batch × out) · (out × in)
void GroupedDense::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  CheckTensor(src, src.rows, groups_ * in_, label_, "src");
  CheckTensor(diff_dst, src.rows, groups_ * out_, label_, "diff_dst");
  if (diff_src) CheckTensor(*diff_src, src.rows, groups_ * in_, label_, "diff_src");
  MTREC_CHECK(arena_->allocated(), "{} used before the parameter arena was allocated", label_);
  const int64_t batch = src.rows;
  if (batch == 0) return;

  Plan& weights_plan = plans_->backward_weights.Get(batch, src.ld, diff_dst.ld, [&] {
    return MakeRecordedPlan(
        [&] {
          return MakePlan(Describe3(groups_, in_, batch, in_, 1, src.ld),
                          Describe3(groups_, batch, out_, out_, diff_dst.ld, 1), nullptr,
                          Describe3(groups_, in_, out_, in_ * out_, out_, 1), /*accumulate=*/true);
        },
        plans_->impl[1], label_, "backward-weights");
  });
  Execute(weights_plan, src.data, diff_dst.data, nullptr, arena_->Grad(weight_id_));

  AddColumnSumsParallel(diff_dst, arena_->Grad(bias_id_));

  if (diff_src) {
    Plan& data_plan = plans_->backward_data.Get(batch, diff_dst.ld, diff_src->ld, [&] {
      return MakeRecordedPlan(
          [&] {
            return MakePlan(Describe3(groups_, batch, out_, out_, diff_dst.ld, 1),
                            Describe3(groups_, out_, in_, in_ * out_, 1, out_), nullptr,
                            Describe3(groups_, batch, in_, in_, diff_src->ld, 1), /*accumulate=*/false);
          },
          plans_->impl[2], label_, "backward-data");
    });
    Execute(data_plan, diff_dst.data, arena_->Value(weight_id_), nullptr, diff_src->data);
  }
}

}  // namespace mtrec
