#include "train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "common/error.h"

namespace mtrec {
namespace {

TEST(LrScheduleTest, ConstantIsOneAfterWarmup) {
  LrSchedule s{.kind = LrScheduleKind::kConstant, .warmup = 4, .final_ratio = 0.0, .total = 100};
  EXPECT_DOUBLE_EQ(s.Factor(1), 0.25);
  EXPECT_DOUBLE_EQ(s.Factor(2), 0.5);
  EXPECT_DOUBLE_EQ(s.Factor(4), 1.0);
  EXPECT_DOUBLE_EQ(s.Factor(5), 1.0);
  EXPECT_DOUBLE_EQ(s.Factor(100), 1.0);
  EXPECT_DOUBLE_EQ(LrSchedule{}.Factor(1), 1.0);
}

TEST(LrScheduleTest, CosineFromOneToFinalRatio) {
  // 10 warm-up steps, then 101 decay steps: step 11 is t = 0, step 61 is t = 1/2, step 111 is t = 1.
  LrSchedule s{.kind = LrScheduleKind::kCosine, .warmup = 10, .final_ratio = 0.1, .total = 111};
  EXPECT_DOUBLE_EQ(s.Factor(5), 0.5);
  EXPECT_DOUBLE_EQ(s.Factor(10), 1.0);
  EXPECT_DOUBLE_EQ(s.Factor(11), 1.0);
  EXPECT_NEAR(s.Factor(61), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(s.Factor(36), 0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-12);
  EXPECT_NEAR(s.Factor(111), 0.1, 1e-12);
  EXPECT_NEAR(s.Factor(500), 0.1, 1e-12);  // past the end: the last factor
  for (int64_t step = 11; step < 111; ++step) EXPECT_GE(s.Factor(step), s.Factor(step + 1)) << step;
}

TEST(LrScheduleTest, LinearFromOneToFinalRatio) {
  LrSchedule s{.kind = LrScheduleKind::kLinear, .warmup = 0, .final_ratio = 0.0, .total = 5};
  EXPECT_DOUBLE_EQ(s.Factor(1), 1.0);
  EXPECT_DOUBLE_EQ(s.Factor(2), 0.75);
  EXPECT_DOUBLE_EQ(s.Factor(3), 0.5);
  EXPECT_DOUBLE_EQ(s.Factor(5), 0.0);
  EXPECT_DOUBLE_EQ(s.Factor(0), 1.0);  // before the first step: the first factor
}

TEST(LrScheduleTest, ARunOfOneStepTakesItAtTheFullRate) {
  LrSchedule s{.kind = LrScheduleKind::kCosine, .warmup = 0, .final_ratio = 0.0, .total = 1};
  EXPECT_DOUBLE_EQ(s.Factor(1), 1.0);
}

TEST(LrScheduleTest, ParsesKindsAndRefusesOthers) {
  EXPECT_EQ(ParseName<LrScheduleKind>("cosine"), LrScheduleKind::kCosine);
  EXPECT_EQ(ParseName<LrScheduleKind>("linear"), LrScheduleKind::kLinear);
  EXPECT_EQ(ParseName<LrScheduleKind>("constant"), LrScheduleKind::kConstant);
  EXPECT_FALSE(ParseName<LrScheduleKind>("step").has_value());
}

}  // namespace
}  // namespace mtrec
