#include "common/math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mtrec {
namespace {

TEST(MathTest, SigmoidIsStableAtTheExtremes) {
  EXPECT_FLOAT_EQ(Sigmoid(0.f), 0.5f);
  EXPECT_FLOAT_EQ(Sigmoid(2.f), 1.f / (1.f + std::exp(-2.f)));
  EXPECT_FLOAT_EQ(Sigmoid(-2.f), static_cast<float>(1 / (1 + std::exp(2.0))));
  EXPECT_EQ(Sigmoid(200.f), 1.f);
  EXPECT_GT(Sigmoid(-100.f), 0.f);  // e^-100 is representable; 1/(1+e^100) computed naively would give 0
  EXPECT_FALSE(std::isnan(Sigmoid(-1000.f)));
  EXPECT_EQ(Sigmoid(-1000.f), 0.f);
}

}  // namespace
}  // namespace mtrec
