// A fully connected layer, dst = src · W + b, computed by oneDNN matmul primitives. W is in × out, row-major,
// and lives with b in the ParameterArena as "<name>.weight" (decayed) and "<name>.bias" (zero, not decayed).
//
//   Dense dense(arena, "bottom.0", 64, 32);          // reserves; call arena.Allocate() before Forward
//   dense.Forward(x, h, Mode::kTrain);               // x: batch × 64, h: batch × 32 (any ld >= cols)
//   dense.Backward(x, h, diff_h, &diff_x);           // diff_W += xᵀ·diff_h, diff_b += Σ_rows diff_h
//
// Inference can fuse the ReLU that follows into the product and, over frozen weights, compute the product of
// input columns that rows in groups share (nn/shared_columns.h) once per group:
//   dense.Infer(x, h, &shared, /*relu=*/true);  // h = max(0, x_own · W_own + (x_shared · W_shared + b) per group)
//
// Primitives are cached per (rows, lds) of the tensors seen, so only the first call of each shape creates
// anything. A layer instance is not thread-safe: run one Forward/Backward of it at a time (oneDNN parallelises
// each call internally).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/parameters.h"
#include "nn/shared_columns.h"

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
  // Forward(src, dst, Mode::kInfer), then max(0, ·) when relu. The shared columns' product once per group when
  // `shared` is given and the weights are frozen (a served model); otherwise every row's whole product.
  void Infer(const Tensor& src, const Tensor& dst, const SharedColumns* shared, bool relu);
  // Infer without ReLU at inference, Forward in training: for a layer both run (the gates of mmoe and ple).
  void Forward(const Tensor& src, const Tensor& dst, Mode mode, const SharedColumns* shared) {
    mode == Mode::kInfer ? Infer(src, dst, shared, /*relu=*/false) : Forward(src, dst, mode);
  }
  void Backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, const Tensor* diff_src) override;
  int64_t InputCols() const override { return in_; }
  int64_t OutputCols() const override { return out_; }

  const std::string& name() const { return name_; }
  size_t weight_id() const { return weight_id_; }
  size_t bias_id() const { return bias_id_; }

 private:
  struct Plans;  // the oneDNN primitive caches; defined in dense.cc to keep <dnnl.hpp> out of model headers
  struct Split;  // W cut into the rows of shared and of per-row columns, with their plans and buffers
  bool UseBlockedWeights(int64_t batch) const;
  void Product(const Tensor& src, const Tensor& dst, bool relu);
  void ForwardSplit(const Tensor& src, const Tensor& dst, const SharedColumns& shared, bool relu);

  ParameterArena* arena_;
  std::string name_;
  std::string label_;  // "dense layer '<name>'", for messages, built once
  int64_t in_;
  int64_t out_;
  size_t weight_id_;
  size_t bias_id_;
  std::unique_ptr<Plans> plans_;
  std::vector<std::unique_ptr<Split>> splits_;  // most recently used first
};

}  // namespace mtrec
