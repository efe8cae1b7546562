// Helpers of the tests that check a metric against a slow reference: reproducible random draws, and comparison
// with a tolerance that treats two NaNs as equal (an undefined metric must stay undefined).
//
//   TestRng rng(seed);
//   float score = static_cast<float>(rng.Below(5));          // few distinct values: many ties
//   ExpectClose(fast.auc, ReferenceAuc(scores, labels), 1e-12, "auc");
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

namespace mtrec {

// mt19937_64's raw output is fixed by the standard, so these draws (unlike <random>'s distributions) are the
// same on every platform and a failing seed reproduces anywhere.
class TestRng {
 public:
  explicit TestRng(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return engine_() % n; }  // modulo bias is irrelevant here

 private:
  std::mt19937_64 engine_;
};

// Equal when both are NaN; otherwise within tolerance (absolute, or relative to |expected| when larger than 1).
inline void ExpectClose(double actual, double expected, double tolerance, const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": expected NaN, got " << actual;
    return;
  }
  EXPECT_FALSE(std::isnan(actual)) << what << ": expected " << expected << ", got NaN";
  EXPECT_NEAR(actual, expected, tolerance * std::max(1.0, std::abs(expected))) << what;
}

}  // namespace mtrec
