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

TEST(MathTest, NormalQuantileInvertsTheNormalCdf) {
  // Φ(x) = erfc(−x/√2)/2, computed independently of the approximation; the tails in relative terms.
  for (double p : {1e-300, 1e-12, 1e-6, 0.001, 0.02, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975, 0.999, 1 - 1e-9}) {
    const double x = NormalQuantile(p);
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    EXPECT_NEAR(cdf / p, 1.0, 1e-12) << "p " << p;
  }
  EXPECT_DOUBLE_EQ(NormalQuantile(0.5), 0.0);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-14);  // the textbook 1.96
  EXPECT_EQ(NormalQuantile(0.0), -INFINITY);
  EXPECT_EQ(NormalQuantile(1.0), INFINITY);
  EXPECT_TRUE(std::isnan(NormalQuantile(1.5)));
  EXPECT_TRUE(std::isnan(NormalQuantile(NAN)));
}

TEST(MathTest, InverseSoftplus) {
  for (double y : {1e-6, 0.01, 0.5, 1.0, 3.0, 19.9, 20.1, 60.0}) {
    const double x = InverseSoftplus(y);
    const double back = x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    EXPECT_NEAR(back / y, 1.0, 1e-12) << "y " << y;
  }
}

}  // namespace
}  // namespace mtrec
