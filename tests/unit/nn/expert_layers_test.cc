// Known values of the multi-task layers: grouped dense against per-group loops, softmax stability, one-hot
// mixtures, the cross-stitch start, and attention transfer with identical inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "nn/attention_transfer.h"
#include "nn/cross_stitch.h"
#include "nn/gate_softmax.h"
#include "nn/grouped_dense.h"
#include "nn/mixture.h"

namespace mtrec {
namespace {

void Fill(const Tensor& t, Rng& rng) {
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t c = 0; c < t.cols; ++c) t.At(r, c) = static_cast<float>(rng.Uniform() * 2 - 1);
  }
}

TEST(GroupedDenseTest, EachGroupIsItsOwnLinearMap) {
  const int64_t batch = 9, groups = 4, in = 6, out = 3;
  ParameterArena arena;
  GroupedDense layer(arena, "experts.1", groups, in, out);
  arena.Allocate();
  arena.Initialize(3);
  Rng rng(1);
  Fill(Tensor{arena.Value(layer.bias_id()), groups, out, out}, rng);
  Matrix src(batch, groups * in), dst(batch, groups * out);
  Fill(src.View(), rng);
  layer.Forward(src.View(), dst.View(), Mode::kInfer);
  const float* w = arena.Value(layer.weight_id());
  const float* b = arena.Value(layer.bias_id());
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t o = 0; o < out; ++o) {
        double expected = b[g * out + o];
        for (int64_t i = 0; i < in; ++i) expected += src.View().At(r, g * in + i) * w[(g * in + i) * out + o];
        EXPECT_NEAR(dst.View().At(r, g * out + o), expected, 1e-5) << r << " " << g << " " << o;
      }
    }
  }
  const ParameterInfo& info = arena.Info(layer.weight_id());
  EXPECT_EQ(info.name, "experts.1.weight");
  EXPECT_EQ(info.groups, groups);
  EXPECT_TRUE(info.linear_weight);
  EXPECT_EQ(info.rows, groups * in);
}

TEST(GateSoftmaxTest, BlocksSumToOneAndLargeLogitsStayFinite) {
  GateSoftmax softmax(2, 3);
  Matrix src(1, 6), dst(1, 6);
  const float logits[6] = {1000.f, 999.f, 998.f, 0.f, std::log(2.f), std::log(3.f)};
  std::copy(logits, logits + 6, src.data());
  softmax.Forward(src.View(), dst.View(), Mode::kInfer);
  const double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(dst.View().At(0, 0), 1 / z, 1e-6);
  EXPECT_NEAR(dst.View().At(0, 2), std::exp(-2.0) / z, 1e-6);
  EXPECT_NEAR(dst.View().At(0, 3), 1.0 / 6, 1e-6);
  EXPECT_NEAR(dst.View().At(0, 5), 3.0 / 6, 1e-6);
}

TEST(MixtureTest, OneHotGatesPickTheirExpert) {
  Mixture mixture(2);
  Matrix experts(2, 6), gates(2, 3), dst(2, 2);
  for (int64_t c = 0; c < 6; ++c) {
    experts.View().At(0, c) = static_cast<float>(c);
    experts.View().At(1, c) = static_cast<float>(10 + c);
  }
  gates.View().At(0, 2) = 1.f;  // row 0: expert 2 = columns 4, 5
  gates.View().At(1, 0) = 0.5f;  // row 1: half of expert 0 and half of expert 1
  gates.View().At(1, 1) = 0.5f;
  mixture.Forward({experts.View()}, gates.View(), dst.View());
  EXPECT_EQ(dst.View().At(0, 0), 4.f);
  EXPECT_EQ(dst.View().At(0, 1), 5.f);
  EXPECT_EQ(dst.View().At(1, 0), 11.f);
  EXPECT_EQ(dst.View().At(1, 1), 12.f);
  Matrix bad(2, 5);
  EXPECT_THROW(mixture.Forward({bad.View()}, gates.View(), dst.View()), Error);  // 5 columns: not whole experts
}

TEST(CrossStitchTest, StartsNearIdentityAndMixesByAlpha) {
  ParameterArena arena;
  CrossStitch stitch(arena, "networks.0.stitch", 3, 2);
  arena.Allocate();
  arena.Initialize(1);
  const float* alpha = arena.Value(stitch.alpha_id());
  EXPECT_FLOAT_EQ(alpha[0], 0.9f);
  EXPECT_FLOAT_EQ(alpha[1], 0.05f);
  EXPECT_FLOAT_EQ(alpha[4], 0.9f);
  EXPECT_FALSE(arena.Info(stitch.alpha_id()).decay);
  Matrix src(1, 6), dst(1, 6);
  for (int64_t c = 0; c < 6; ++c) src.View().At(0, c) = static_cast<float>(c / 2 + 1);  // networks 1, 2, 3
  stitch.Forward(src.View(), dst.View(), Mode::kInfer);
  EXPECT_NEAR(dst.View().At(0, 0), 0.9 * 1 + 0.05 * 2 + 0.05 * 3, 1e-6);
  EXPECT_NEAR(dst.View().At(0, 5), 0.05 * 1 + 0.05 * 2 + 0.9 * 3, 1e-6);
}

TEST(AttentionTransferTest, IdenticalInputsGiveEqualWeightsAndH1) {
  ParameterArena arena;
  AttentionTransfer unit(arena, "ait.buy", 4, 3);
  arena.Allocate();
  arena.Initialize(2);
  Rng rng(5);
  Matrix p(3, 4), z(3, 4);
  Fill(p.View(), rng);
  unit.Forward(p.View(), p.View(), z.View(), Mode::kInfer);
  const float* w = arena.Value(0);  // ait.buy.h1.weight, then its bias (zero at initialisation)
  ASSERT_EQ(arena.Info(0).name, "ait.buy.h1.weight");
  for (int64_t r = 0; r < 3; ++r) {
    EXPECT_FLOAT_EQ(unit.weights()[2 * r], 0.5f);
    for (int64_t o = 0; o < 4; ++o) {
      double expected = 0;
      for (int64_t i = 0; i < 4; ++i) expected += p.View().At(r, i) * w[i * 4 + o];
      EXPECT_NEAR(z.View().At(r, o), expected, 1e-5);
    }
  }
}

}  // namespace
}  // namespace mtrec
