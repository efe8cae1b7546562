#include "nn/matmul.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>

#include "common/cpu_features.h"
#include "common/error.h"
#include "common/threads.h"
#include "nn/dnnl_context.h"
#include "nn/int8_rows.h"

namespace mtrec {

using dnnl::memory;

struct PackedWeights {
  std::once_flag packed;
  memory b;                   // the weights in the primitive's layout
  std::vector<float> scales;  // int8: one per group and output column
};

namespace {

// The packed weights alive, by what they were packed from (address and layout) and into. Only weak references:
// a packed copy lives as long as a plan uses it, and the plans as long as their model, which holds the weights, so
// an address seen here cannot have been reused by other weights meanwhile.
class PackedWeightsRegistry {
 public:
  std::shared_ptr<PackedWeights> Get(const float* source, const memory::desc& source_desc,
                                     const memory::desc& packed_desc) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::erase_if(entries_, [](const Entry& entry) { return entry.packed.expired(); });
    for (const Entry& entry : entries_) {
      if (entry.source == source && entry.source_desc == source_desc && entry.packed_desc == packed_desc) {
        if (std::shared_ptr<PackedWeights> packed = entry.packed.lock()) return packed;
      }
    }
    auto packed = std::make_shared<PackedWeights>();
    entries_.push_back({source, source_desc, packed_desc, packed});
    return packed;
  }
  int64_t Live() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::count_if(entries_.begin(), entries_.end(), [](const Entry& entry) { return !entry.packed.expired(); });
  }

 private:
  struct Entry {
    const float* source;
    memory::desc source_desc, packed_desc;
    std::weak_ptr<PackedWeights> packed;
  };
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

PackedWeightsRegistry& Registry() {
  static PackedWeightsRegistry registry;
  return registry;
}

// Points plan.b at the packed copy of the frozen weights `b` that every plan packing them into the same layout
// shares, made by pack(PackedWeights&) the first time any plan asks. The plan takes the copy only once it is
// made: should packing fail, it keeps what it had.
template <typename Pack>
void UsePackedWeights(Plan& plan, const float* b, Pack&& pack) {
  std::shared_ptr<PackedWeights> packed = Registry().Get(b, plan.b_source, plan.b.get_desc());
  std::call_once(packed->packed, [&] { pack(*packed); });
  plan.b.set_data_handle(packed->b.get_data_handle());
  plan.packed = std::move(packed);
  plan.packed_from = b;
}

// Enough for every shape a trainer sees (the batch size, the last partial batch, the evaluation batch); a
// server with arbitrary request sizes recycles the least recently used entry instead of growing.
constexpr size_t kMaxPlansPerKind = 8;

// Row-major (dense) layout of a 2-D or 3-D tensor.
memory::format_tag DenseTag(size_t ndims) {
  return ndims == 3 ? memory::format_tag::abc : memory::format_tag::ab;
}

void RunReorder(const dnnl::reorder& reorder, const memory& from, const memory& to, const char* what) {
  const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from.get()}, {DNNL_ARG_TO, to.get()}};
  const dnnl_status_t status = dnnl_primitive_execute(reorder.get(), DnnlStream().get(), 2, args);
  MTREC_CHECK(status == dnnl_success, "oneDNN reorder of {} failed with status {}", what, static_cast<int>(status));
}

View3 ViewOf(const memory::desc& desc) {
  const dnnl_memory_desc_t& d = desc.data;
  MTREC_CHECK(d.format_kind == dnnl_blocked && d.format_desc.blocking.inner_nblks == 0 && d.offset0 == 0,
              "an int8 matmul needs plain strided views");
  const auto* strides = d.format_desc.blocking.strides;
  View3 view;
  if (d.ndims == 3) {
    view = {d.dims[0], d.dims[1], d.dims[2], strides[0], strides[1], strides[2], 3};
  } else {
    view = {1, d.dims[0], d.dims[1], 0, strides[0], strides[1], 2};
  }
  return view;
}

// A as dense int8 (groups × rows × cols), one scale per row of each group: its largest |value| / 127 (1 when all
// are 0). Per row rather than per matrix: one row's outlier then costs no other row its precision.
void QuantiseRows(const float* a, const View3& view, int8_t* out, float* scales) {
  ParallelRows(view.rows, view.groups * view.rows * view.cols, [&](int64_t begin, int64_t end) {
    for (int64_t g = 0; g < view.groups; ++g) {
      for (int64_t r = begin; r < end; ++r) {
        const float* row = a + view.At(g, r, 0);
        const float scale = RowScale(AbsMaxRow(row, view.cols));
        scales[g * view.rows + r] = scale;
        int8_t* q = out + (g * view.rows + r) * view.cols;
        if (std::isnan(scale)) {
          std::fill_n(q, view.cols, int8_t{0});
        } else {
          QuantiseRow(row, q, view.cols, 1.f / scale);
        }
      }
    }
  });
}

// B (groups × in × out) as dense int8, one scale per group and output column. Once per weights: plain loops.
void QuantiseColumns(const float* b, const View3& view, int8_t* out, float* scales) {
  for (int64_t g = 0; g < view.groups; ++g) {
    float* group_scales = scales + g * view.cols;
    std::fill_n(group_scales, view.cols, 0.f);
    for (int64_t k = 0; k < view.rows; ++k) {
      for (int64_t n = 0; n < view.cols; ++n) {
        group_scales[n] = std::max(group_scales[n], std::fabs(b[view.At(g, k, n)]));
      }
    }
    for (int64_t k = 0; k < view.rows; ++k) {
      for (int64_t n = 0; n < view.cols; ++n) group_scales[n] += b[view.At(g, k, n)] * 0.f;  // NaN: a NaN or inf
    }
    for (int64_t n = 0; n < view.cols; ++n) group_scales[n] = RowScale(group_scales[n]);
    for (int64_t k = 0; k < view.rows; ++k) {
      for (int64_t n = 0; n < view.cols; ++n) {
        const float y = std::min(std::max(b[view.At(g, k, n)] / group_scales[n], -127.f), 127.f);
        out[(g * view.rows + k) * view.cols + n] = std::isnan(y) ? 0 : static_cast<int8_t>(std::nearbyint(y));
      }
    }
  }
}

Plan MakeInt8Plan(const memory::desc& a, const memory::desc& b, const memory::desc& c, bool accumulate, bool relu) {
  using dt = memory::data_type;
  const dnnl::engine& engine = DnnlEngine();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const size_t ndims = a.dims().size();
  const memory::desc a_s8(a.dims(), dt::s8, DenseTag(ndims));
  const memory::desc b_any(b.dims(), dt::s8, memory::format_tag::any);
  const memory::desc c_dense(c.dims(), dt::f32, DenseTag(ndims));
  Plan plan;
  plan.precision = Precision::kInt8;
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_s8, b_any, c_dense), attr, engine);
    plan.primitive = dnnl::matmul(pd);
  } catch (const dnnl::error& e) {
    Fail("oneDNN could not create an int8 matmul of {} by {}: {}", fmt::join(a.dims(), "x"), fmt::join(b.dims(), "x"),
         e.what());
  }
  // Only VNNI and AMX kernels add int8 products in 32 bits; without them pairs are added in 16 bits first, which
  // can saturate, and the product would no longer be exact.
  const std::string kernel = pd.impl_info_str();
  MTREC_CHECK(Int8KernelAddsIn32Bits(kernel),
              "int8: not supported by this CPU for a matmul of {} by {}: oneDNN's kernel is {}, whose int8 products "
              "may saturate ({}); score in f32 or bf16",
              fmt::join(a.dims(), "x"), fmt::join(b.dims(), "x"), kernel, DetectCpu().Describe());
  const memory::dims& a_dims = a.dims();
  const memory::dims& c_dims = c.dims();
  plan.shape = ndims == 3 ? MatmulShape{a_dims[0], a_dims[1], a_dims[2], c_dims[2]}
                          : MatmulShape{1, a_dims[0], a_dims[1], c_dims[1]};
  plan.int8 = true;
  plan.int8_accumulate = accumulate;
  plan.int8_relu = relu;
  plan.a_view = ViewOf(a);
  plan.b_view = ViewOf(b);
  plan.c_view = ViewOf(c);
  MTREC_CHECK(plan.a_view.col_stride == 1 && plan.c_view.col_stride == 1,
              "an int8 matmul needs row-major input and output views");
  plan.a_scales.resize(static_cast<size_t>(plan.a_view.groups * plan.a_view.rows));
  plan.b_scales.resize(static_cast<size_t>(plan.b_view.groups * plan.b_view.cols));
  plan.a = memory(a_s8, engine);
  plan.b = memory(pd.weights_desc(), engine, DNNL_MEMORY_NONE);  // reads the shared packed copy
  plan.b_source = b;
  plan.blocked_b = true;
  plan.pack_once = true;
  plan.c = memory(c_dense, engine);
  plan.scratchpad = memory(pd.scratchpad_desc(), engine);
  plan.args[plan.nargs++] = {DNNL_ARG_SRC, plan.a.get()};
  plan.args[plan.nargs++] = {DNNL_ARG_WEIGHTS, plan.b.get()};
  plan.args[plan.nargs++] = {DNNL_ARG_DST, plan.c.get()};
  plan.args[plan.nargs++] = {DNNL_ARG_SCRATCHPAD, plan.scratchpad.get()};
  return plan;
}

}  // namespace

memory::desc Describe(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  return memory::desc({rows, cols}, memory::data_type::f32, {row_stride, col_stride});
}

Plan MakePlan(const memory::desc& a, const memory::desc& b, const memory::desc* bias, const memory::desc& c,
              bool accumulate, bool blocked_b, bool pack_once, bool relu) {
  const dnnl::engine& engine = DnnlEngine();
  dnnl::primitive_attr attr;
  // The scratchpad belongs to the plan, so executing allocates nothing in the library's global scratchpad.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (accumulate || relu) {
    dnnl::post_ops ops;
    // A sum post-op makes the primitive compute C = A·B + C: the gradient accumulates in place.
    if (accumulate) ops.append_sum(1.f);
    if (relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  // int8 only over frozen weights, quantised once; other products (training's) stay f32 (nn/precision.h).
  if (MatmulPrecision() == Precision::kInt8 && pack_once) return MakeInt8Plan(a, b, c, accumulate, relu);
  dnnl::matmul::primitive_desc pd;
  Plan plan;
  plan.precision = MatmulPrecision() == Precision::kInt8 ? Precision::kF32 : MatmulPrecision();
  const bool bf16 = plan.precision == Precision::kBf16;
  // Under bf16 A is converted into a dense copy and B into whatever layout the primitive prefers (the
  // conversion copies it anyway, so blocking costs nothing more).
  const size_t ndims = a.dims().size();
  const memory::desc a_bf16(a.dims(), memory::data_type::bf16, DenseTag(ndims));
  const memory::desc c_dense(c.dims(), memory::data_type::f32, DenseTag(ndims));
  // A grouped (3-D) product over column blocks of wider matrices gets no brgemm kernel from oneDNN 2.6, only its
  // plain gemm: measured on AMX, 8 groups of 2048×256·256×512 in bf16 13 ms against 6 ms through a dense C. So
  // under bf16 (where A is copied anyway) C goes through a dense copy owned by the plan. Not in f32: at a scoring
  // batch brgemm over dense copies made the three grouped layers' matmuls 0.154 ms instead of 0.232, but the
  // copies of A and C added 0.109 (4 groups of 100 rows, 256-128-64-1).
  plan.stage_c = bf16 && ndims == 3 && !accumulate && c != c_dense;
  try {
    const memory::desc b_any(b.dims(), bf16 ? memory::data_type::bf16 : memory::data_type::f32,
                             memory::format_tag::any);
    const memory::desc& a_desc = bf16 ? a_bf16 : a;
    const memory::desc& b_desc = blocked_b || bf16 ? b_any : b;
    const memory::desc& c_desc = plan.stage_c ? c_dense : c;
    const dnnl::matmul::desc desc =
        bias ? dnnl::matmul::desc(a_desc, b_desc, *bias, c_desc) : dnnl::matmul::desc(a_desc, b_desc, c_desc);
    pd = dnnl::matmul::primitive_desc(desc, attr, engine);
    plan.primitive = dnnl::matmul(pd);
  } catch (const dnnl::error& e) {
    Fail("oneDNN could not create a {} matmul of {} by {}: {}", plan.precision, fmt::join(a.dims(), "x"),
         fmt::join(b.dims(), "x"), e.what());
  }
  const memory::dims& a_dims = a.dims();
  const memory::dims& c_dims = c.dims();
  plan.shape = ndims == 3 ? MatmulShape{a_dims[0], a_dims[1], a_dims[2], c_dims[2]}
                          : MatmulShape{1, a_dims[0], a_dims[1], c_dims[1]};
  if (bf16) {
    plan.a = memory(a_bf16, engine);  // owned: the bf16 copy
    plan.a_user = memory(a, engine, DNNL_MEMORY_NONE);
    plan.reorder_a = dnnl::reorder(plan.a_user, plan.a);
  } else {
    plan.a = memory(a, engine, DNNL_MEMORY_NONE);
  }
  plan.blocked_b = bf16 || (blocked_b && pd.weights_desc() != b);
  if (plan.blocked_b) {
    // The blocked (and under bf16 converted) copy: the plan's own, or with pack_once a shared one.
    plan.b = pack_once ? memory(pd.weights_desc(), engine, DNNL_MEMORY_NONE) : memory(pd.weights_desc(), engine);
    plan.b_user = memory(b, engine, DNNL_MEMORY_NONE);
    plan.reorder_b = dnnl::reorder(plan.b_user, plan.b);
    plan.pack_once = pack_once;
    plan.b_source = b;
  } else {
    plan.b = memory(b, engine, DNNL_MEMORY_NONE);
  }
  if (plan.stage_c) {
    plan.c = memory(c_dense, engine);  // owned: the dense product
    plan.c_user = memory(c, engine, DNNL_MEMORY_NONE);
    plan.reorder_c = dnnl::reorder(plan.c, plan.c_user);
  } else {
    plan.c = memory(c, engine, DNNL_MEMORY_NONE);
  }
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

void ExecuteInt8(Plan& plan, const float* a, const float* b, const float* bias, float* c, bool relu) {
  MTREC_CHECK(plan.int8, "an int8 product asked of a {} plan", plan.precision);
  if (RecordingMatmuls()) NoteMatmul(plan.shape);
  if (plan.packed_from != b) {
    UsePackedWeights(plan, b, [&](PackedWeights& packed) {
      // The integers in a plain layout only until oneDNN has them in its own.
      const View3& v = plan.b_view;
      const memory::dims dims = v.ndims == 3 ? memory::dims{v.groups, v.rows, v.cols} : memory::dims{v.rows, v.cols};
      const memory plain(memory::desc(dims, memory::data_type::s8, DenseTag(dims.size())), DnnlEngine());
      std::vector<float> scales(plan.b_scales.size());
      QuantiseColumns(b, v, static_cast<int8_t*>(plain.get_data_handle()), scales.data());
      memory packed_b(plan.b.get_desc(), DnnlEngine());
      RunReorder(dnnl::reorder(plain, packed_b), plain, packed_b, "the int8 weights");
      packed.b = std::move(packed_b);
      packed.scales = std::move(scales);
    });
    plan.b_scales = plan.packed->scales;
  }
  QuantiseRows(a, plan.a_view, static_cast<int8_t*>(plan.a.get_data_handle()), plan.a_scales.data());
  const dnnl_status_t status =
      dnnl_primitive_execute(plan.primitive.get(), DnnlStream().get(), plan.nargs, plan.args.data());
  MTREC_CHECK(status == dnnl_success, "oneDNN int8 matmul failed with status {}", static_cast<int>(status));
  // C = (C +) a_scale · b_scale · product (+ bias), then the ReLU, into the caller's view.
  const View3& out = plan.c_view;
  const auto* product = static_cast<const float*>(plan.c.get_data_handle());
  ParallelRows(out.rows, out.groups * out.rows * out.cols, [&](int64_t begin, int64_t end) {
    for (int64_t g = 0; g < out.groups; ++g) {
      for (int64_t r = begin; r < end; ++r) {
        RescaleRow(product + (g * out.rows + r) * out.cols, plan.a_scales[static_cast<size_t>(g * out.rows + r)],
                   plan.b_scales.data() + g * out.cols, bias ? bias + g * out.cols : nullptr, c + out.At(g, r, 0),
                   out.cols, plan.int8_accumulate, relu);
      }
    }
  });
}

// Runs through the C API with the fixed argument array: the C++ execute() takes an unordered_map, which would
// allocate on every call. (oneDNN 2.6 still builds its own argument map inside each execute: a handful of small
// allocations per call that no caller can avoid.)
void Execute(Plan& plan, const float* a, const float* b, const float* bias, float* c) {
  if (plan.int8) {
    ExecuteInt8(plan, a, b, bias, c, plan.int8_relu);
    return;
  }
  if (RecordingMatmuls()) NoteMatmul(plan.shape);
  if (plan.precision == Precision::kBf16) {
    plan.a_user.set_data_handle(const_cast<float*>(a));
    RunReorder(plan.reorder_a, plan.a_user, plan.a, "the left operand");
  } else {
    plan.a.set_data_handle(const_cast<float*>(a));
  }
  if (plan.blocked_b && !plan.pack_once) {
    plan.b_user.set_data_handle(const_cast<float*>(b));
    RunReorder(plan.reorder_b, plan.b_user, plan.b, "the right operand");
  } else if (plan.blocked_b) {
    if (plan.packed_from != b) {
      UsePackedWeights(plan, b, [&](PackedWeights& packed) {
        memory packed_b(plan.b.get_desc(), DnnlEngine());
        plan.b_user.set_data_handle(const_cast<float*>(b));
        RunReorder(plan.reorder_b, plan.b_user, packed_b, "the right operand");
        packed.b = std::move(packed_b);
      });
    }
  } else {
    plan.b.set_data_handle(const_cast<float*>(b));
  }
  if (bias) plan.bias.set_data_handle(const_cast<float*>(bias));
  if (plan.stage_c) {
    plan.c_user.set_data_handle(c);
  } else {
    plan.c.set_data_handle(c);
  }
  const dnnl_status_t status =
      dnnl_primitive_execute(plan.primitive.get(), DnnlStream().get(), plan.nargs, plan.args.data());
  MTREC_CHECK(status == dnnl_success, "oneDNN matmul failed with status {}", static_cast<int>(status));
  if (plan.stage_c) RunReorder(plan.reorder_c, plan.c, plan.c_user, "the product");
}

int64_t PackedWeightCopies() { return Registry().Live(); }

PlanCache::PlanCache() { plans_.reserve(kMaxPlansPerKind); }

Plan& PlanCache::Insert(Plan fresh, int64_t rows, int64_t ld_a, int64_t ld_b, Precision made_under, Plan* oldest) {
  fresh.made_under = made_under;
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

}  // namespace mtrec
