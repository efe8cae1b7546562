#include "nn/relu.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"

namespace mtrec {
namespace {

TEST(ReluTest, ForwardClampsNegativesAndBackwardMasks) {
  Relu relu(3);
  std::vector<float> src = {-1.f, 0.f, 2.f, 3.5f, -0.25f, 1e-6f};
  std::vector<float> dst(6, 9.f);
  std::vector<float> diff_dst = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  std::vector<float> diff_src(6, 9.f);
  const Tensor x{src.data(), 2, 3, 3}, y{dst.data(), 2, 3, 3}, dy{diff_dst.data(), 2, 3, 3},
      dx{diff_src.data(), 2, 3, 3};
  relu.Forward(x, y, Mode::kTrain);
  EXPECT_EQ(dst, (std::vector<float>{0.f, 0.f, 2.f, 3.5f, 0.f, 1e-6f}));
  relu.Backward(x, y, dy, &dx);
  EXPECT_EQ(diff_src, (std::vector<float>{0.f, 0.f, 3.f, 4.f, 0.f, 6.f}));
}

TEST(ReluTest, RunsInPlaceOnStridedViewsAndLeavesOtherColumns) {
  Relu relu(2);
  std::vector<float> storage = {-1.f, 5.f, -2.f, 7.f, 3.f, -4.f};  // 2 rows, ld 3; layer sees columns 1..2
  const Tensor view = Tensor{storage.data(), 2, 3, 3}.Columns(1, 2);
  relu.Forward(view, view, Mode::kInfer);
  EXPECT_EQ(storage, (std::vector<float>{-1.f, 5.f, 0.f, 7.f, 3.f, 0.f}));
  std::vector<float> grads = {9.f, 1.f, 1.f, 9.f, 1.f, 1.f};
  const Tensor diff = Tensor{grads.data(), 2, 3, 3}.Columns(1, 2);
  relu.Backward(view, view, diff, &diff);
  EXPECT_EQ(grads, (std::vector<float>{9.f, 1.f, 0.f, 9.f, 1.f, 0.f}));
}

TEST(ReluTest, LargeTensorsTakeTheParallelPathWithTheSameResult) {
  Relu relu(300);
  const int64_t rows = 1000;
  std::vector<float> src(rows * 300);
  for (size_t i = 0; i < src.size(); ++i) src[i] = (i % 7 < 3) ? -float(i % 5) : float(i % 11);
  std::vector<float> dst(src.size());
  relu.Forward(Tensor{src.data(), rows, 300, 300}, Tensor{dst.data(), rows, 300, 300}, Mode::kTrain);
  for (size_t i = 0; i < src.size(); ++i) ASSERT_EQ(dst[i], src[i] > 0 ? src[i] : 0.f) << i;
}

TEST(ReluTest, RefusesWrongWidth) {
  Relu relu(3);
  std::vector<float> a(8);
  EXPECT_THROW(relu.Forward(Tensor{a.data(), 2, 4, 4}, Tensor{a.data(), 2, 4, 4}, Mode::kTrain), Error);
  EXPECT_THROW(Relu(0), Error);
}

}  // namespace
}  // namespace mtrec
