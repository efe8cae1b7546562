// Finite-difference checks of the layers of the multi-task architectures — grouped dense, gate softmax, mixture
// of experts, cross-stitch unit, attention transfer — each with respect to its inputs and every parameter, on odd
// shapes and with row strides larger than the widths.
#include <gtest/gtest.h>

#include <vector>

#include "gradcheck.h"
#include "nn/attention_transfer.h"
#include "nn/cross_stitch.h"
#include "nn/gate_softmax.h"
#include "nn/grouped_dense.h"
#include "nn/mixture.h"
#include "nn/parameters.h"

namespace mtrec {
namespace {

using gradcheck::CheckGradient;
using gradcheck::Dot;
using gradcheck::FillUniform;

// Storage for a rows × cols view with row stride ld.
struct Buffer {
  Buffer(int64_t rows, int64_t cols, int64_t ld) : storage(rows * ld, 0.f), view{storage.data(), rows, cols, ld} {}
  std::vector<float> storage;
  Tensor view;
};

Tensor ParameterValue(ParameterArena& arena, size_t id) {
  const ParameterInfo& info = arena.Info(id);
  return Tensor{arena.Value(id), info.rows, info.cols, info.cols};
}
Tensor ParameterGrad(ParameterArena& arena, size_t id) {
  const ParameterInfo& info = arena.Info(id);
  return Tensor{arena.Grad(id), info.rows, info.cols, info.cols};
}

TEST(ExpertLayersGradcheck, GroupedDense) {
  const int64_t batch = 5, groups = 3, in = 7, out = 4;
  ParameterArena arena;
  GroupedDense layer(arena, "g", groups, in, out, Init::kGlorotUniform);
  arena.Allocate();
  arena.Initialize(1);
  Rng rng(2);
  FillUniform(ParameterValue(arena, layer.bias_id()), rng, -0.5, 0.5);
  Buffer src(batch, groups * in, groups * in + 3), dst(batch, groups * out, groups * out + 2);
  Buffer c(batch, groups * out, groups * out), diff_src(batch, groups * in, groups * in + 1);
  FillUniform(src.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    layer.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  layer.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective)) << "src";
  EXPECT_TRUE(CheckGradient(ParameterValue(arena, layer.weight_id()), ParameterGrad(arena, layer.weight_id()), objective))
      << "weights";
  EXPECT_TRUE(CheckGradient(ParameterValue(arena, layer.bias_id()), ParameterGrad(arena, layer.bias_id()), objective))
      << "bias";
}

TEST(ExpertLayersGradcheck, GateSoftmax) {
  const int64_t batch = 4, blocks = 3, experts = 5;
  GateSoftmax softmax(blocks, experts);
  Rng rng(3);
  Buffer src(batch, blocks * experts, 17), dst(batch, blocks * experts, 16), c(batch, blocks * experts, 15);
  Buffer diff_src(batch, blocks * experts, 15);
  FillUniform(src.view, rng, -2, 2);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    softmax.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  softmax.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective, {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-5}));
}

// Two blocks of different expert counts (a PLE task gate: own experts and shared ones), with strides.
TEST(ExpertLayersGradcheck, MixtureOverTwoBlocks) {
  const int64_t batch = 5, width = 3;
  Mixture mixture(width);
  Rng rng(4);
  Buffer own(batch, 2 * width, 2 * width + 1), shared(batch, 3 * width, 11), gates(batch, 5, 6);
  Buffer dst(batch, width, width + 2), c(batch, width, width);
  Buffer diff_own(batch, 2 * width, 2 * width), diff_shared(batch, 3 * width, 3 * width), diff_gates(batch, 5, 5);
  for (Buffer* b : {&own, &shared, &gates, &c}) FillUniform(b->view, rng, -1, 1);
  const std::vector<Tensor> blocks = {own.view, shared.view};
  const auto objective = [&] {
    mixture.Forward(blocks, gates.view, dst.view);
    return Dot(dst.view, c.view);
  };
  objective();
  // The expert gradients accumulate: start them from a known value and subtract it again.
  FillUniform(diff_own.view, rng, 0.25, 0.25);
  mixture.Backward(blocks, gates.view, c.view, {diff_own.view, diff_shared.view}, diff_gates.view);
  for (float& v : diff_own.storage) v -= 0.25f;
  EXPECT_TRUE(CheckGradient(own.view, diff_own.view, objective)) << "own experts";
  EXPECT_TRUE(CheckGradient(shared.view, diff_shared.view, objective)) << "shared experts";
  EXPECT_TRUE(CheckGradient(gates.view, diff_gates.view, objective)) << "gates";
}

TEST(ExpertLayersGradcheck, CrossStitch) {
  const int64_t batch = 6, tasks = 3, width = 4;
  ParameterArena arena;
  CrossStitch stitch(arena, "s", tasks, width);
  arena.Allocate();
  arena.Initialize(5);
  Rng rng(6);
  FillUniform(ParameterValue(arena, stitch.alpha_id()), rng, -1, 1);  // away from the near-identity start
  Buffer src(batch, tasks * width, 13), dst(batch, tasks * width, 14), c(batch, tasks * width, 12);
  Buffer diff_src(batch, tasks * width, 12);
  FillUniform(src.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    stitch.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  stitch.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective)) << "src";
  EXPECT_TRUE(CheckGradient(ParameterValue(arena, stitch.alpha_id()), ParameterGrad(arena, stitch.alpha_id()),
                            objective))
      << "alpha";
}

TEST(ExpertLayersGradcheck, AttentionTransfer) {
  const int64_t batch = 4, width = 5;
  ParameterArena arena;
  AttentionTransfer unit(arena, "ait", width, batch);
  arena.Allocate();
  arena.Initialize(7);
  Rng rng(8);
  for (size_t i = 0; i < arena.Infos().size(); ++i) FillUniform(ParameterValue(arena, i), rng, -0.8, 0.8);
  Buffer p(batch, width, 7), q(batch, width, 6), z(batch, width, 8), c(batch, width, width);
  Buffer diff_p(batch, width, 9), diff_q(batch, width, width);
  for (Buffer* b : {&p, &q, &c}) FillUniform(b->view, rng, -1, 1);
  const auto objective = [&] {
    unit.Forward(p.view, q.view, z.view, Mode::kTrain);
    return Dot(z.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  unit.Backward(p.view, q.view, c.view, &diff_p.view, &diff_q.view);
  const gradcheck::Options options{.eps = 1e-3, .rtol = 1e-2, .atol = 1e-5};
  EXPECT_TRUE(CheckGradient(p.view, diff_p.view, objective, options)) << "p";
  EXPECT_TRUE(CheckGradient(q.view, diff_q.view, objective, options)) << "q";
  for (size_t i = 0; i < arena.Infos().size(); ++i) {
    EXPECT_TRUE(CheckGradient(ParameterValue(arena, i), ParameterGrad(arena, i), objective, options))
        << arena.Info(i).name;
  }
  // Both candidates really get weight, so both branches of the attention are exercised.
  double w_p = 0;
  for (int64_t r = 0; r < batch; ++r) w_p += unit.weights()[2 * r];
  EXPECT_GT(w_p / batch, 0.05);
  EXPECT_LT(w_p / batch, 0.95);
}

}  // namespace
}  // namespace mtrec
