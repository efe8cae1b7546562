// oneDNN matmul plans shared by the dense layers (internal to nn/: it includes <dnnl.hpp>). A Plan is one
// primitive for one shape with its memory objects, so a call only swaps data handles and executes; a PlanCache
// keeps the plans of one direction (forward, backward-weights, backward-data) of one layer, by shape.
//
//   Plan& plan = cache.Get(batch, src.ld, dst.ld, [&] { return MakePlan(Describe(...), ..., false); });
//   Execute(plan, src.data, weights, bias, dst.data);
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include <dnnl.hpp>

#include "nn/matmul_bound.h"
#include "nn/precision.h"

namespace mtrec {

// A 2-D f32 descriptor over rows × cols floats with the given strides: {ld, 1} is a row-major view, {1, ld} the
// transpose of a row-major view, which is how srcᵀ and Wᵀ reach oneDNN without copies.
dnnl::memory::desc Describe(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride);

// A 3-D view (groups × rows × cols; 2-D views have one group) of floats by its strides, as the int8 passes read it.
struct View3 {
  int64_t groups = 1, rows = 0, cols = 0;
  int64_t group_stride = 0, row_stride = 0, col_stride = 1;
  int ndims = 2;  // of the descriptor it came from
  int64_t At(int64_t g, int64_t r, int64_t c) const { return g * group_stride + r * row_stride + c * col_stride; }
};

// Frozen weights packed into a primitive's layout (converted under bf16, quantised under int8), shared by every
// plan that packs the same weights into the same layout: a layer's plans for other batch sizes, and the served
// copies of a model, which read one set of weights (Model::ShareWeightsOf).
struct PackedWeights;
// Packed copies of frozen weights alive in this process (for tests and measurements).
int64_t PackedWeightCopies();

// One matmul C (+)= A · B (+ bias) for one shape, in the precision current when it was made (nn/precision.h).
struct Plan {
  int64_t rows = 0;
  int64_t ld_a = 0;
  int64_t ld_b = 0;
  Precision precision = Precision::kF32;  // of the product (f32 for one over changing weights under int8)
  Precision made_under = Precision::kF32;  // MatmulPrecision() when it was made, which finds it again
  MatmulShape shape;  // for the bound's recorder (nn/matmul_bound.h)
  uint64_t last_use = 0;
  dnnl::matmul primitive;
  dnnl::memory a;
  dnnl::memory b;
  dnnl::memory bias;
  dnnl::memory c;
  dnnl::memory scratchpad;
  std::array<dnnl_exec_arg_t, 5> args{};
  int nargs = 0;
  // With blocked weights: B as the caller lays it out, and the reorder that copies it into `b` (oneDNN's own
  // blocked layout, owned by the plan) before each multiplication.
  dnnl::memory b_user;
  dnnl::reorder reorder_b;
  bool blocked_b = false;
  // B never changes (frozen weights): it is packed once, into `packed` (shared), which `b` reads while the caller
  // passes the same B.
  bool pack_once = false;
  const float* packed_from = nullptr;
  std::shared_ptr<PackedWeights> packed;
  dnnl::memory::desc b_source;  // B as the caller lays it out: with its address, what `packed` was packed from
  // Under bf16: A as the caller lays it out (f32, any strides) and the reorder that converts it into `a`, a dense
  // bf16 copy owned by the plan. B then always goes through reorder_b, which converts and blocks in one pass.
  dnnl::memory a_user;
  dnnl::reorder reorder_a;
  // Under bf16 with C a strided view (a grouped layer's column blocks): oneDNN 2.6 has no AMX kernel for such a
  // destination and falls back to a plain bf16 gemm several times slower, so the product goes to a dense copy
  // `c` owned by the plan and reorder_c moves it into c_user, the caller's view.
  dnnl::memory c_user;
  dnnl::reorder reorder_c;
  bool stage_c = false;
  // Under int8 with frozen weights: A is quantised into `a` (s8, dense, owned) with one scale per row, B once
  // into `b` (s8 in the primitive's layout) with one scale per group and column; the primitive writes the integer
  // product (exact in s32, and in its f32 conversion while |Σ| < 2^24, i.e. for k ≤ 1040) into `c` (dense,
  // owned), and a pass of ours writes the caller's C = (C +) a_scale · b_scale · product (+ bias), then the ReLU.
  bool int8 = false;
  bool int8_accumulate = false;
  bool int8_relu = false;
  View3 a_view, b_view, c_view;
  std::vector<float> a_scales, b_scales;
};

// accumulate: C = A·B + C (a sum post-op), for gradients that accumulate in place. blocked_b: let oneDNN pick B's
// layout and copy B into it on every Execute — worth it for large B (in plain row-major layout the matmul repacks
// B inside every call: measured here at 85 vs 138 GFLOP/s for 2048×2176·2176×4096, 47 vs 159 at ×6144).
// A, B and C are f32 as the callers hold them; under MatmulPrecision() bf16 the plan converts A and B itself.
// pack_once (with blocked_b): B's values never change while its address stays the same (frozen weights), so it
// is packed on the first Execute only (and under int8 quantised then: int8 plans need pack_once; others are f32).
// relu: C = max(0, ·) of the result (after the sum), for inference, where a layer's ReLU runs inside its product
// instead of as one more pass over C.
Plan MakePlan(const dnnl::memory::desc& a, const dnnl::memory::desc& b, const dnnl::memory::desc* bias,
              const dnnl::memory::desc& c, bool accumulate, bool blocked_b = false, bool pack_once = false,
              bool relu = false);
void Execute(Plan& plan, const float* a, const float* b, const float* bias, float* c);
// An int8 plan (plan.int8) with the bias and the ReLU chosen per call: C = (C +) the product + bias, max(0, ·)
// when relu. A grouped layer's bias is one row of groups × out values.
void ExecuteInt8(Plan& plan, const float* a, const float* b, const float* bias, float* c, bool relu);

class PlanCache {
 public:
  PlanCache();
  // The plan for (rows, ld_a, ld_b), made by make() the first time.
  template <typename Make>
  Plan& Get(int64_t rows, int64_t ld_a, int64_t ld_b, Make&& make) {
    ++clock_;
    const Precision precision = MatmulPrecision();
    Plan* oldest = nullptr;
    for (Plan& plan : plans_) {
      if (plan.rows == rows && plan.ld_a == ld_a && plan.ld_b == ld_b && plan.made_under == precision) {
        plan.last_use = clock_;
        return plan;
      }
      if (!oldest || plan.last_use < oldest->last_use) oldest = &plan;
    }
    return Insert(make(), rows, ld_a, ld_b, precision, oldest);
  }

 private:
  Plan& Insert(Plan fresh, int64_t rows, int64_t ld_a, int64_t ld_b, Precision made_under, Plan* oldest);

  std::vector<Plan> plans_;
  uint64_t clock_ = 0;
};

}  // namespace mtrec
