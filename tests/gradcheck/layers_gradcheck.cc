// Finite-difference checks of every layer's Backward: each compares the analytic gradient of a random linear
// functional Σ c ⊙ dst with central differences.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "gradcheck.h"
#include "nn/batch_norm.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/feature_gate.h"
#include "nn/parameters.h"
#include "nn/relu.h"
#include "nn/swish.h"
#include "train/losses.h"

namespace mtrec {
namespace {

using gradcheck::Buffer;
using gradcheck::CheckGradient;
using gradcheck::Dot;
using gradcheck::FillUniform;

TEST(GradcheckHelper, DetectsAWrongGradient) {
  std::vector<float> x = {0.5f, -1.f, 2.f};
  const auto objective = [&] { return double(x[0]) * x[0] + 3.0 * x[1] + std::sin(double(x[2])); };
  std::vector<float> right = {1.f, 3.f, static_cast<float>(std::cos(2.0))};
  EXPECT_TRUE(CheckGradient(x.data(), right.data(), 3, objective));
  std::vector<float> wrong = right;
  wrong[2] *= 1.1f;
  EXPECT_FALSE(CheckGradient(x.data(), wrong.data(), 3, objective));
  EXPECT_EQ(x, (std::vector<float>{0.5f, -1.f, 2.f}));  // restored
}

void CheckDense(int64_t batch, int64_t in, int64_t out, int64_t pad) {
  SCOPED_TRACE(testing::Message() << batch << "x" << in << " -> " << out << ", padding " << pad);
  ParameterArena arena;
  Dense dense(arena, "d", in, out, Init::kGlorotUniform);
  arena.Allocate();
  arena.Initialize(1);
  Rng rng(2);
  FillUniform(Tensor{arena.Value(dense.bias_id()), 1, out, out}, rng, -0.5, 0.5);
  Buffer src(batch, in, in + pad), dst(batch, out, out + pad), c(batch, out, out + pad), diff_src(batch, in, in + pad);
  FillUniform(src.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);

  const auto objective = [&] {
    dense.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  dense.Backward(src.view, dst.view, c.view, &diff_src.view);

  const Tensor weights{arena.Value(dense.weight_id()), in, out, out};
  const Tensor diff_weights{arena.Grad(dense.weight_id()), in, out, out};
  const Tensor bias{arena.Value(dense.bias_id()), 1, out, out};
  const Tensor diff_bias{arena.Grad(dense.bias_id()), 1, out, out};
  EXPECT_TRUE(CheckGradient(weights, diff_weights, objective)) << "weights";
  EXPECT_TRUE(CheckGradient(bias, diff_bias, objective)) << "bias";
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective)) << "src";
}

TEST(LayersGradcheck, Dense) {
  CheckDense(7, 13, 5, 0);
  CheckDense(4, 3, 9, 0);
}

TEST(LayersGradcheck, DenseWithRowStrideLargerThanCols) { CheckDense(6, 7, 4, 5); }

// Batch normalisation in training: the batch statistics depend on every row, so each input's gradient has the
// two terms through the mean and the variance; the finite differences see both.
void CheckBatchNorm(int64_t batch, int64_t cols, int64_t pad) {
  SCOPED_TRACE(testing::Message() << batch << "x" << cols << ", padding " << pad);
  ParameterArena arena;
  BatchNorm norm(arena, "n", cols);
  arena.Allocate();
  arena.Initialize(1);
  Rng rng(5);
  const Tensor gamma{arena.Value(0), 1, cols, cols}, beta{arena.Value(1), 1, cols, cols};
  FillUniform(gamma, rng, 0.5, 1.5);
  FillUniform(beta, rng, -0.5, 0.5);
  Buffer src(batch, cols, cols + pad), dst(batch, cols, cols + pad), c(batch, cols, cols + pad),
      diff_src(batch, cols, cols + pad);
  FillUniform(src.view, rng, -2, 2);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    norm.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  norm.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(gamma, Tensor{arena.Grad(0), 1, cols, cols}, objective)) << "gamma";
  EXPECT_TRUE(CheckGradient(beta, Tensor{arena.Grad(1), 1, cols, cols}, objective)) << "beta";
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective)) << "src";
  // The running statistics are state, not parameters: Backward leaves their gradient at 0.
  for (size_t id : {size_t{2}, size_t{3}}) {
    for (int64_t j = 0; j < cols; ++j) EXPECT_EQ(arena.Grad(id)[j], 0.f);
  }
}

TEST(LayersGradcheck, BatchNorm) {
  CheckBatchNorm(6, 5, 0);
  CheckBatchNorm(2, 3, 0);    // the smallest batch with a variance
  CheckBatchNorm(9, 37, 3);   // more columns than one block of the column-parallel loops, strided rows
}

TEST(LayersGradcheck, ReluAwayFromTheKink) {
  Relu relu(9);
  Rng rng(3);
  Buffer src(5, 9, 11), dst(5, 9, 11), c(5, 9, 9), diff_src(5, 9, 9);
  FillUniform(src.view, rng, -1, 1);
  // Keep every input at least 0.1 from 0, so no central difference straddles the kink.
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t j = 0; j < 9; ++j) src.view.At(r, j) += src.view.At(r, j) >= 0 ? 0.1f : -0.1f;
  }
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    relu.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  relu.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective));
}

TEST(LayersGradcheck, Swish) {
  Swish swish(9);
  Rng rng(13);
  Buffer src(5, 9, 11), dst(5, 9, 11), c(5, 9, 9), diff_src(5, 9, 9);
  FillUniform(src.view, rng, -4, 4);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    swish.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  swish.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective));
  // Its values: x σ(x), 0 at 0, nearly x far above 0 and nearly 0 far below.
  Swish three(3);
  Buffer x(1, 3, 3), y(1, 3, 3);
  x.view.At(0, 0) = 0.f;
  x.view.At(0, 1) = 1.f;
  x.view.At(0, 2) = -20.f;
  three.Forward(x.view, y.view, Mode::kInfer);
  EXPECT_FLOAT_EQ(y.view.At(0, 0), 0.f);
  EXPECT_NEAR(y.view.At(0, 1), 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(y.view.At(0, 2), -20.0 / (1.0 + std::exp(20.0)), 1e-9);
}

// HoME's feature gates: every copy is x scaled by 2σ of a low-rank map of x, so x's gradient has the direct term
// and the one through each copy's gate; the down and up maps' weights get theirs through the gates alone.
TEST(LayersGradcheck, FeatureGate) {
  constexpr int64_t kRows = 4, kCols = 6, kCopies = 3, kRank = 2;
  ParameterArena arena;
  FeatureGate gate(arena, "g", kCols, kCopies, kRank, kRows);
  arena.Allocate();
  arena.Initialize(3);
  Rng rng(17);
  const auto whole = [&](float* data, size_t id) {
    const auto n = static_cast<int64_t>(arena.Info(id).size());
    return Tensor{data, 1, n, n};
  };
  const size_t parameters = arena.Infos().size();
  for (size_t id = 0; id < parameters; ++id) FillUniform(whole(arena.Value(id), id), rng, -0.8, 0.8);
  Buffer src(kRows, kCols, kCols + 1), dst(kRows, kCopies * kCols, kCopies * kCols), c(kRows, kCopies * kCols,
                                                                                       kCopies * kCols),
      diff_src(kRows, kCols, kCols);
  FillUniform(src.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    gate.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  arena.ZeroGrad();
  gate.Backward(src.view, dst.view, c.view, &diff_src.view);
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective)) << "src";
  for (size_t id = 0; id < parameters; ++id) {
    EXPECT_TRUE(CheckGradient(whole(arena.Value(id), id), whole(arena.Grad(id), id), objective))
        << arena.Info(id).name;
  }
  // Every factor lies in (0, 2): each copy's element has the sign of x's and at most twice its size.
  objective();
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t e = 0; e < kCopies; ++e) {
      for (int64_t j = 0; j < kCols; ++j) {
        const float x = src.view.At(r, j), v = dst.view.At(r, e * kCols + j);
        EXPECT_GE(v * x, 0.f);
        EXPECT_LT(std::abs(v), 2.f * std::abs(x) + 1e-7f);
      }
    }
  }
}

TEST(LayersGradcheck, DropoutWithAFixedMask) {
  Dropout dropout(8, 0.4f, /*stream=*/7);
  dropout.SetStepSeed(11);
  Rng rng(4);
  Buffer src(6, 8, 8), dst(6, 8, 8), c(6, 8, 8), diff_src(6, 8, 8);
  FillUniform(src.view, rng, -1, 1);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    dropout.Forward(src.view, dst.view, Mode::kTrain);
    return Dot(dst.view, c.view);
  };
  objective();
  dropout.Backward(src.view, dst.view, c.view, &diff_src.view);
  int zeros = 0;
  for (float g : diff_src.storage) zeros += g == 0.f;
  EXPECT_GT(zeros, 0);  // the mask really drops something
  EXPECT_TRUE(CheckGradient(src.view, diff_src.view, objective));
}

// The dense (rows × dim) form of a sparse gradient: zeros on rows it does not list.
std::vector<float> Densify(const SparseGrad& grad, int64_t rows, int64_t dim) {
  std::vector<float> dense(rows * dim, 0.f);
  for (int64_t i = 0; i < grad.count(); ++i) {
    std::copy(grad.Row(i), grad.Row(i) + dim, dense.begin() + grad.rows[i] * dim);
  }
  return dense;
}

TEST(LayersGradcheck, EmbeddingLookupWithRepeatedIds) {
  EmbeddingTable table("t", 6, 3);
  table.Initialize(8, 0.5f);
  const int32_t ids[] = {4, 1, 4, 0, 4};
  Rng rng(6);
  Buffer dst(5, 3, 7), c(5, 3, 3);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    table.Lookup(ids, 5, dst.view);
    return Dot(dst.view, c.view);
  };
  SparseGrad grad;
  table.AccumulateGrad(ids, 5, c.view, &grad);
  EXPECT_EQ(grad.rows, (std::vector<int32_t>{0, 1, 4}));
  std::vector<float> analytic = Densify(grad, 6, 3);
  EXPECT_TRUE(CheckGradient(table.data(), analytic.data(), 6 * 3, objective));
}

void CheckPooled(Pooling pooling) {
  EmbeddingTable table("t", 7, 4);
  table.Initialize(9, 0.5f);
  // Bags {2, 5, 2}, {}, {5}, {6, 0, 2, 2}: repeats inside a bag and across bags, and an empty bag.
  const int32_t ids[] = {2, 5, 2, 5, 6, 0, 2, 2};
  const int64_t offsets[] = {0, 3, 3, 4, 8};
  Rng rng(7);
  Buffer dst(4, 4, 9), c(4, 4, 5);
  FillUniform(c.view, rng, -1, 1);
  const auto objective = [&] {
    table.LookupPooled(ids, offsets, 4, pooling, dst.view);
    return Dot(dst.view, c.view);
  };
  SparseGrad grad;
  table.AccumulateGradPooled(ids, offsets, 4, pooling, c.view, &grad);
  EXPECT_EQ(grad.rows, (std::vector<int32_t>{0, 2, 5, 6}));
  std::vector<float> analytic = Densify(grad, 7, 4);
  EXPECT_TRUE(CheckGradient(table.data(), analytic.data(), 7 * 4, objective));
}

TEST(LayersGradcheck, EmbeddingPooledSum) { CheckPooled(Pooling::kSum); }
TEST(LayersGradcheck, EmbeddingPooledMean) { CheckPooled(Pooling::kMean); }

// A small network end to end: embedding and dense features side by side → dense → dropout → dense → BCE with a
// missing label, checked against every parameter, the embedding table and the dense input.
TEST(LayersGradcheck, SmallNetworkEndToEnd) {
  const int64_t batch = 5;
  ParameterArena arena;
  Dense hidden(arena, "hidden", 6, 4);
  Dense logit(arena, "logit", 4, 1, Init::kGlorotUniform);
  arena.Allocate();
  arena.Initialize(12);
  EmbeddingTable table("e", 5, 2);
  table.Initialize(13, 0.5f);
  Dropout dropout(4, 0.25f);
  dropout.SetStepSeed(14);

  Rng rng(15);
  const int32_t ids[] = {1, 3, 1, 0, 4};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float labels[] = {1.f, 0.f, nan, 1.f, 0.f};
  Buffer features(batch, 4, 4), x(batch, 6, 6), h(batch, 4, 4), hd(batch, 4, 4), y(batch, 1, 1);
  FillUniform(features.view, rng, -1, 1);

  const auto objective = [&] {
    // x = [embedding | features]: the lookup and the copy write their column blocks of x in place.
    table.Lookup(ids, batch, x.view.Columns(0, 2));
    for (int64_t r = 0; r < batch; ++r) std::copy_n(features.view.Row(r), 4, x.view.Columns(2, 4).Row(r));
    hidden.Forward(x.view, h.view, Mode::kTrain);
    dropout.Forward(h.view, hd.view, Mode::kTrain);
    logit.Forward(hd.view, y.view, Mode::kTrain);
    return BceWithLogits(y.view.data, 1, labels, batch, 1.f, nullptr, 0).Mean();
  };
  objective();
  Buffer diff_y(batch, 1, 1), diff_hd(batch, 4, 4), diff_h(batch, 4, 4), diff_x(batch, 6, 6);
  BceWithLogits(y.view.data, 1, labels, batch, 1.f, diff_y.view.data, 1);
  arena.ZeroGrad();
  logit.Backward(hd.view, y.view, diff_y.view, &diff_hd.view);
  dropout.Backward(h.view, hd.view, diff_hd.view, &diff_h.view);
  hidden.Backward(x.view, h.view, diff_h.view, &diff_x.view);
  SparseGrad grad;
  table.AccumulateGrad(ids, batch, diff_x.view.Columns(0, 2), &grad);

  for (size_t id = 0; id < arena.Infos().size(); ++id) {
    const ParameterInfo& info = arena.Info(id);
    EXPECT_TRUE(CheckGradient(arena.Value(id), arena.Grad(id), static_cast<int64_t>(info.size()), objective))
        << info.name;
  }
  std::vector<float> analytic = Densify(grad, 5, 2);
  EXPECT_TRUE(CheckGradient(table.data(), analytic.data(), 10, objective)) << "embedding";
  EXPECT_TRUE(CheckGradient(features.view, diff_x.view.Columns(2, 4), objective)) << "dense features";
}

}  // namespace
}  // namespace mtrec
