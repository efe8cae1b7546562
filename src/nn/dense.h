// A fully connected layer, dst = src · W + b, computed by oneDNN matmul primitives. W is in × out, row-major,
// and lives with b in the ParameterArena as "<name>.weight" (decayed) and "<name>.bias" (zero, not decayed).
//
//   Dense dense(arena, "bottom.0", 64, 32);          // reserves; call arena.Allocate() before Forward
//   dense.Forward(x, h, Mode::kTrain);               // x: batch × 64, h: batch × 32 (any ld >= cols)
//   dense.Backward(x, h, diff_h, &diff_x);           // diff_W += xᵀ·diff_h, diff_b += Σ_rows diff_h
//
// Primitives are cached per (rows, lds) of the tensors seen, so only the first call of each shape creates
// anything. A layer instance is not thread-safe: run one Forward/Backward of it at a time (oneDNN parallelises
// each call internally).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nn/layer.h"
#include "nn/parameters.h"

namespace mtrec {

class Dense : public Layer {
 public:
  Dense(ParameterArena& arena, const std::string& name, int64_t in, int64_t out, Init init = Init::kHeUniform);
  ~Dense() override;
  Dense(Dense&&) noexcept;
  Dense& operator=(Dense&&) = delete;
  Dense(const Dense&) = delete;
  Dense& operator=(const Dense&) = delete;

  void Forward(const Tensor& src, const Tensor& dst, Mode mode) override;
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return in_; }
  int64_t OutputCols() const override { return out_; }

  const std::string& name() const { return name_; }
  size_t weight_id() const { return weight_id_; }
  size_t bias_id() const { return bias_id_; }

 private:
  struct Plans;  // the oneDNN primitive caches; defined in dense.cc to keep <dnnl.hpp> out of model headers
  bool UseBlockedWeights(int64_t batch) const;

  ParameterArena* arena_;
  std::string name_;
  std::string label_;  // "dense layer '<name>'", for messages, built once
  int64_t in_;
  int64_t out_;
  size_t weight_id_;
  size_t bias_id_;
  std::unique_ptr<Plans> plans_;
};

}  // namespace mtrec
