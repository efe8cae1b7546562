// The row passes of int8 scoring (nn/int8_rows.h) on any CPU, against plain scalar references: every length
// around the 16-wide vectors (the vector body and the scalar tail must agree), ties rounded to even, NaN and
// infinities found wherever they sit, rows of zeros or of values too small to scale.
#include "nn/int8_rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/rng.h"

namespace mtrec {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(Int8RowsTest, TheLargestMagnitudeOfEveryLengthAndWhereverItSits) {
  Rng rng(5);
  for (int64_t n : {0, 1, 15, 16, 17, 31, 32, 33, 40, 257}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = static_cast<float>(2 * rng.Uniform() - 1);
    for (int64_t at = 0; at < n; ++at) {
      std::vector<float> y = x;
      y[at] = -3.5f;  // the largest, negative, in the vector body or the tail
      EXPECT_EQ(AbsMaxRow(y.data(), n), 3.5f) << "n " << n << " at " << at;
    }
    if (n == 0) {
      EXPECT_EQ(AbsMaxRow(x.data(), 0), 0.f);
    }
  }
}

TEST(Int8RowsTest, ANaNOrAnInfinityAnywhereMakesTheRowNaN) {
  for (int64_t n : {1, 16, 17, 40}) {
    for (int64_t at = 0; at < n; ++at) {
      for (float bad : {kNaN, kInf, -kInf}) {
        std::vector<float> x(static_cast<size_t>(n), 0.25f);
        x[at] = bad;
        EXPECT_TRUE(std::isnan(AbsMaxRow(x.data(), n))) << "n " << n << " at " << at << " value " << bad;
      }
    }
  }
}

TEST(Int8RowsTest, RowScales) {
  EXPECT_EQ(RowScale(127.f), 1.f);
  EXPECT_EQ(RowScale(0.f), 1.f);  // a row of zeros quantises to zeros
  EXPECT_EQ(RowScale(std::numeric_limits<float>::min()), 1.f);  // too small to divide by
  EXPECT_FLOAT_EQ(RowScale(2.54f), 0.02f);
  EXPECT_TRUE(std::isnan(RowScale(kNaN)));
}

// Round to nearest, ties to even, within [-127, 127]: the reference, written out.
int Reference(float x, float inverse_scale) {
  const double y = std::min(std::max(double(x * inverse_scale), -127.0), 127.0);
  const double down = std::floor(y);
  if (y - down != 0.5) return static_cast<int>(std::lround(y));
  return static_cast<int>(std::fmod(down, 2.0) == 0 ? down : down + 1);
}

TEST(Int8RowsTest, QuantisationRoundsTiesToEvenInTheVectorsAndTheTailAlike) {
  // Ties and near-ties in every position of rows of 40 (two vectors and a tail of 8).
  const std::vector<float> values = {0.5f,  1.5f,   2.5f,   -0.5f,   -1.5f,   -2.5f, 126.5f, -126.5f,
                                     127.f, 130.f,  -300.f, 0.4999f, 0.5001f, 3.49f, -3.51f, 0.f};
  for (size_t shift = 0; shift < values.size(); ++shift) {
    std::vector<float> x(40);
    for (size_t i = 0; i < x.size(); ++i) x[i] = values[(i + shift) % values.size()];
    std::vector<int8_t> q(x.size());
    QuantiseRow(x.data(), q.data(), static_cast<int64_t>(x.size()), 1.f);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(q[i], Reference(x[i], 1.f)) << x[i] << " at " << i;
  }
  // And scaled random rows of every length.
  Rng rng(8);
  for (int64_t n : {1, 15, 16, 17, 33, 100}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = static_cast<float>(6 * rng.Uniform() - 3);
    const float inverse = 127.f / AbsMaxRow(x.data(), n);
    std::vector<int8_t> q(x.size());
    QuantiseRow(x.data(), q.data(), n, inverse);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(q[i], Reference(x[i], inverse)) << "n " << n << " at " << i;
  }
}

TEST(Int8RowsTest, RescalingAddsTheBiasAndAccumulatesBeforeTheRelu) {
  const std::vector<float> product = {2.f, -3.f, 4.f, -1.f};
  const std::vector<float> scales = {0.5f, 1.f, 0.25f, 2.f};
  const std::vector<float> bias = {1.f, 1.f, -2.f, 0.5f};
  std::vector<float> y = {10.f, 10.f, 10.f, 10.f};
  RescaleRow(product.data(), 2.f, scales.data(), bias.data(), y.data(), 4, /*accumulate=*/true, /*relu=*/false);
  EXPECT_EQ(y, (std::vector<float>{13.f, 5.f, 10.f, 6.5f}));
  RescaleRow(product.data(), 2.f, scales.data(), nullptr, y.data(), 4, /*accumulate=*/false, /*relu=*/true);
  EXPECT_EQ(y, (std::vector<float>{2.f, 0.f, 2.f, 0.f}));
}

}  // namespace
}  // namespace mtrec
