#include "nn/batch_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/threads.h"
#include "nn/dropout.h"
#include "nn/relu.h"

namespace mtrec {
namespace {

struct Norm {
  explicit Norm(int64_t cols) : norm(arena, "norm", cols) {
    arena.Allocate();
    arena.Initialize(1);
  }
  ParameterArena arena;
  BatchNorm norm;
};

TEST(BatchNormTest, TrainingNormalisesEachColumnWithTheBatchStatistics) {
  Norm n(2);
  n.arena.Value(0)[0] = 2.f;   // gamma of column 0
  n.arena.Value(1)[1] = -1.f;  // beta of column 1
  // Column 0: 1, 2, 3, 6 (mean 3, biased variance 3.5); column 1: constant 5 (variance 0).
  std::vector<float> x = {1, 5, 2, 5, 3, 5, 6, 5}, y(8);
  n.norm.Forward(Tensor{x.data(), 4, 2, 2}, Tensor{y.data(), 4, 2, 2}, Mode::kTrain);
  const double inv_std = 1.0 / std::sqrt(3.5 + 1e-5);
  for (int r = 0; r < 4; ++r) {
    EXPECT_NEAR(y[r * 2], 2.0 * (x[r * 2] - 3.0) * inv_std, 1e-5) << r;
    EXPECT_NEAR(y[r * 2 + 1], -1.0, 1e-6) << r;  // (5 − 5) / √ε · γ + β
  }
  // Running statistics move 10% of the way, with the unbiased variance (3.5 · 4/3), as PyTorch's.
  EXPECT_NEAR(n.arena.Value(2)[0], 0.1 * 3.0, 1e-6);
  EXPECT_NEAR(n.arena.Value(3)[0], 0.9 + 0.1 * (3.5 * 4.0 / 3.0), 1e-6);
  EXPECT_NEAR(n.arena.Value(2)[1], 0.5, 1e-6);
  EXPECT_NEAR(n.arena.Value(3)[1], 0.9, 1e-6);
}

TEST(BatchNormTest, InferenceUsesTheRunningStatisticsAndMayRunInPlace) {
  Norm n(1);
  n.arena.Value(2)[0] = 4.f;  // running mean
  n.arena.Value(3)[0] = 9.f;  // running variance
  std::vector<float> x = {4, 7, 1};
  n.norm.Forward(Tensor{x.data(), 3, 1, 1}, Tensor{x.data(), 3, 1, 1}, Mode::kInfer);
  EXPECT_NEAR(x[0], 0.0, 1e-6);
  EXPECT_NEAR(x[1], 3.0 / std::sqrt(9.0 + 1e-5), 1e-6);
  EXPECT_NEAR(x[2], -3.0 / std::sqrt(9.0 + 1e-5), 1e-6);
  EXPECT_EQ(n.arena.Value(2)[0], 4.f);  // inference leaves the running statistics alone
}

TEST(BatchNormTest, SameResultForAnyThreadCount) {
  const int64_t rows = 300, cols = 150;
  std::vector<float> x(rows * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * 3.0);
  std::vector<std::vector<float>> outputs, grads;
  for (int threads : {1, 2}) {
    SetThreads(threads);
    Norm n(cols);
    std::vector<float> y(x.size()), dx(x.size());
    const Tensor src{x.data(), rows, cols, cols}, dst{y.data(), rows, cols, cols};
    n.norm.Forward(src, dst, Mode::kTrain);
    const Tensor diff{dx.data(), rows, cols, cols};
    n.norm.Backward(src, dst, src, &diff);  // any diff_dst will do; the input itself
    outputs.push_back(y);
    grads.push_back(dx);
  }
  SetThreads(0);
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(grads[0], grads[1]);
}

// ForwardRelu / BackwardRelu (what Mlp runs) against BatchNorm, ReLU and Dropout as three layers: the same outputs,
// the same input gradient and the same gradients of γ and β, element for element.
void CheckFusedAgainstLayers(float rate, Mode mode) {
  SCOPED_TRACE(testing::Message() << "dropout " << rate << (mode == Mode::kTrain ? " train" : " infer"));
  const int64_t rows = 257, cols = 70;  // more than one row chunk; columns not a multiple of a vector
  std::vector<float> x(rows * cols), g(rows * cols);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * 3.0 + 0.5);
    g[i] = static_cast<float>(std::cos(0.11 * static_cast<double>(i)));
  }
  const Tensor src{x.data(), rows, cols, cols}, diff_out{g.data(), rows, cols, cols};
  Norm separate(cols), fused(cols);
  for (Norm* n : {&separate, &fused}) {
    n->arena.Value(0)[3] = -0.7f;  // a negative γ flips which side the ReLU passes
    n->arena.Value(1)[5] = 0.4f;
    n->arena.Value(2)[1] = 0.2f;   // running statistics, for inference
    n->arena.Value(3)[1] = 2.5f;
  }
  Dropout dropout(cols, rate, /*stream=*/9);
  dropout.SetStepSeed(42, /*first_row=*/3);
  Relu relu(cols);
  std::vector<float> normed(x.size()), activated(x.size()), expected(x.size()), out(x.size());
  const Tensor normed_t{normed.data(), rows, cols, cols}, activated_t{activated.data(), rows, cols, cols},
      expected_t{expected.data(), rows, cols, cols}, out_t{out.data(), rows, cols, cols};
  separate.norm.Forward(src, normed_t, mode);
  relu.Forward(normed_t, activated_t, mode);
  dropout.Forward(activated_t, expected_t, mode);
  fused.norm.ForwardRelu(src, out_t, mode, rate > 0 ? &dropout : nullptr);
  EXPECT_EQ(out, expected);
  int64_t dropped = 0;
  for (size_t i = 0; i < x.size(); ++i) dropped += activated[i] > 0.f && expected[i] == 0.f;
  if (rate > 0 && mode == Mode::kTrain) {
    EXPECT_GT(dropped, 0);  // the mask was applied
  } else {
    EXPECT_EQ(dropped, 0);
  }
  if (mode != Mode::kTrain) return;
  std::vector<float> diff_activated(x.size()), diff_normed(x.size()), expected_dx(x.size()), dx(x.size());
  const Tensor diff_activated_t{diff_activated.data(), rows, cols, cols},
      diff_normed_t{diff_normed.data(), rows, cols, cols}, expected_dx_t{expected_dx.data(), rows, cols, cols},
      dx_t{dx.data(), rows, cols, cols};
  dropout.Backward(activated_t, expected_t, diff_out, &diff_activated_t);
  relu.Backward(normed_t, activated_t, diff_activated_t, &diff_normed_t);
  separate.norm.Backward(src, normed_t, diff_normed_t, &expected_dx_t);
  fused.norm.BackwardRelu(src, out_t, diff_out, &dx_t, rate > 0 ? &dropout : nullptr);
  EXPECT_EQ(dx, expected_dx);
  for (size_t id : {size_t{0}, size_t{1}}) {  // γ and β
    for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(fused.arena.Grad(id)[c], separate.arena.Grad(id)[c]) << id << " " << c;
  }
}

TEST(BatchNormTest, FusedReluAndDropoutMatchTheLayersOneAfterTheOther) {
  CheckFusedAgainstLayers(0.3f, Mode::kTrain);
  CheckFusedAgainstLayers(0.f, Mode::kTrain);
  CheckFusedAgainstLayers(0.3f, Mode::kInfer);
}

TEST(BatchNormTest, MisuseIsRefused) {
  Norm n(3);
  std::vector<float> x(6, 1.f), y(6);
  // One row has no variance to normalise by.
  EXPECT_THROW(n.norm.Forward(Tensor{x.data(), 1, 3, 3}, Tensor{y.data(), 1, 3, 3}, Mode::kTrain), Error);
  // Training in place would lose the input Backward needs.
  EXPECT_THROW(n.norm.Forward(Tensor{x.data(), 2, 3, 3}, Tensor{x.data(), 2, 3, 3}, Mode::kTrain), Error);
  // Backward after an inference Forward has no batch statistics.
  n.norm.Forward(Tensor{x.data(), 2, 3, 3}, Tensor{y.data(), 2, 3, 3}, Mode::kInfer);
  const Tensor t{x.data(), 2, 3, 3};
  EXPECT_THROW(n.norm.Backward(t, Tensor{y.data(), 2, 3, 3}, t, nullptr), Error);
}

}  // namespace
}  // namespace mtrec
