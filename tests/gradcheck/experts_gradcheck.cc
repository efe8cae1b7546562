// Finite-difference checks of the multi-task building blocks (grouped dense, gate softmax, mixture, cross-stitch,
// attention transfer) with respect to every input and parameter, on odd shapes and with row strides larger than
// the column counts, plus a small mixture-of-experts graph in which two mixtures share the experts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "gradcheck.h"
#include "nn/attention_transfer.h"
#include "nn/cross_stitch.h"
#include "nn/dense.h"
#include "nn/gate_softmax.h"
#include "nn/grouped_dense.h"
#include "nn/mixture.h"
#include "nn/parameters.h"

namespace mtrec {
namespace {

using gradcheck::Buffer;
using gradcheck::CheckGradient;
using gradcheck::Dot;
using gradcheck::FillUniform;

// Every parameter of the arena against its gradient.
void CheckParameters(ParameterArena& arena, const std::function<double()>& objective) {
  for (size_t id = 0; id < arena.Infos().size(); ++id) {
    const ParameterInfo& info = arena.Info(id);
    EXPECT_TRUE(CheckGradient(arena.Value(id), arena.Grad(id), static_cast<int64_t>(info.size()), objective))
        << info.name;
  }
}

void CheckGroupedDense(int64_t batch, int64_t groups, int64_t in, int64_t out, int64_t pad) {
  SCOPED_TRACE(testing::Message() << "batch " << batch << ", " << groups << " groups of " << in << " -> " << out
                                  << ", padding " << pad);
  ParameterArena arena;
  GroupedDense layer(arena, "g", groups, in, out, Init::kGlorotUniform);
  arena.Allocate();
  arena.Initialize(1);
  Rng rng(2);
  FillUniform(Tensor{arena.Value(layer.bias_id()), groups, out, out}, rng, -0.5, 0.5);
  Buffer src(batch, groups * in, groups * in + pad), dst(batch, groups * out, groups * out + pad),
      c(batch, groups * out, groups * out + pad), diff_src(batch, groups * in, groups * in + pad);
  FillUniform(src.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    layer.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  layer.Backward(src.view, dst.view, c.view, &diff_src.view);
  CheckParameters(arena, objective);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective)) << "src";
}

TEST(ExpertsGradcheck, GroupedDense) {
  CheckGroupedDense(5, 3, 7, 4, 0);
  CheckGroupedDense(2, 1, 3, 5, 0);
}

TEST(ExpertsGradcheck, GroupedDenseWithRowStrideLargerThanCols) { CheckGroupedDense(5, 3, 7, 4, 3); }

TEST(ExpertsGradcheck, GateSoftmax) {
  const int64_t batch = 5, blocks = 3, experts = 4;
  GateSoftmax softmax(blocks, experts);
  Rng rng(3);
  Buffer src(batch, 12, 15), dst(batch, 12, 14), c(batch, 12, 13), diff_src(batch, 12, 16);
  FillUniform(src.view, rng, -2, 2);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    softmax.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  softmax.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective));
}

TEST(ExpertsGradcheck, MixtureOverTwoBlocksOfDifferentExpertCounts) {
  const int64_t batch = 5, width = 3;
  Mixture mixture(width);
  Rng rng(4);
  // Block 0: 2 experts with ld 8; block 1: 3 experts as a column view of a wider matrix; gates and dst padded.
  Buffer block0(batch, 2 * width, 8), wide1(batch, 13, 13), gates(batch, 5, 7), dst(batch, width, 5),
      c(batch, width, 4);
  const Tensor block1 = wide1.view.Columns(2, 3 * width);
  FillUniform(block0.view, rng, -1, 1);
  FillUniform(wide1.view, rng, -1, 1);
  FillUniform(gates.view, rng, 0, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    mixture.Forward({block0.view, block1}, gates.view, dst.view);
    return Dot(dst.view, c.view);
  };
  objective();
  Buffer diff_block0(batch, 2 * width, 7), diff_block1(batch, 3 * width, 10), diff_gates(batch, 5, 6);
  mixture.Backward({block0.view, block1}, gates.view, c.view, {diff_block0.view, diff_block1.view}, diff_gates.view);
  EXPECT_TRUE(CheckGradient(block0.view, diff_block0.view, objective)) << "expert block 0";
  EXPECT_TRUE(CheckGradient(block1, diff_block1.view, objective)) << "expert block 1";
  EXPECT_TRUE(CheckGradient(gates.view, diff_gates.view, objective)) << "gates";
}

void CheckCrossStitch(int64_t batch, int64_t tasks, int64_t width, int64_t pad, bool random_alpha) {
  SCOPED_TRACE(testing::Message() << "batch " << batch << ", " << tasks << " tasks of width " << width << ", padding "
                                  << pad << (random_alpha ? ", random α" : ", initial α"));
  ParameterArena arena;
  CrossStitch stitch(arena, "s", tasks, width);
  arena.Allocate();
  arena.Initialize(5);
  Rng rng(6);
  if (random_alpha) FillUniform(Tensor{arena.Value(stitch.alpha_id()), tasks, tasks, tasks}, rng, -1, 1);
  const int64_t cols = tasks * width;
  Buffer src(batch, cols, cols + pad), dst(batch, cols, cols + pad), c(batch, cols, cols + 1),
      diff_src(batch, cols, cols + pad);
  FillUniform(src.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    stitch.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  stitch.Backward(src.view, dst.view, c.view, &diff_src.view);
  CheckParameters(arena, objective);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective)) << "src";
}

TEST(ExpertsGradcheck, CrossStitch) {
  CheckCrossStitch(5, 3, 7, 0, false);
  CheckCrossStitch(5, 3, 7, 4, true);
  CheckCrossStitch(70, 2, 3, 1, true);  // more than one chunk of rows in the α gradient
}

void CheckAttentionTransfer(int64_t batch, int64_t width, int64_t pad) {
  SCOPED_TRACE(testing::Message() << "batch " << batch << ", width " << width << ", padding " << pad);
  ParameterArena arena;
  AttentionTransfer unit(arena, "ait", width, batch + 2);
  arena.Allocate();
  arena.Initialize(7);
  Rng rng(8);
  for (const Dense* h : {&unit.h1(), &unit.h2(), &unit.h3()}) {
    FillUniform(Tensor{arena.Value(h->bias_id()), 1, width, width}, rng, -0.5, 0.5);
  }
  Buffer p(batch, width, width + pad), q(batch, width, width + 2 * pad), z(batch, width, width + pad),
      c(batch, width, width), diff_p(batch, width, width + pad), diff_q(batch, width, width + 3);
  FillUniform(p.view, rng, -1.5, 1.5);
  FillUniform(q.view, rng, -1.5, 1.5);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    unit.Forward(p.view, q.view, z.view, Mode::kTrain);
    return Dot(z.view, c.view);
  };
  objective();
  // The scores must differ between p and q somewhere, or the attention's gradient would hide in a symmetric point.
  double spread = 0;
  for (int64_t r = 0; r < batch; ++r) spread = std::max(spread, std::abs(unit.weights()[2 * r] - 0.5));
  EXPECT_GT(spread, 0.05);
  arena.ZeroGrad();
  unit.Backward(p.view, q.view, c.view, &diff_p.view, &diff_q.view);
  CheckParameters(arena, objective);
  EXPECT_TRUE(CheckGradient(p.view, diff_p.view, objective)) << "p";
  EXPECT_TRUE(CheckGradient(q.view, diff_q.view, objective)) << "q";
}

TEST(ExpertsGradcheck, AttentionTransfer) { CheckAttentionTransfer(5, 6, 0); }
TEST(ExpertsGradcheck, AttentionTransferWithRowStrideLargerThanCols) { CheckAttentionTransfer(4, 7, 3); }

// An MMoE in miniature: E = 3 experts as one GroupedDense over 3 column blocks of the input, a gate Dense for
// T = 2 tasks followed by GateSoftmax, and one Mixture per task over the same experts, so the experts' gradient
// must collect both mixtures' contributions.
TEST(ExpertsGradcheck, TwoMixturesSharingExperts) {
  const int64_t batch = 5, experts = 3, in = 4, width = 5, tasks = 2;
  ParameterArena arena;
  GroupedDense expert_layer(arena, "experts", experts, in, width, Init::kGlorotUniform);
  Dense gate_layer(arena, "gates", experts * in, tasks * experts, Init::kGlorotUniform);
  arena.Allocate();
  arena.Initialize(9);
  GateSoftmax softmax(tasks, experts);
  Mixture mixture(width);
  Rng rng(10);
  FillUniform(Tensor{arena.Value(expert_layer.bias_id()), experts, width, width}, rng, -0.5, 0.5);
  Buffer x(batch, experts * in, experts * in), expert_out(batch, experts * width, experts * width),
      logits(batch, tasks * experts, tasks * experts), gates(batch, tasks * experts, tasks * experts),
      h(batch, tasks * width, tasks * width), c(batch, tasks * width, tasks * width);
  FillUniform(x.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    expert_layer.Forward(x.view, expert_out.view, Mode::kTrain);
    gate_layer.Forward(x.view, logits.view, Mode::kTrain);
    softmax.Forward(logits.view, gates.view, Mode::kTrain);
    for (int64_t t = 0; t < tasks; ++t) {
      mixture.Forward({expert_out.view}, gates.view.Columns(t * experts, experts), h.view.Columns(t * width, width));
    }
    return Dot(h.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  Buffer diff_experts(batch, experts * width, experts * width), diff_gates(batch, tasks * experts, tasks * experts),
      diff_logits(batch, tasks * experts, tasks * experts), diff_x(batch, experts * in, experts * in),
      diff_x_gate(batch, experts * in, experts * in);
  for (int64_t t = 0; t < tasks; ++t) {
    mixture.Backward({expert_out.view}, gates.view.Columns(t * experts, experts), c.view.Columns(t * width, width),
                     {diff_experts.view}, diff_gates.view.Columns(t * experts, experts));
  }
  softmax.Backward(logits.view, gates.view, diff_gates.view, &diff_logits.view);
  gate_layer.Backward(x.view, logits.view, diff_logits.view, &diff_x_gate.view);
  expert_layer.Backward(x.view, expert_out.view, diff_experts.view, &diff_x.view);
  AddInto(diff_x.view, diff_x_gate.view);
  CheckParameters(arena, objective);
  EXPECT_TRUE(CheckGradient(x.view, diff_x.view, objective)) << "x";
}

}  // namespace
}  // namespace mtrec
