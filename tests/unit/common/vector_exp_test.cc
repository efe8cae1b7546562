#include "common/vector_exp.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace mtrec {
namespace {

// Against e^x in double, rounded to float: at most 1 ulp apart over [-87.3, 88], sampled every 2^-10 (180,000
// points, every binade of the reduced argument) and at the ends.
TEST(VectorExpTest, WithinOneUlpOfTheCorrectlyRoundedValue) {
  int worst_ulp = 0;
  float worst_x = 0.f;
  const auto check = [&](float x) {
    const float expected = static_cast<float>(std::exp(static_cast<double>(x)));
    const float got = VectorExp(x);
    ASSERT_TRUE(std::isfinite(got)) << x;
    ASSERT_GT(got, 0.f) << x;
    const int ulp = std::abs(std::bit_cast<int32_t>(got) - std::bit_cast<int32_t>(expected));
    if (ulp > worst_ulp) worst_ulp = ulp, worst_x = x;
  };
  for (int64_t i = -89395; i <= 90112; ++i) check(static_cast<float>(i) / 1024.f);
  for (float x : {0.f, -0.f, 1e-8f, -1e-8f, 1.f, -1.f, 0.34657359f, -0.34657359f, -87.3f, 88.f}) check(x);
  EXPECT_LE(worst_ulp, 1) << "at x = " << worst_x;
  EXPECT_EQ(VectorExp(0.f), 1.f);
}

// Outside the range the argument is clamped: no infinity, no NaN from the exponent bits.
TEST(VectorExpTest, ClampsOutsideTheFloatRange) {
  EXPECT_EQ(VectorExp(1000.f), VectorExp(88.f));
  EXPECT_EQ(VectorExp(-1000.f), VectorExp(-87.3f));
  EXPECT_LT(VectorExp(-1000.f), 1.3e-38f);
  EXPECT_TRUE(std::isfinite(VectorExp(1e30f)));
  EXPECT_TRUE(std::isnan(VectorExp(std::nanf(""))));
}

}  // namespace
}  // namespace mtrec
