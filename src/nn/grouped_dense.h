// G independent linear maps applied side by side: group g reads columns [g·in, (g+1)·in) of src and writes
// columns [g·out, (g+1)·out) of dst, dst_g = src_g · W_g + b_g. This is how E experts' deeper layers, or one
// tower per task, run as one layer instead of E separate ones. W is reserved as G stacked in × out blocks
// ("<name>.weight", groups = G) and b as G × out ("<name>.bias").
//
//   GroupedDense experts(arena, "experts.1", /*groups=*/8, 256, 128);
//   experts.Forward(h, out, Mode::kTrain);          // h: batch × 8·256, out: batch × 8·128
//   experts.Backward(h, out, diff_out, &diff_h);
//
// Each group is one oneDNN matmul over strided views of the shared buffers; all groups have the same shape, so
// they share one primitive per direction and shape, and no data is copied.
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

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return groups_ * in_; }
  int64_t OutputCols() const override { return groups_ * out_; }

  size_t weight_id() const { return weight_id_; }
  size_t bias_id() const { return bias_id_; }

 private:
  struct Plans;

  ParameterArena* arena_;
  std::string label_;
  int64_t groups_;
  int64_t in_;
  int64_t out_;
  size_t weight_id_;
  size_t bias_id_;
  std::unique_ptr<Plans> plans_;
};

}  // namespace mtrec
