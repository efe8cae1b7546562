#include "nn/dropout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

std::vector<float> RunForward(Dropout& dropout, uint64_t seed, int64_t rows, int64_t cols) {
  std::vector<float> src(rows * cols, 1.f);
  std::vector<float> dst(rows * cols, -1.f);
  dropout.SetStepSeed(seed);
  dropout.Forward(Tensor{src.data(), rows, cols, cols}, Tensor{dst.data(), rows, cols, cols}, Mode::kTrain);
  return dst;
}

TEST(DropoutTest, KeepsAboutOneMinusRateAndScalesTheKeptOnes) {
  Dropout dropout(64, 0.3f);
  const std::vector<float> dst = RunForward(dropout, 17, 1000, 64);
  int64_t kept = 0;
  for (float y : dst) {
    if (y != 0.f) {
      ++kept;
      ASSERT_FLOAT_EQ(y, 1.f / 0.7f);
    }
  }
  const double n = 64000;
  const double p = 0.7;
  // Five standard deviations of a binomial count.
  EXPECT_NEAR(kept, n * p, 5 * std::sqrt(n * p * (1 - p)));
}

TEST(DropoutTest, MaskDependsOnSeedRowAndColumnOnly) {
  Dropout dropout(32, 0.5f, /*stream=*/1);
  const std::vector<float> a = RunForward(dropout, 5, 40, 32);
  const std::vector<float> b = RunForward(dropout, 5, 40, 32);
  EXPECT_EQ(a, b);
  // A smaller batch sees the first rows of the same mask.
  const std::vector<float> top = RunForward(dropout, 5, 10, 32);
  EXPECT_TRUE(std::equal(top.begin(), top.end(), a.begin()));
  // Another seed, or another stream with the same seed, gives another mask.
  EXPECT_NE(RunForward(dropout, 6, 40, 32), a);
  Dropout other(32, 0.5f, /*stream=*/2);
  EXPECT_NE(RunForward(other, 5, 40, 32), a);
}

TEST(DropoutTest, MaskDoesNotDependOnTheThreadCount) {
  Dropout dropout(256, 0.2f);
  SetThreads(1);
  const std::vector<float> one = RunForward(dropout, 99, 600, 256);  // large enough for the parallel path
  SetThreads(2);
  const std::vector<float> two = RunForward(dropout, 99, 600, 256);
  SetThreads(0);
  EXPECT_EQ(one, two);
}

TEST(DropoutTest, BackwardAppliesTheSameMask) {
  Dropout dropout(5, 0.4f);
  std::vector<float> src(35), dst(35), diff_dst(35), diff_src(35);
  for (int i = 0; i < 35; ++i) {
    src[i] = 0.5f + i;
    diff_dst[i] = 1.f - 0.1f * i;
  }
  const Tensor x{src.data(), 7, 5, 5}, y{dst.data(), 7, 5, 5}, dy{diff_dst.data(), 7, 5, 5},
      dx{diff_src.data(), 7, 5, 5};
  dropout.SetStepSeed(3);
  dropout.Forward(x, y, Mode::kTrain);
  dropout.Backward(x, y, dy, &dx);
  int dropped = 0;
  for (int i = 0; i < 35; ++i) {
    const float mask = dst[i] / src[i];
    EXPECT_FLOAT_EQ(diff_src[i], diff_dst[i] * mask) << i;
    dropped += dst[i] == 0.f;
  }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, 35);
}

TEST(DropoutTest, InferenceAndZeroRateAreTheIdentity) {
  Dropout dropout(4, 0.5f);
  std::vector<float> src = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> dst(8, 0.f);
  std::vector<float> diff(8, 0.f);
  const Tensor x{src.data(), 2, 4, 4}, y{dst.data(), 2, 4, 4}, dx{diff.data(), 2, 4, 4};
  dropout.Forward(x, y, Mode::kInfer);
  EXPECT_EQ(dst, src);
  dropout.Backward(x, y, x, &dx);
  EXPECT_EQ(diff, src);
  Dropout none(4, 0.f);
  std::fill(dst.begin(), dst.end(), 0.f);
  none.Forward(x, y, Mode::kTrain);
  EXPECT_EQ(dst, src);
}

TEST(DropoutTest, RefusesBadRateAndMismatchedBackward) {
  EXPECT_THROW(Dropout(4, 1.f), Error);
  EXPECT_THROW(Dropout(4, -0.1f), Error);
  Dropout dropout(2, 0.5f);
  std::vector<float> a(8, 1.f);
  dropout.Forward(Tensor{a.data(), 4, 2, 2}, Tensor{a.data(), 4, 2, 2}, Mode::kTrain);
  const Tensor three{a.data(), 3, 2, 2};
  EXPECT_THROW(dropout.Backward(three, three, three, &three), Error);
}

}  // namespace
}  // namespace mtrec
