#include "nn/batch_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/threads.h"

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
