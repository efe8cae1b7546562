#include "nn/dense.h"

#include <array>
#include <vector>

#include "common/error.h"
#include "nn/dnnl_context.h"

namespace mtrec {
namespace {

using dnnl::memory;

// Enough for every shape a trainer sees (the batch size, the last partial batch, the evaluation batch); a
// server with arbitrary request sizes recycles the least recently used entry instead of growing.
constexpr size_t kMaxPlansPerKind = 8;

// A 2-D f32 descriptor over rows × cols floats with the given strides: {ld, 1} is a row-major view, {1, ld} the
// transpose of a row-major view, which is how srcᵀ and Wᵀ reach oneDNN without copies.
memory::desc Describe(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  return memory::desc({rows, cols}, memory::data_type::f32, {row_stride, col_stride});
}

// One matmul C (+)= A · B (+ bias) for one shape, with the memory objects it reads and writes, so that a call only
// swaps data handles and executes.
struct Plan {
  int64_t rows = 0;
  int64_t ld_a = 0;
  int64_t ld_b = 0;
  uint64_t last_use = 0;
  dnnl::matmul primitive;
  memory a;
  memory b;
  memory bias;
  memory c;
  memory scratchpad;
  std::array<dnnl_exec_arg_t, 5> args{};
  int nargs = 0;
};

Plan MakePlan(const memory::desc& a, const memory::desc& b, const memory::desc* bias, const memory::desc& c,
              bool accumulate) {
  const dnnl::engine& engine = DnnlEngine();
  dnnl::primitive_attr attr;
  // The scratchpad belongs to the plan, so executing allocates nothing in the library's global scratchpad.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (accumulate) {
    // A sum post-op makes the primitive compute C = A·B + C: the gradient accumulates in place.
    dnnl::post_ops ops;
    ops.append_sum(1.f);
    attr.set_post_ops(ops);
  }
  dnnl::matmul::primitive_desc pd;
  Plan plan;
  try {
    const dnnl::matmul::desc desc = bias ? dnnl::matmul::desc(a, b, *bias, c) : dnnl::matmul::desc(a, b, c);
    pd = dnnl::matmul::primitive_desc(desc, attr, engine);
    plan.primitive = dnnl::matmul(pd);
  } catch (const dnnl::error& e) {
    Fail("oneDNN could not create a matmul of {}x{} by {}x{}: {}", a.dims()[0], a.dims()[1], b.dims()[0],
         b.dims()[1], e.what());
  }
  plan.a = memory(a, engine, DNNL_MEMORY_NONE);
  plan.b = memory(b, engine, DNNL_MEMORY_NONE);
  plan.c = memory(c, engine, DNNL_MEMORY_NONE);
  plan.scratchpad = memory(pd.scratchpad_desc(), engine);
  plan.args[plan.nargs++] = {DNNL_ARG_SRC, plan.a.get()};
  plan.args[plan.nargs++] = {DNNL_ARG_WEIGHTS, plan.b.get()};
  if (bias) {
    plan.bias = memory(*bias, engine, DNNL_MEMORY_NONE);
    plan.args[plan.nargs++] = {DNNL_ARG_BIAS, plan.bias.get()};
  }
  plan.args[plan.nargs++] = {DNNL_ARG_DST, plan.c.get()};
  plan.args[plan.nargs++] = {DNNL_ARG_SCRATCHPAD, plan.scratchpad.get()};
  return plan;
}

// Runs through the C API with the fixed argument array: the C++ execute() takes an unordered_map, which would
// allocate on every call. (oneDNN 2.6 still builds its own argument map inside each execute: a handful of small
// allocations per call that no caller can avoid.)
void Execute(Plan& plan, const float* a, const float* b, const float* bias, float* c) {
  plan.a.set_data_handle(const_cast<float*>(a));
  plan.b.set_data_handle(const_cast<float*>(b));
  if (bias) plan.bias.set_data_handle(const_cast<float*>(bias));
  plan.c.set_data_handle(c);
  const dnnl_status_t status =
      dnnl_primitive_execute(plan.primitive.get(), DnnlStream().get(), plan.nargs, plan.args.data());
  MTREC_CHECK(status == dnnl_success, "oneDNN matmul failed with status {}", static_cast<int>(status));
}

// The plans of one direction (forward, backward-weights, backward-data), looked up by shape.
class PlanCache {
 public:
  PlanCache() { plans_.reserve(kMaxPlansPerKind); }

  template <typename Make>
  Plan& Get(int64_t rows, int64_t ld_a, int64_t ld_b, Make&& make) {
    ++clock_;
    Plan* oldest = nullptr;
    for (Plan& plan : plans_) {
      if (plan.rows == rows && plan.ld_a == ld_a && plan.ld_b == ld_b) {
        plan.last_use = clock_;
        return plan;
      }
      if (!oldest || plan.last_use < oldest->last_use) oldest = &plan;
    }
    Plan fresh = make();
    fresh.rows = rows;
    fresh.ld_a = ld_a;
    fresh.ld_b = ld_b;
    fresh.last_use = clock_;
    if (plans_.size() < kMaxPlansPerKind) {
      plans_.push_back(std::move(fresh));
      return plans_.back();
    }
    *oldest = std::move(fresh);
    return *oldest;
  }

 private:
  std::vector<Plan> plans_;
  uint64_t clock_ = 0;
};

}  // namespace

struct Dense::Plans {
  PlanCache forward;
  PlanCache backward_weights;
  PlanCache backward_data;
};

Dense::Dense(ParameterArena& arena, const std::string& name, int64_t in, int64_t out, Init init)
    : arena_(&arena),
      name_(name),
      label_("dense layer '" + name + "'"),
      in_(in),
      out_(out),
      plans_(std::make_unique<Plans>()) {
  MTREC_CHECK(in > 0 && out > 0, "dense layer '{}' has shape {}x{}; expected positive sizes", name, in, out);
  weight_id_ = arena.ReserveLinearWeight(name + ".weight", in, out, init);
  bias_id_ = arena.Reserve(name + ".bias", 1, out, Init::kZero, /*decay=*/false);
}

Dense::~Dense() = default;
Dense::Dense(Dense&&) noexcept = default;

void Dense::Forward(const Tensor& src, const Tensor& dst, Mode mode) {
  CheckTensor(src, src.rows, in_, label_, "src");
  CheckTensor(dst, src.rows, out_, label_, "dst");
  MTREC_CHECK(arena_->allocated(), "dense layer '{}' used before the parameter arena was allocated", name_);
  const int64_t batch = src.rows;
  if (batch == 0) return;
  Plan& plan = plans_->forward.Get(batch, src.ld, dst.ld, [&] {
    const memory::desc bias = Describe(1, out_, out_, 1);
    return MakePlan(Describe(batch, in_, src.ld, 1), Describe(in_, out_, out_, 1), &bias,
                    Describe(batch, out_, dst.ld, 1), /*accumulate=*/false);
  });
  Execute(plan, src.data, arena_->Value(weight_id_), arena_->Value(bias_id_), dst.data);
}

// With dst = src·W + b and upstream gradient G = diff_dst:
//   diff_W += srcᵀ · G      (in × batch) · (batch × out)
//   diff_b += 1ᵀ · G        the column sums of G
//   diff_src = G · Wᵀ       (batch × out) · (out × in)
void Dense::Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) {
  CheckTensor(src, src.rows, in_, label_, "src");
  CheckTensor(diff_dst, src.rows, out_, label_, "diff_dst");
  if (diff_src) CheckTensor(*diff_src, src.rows, in_, label_, "diff_src");
  MTREC_CHECK(arena_->allocated(), "dense layer '{}' used before the parameter arena was allocated", name_);
  const int64_t batch = src.rows;
  if (batch == 0) return;

  Plan& weights_plan = plans_->backward_weights.Get(batch, src.ld, diff_dst.ld, [&] {
    return MakePlan(Describe(in_, batch, 1, src.ld), Describe(batch, out_, diff_dst.ld, 1), nullptr,
                    Describe(in_, out_, out_, 1), /*accumulate=*/true);
  });
  Execute(weights_plan, src.data, diff_dst.data, nullptr, arena_->Grad(weight_id_));

  // Rows in a fixed order, so the sums do not depend on the thread count; this is O(batch·out) next to the
  // O(batch·in·out) matmuls.
  float* diff_bias = arena_->Grad(bias_id_);
  for (int64_t r = 0; r < batch; ++r) {
    const float* g = diff_dst.Row(r);
    for (int64_t c = 0; c < out_; ++c) diff_bias[c] += g[c];
  }

  if (diff_src) {
    Plan& data_plan = plans_->backward_data.Get(batch, diff_dst.ld, diff_src->ld, [&] {
      return MakePlan(Describe(batch, out_, diff_dst.ld, 1), Describe(out_, in_, 1, out_), nullptr,
                      Describe(batch, in_, diff_src->ld, 1), /*accumulate=*/false);
    });
    Execute(data_plan, diff_dst.data, arena_->Value(weight_id_), nullptr, diff_src->data);
  }
}

}  // namespace mtrec
