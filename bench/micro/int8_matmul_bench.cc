// Would int8 inference pay on the CPU oneDNN runs on? The serving benchmark's deepest layer (4 experts, 100 rows,
// 256 -> 128, ReLU after) as one batched matmul in f32, bf16 and int8 (u8 activations, s8 weights), with the
// int8 scales as oneDNN 2.6 would apply them (run-time output scales, which a per-request activation scale needs)
// and without any (the raw integer product, scales left to a pass of our own). On the Xeon with AMX (2 cores):
// f32 64 us, bf16 14, int8 with scales 61 (oneDNN falls back to its gemm), int8 without 9.3: the best int8 case
// saves 5 us of a bf16 request's 315, before quantising the 100 x 1024 activations and scaling the products.
// Run: build/bench/mtrec_micro_bench --benchmark_filter=GroupedLayer
#include <benchmark/benchmark.h>

#include <dnnl.hpp>
#include <string>
#include <unordered_map>

#include "common/cpu_features.h"
#include "nn/dnnl_context.h"

namespace mtrec {
namespace {

enum class Kind { kF32, kBf16, kInt8Scaled, kInt8Raw };

void BM_GroupedLayer(benchmark::State& state) {
  using dnnl::memory;
  using dt = memory::data_type;
  const auto kind = static_cast<Kind>(state.range(0));
  const CpuFeatures cpu = DetectCpu();
  if (kind == Kind::kBf16 && !cpu.Bf16Matmul()) return state.SkipWithError("bf16: not supported by this CPU");
  if ((kind == Kind::kInt8Scaled || kind == Kind::kInt8Raw) && !cpu.Int8Matmul()) {
    return state.SkipWithError("int8: not supported by this CPU");
  }
  const int64_t groups = 4, rows = 100, in = 256, out = 128;
  const bool int8 = kind == Kind::kInt8Scaled || kind == Kind::kInt8Raw;
  const dt a_type = kind == Kind::kF32 ? dt::f32 : kind == Kind::kBf16 ? dt::bf16 : dt::u8;
  const dt b_type = kind == Kind::kF32 ? dt::f32 : kind == Kind::kBf16 ? dt::bf16 : dt::s8;
  const memory::desc a({groups, rows, in}, a_type, memory::format_tag::abc);
  const memory::desc b({groups, in, out}, b_type, memory::format_tag::any);
  const memory::desc c({groups, rows, out}, dt::f32, memory::format_tag::abc);
  dnnl::primitive_attr attr;
  if (kind == Kind::kInt8Scaled) attr.set_output_scales(1 << 2, {DNNL_RUNTIME_F32_VAL});
  dnnl::post_ops ops;
  if (!int8) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);  // int8: in the scaling pass
  attr.set_post_ops(ops);
  const dnnl::engine& engine = DnnlEngine();
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine);
  const dnnl::matmul matmul(pd);
  const memory src(a, engine), weights(pd.weights_desc(), engine), dst(c, engine);
  const memory scales({{out}, dt::f32, memory::format_tag::a}, engine);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
  if (kind == Kind::kInt8Scaled) args[DNNL_ARG_ATTR_OUTPUT_SCALES] = scales;
  for (auto _ : state) {
    matmul.execute(DnnlStream(), args);
    DnnlStream().wait();
  }
  state.SetLabel(pd.impl_info_str());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * groups * rows * in * out, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GroupedLayer)
    ->ArgName("f32=0,bf16=1,int8_scaled=2,int8_raw=3")
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mtrec
