#include "train/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/error.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

TEST(LossesTest, BceMatchesHandValuesAndSkipsMissingLabels) {
  // Outputs in column 1 of a 3-wide matrix (stride 3); gradients into stride 2.
  const std::vector<float> outputs = {9, 0.f, 9, 9, 2.f, 9, 9, -1.f, 9, 9, 100.f, 9};
  const std::vector<float> labels = {1.f, 0.f, kMissing, 0.f};
  std::vector<float> diff(8, 7.f);
  const LossValue loss = BceWithLogits(outputs.data() + 1, 3, labels.data(), 4, 2.f, diff.data(), 2);
  EXPECT_EQ(loss.count, 3);
  // log(2) + (2 + log1p(e^-2)) + (100 + log1p(e^-100)).
  const double expected = std::log(2.0) + 2.0 + std::log1p(std::exp(-2.0)) + 100.0;
  EXPECT_NEAR(loss.sum, expected, 1e-9);
  EXPECT_NEAR(loss.Mean(), expected / 3, 1e-9);
  // (sigmoid(s) - y) · scale / count.
  EXPECT_NEAR(diff[0], (0.5 - 1.0) * 2 / 3, 1e-7);
  EXPECT_NEAR(diff[2], (1 / (1 + std::exp(-2.0))) * 2 / 3, 1e-7);
  EXPECT_EQ(diff[4], 0.f);
  EXPECT_NEAR(diff[6], 1.0 * 2 / 3, 1e-7);
  EXPECT_EQ(diff[1], 7.f);  // the stride's gaps are left alone
}

TEST(LossesTest, BceAcceptsSoftLabelsAndRefusesOutOfRangeOnes) {
  const float s = 0.3f;
  const float y = 0.25f;
  float diff = 0;
  const LossValue loss = BceWithLogits(&s, 1, &y, 1, 1.f, &diff, 1);
  const double p = 1 / (1 + std::exp(-0.3));
  EXPECT_NEAR(loss.sum, -(0.25 * std::log(p) + 0.75 * std::log(1 - p)), 1e-7);
  EXPECT_NEAR(diff, p - 0.25, 1e-7);
  const float bad = 2.f;
  EXPECT_THROW(BceWithLogits(&s, 1, &bad, 1, 1.f, &diff, 1), Error);
}

TEST(LossesTest, PosWeightScalesThePositiveRowsAndDividesByTheRowCount) {
  // Logits in column 0 of a 2-wide matrix; rows: positive, negative, missing, soft label 0.25.
  const std::vector<float> outputs = {0.5f, 9, -1.f, 9, 3.f, 9, 2.f, 9};
  const std::vector<float> labels = {1.f, 0.f, kMissing, 0.25f};
  const float w = 4.f;
  std::vector<float> diff(4, 7.f);
  const LossValue loss = WeightedBceWithLogits(outputs.data(), 2, labels.data(), 4, w, 3.f, diff.data(), 1);
  auto p = [](double s) { return 1 / (1 + std::exp(-s)); };
  // -(w·y·log p + (1 - y)·log(1 - p)) row by row, as torch.nn.BCEWithLogitsLoss(pos_weight=4) writes it.
  const double positive = -w * std::log(p(0.5));
  const double negative = -std::log(1 - p(-1.0));
  const double soft = -(w * 0.25 * std::log(p(2.0)) + 0.75 * std::log(1 - p(2.0)));
  EXPECT_EQ(loss.count, 3);
  EXPECT_NEAR(loss.sum, positive + negative + soft, 1e-9);
  EXPECT_NEAR(loss.Mean(), (positive + negative + soft) / 3, 1e-9);  // over the labelled rows, not Σ weights
  // ((1 - y + w·y)·σ(s) - w·y) · scale / count.
  EXPECT_NEAR(diff[0], (w * p(0.5) - w) * 3 / 3, 1e-6);
  EXPECT_NEAR(diff[1], p(-1.0) * 3 / 3, 1e-6);
  EXPECT_EQ(diff[2], 0.f);
  EXPECT_NEAR(diff[3], ((0.75 + w * 0.25) * p(2.0) - w * 0.25) * 3 / 3, 1e-6);
  // Weight 1 is the plain loss; a weight of 0 or less is refused.
  const LossValue plain = WeightedBceWithLogits(outputs.data(), 2, labels.data(), 4, 1.f, 1.f, nullptr, 0);
  EXPECT_EQ(plain.sum, BceWithLogits(outputs.data(), 2, labels.data(), 4, 1.f, nullptr, 0).sum);
  EXPECT_THROW(WeightedBceWithLogits(outputs.data(), 2, labels.data(), 4, 0.f, 1.f, nullptr, 0), Error);
}

TEST(LossesTest, WeightedConstantPredictorIsTheBestConstantsLoss) {
  // Positive rate 1/4 with w = 3: the best constant p = 3/4 / (3/4 + 3/4) = 1/2, loss (3/4 + 3/4)·log 2.
  const std::vector<float> labels = {1, 0, 0, 0};
  EXPECT_NEAR(ConstantPredictorLoss(true, false, 1.f, labels, nullptr, 3.0), 1.5 * std::log(2.0), 1e-12);
  // No constant does better: the weighted loss of a few others is larger.
  for (const double q : {0.3, 0.45, 0.55, 0.7}) {
    EXPECT_GT(-(3.0 * 0.25 * std::log(q) + 0.75 * std::log(1 - q)), 1.5 * std::log(2.0)) << q;
  }
}

TEST(LossesTest, MseIsTheSquareWithoutAHalf) {
  const std::vector<float> outputs = {1.f, 3.f, -2.f};
  const std::vector<float> labels = {0.f, kMissing, 1.f};
  std::vector<float> diff(3, 5.f);
  const LossValue loss = Mse(outputs.data(), 1, labels.data(), 3, 1.f, diff.data(), 1);
  EXPECT_EQ(loss.count, 2);
  EXPECT_DOUBLE_EQ(loss.sum, 1.0 + 9.0);
  EXPECT_FLOAT_EQ(diff[0], 2.f * 1 / 2);
  EXPECT_EQ(diff[1], 0.f);
  EXPECT_FLOAT_EQ(diff[2], 2.f * -3 / 2);
}

TEST(LossesTest, HuberIsQuadraticInsideDeltaAndLinearOutside) {
  const std::vector<float> outputs = {0.5f, 4.f, -3.f, 0.f};
  const std::vector<float> labels = {0.f, 0.f, 0.f, kMissing};
  std::vector<float> diff(4, 5.f);
  const LossValue loss = Huber(outputs.data(), 1, labels.data(), 4, 1.f, 3.f, diff.data(), 1);
  EXPECT_EQ(loss.count, 3);
  EXPECT_DOUBLE_EQ(loss.sum, 0.125 + 3.5 + 2.5);
  EXPECT_FLOAT_EQ(diff[0], 0.5f * 3 / 3);
  EXPECT_FLOAT_EQ(diff[1], 1.f * 3 / 3);
  EXPECT_FLOAT_EQ(diff[2], -1.f * 3 / 3);
  EXPECT_EQ(diff[3], 0.f);
  EXPECT_THROW(Huber(outputs.data(), 1, labels.data(), 4, 0.f, 1.f, diff.data(), 1), Error);
}

TEST(LossesTest, AllLabelsMissingGivesZeroLossAndGradient) {
  const std::vector<float> outputs = {1.f, 2.f};
  const std::vector<float> labels = {kMissing, kMissing};
  std::vector<float> diff(2, 5.f);
  const LossValue loss = Mse(outputs.data(), 1, labels.data(), 2, 1.f, diff.data(), 1);
  EXPECT_EQ(loss.count, 0);
  EXPECT_EQ(loss.sum, 0.0);
  EXPECT_EQ(loss.Mean(), 0.0);
  EXPECT_EQ(diff, (std::vector<float>{0.f, 0.f}));
}

TEST(LossesTest, NullDiffOnlyEvaluates) {
  const std::vector<float> outputs = {1.f, 2.f};
  const std::vector<float> labels = {0.f, 1.f};
  const LossValue loss = BceWithLogits(outputs.data(), 1, labels.data(), 2, 1.f, nullptr, 0);
  EXPECT_EQ(loss.count, 2);
  EXPECT_GT(loss.sum, 0.0);
}

TEST(LossesTest, ConstantPredictorLossByHand) {
  // Binary: positive rate ¼ over the labelled rows: H(¼) = -¼ ln ¼ - ¾ ln ¾.
  const std::vector<float> clicks = {1, 0, NAN, 0, 0};
  EXPECT_NEAR(ConstantPredictorLoss(true, false, 1.f, clicks), -0.25 * std::log(0.25) - 0.75 * std::log(0.75), 1e-12);
  // Regression: the variance (mean 2 of 1, 2, 3 → (1 + 0 + 1) / 3).
  const std::vector<float> gmv = {1, 2, NAN, 3};
  EXPECT_NEAR(ConstantPredictorLoss(false, false, 1.f, gmv), 2.0 / 3, 1e-12);
  // Huber with delta 1 around the mean 2 of 0, 2, 4: errors -2, 0, 2 → 1·(2 - ½) twice, over 3 rows.
  EXPECT_NEAR(ConstantPredictorLoss(false, true, 1.f, {0, 2, 4}), 1.0, 1e-12);
  // Only where the parent is 1: labels 1, 1 of rows 0 and 3; a constant task has no loss to divide by.
  const std::vector<float> parent = {1, 0, 0, 1, 0};
  EXPECT_EQ(ConstantPredictorLoss(false, false, 1.f, {5, 1, 9, 5, 2}, &parent), 0.0);
  EXPECT_NEAR(ConstantPredictorLoss(true, false, 1.f, {1, 0, 0, 0, 0}, &parent), std::log(2.0), 1e-12);
  EXPECT_TRUE(std::isnan(ConstantPredictorLoss(true, false, 1.f, {NAN, NAN})));
}

}  // namespace
}  // namespace mtrec
