// The customer value metrics against references written from their definitions alone: every position's Lorenz
// value summed over the rows with the tie rule spelled out per row (support/reference_checks.h), ranks counted by
// comparing every pair, each row's decile from the number of rows before it. Then small cases computed by hand.

#include "eval/value_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/error.h"
#include "support/reference_checks.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------------------------
// References. Each takes the rows with an actual only.

struct Rows {
  std::vector<float> predicted;
  std::vector<double> actual;
};

Rows WithActual(const std::vector<float>& predicted, const std::vector<float>& actual) {
  Rows rows;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(actual[i])) continue;
    rows.predicted.push_back(predicted[i]);
    rows.actual.push_back(actual[i]);
  }
  return rows;
}

double Total(const std::vector<double>& values) {
  double total = 0.0;
  for (double v : values) total += v;
  return total;
}

// gini(s) = (1/n) Σ_{i=1..n} L(i) − (n+1)/(2n), L(i) = (Σ a over the first i rows by s, high to low) / Σ a.
double ReferenceGini(const std::vector<float>& scores, const std::vector<double>& actual) {
  const double n = static_cast<double>(actual.size()), total = Total(actual);
  double lorenz = 0.0;
  for (size_t i = 1; i <= actual.size(); ++i) lorenz += TopSum(scores, actual, i) / total;
  return lorenz / n - (n + 1) / (2 * n);
}

double ReferenceNormalizedGini(const Rows& rows) {
  const std::vector<float> by_actual(rows.actual.begin(), rows.actual.end());
  return ReferenceGini(rows.predicted, rows.actual) / ReferenceGini(by_actual, rows.actual);
}

// Rank of x_i among xs, 1-based, tied values sharing the mean of their ranks: 1 + #{x_j < x_i} + #{j ≠ i: x_j = x_i}
// / 2.
template <typename T>
std::vector<double> ReferenceRanks(const std::vector<T>& xs) {
  std::vector<double> ranks;
  for (size_t i = 0; i < xs.size(); ++i) {
    double below = 0, tied_others = 0;
    for (size_t j = 0; j < xs.size(); ++j) below += xs[j] < xs[i], tied_others += j != i && xs[j] == xs[i];
    ranks.push_back(1 + below + tied_others / 2);
  }
  return ranks;
}

double ReferencePearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size()), mean_x = Total(x) / n, mean_y = Total(y) / n;
  double xy = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    xy += (x[i] - mean_x) * (y[i] - mean_y), xx += (x[i] - mean_x) * (x[i] - mean_x);
    yy += (y[i] - mean_y) * (y[i] - mean_y);
  }
  return xy / std::sqrt(xx * yy);
}

// Decile of each row: its position in the ascending order of s, ties by row order, is #{s_j < s_i} + #{j < i:
// s_j = s_i}; the decile is floor(10 · position / n).
std::vector<DecileRow> ReferenceDeciles(const Rows& rows) {
  const size_t n = rows.actual.size();
  std::vector<DecileRow> deciles(10);
  std::vector<double> predicted(10, 0.0), actual(10, 0.0);
  for (size_t i = 0; i < n; ++i) {
    size_t position = 0;
    for (size_t j = 0; j < n; ++j) {
      position += rows.predicted[j] < rows.predicted[i] || (j < i && rows.predicted[j] == rows.predicted[i]);
    }
    const size_t d = 10 * position / n;
    ++deciles[d].rows, predicted[d] += rows.predicted[i], actual[d] += rows.actual[i];
  }
  for (size_t d = 0; d < 10; ++d) {
    deciles[d].mean_predicted = predicted[d] / deciles[d].rows;
    deciles[d].mean_actual = actual[d] / deciles[d].rows;
  }
  return deciles;
}

// max_d |mean predicted_d / mean actual_d − 1| over the deciles with mean actual_d > 0; NaN without one.
double ReferenceMaxRelError(const std::vector<DecileRow>& deciles) {
  std::vector<double> errors;
  for (const DecileRow& d : deciles) {
    if (d.mean_actual > 0) errors.push_back(std::abs(d.mean_predicted / d.mean_actual - 1));
  }
  return errors.empty() ? kNaN : *std::max_element(errors.begin(), errors.end());
}

// Σ a over the top ceil(k% · n) rows by s / Σ a.
double ReferenceTopShare(const Rows& rows, int percent) {
  const size_t m = static_cast<size_t>(std::ceil(percent * rows.actual.size() / 100.0));
  return TopSum(rows.predicted, rows.actual, m) / Total(rows.actual);
}

// Predictions with `distinct` values (many ties), or continuous ones for 0; actual values with 10% missing, 40%
// zero and the rest related to the prediction, whole numbers when `whole` (ties on the actual side too).
std::pair<std::vector<float>, std::vector<float>> RandomValues(TestRng& rng, size_t n, uint64_t distinct, bool whole) {
  std::vector<float> predicted, actual;
  for (size_t i = 0; i < n; ++i) {
    const double s = distinct ? static_cast<double>(rng.Below(distinct)) : 50 * rng.Uniform();
    predicted.push_back(static_cast<float>(s));
    const double u = rng.Uniform();
    double a = u < 0.1 ? kNaN : u < 0.5 ? 0.0 : s * rng.Uniform() * 3 + 20 * rng.Uniform();
    if (whole) a = std::floor(a);
    actual.push_back(static_cast<float>(a));
  }
  return {predicted, actual};
}

// ---------------------------------------------------------------------------------------------------------------

TEST(ValueMetricsTest, MatchesTheReferencesOnRandomDataWithAndWithoutTies) {
  const std::vector<int> percents = {1, 10, 30, 50, 100};
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    for (uint64_t distinct : {0, 3, 25}) {
      for (bool whole : {false, true}) {
        TestRng rng(seed * 100 + distinct);
        const auto [predicted, actual] = RandomValues(rng, 240, distinct, whole);
        const std::string what =
            "seed " + std::to_string(seed) + " distinct " + std::to_string(distinct) + (whole ? " whole" : "");
        const Rows rows = WithActual(predicted, actual);
        const ValueMetrics fast = ComputeValueMetrics(predicted, actual, percents);
        EXPECT_EQ(fast.rows, static_cast<int64_t>(rows.actual.size())) << what;
        ExpectClose(fast.gini, ReferenceNormalizedGini(rows), 1e-10, what + " gini");
        ExpectClose(NormalizedGini(predicted, actual), fast.gini, 0, what + " NormalizedGini");
        ExpectClose(fast.spearman, ReferencePearson(ReferenceRanks(rows.predicted), ReferenceRanks(rows.actual)), 1e-10,
                    what + " spearman");
        ExpectClose(Spearman(predicted, actual), fast.spearman, 0, what + " Spearman");
        const std::vector<DecileRow> deciles = ReferenceDeciles(rows);
        ASSERT_EQ(fast.deciles.size(), 10u);
        for (size_t d = 0; d < 10; ++d) {
          EXPECT_EQ(fast.deciles[d].rows, deciles[d].rows) << what << " decile " << d;
          ExpectClose(fast.deciles[d].mean_predicted, deciles[d].mean_predicted, 1e-10, what + " predicted");
          ExpectClose(fast.deciles[d].mean_actual, deciles[d].mean_actual, 1e-10, what + " actual");
        }
        ExpectClose(fast.decile_max_rel_error, ReferenceMaxRelError(deciles), 1e-10, what + " decile error");
        ASSERT_EQ(fast.top_share.size(), percents.size());
        for (size_t k = 0; k < percents.size(); ++k) {
          EXPECT_EQ(fast.top_share[k].percent, percents[k]);
          ExpectClose(fast.top_share[k].share, ReferenceTopShare(rows, percents[k]), 1e-10,
                      what + " top " + std::to_string(percents[k]));
        }
      }
    }
  }
}

// The tie rule is the expectation over a random order of tied rows: on a few rows, the mean of the Lorenz figures
// over every order that sorts them by prediction.
TEST(ValueMetricsTest, TiesAreTheMeanOverEveryOrderOfTheTiedRows) {
  // Three rows at 2, three at 1, one at 0: the top 20% (ceil(1.4) = 2 rows), 50% (4) and 60% (5) all cut a group.
  const std::vector<float> predicted = {2, 1, 2, 0, 1, 2, 1};
  const std::vector<float> actual = {5, 0, 1, 7, 2, 3, 4};
  const std::vector<int> percents = {20, 50, 60};
  const std::vector<size_t> cuts = {2, 4, 5};
  const std::vector<double> a(actual.begin(), actual.end());
  const double n = 7, total = Total(a);
  double gini_sum = 0;
  std::vector<double> share_sums(cuts.size(), 0.0);
  const int orders = ForEachTiedOrder(predicted, [&](const std::vector<size_t>& order) {
    double cumulative = 0, lorenz = 0;
    for (size_t p = 0; p < order.size(); ++p) {
      cumulative += a[order[p]];
      lorenz += cumulative / total;
      for (size_t k = 0; k < cuts.size(); ++k) share_sums[k] += p + 1 == cuts[k] ? cumulative / total : 0.0;
    }
    gini_sum += lorenz / n - (n + 1) / (2 * n);
  });
  EXPECT_EQ(orders, 3 * 2 * 1 * 3 * 2 * 1);
  const std::vector<float> by_actual(actual.begin(), actual.end());
  const ValueMetrics fast = ComputeValueMetrics(predicted, actual, percents);
  EXPECT_NEAR(fast.gini, gini_sum / orders / ReferenceGini(by_actual, a), 1e-12);
  for (size_t k = 0; k < cuts.size(); ++k) {
    EXPECT_NEAR(fast.top_share[k].share, share_sums[k] / orders, 1e-12) << "top " << percents[k] << "%";
  }
}

TEST(ValueMetricsTest, HandComputedGini) {
  const std::vector<float> actual = {1, 2, 3, 4};
  // By a itself (4, 3, 2, 1 from the top): L = 0.4, 0.7, 0.9, 1.0, Σ L = 3, gini(a) = 3/4 − 5/8 = 0.125.
  // Any order-preserving transform of a ranks alike: normalised 1.
  EXPECT_DOUBLE_EQ(NormalizedGini(actual, actual), 1.0);
  EXPECT_DOUBLE_EQ(NormalizedGini(std::vector<float>{10, 20, 30, 1000}, actual), 1.0);
  // Reversed (1, 2, 3, 4 from the top): L = 0.1, 0.3, 0.6, 1.0, Σ L = 2, gini = 2/4 − 5/8 = −0.125: −1.
  EXPECT_DOUBLE_EQ(NormalizedGini(std::vector<float>{4, 3, 2, 1}, actual), -1.0);
  // A constant prediction: one tie group, L(i) = i/4, Σ L = 2.5, gini = 0.625 − 0.625 = 0.
  EXPECT_NEAR(NormalizedGini(std::vector<float>{7, 7, 7, 7}, actual), 0.0, 1e-15);
  // s = (1, 1, 0, 0): the group {1, 2} (Σ 3) first, then {3, 4} (Σ 7); within each the sum grows linearly:
  // cumulative 1.5, 3, 6.5, 10, Σ L = 2.1, gini = 0.525 − 0.625 = −0.1, normalised −0.1 / 0.125 = −0.8.
  EXPECT_NEAR(NormalizedGini(std::vector<float>{1, 1, 0, 0}, actual), -0.8, 1e-12);
  // Undefined: no actual total, a constant actual (gini(a) = 0), no rows.
  EXPECT_TRUE(std::isnan(NormalizedGini(std::vector<float>{1, 2}, std::vector<float>{0, 0})));
  EXPECT_TRUE(std::isnan(NormalizedGini(std::vector<float>{1, 2}, std::vector<float>{3, 3})));
  EXPECT_TRUE(std::isnan(NormalizedGini(std::vector<float>{1, 2}, std::vector<float>{kMissing, kMissing})));
}

TEST(ValueMetricsTest, HandComputedSpearman) {
  // A monotone transform has the same ranks: 1; reversed: −1.
  EXPECT_DOUBLE_EQ(Spearman(std::vector<float>{1, 5, 9, 100}, std::vector<float>{0, 1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(Spearman(std::vector<float>{3, 2, 1, 0}, std::vector<float>{0, 1, 2, 3}), -1.0);
  // s = (1, 2, 2, 3): ranks 1, 2.5, 2.5, 4; a = (1, 2, 3, 4): ranks 1..4; both mean 2.5. Deviations (−1.5, 0, 0,
  // 1.5) and (−1.5, −0.5, 0.5, 1.5): covariance sum 4.5, squares 4.5 and 5, so r = 4.5 / sqrt(22.5) = sqrt(0.9).
  EXPECT_NEAR(Spearman(std::vector<float>{1, 2, 2, 3}, std::vector<float>{1, 2, 3, 4}), std::sqrt(0.9), 1e-15);
  EXPECT_TRUE(std::isnan(Spearman(std::vector<float>{1}, std::vector<float>{1})));
  EXPECT_TRUE(std::isnan(Spearman(std::vector<float>{1, 1, 1}, std::vector<float>{1, 2, 3})));
}

TEST(ValueMetricsTest, HandComputedDecilesAndTopShares) {
  // 20 rows, s = i, a = 2i: decile d holds s = 2d, 2d + 1, mean predicted 2d + 0.5 and mean actual 4d + 1, half of
  // it in every decile: decile_max_rel_error = |0.5 − 1| = 0.5.
  std::vector<float> predicted, actual;
  for (int i = 0; i < 20; ++i) predicted.push_back(i), actual.push_back(2 * i);
  const ValueMetrics m = ComputeValueMetrics(predicted, actual, std::vector<int>{});
  for (int d = 0; d < 10; ++d) {
    EXPECT_EQ(m.deciles[d].rows, 2);
    EXPECT_DOUBLE_EQ(m.deciles[d].mean_predicted, 2 * d + 0.5);
    EXPECT_DOUBLE_EQ(m.deciles[d].mean_actual, 4 * d + 1);
  }
  EXPECT_DOUBLE_EQ(m.decile_max_rel_error, 0.5);
  // The deciles split ties by row order: with s constant, rows 0-1 are decile 0 whatever their actual.
  const ValueMetrics tied = ComputeValueMetrics(std::vector<float>(20, 1.f), actual, std::vector<int>{});
  EXPECT_DOUBLE_EQ(tied.deciles[0].mean_actual, 1.0);  // (0 + 2) / 2
  // Fewer rows than deciles: 5 rows fill deciles 0, 2, 4, 6, 8 (floor(10 i / 5) = 2i); the others are empty.
  const ValueMetrics few =
      ComputeValueMetrics(std::vector<float>{1, 2, 3, 4, 5}, std::vector<float>{1, 2, 3, 4, 5}, std::vector<int>{});
  EXPECT_EQ(few.deciles[2].rows, 1);
  EXPECT_EQ(few.deciles[3].rows, 0);
  EXPECT_TRUE(std::isnan(few.deciles[3].mean_actual));
  EXPECT_DOUBLE_EQ(few.decile_max_rel_error, 0.0);

  // a = (1, 2, 3, 4) ranked by itself, Σ 10: the top 10% is ceil(0.4) = 1 row (4: 0.4), the top 30% ceil(1.2) = 2
  // rows (4 + 3: 0.7), 50% 2 rows (0.7), 100% every row (1). A constant prediction holds half at 50%.
  const std::vector<float> a = {1, 2, 3, 4};
  const ValueMetrics shares = ComputeValueMetrics(a, a, std::vector<int>{10, 30, 50, 100});
  EXPECT_DOUBLE_EQ(shares.top_share[0].share, 0.4);
  EXPECT_DOUBLE_EQ(shares.top_share[1].share, 0.7);
  EXPECT_DOUBLE_EQ(shares.top_share[2].share, 0.7);
  EXPECT_DOUBLE_EQ(shares.top_share[3].share, 1.0);
  EXPECT_DOUBLE_EQ(ComputeValueMetrics(std::vector<float>(4, 0.f), a, std::vector<int>{50}).top_share[0].share, 0.5);
  EXPECT_TRUE(std::isnan(
      ComputeValueMetrics(a, std::vector<float>(4, 0.f), std::vector<int>{50}).top_share[0].share));  // Σ a = 0
}

TEST(ValueMetricsTest, RowsWithoutAnActualAreSkippedWhateverTheirPrediction) {
  const std::vector<float> predicted = {3, 1, 2, 4, kMissing, 9};
  const std::vector<float> actual = {5, 1, 0, 6, kMissing, kMissing};
  const ValueMetrics with = ComputeValueMetrics(predicted, actual, std::vector<int>{50});
  const ValueMetrics without =
      ComputeValueMetrics(std::vector<float>{3, 1, 2, 4}, std::vector<float>{5, 1, 0, 6}, std::vector<int>{50});
  EXPECT_EQ(with.rows, 4);
  EXPECT_DOUBLE_EQ(with.gini, without.gini);
  EXPECT_DOUBLE_EQ(with.spearman, without.spearman);
  EXPECT_DOUBLE_EQ(with.top_share[0].share, without.top_share[0].share);
  EXPECT_EQ(with.deciles[9].rows, without.deciles[9].rows);
}

TEST(ValueMetricsTest, InvalidInputSaysWhatIsWrong) {
  const std::vector<float> three = {1, 2, 3}, two = {1, 2};
  EXPECT_NE(ErrorOf([&] { ComputeValueMetrics(three, two, std::vector<int>{}); }).find("3 predictions but 2 actual"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              NormalizedGini(std::vector<float>{1, kMissing}, two);
            }).find("NormalizedGini: prediction at row 1 is NaN"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ComputeValueMetrics(two, two, std::vector<int>{10, 0}); }).find("top 0%"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { ComputeValueMetrics(two, two, std::vector<int>{101}); }).find("top 101%"), std::string::npos);
}

}  // namespace
}  // namespace mtrec
