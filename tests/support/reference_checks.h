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
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

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

// The tie rule of the value and uplift metrics written out: each row's weight among the first i rows by score, high
// to low. With v the i-th highest score, a row above v counts 1, a row at v counts (i − #{s > v}) / #{s = v} (its
// tie group's places above the cut, shared evenly), a row below 0. Σ_r weight_r x_r is then the cumulative sum
// over the first i rows that grows linearly within a tie group. O(n log n) per call.
inline std::vector<double> TopWeights(const std::vector<float>& scores, size_t i) {
  std::vector<double> weights(scores.size(), 0.0);
  if (i == 0) return weights;
  std::vector<float> sorted = scores;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  const float v = sorted[i - 1];
  double above = 0, tied = 0;
  for (float s : scores) above += s > v, tied += s == v;
  for (size_t r = 0; r < scores.size(); ++r)
    weights[r] = scores[r] > v ? 1.0 : scores[r] == v ? (i - above) / tied : 0.0;
  return weights;
}

// Σ of values over the first i rows by score, ties by TopWeights.
inline double TopSum(const std::vector<float>& scores, const std::vector<double>& values, size_t i) {
  const std::vector<double> weights = TopWeights(scores, i);
  double sum = 0.0;
  for (size_t r = 0; r < values.size(); ++r) sum += weights[r] * values[r];
  return sum;
}

// Calls visit(order) for every order of the rows that sorts them by score, high to low (tied rows in every order
// among themselves), and returns how many there were: the mean of a metric over these is its expectation under a
// random order of tied rows. n! work: a handful of rows only.
inline int ForEachTiedOrder(const std::vector<float>& scores,
                            const std::function<void(const std::vector<size_t>&)>& visit) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  int orders = 0;
  do {
    bool sorted = true;
    for (size_t p = 1; p < order.size(); ++p) sorted = sorted && scores[order[p - 1]] >= scores[order[p]];
    if (!sorted) continue;
    visit(order);
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  return orders;
}

}  // namespace mtrec
