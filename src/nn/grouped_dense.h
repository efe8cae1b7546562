// G independent linear maps applied side by side: group g reads columns [g·in, (g+1)·in) of src and writes
// columns [g·out, (g+1)·out) of dst, dst_g = src_g · W_g + b_g. This is how E experts' deeper layers, or one
// tower per task, run as one layer instead of E separate ones. W is reserved as G stacked in × out blocks
// ("<name>.weight", groups = G, block g at rows [g·in, (g+1)·in)) and b as G × out ("<name>.bias", row g is
// group g's bias).
//
//   GroupedDense experts(arena, "experts.1", /*groups=*/8, 256, 128);
//   experts.Forward(h, out, Mode::kTrain);          // h: batch × 8·256, out: batch × 8·128 (any ld >= cols)
//   experts.Backward(h, out, diff_out, &diff_h);    // diff_W_g += h_gᵀ·diff_out_g, diff_b_g += Σ_rows diff_out_g
//
// Each direction is one batched (3-D) oneDNN matmul whose batch dimension is the group, over strided views of
// the shared buffers: nothing is copied, and a call is one parallel region instead of G. Primitives are cached
// per (rows, lds) like Dense's. A layer instance is not thread-safe: run one Forward/Backward of it at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nn/layer.h"
#include "nn/parameters.h"

namespace mtrec {

class GroupedDense : public Layer {
 public:
  GroupedDense(ParameterArena& arena, const std::string& name, int64_t groups, int64_t in, int64_t out,
               Init init = Init::kHeUniform);
  ~GroupedDense() override;
  GroupedDense(const GroupedDense&) = delete;
  GroupedDense& operator=(const GroupedDense&) = delete;

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  // Forward(src, dst, Mode::kInfer), then max(0, ·) when relu (in the pass that adds the bias).
  void Infer(const Tensor& src, const Tensor& dst, bool relu);
  int64_t InputCols() const override { return groups_ * in_; }
  int64_t OutputCols() const override { return groups_ * out_; }

  const std::string& name() const { return name_; }
  int64_t groups() const { return groups_; }
  size_t weight_id() const { return weight_id_; }
  size_t bias_id() const { return bias_id_; }
  // The oneDNN implementations behind the most recently created forward, backward-weights and backward-data
  // primitives, e.g. "gemm:jit gemm:jit gemm:jit" (empty before the first call), for diagnostics and tests: a
  // "ref:" implementation is orders of magnitude slower and is logged as a warning when it is picked.
  std::string ImplInfo() const;

 private:
  struct Plans;  // the oneDNN primitive caches; defined in grouped_dense.cc to keep <dnnl.hpp> out of headers

  ParameterArena* arena_;
  std::string name_;
  std::string label_;  // "grouped dense layer '<name>'", for messages, built once
  int64_t groups_;
  int64_t in_;
  int64_t out_;
  size_t weight_id_;
  size_t bias_id_;
  std::unique_ptr<Plans> plans_;
};

}  // namespace mtrec
