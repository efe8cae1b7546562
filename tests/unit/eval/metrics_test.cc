#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "support/reference_checks.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// The definition of AUC itself, by counting every (positive, negative) pair: O(n^2), so independent of the
// sort-and-rank shortcut it checks.
double BruteForceAuc(const std::vector<float>& scores, const std::vector<float>& labels) {
  double won = 0.0;
  int64_t pairs = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (std::isnan(labels[i]) || labels[i] != 1.0f) continue;
    for (size_t j = 0; j < labels.size(); ++j) {
      if (std::isnan(labels[j]) || labels[j] != 0.0f) continue;
      ++pairs;
      if (scores[i] > scores[j]) {
        won += 1.0;
      } else if (scores[i] == scores[j]) {
        won += 0.5;
      }
    }
  }
  return pairs == 0 ? std::numeric_limits<double>::quiet_NaN() : won / static_cast<double>(pairs);
}

// Rows with scores on a coarse grid (so many ties), a given positive rate and some missing labels.
std::pair<std::vector<float>, std::vector<float>> RandomRows(TestRng& rng, size_t n, uint64_t distinct_scores,
                                                             double positive_rate, double missing_rate) {
  std::vector<float> scores(n);
  std::vector<float> labels(n);
  for (size_t i = 0; i < n; ++i) {
    scores[i] = static_cast<float>(rng.Below(distinct_scores)) / static_cast<float>(distinct_scores);
    if (rng.Uniform() < missing_rate) {
      labels[i] = kMissing;
    } else {
      // Tie the label loosely to the score so AUCs spread away from 0.5.
      const double p = 0.5 * positive_rate + 0.5 * positive_rate * 2.0 * scores[i];
      labels[i] = rng.Uniform() < p ? 1.0f : 0.0f;
    }
  }
  return {scores, labels};
}

TEST(AucTest, HandComputedCases) {
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.1f, 0.2f, 0.8f, 0.9f}, std::vector<float>{0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.9f, 0.8f, 0.2f, 0.1f}, std::vector<float>{0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, std::vector<float>{0, 1, 0, 1}), 0.5);
  // Pairs (p, n): (0.8, 0.3) win, (0.8, 0.5) win, (0.4, 0.3) win, (0.4, 0.5) lose: 3/4.
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.3f, 0.8f, 0.5f, 0.4f}, std::vector<float>{0, 1, 0, 1}), 0.75);
  // One tie among four pairs: (0.5, 0.5) counts 1/2, (0.5, 0.2) wins, (0.9, *) both win: 3.5 / 4.
  EXPECT_DOUBLE_EQ(Auc(std::vector<float>{0.5f, 0.9f, 0.5f, 0.2f}, std::vector<float>{1, 1, 0, 0}), 0.875);
}

TEST(AucTest, SkipsMissingLabelsWhateverTheirScore) {
  // Without the skip, the NaN-labelled rows would count as something and change the value; their NaN score
  // must not be read either.
  const std::vector<float> scores{0.1f, 0.99f, 0.9f, std::numeric_limits<float>::quiet_NaN(), 0.2f};
  const std::vector<float> labels{0, kMissing, 1, kMissing, 1};
  EXPECT_DOUBLE_EQ(Auc(scores, labels), 1.0);
}

TEST(AucTest, OneClassOrNoRowsIsNaN) {
  EXPECT_TRUE(std::isnan(Auc(std::vector<float>{}, std::vector<float>{})));
  EXPECT_TRUE(std::isnan(Auc(std::vector<float>{0.3f}, std::vector<float>{1})));
  EXPECT_TRUE(std::isnan(Auc(std::vector<float>{0.3f, 0.7f, 0.1f}, std::vector<float>{0, 0, 0})));
  EXPECT_TRUE(std::isnan(Auc(std::vector<float>{0.3f, 0.7f, 0.1f}, std::vector<float>{1, kMissing, 1})));
  EXPECT_TRUE(std::isnan(Auc(std::vector<float>{0.3f, 0.7f}, std::vector<float>{kMissing, kMissing})));
}

TEST(AucTest, MatchesPairwiseDefinitionOnRandomTiedData) {
  const std::vector<size_t> sizes{1, 2, 3, 5, 8, 17, 64, 257, 1000};
  const std::vector<uint64_t> grids{1, 2, 3, 7, 100, 1u << 20};
  int defined = 0;
  int undefined = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    TestRng rng(seed);
    for (size_t n : sizes) {
      for (uint64_t grid : grids) {
        const double positive_rate = 0.05 + 0.9 * rng.Uniform();
        const double missing_rate = (seed % 3 == 0) ? 0.0 : 0.3 * rng.Uniform();
        const auto [scores, labels] = RandomRows(rng, n, grid, positive_rate, missing_rate);
        const double expected = BruteForceAuc(scores, labels);
        const double actual = Auc(scores, labels);
        SCOPED_TRACE("seed " + std::to_string(seed) + " n " + std::to_string(n) + " grid " + std::to_string(grid));
        if (std::isnan(expected)) {
          EXPECT_TRUE(std::isnan(actual)) << actual;
          ++undefined;
        } else {
          EXPECT_NEAR(actual, expected, 1e-9);
          ++defined;
        }
      }
    }
  }
  // Both branches must really have been exercised for the comparison to mean anything.
  EXPECT_GT(defined, 1000);
  EXPECT_GT(undefined, 50);
}

TEST(AucTest, AllOneClassOnRandomDataIsNaN) {
  TestRng rng(7);
  for (float label : {0.0f, 1.0f}) {
    std::vector<float> scores(100);
    std::vector<float> labels(100, label);
    for (auto& s : scores) s = static_cast<float>(rng.Uniform());
    labels[10] = kMissing;
    EXPECT_TRUE(std::isnan(Auc(scores, labels)));
  }
}

TEST(AucTest, MillionRowsIsExactAndFast) {
  // Positives at even ranks, negatives at odd ranks, presented shuffled. The positive of rank 2k beats the k
  // negatives below it, so U = sum_{k<m} k = m(m-1)/2 with m = n/2 of each class, and AUC = (m-1) / (2m).
  const size_t n = 1'000'000;
  const size_t m = n / 2;
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  TestRng rng(3);
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.Below(i + 1)]);
  std::vector<float> scores(n);
  std::vector<float> labels(n);
  for (size_t i = 0; i < n; ++i) {
    scores[i] = static_cast<float>(order[i]);  // integers below 2^24 are exact in float
    labels[i] = (order[i] % 2 == 0) ? 1.0f : 0.0f;
  }
  const auto start = std::chrono::steady_clock::now();
  const double auc = Auc(scores, labels);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NEAR(auc, static_cast<double>(m - 1) / static_cast<double>(2 * m), 1e-12);
  // Generous enough for sanitizer builds; a quadratic algorithm would take hours.
  EXPECT_LT(seconds, 5.0);
  RecordProperty("auc_1m_seconds", std::to_string(seconds));
}

TEST(AucTest, BadLabelThrowsWithRowAndValue) {
  const std::vector<float> scores{0.1f, 0.2f, 0.3f, 0.4f};
  const std::vector<float> labels{0, kMissing, 1, 2.0f};
  try {
    Auc(scores, labels);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("row 3"), std::string::npos) << message;
    EXPECT_NE(message.find("is 2"), std::string::npos) << message;
  }
  EXPECT_THROW(Auc(scores, std::vector<float>{0, 0.5f, 1, 1}), Error);
  EXPECT_THROW(Auc(scores, std::vector<float>{-1, 0, 1, 1}), Error);
  EXPECT_THROW(Logloss(scores, labels), Error);
  EXPECT_THROW(CountAtThreshold(scores, labels, 0.5), Error);
  EXPECT_THROW(ComputeBinaryMetrics(scores, labels, 0.5), Error);
}

TEST(AucTest, NaNScoreOnLabelledRowThrows) {
  const std::vector<float> scores{0.1f, std::numeric_limits<float>::quiet_NaN(), 0.3f};
  try {
    Auc(scores, std::vector<float>{0, 1, 1});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
}

TEST(MetricsTest, SizeMismatchThrows) {
  const std::vector<float> three{0.1f, 0.2f, 0.3f};
  const std::vector<float> two{0, 1};
  EXPECT_THROW(Auc(three, two), Error);
  EXPECT_THROW(Logloss(three, two), Error);
  EXPECT_THROW(CountAtThreshold(three, two, 0.5), Error);
  EXPECT_THROW(Rmse(three, two), Error);
  EXPECT_THROW(Mae(three, two), Error);
  EXPECT_THROW(ComputeBinaryMetrics(three, two, 0.5), Error);
  EXPECT_THROW(ComputeRegressionMetrics(three, two), Error);
}

TEST(LoglossTest, HandValues) {
  // -(ln 0.8 + ln 0.7 + ln 0.4) / 3; the missing row is skipped.
  const std::vector<float> p{0.8f, 0.3f, 0.4f, 0.01f};
  const std::vector<float> y{1, 0, 1, kMissing};
  const double expected = -(std::log(static_cast<double>(0.8f)) + std::log(1.0 - static_cast<double>(0.3f)) +
                            std::log(static_cast<double>(0.4f))) /
                          3.0;
  EXPECT_NEAR(Logloss(p, y), expected, 1e-12);
  EXPECT_NEAR(Logloss(std::vector<float>{0.5f}, std::vector<float>{1}), std::log(2.0), 1e-15);
}

TEST(LoglossTest, ClipsCertainWrongPredictions) {
  // p = 0 for a positive costs -ln(1e-15) = 34.538776..., not infinity.
  EXPECT_NEAR(Logloss(std::vector<float>{0.0f}, std::vector<float>{1}), 34.538776394910684, 1e-9);
  // p = 1 for a negative is clipped to 1 - 1e-15, whose distance from 1 in double is 1 - (1 - 1e-15).
  EXPECT_NEAR(Logloss(std::vector<float>{1.0f}, std::vector<float>{0}), -std::log(1.0 - (1.0 - 1e-15)), 1e-9);
  EXPECT_NEAR(Logloss(std::vector<float>{1.0f}, std::vector<float>{0}), 34.5395759, 1e-6);
  // Certain right predictions cost about 1e-15, not exactly 0 and not NaN.
  const double right = Logloss(std::vector<float>{1.0f, 0.0f}, std::vector<float>{1, 0});
  EXPECT_GT(right, 0.0);
  EXPECT_LT(right, 1e-14);
  // Mixed: (34.538776... + 0) / 2.
  EXPECT_NEAR(Logloss(std::vector<float>{0.0f, 0.0f}, std::vector<float>{1, 0}), 34.538776394910684 / 2, 1e-9);
}

TEST(LoglossTest, NoValidRowIsNaN) {
  EXPECT_TRUE(std::isnan(Logloss(std::vector<float>{}, std::vector<float>{})));
  EXPECT_TRUE(std::isnan(Logloss(std::vector<float>{0.5f}, std::vector<float>{kMissing})));
}

TEST(CountsTest, HandCountedConfusion) {
  // threshold 0.5, score >= threshold is positive:
  //   0.9/1 tp, 0.6/0 fp, 0.5/1 tp (equal counts as positive), 0.4/1 fn, 0.2/0 tn, 0.1/1 fn, 0.7/NaN skipped.
  const std::vector<float> scores{0.9f, 0.6f, 0.5f, 0.4f, 0.2f, 0.1f, 0.7f};
  const std::vector<float> labels{1, 0, 1, 1, 0, 1, kMissing};
  const BinaryCounts c = CountAtThreshold(scores, labels, 0.5);
  EXPECT_EQ(c.tp, 2);
  EXPECT_EQ(c.fp, 1);
  EXPECT_EQ(c.tn, 1);
  EXPECT_EQ(c.fn, 2);
  EXPECT_EQ(c.Total(), 6);
  EXPECT_DOUBLE_EQ(c.Accuracy(), 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(c.Precision(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.Recall(), 2.0 / 4.0);
  // Harmonic mean of 2/3 and 1/2 = 2 * (1/3) / (7/6) = 4/7.
  EXPECT_DOUBLE_EQ(c.F1(), 4.0 / 7.0);

  const BinaryCounts high = CountAtThreshold(scores, labels, 0.65);
  EXPECT_EQ(high.tp, 1);
  EXPECT_EQ(high.fp, 0);
  EXPECT_EQ(high.tn, 2);
  EXPECT_EQ(high.fn, 3);
  EXPECT_DOUBLE_EQ(high.Precision(), 1.0);
  EXPECT_DOUBLE_EQ(high.Recall(), 0.25);
  EXPECT_DOUBLE_EQ(high.F1(), 2.0 / 5.0);
}

TEST(CountsTest, ZeroOverZeroIsZero) {
  // Nothing predicted positive and no positive present: precision, recall and F1 all 0/0 -> 0.
  const BinaryCounts none = CountAtThreshold(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, 0}, 0.5);
  EXPECT_EQ(none.tn, 2);
  EXPECT_EQ(none.Precision(), 0.0);
  EXPECT_EQ(none.Recall(), 0.0);
  EXPECT_EQ(none.F1(), 0.0);
  EXPECT_EQ(none.Accuracy(), 1.0);
  // No rows at all: accuracy is undefined.
  EXPECT_TRUE(std::isnan(BinaryCounts{}.Accuracy()));
  EXPECT_EQ(BinaryCounts{}.F1(), 0.0);
}

TEST(RegressionTest, RmseAndMaeByHand) {
  // Errors 0.5, 0, (skipped), -2: MSE = 4.25 / 3, MAE = 2.5 / 3.
  const std::vector<float> predictions{1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<float> targets{0.5f, 2.0f, kMissing, 6.0f};
  EXPECT_DOUBLE_EQ(Rmse(predictions, targets), std::sqrt(4.25 / 3.0));
  EXPECT_DOUBLE_EQ(Mae(predictions, targets), 2.5 / 3.0);
  EXPECT_TRUE(std::isnan(Rmse(std::vector<float>{1.0f}, std::vector<float>{kMissing})));
  EXPECT_TRUE(std::isnan(Mae(std::vector<float>{}, std::vector<float>{})));
}

TEST(RegressionTest, CountValidAndMean) {
  const std::vector<float> labels{1, kMissing, 0, 1, kMissing};
  EXPECT_EQ(CountValid(labels), 3);
  EXPECT_DOUBLE_EQ(Mean(labels), 2.0 / 3.0);
  EXPECT_EQ(CountValid(std::vector<float>{kMissing}), 0);
  EXPECT_TRUE(std::isnan(Mean(std::vector<float>{kMissing})));
  EXPECT_DOUBLE_EQ(Mean(std::vector<float>{2.5f, -1.0f, kMissing, 4.0f}), 5.5 / 3.0);
}

TEST(ComputeMetricsTest, BinaryMatchesHandValues) {
  const std::vector<float> scores{0.9f, 0.6f, 0.5f, 0.4f, 0.2f, 0.1f, 0.7f};
  const std::vector<float> labels{1, 0, 1, 1, 0, 1, kMissing};
  const BinaryMetrics m = ComputeBinaryMetrics(scores, labels, 0.5);
  EXPECT_EQ(m.rows, 6);
  EXPECT_DOUBLE_EQ(m.positive_rate, 4.0 / 6.0);
  // Mean of the six labelled scores; the 0.7 of the unlabelled row is left out.
  EXPECT_NEAR(m.mean_prediction, (0.9 + 0.6 + 0.5 + 0.4 + 0.2 + 0.1) / 6.0, 1e-7);
  // Positives 0.9, 0.5, 0.4, 0.1 against negatives 0.6, 0.2: wins 2 + 1 + 1 + 0 = 4 of 8.
  EXPECT_DOUBLE_EQ(m.auc, 0.5);
  EXPECT_DOUBLE_EQ(m.logloss, Logloss(scores, labels));
  EXPECT_NEAR(m.logloss,
              -(std::log(0.9) + std::log(0.4) + std::log(0.5) + std::log(0.4) + std::log(0.8) + std::log(0.1)) / 6.0,
              1e-6);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall, 0.5);
  EXPECT_DOUBLE_EQ(m.f1, 4.0 / 7.0);
}

TEST(ComputeMetricsTest, BinaryWithNoValidRow) {
  const BinaryMetrics m = ComputeBinaryMetrics(std::vector<float>{0.3f}, std::vector<float>{kMissing}, 0.5);
  EXPECT_EQ(m.rows, 0);
  EXPECT_TRUE(std::isnan(m.positive_rate));
  EXPECT_TRUE(std::isnan(m.mean_prediction));
  EXPECT_TRUE(std::isnan(m.auc));
  EXPECT_TRUE(std::isnan(m.logloss));
  EXPECT_TRUE(std::isnan(m.accuracy));
  EXPECT_EQ(m.f1, 0.0);
}

TEST(ComputeMetricsTest, RegressionMatchesHandValues) {
  const std::vector<float> predictions{1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<float> targets{0.5f, 2.0f, kMissing, 6.0f};
  const RegressionMetrics m = ComputeRegressionMetrics(predictions, targets);
  EXPECT_EQ(m.rows, 3);
  EXPECT_DOUBLE_EQ(m.target_mean, 8.5 / 3.0);
  EXPECT_DOUBLE_EQ(m.mean_prediction, 7.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.rmse, std::sqrt(4.25 / 3.0));
  EXPECT_DOUBLE_EQ(m.mae, 2.5 / 3.0);
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// SoftAuc by its definition: every ordered pair of distinct rows (i, j) weighs t_i (1 − t_j), won when i scores
// above j, half when tied.
double BruteForceSoftAuc(const std::vector<float>& scores, const std::vector<float>& truth) {
  double won = 0.0, pairs = 0.0;
  for (size_t i = 0; i < truth.size(); ++i) {
    for (size_t j = 0; j < truth.size(); ++j) {
      if (i == j || std::isnan(truth[i]) || std::isnan(truth[j])) continue;
      const double w = static_cast<double>(truth[i]) * (1.0 - truth[j]);
      pairs += w;
      won += scores[i] > scores[j] ? w : scores[i] == scores[j] ? 0.5 * w : 0.0;
    }
  }
  return pairs > 0 ? won / pairs : std::numeric_limits<double>::quiet_NaN();
}

TEST(SoftAucTest, EqualsAucWhenTheTruthIsZeroOrOne) {
  const std::vector<float> scores{0.1f, 0.4f, 0.35f, 0.8f, 0.8f};
  const std::vector<float> truth{0, 0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(SoftAuc(scores, truth), Auc(scores, truth));
}

TEST(SoftAucTest, HandComputedCase) {
  // Rows a (score 1, t 0.5) and b (score 0, t 1): pairs (a,b) weigh 0.5·0 = 0, (b,a) 1·0.5 = 0.5, lost by b.
  EXPECT_DOUBLE_EQ(SoftAuc(std::vector<float>{1.f, 0.f}, std::vector<float>{0.5f, 1.f}), 0.0);
  // The truth scored by itself beats a constant scorer (0.5).
  EXPECT_DOUBLE_EQ(SoftAuc(std::vector<float>{0.3f, 0.3f, 0.3f}, std::vector<float>{0.1f, 0.5f, 0.9f}), 0.5);
  EXPECT_GT(SoftAuc(std::vector<float>{0.1f, 0.5f, 0.9f}, std::vector<float>{0.1f, 0.5f, 0.9f}), 0.5);
}

TEST(SoftAucTest, MatchesPairwiseDefinitionOnRandomTiedData) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    TestRng rng(seed);
    for (size_t n : {2, 3, 7, 40, 300}) {
      std::vector<float> scores(n), truth(n);
      const uint64_t grid = 1 + rng.Below(20);
      for (size_t i = 0; i < n; ++i) {
        scores[i] = static_cast<float>(rng.Below(grid));
        truth[i] = rng.Uniform() < 0.1 ? kMissing : static_cast<float>(rng.Uniform());
      }
      SCOPED_TRACE("seed " + std::to_string(seed) + " n " + std::to_string(n));
      const double expected = BruteForceSoftAuc(scores, truth);
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(SoftAuc(scores, truth)));
      } else {
        EXPECT_NEAR(SoftAuc(scores, truth), expected, 1e-9);
      }
    }
  }
}

TEST(SoftAucTest, RejectsATruthThatIsNotAProbability) {
  EXPECT_THROW(SoftAuc(std::vector<float>{0.f, 1.f}, std::vector<float>{0.5f, 1.5f}), Error);
}

}  // namespace
}  // namespace mtrec
