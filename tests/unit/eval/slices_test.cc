#include "eval/slices.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "eval/metrics.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// The definition, pair by pair: row i's mis-ordered pairs against every labelled row of the other class.
std::vector<double> SlowMisorderedPairs(const std::vector<float>& scores, const std::vector<float>& labels) {
  std::vector<double> out(scores.size(), 0.0);
  for (size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(labels[i])) continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (std::isnan(labels[j]) || labels[j] == labels[i]) continue;
      const float positive = labels[i] == 1.f ? scores[i] : scores[j];
      const float negative = labels[i] == 1.f ? scores[j] : scores[i];
      if (negative > positive) out[i] += 1.0;
      if (negative == positive) out[i] += 0.5;
    }
  }
  return out;
}

// Random rows with many ties (scores on a grid of 20 values) and some missing labels.
struct RandomRows {
  std::vector<float> scores, labels;
  std::vector<std::string> values;
  explicit RandomRows(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> grid(0, 19), value(0, 6), missing(0, 9);
    for (int i = 0; i < n; ++i) {
      const float score = static_cast<float>(grid(rng)) / 19.f;
      scores.push_back(score);
      std::bernoulli_distribution positive(0.2 + 0.6 * score);
      labels.push_back(missing(rng) == 0 ? kMissing : (positive(rng) ? 1.f : 0.f));
      values.push_back("v" + std::to_string(value(rng)));
    }
  }
};

TEST(SlicesTest, MisorderedPairsMatchThePairByPairCountWithTiesAndMissingLabels) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    const RandomRows rows(300, seed);
    const std::vector<double> fast = MisorderedPairsPerRow(rows.scores, rows.labels);
    const std::vector<double> slow = SlowMisorderedPairs(rows.scores, rows.labels);
    ASSERT_EQ(fast.size(), slow.size());
    for (size_t i = 0; i < fast.size(); ++i) EXPECT_DOUBLE_EQ(fast[i], slow[i]) << "row " << i << " seed " << seed;
    // Each pair is counted from both sides: the total is 2 (1 - AUC) n+ n-.
    double positives = 0, negatives = 0;
    for (float label : rows.labels) {
      if (label == 1.f) ++positives;
      if (label == 0.f) ++negatives;
    }
    const double total = std::accumulate(fast.begin(), fast.end(), 0.0);
    EXPECT_NEAR(total, 2 * (1 - Auc(rows.scores, rows.labels)) * positives * negatives, 1e-6);
  }
}

TEST(SlicesTest, RowsAreSlicedByValueMostRowsFirstAndTheRestShareOneSlice) {
  const std::vector<std::string> values = {"b", "a", "c", "a", "d", "b", "a", "e", "c"};
  const Slicing all = SliceRows("col", values, 10);
  EXPECT_EQ(all.names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));  // 3, 2, 2 (b before c), 1, 1
  EXPECT_EQ(all.slice_of_row, (std::vector<int32_t>{1, 0, 2, 0, 3, 1, 0, 4, 2}));

  const Slicing top2 = SliceRows("col", values, 2);
  EXPECT_EQ(top2.names, (std::vector<std::string>{"a", "b", "(3 other values)"}));
  EXPECT_EQ(top2.slice_of_row, (std::vector<int32_t>{1, 0, 2, 0, 2, 1, 0, 2, 2}));

  const Slicing exact = SliceRows("col", values, 5);  // as many slices as values: no "other"
  EXPECT_EQ(exact.names.size(), 5u);
  EXPECT_THROW(SliceRows("col", values, 0), Error);
}

TEST(SlicesTest, NumbersAreSlicedByValueOrByRangesOfAboutEqualRows) {
  // Few distinct values: one slice each, ascending, NaN last.
  const std::vector<float> few = {3, 1, kMissing, 3, 2.5f};
  const Slicing by_value = SliceNumbers("x", few, 5);
  EXPECT_EQ(by_value.names, (std::vector<std::string>{"1", "2.5", "3", "(missing)"}));
  EXPECT_EQ(by_value.slice_of_row, (std::vector<int32_t>{2, 0, 3, 2, 1}));

  // 1..100 in 4 ranges of 25 rows.
  std::vector<float> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(static_cast<float>(i));
  const Slicing quarters = SliceNumbers("x", hundred, 4);
  EXPECT_EQ(quarters.names, (std::vector<std::string>{"[1, 25]", "[26, 50]", "[51, 75]", "[76, 100]"}));
  EXPECT_EQ(quarters.slice_of_row.front(), 3);
  EXPECT_EQ(quarters.slice_of_row.back(), 0);
  for (int s = 0; s < 4; ++s) {
    EXPECT_EQ(std::count(quarters.slice_of_row.begin(), quarters.slice_of_row.end(), s), 25) << s;
  }

  // 60 zeros and 1..40 in 5 ranges: the zeros are never split, so they make one slice and the rest two.
  std::vector<float> zeros(60, 0.f);
  for (int i = 1; i <= 40; ++i) zeros.push_back(static_cast<float>(i));
  const Slicing heavy = SliceNumbers("x", zeros, 5);
  EXPECT_EQ(heavy.names, (std::vector<std::string>{"0", "[1, 20]", "[21, 40]"}));
  EXPECT_EQ(std::count(heavy.slice_of_row.begin(), heavy.slice_of_row.end(), 0), 60);

  const std::vector<float> none = {kMissing, kMissing};
  EXPECT_EQ(SliceNumbers("x", none, 3).names, (std::vector<std::string>{"(missing)"}));
  EXPECT_THROW(SliceNumbers("x", few, 0), Error);
}

TEST(SlicesTest, BinarySlicesHoldTheMetricsOfTheirRowsAndTheirShareOfTheMisorderedPairs) {
  const RandomRows rows(400, 7);
  const Slicing slicing = SliceRows("col", rows.values, 4);  // 7 values: 4 slices and "(3 other values)"
  ASSERT_EQ(slicing.names.size(), 5u);
  TaskScores task;
  task.name = "click";
  task.predictions = rows.scores;
  task.labels = rows.labels;
  const TaskSlices result = EvaluateSlices(task, slicing);
  EXPECT_EQ(result.task, "click");
  ASSERT_EQ(result.slices.size(), 5u);

  const std::vector<double> pairs = SlowMisorderedPairs(rows.scores, rows.labels);
  const double total = std::accumulate(pairs.begin(), pairs.end(), 0.0);
  double share_sum = 0;
  for (size_t s = 0; s < result.slices.size(); ++s) {
    const SliceReport& slice = result.slices[s];
    EXPECT_EQ(slice.value, slicing.names[s]);
    std::vector<float> scores, labels;
    double slice_pairs = 0;
    for (size_t i = 0; i < rows.scores.size(); ++i) {
      if (slicing.slice_of_row[i] != static_cast<int32_t>(s) || std::isnan(rows.labels[i])) continue;
      scores.push_back(rows.scores[i]);
      labels.push_back(rows.labels[i]);
      slice_pairs += pairs[i];
    }
    EXPECT_EQ(slice.rows, static_cast<int64_t>(labels.size()));
    EXPECT_DOUBLE_EQ(slice.auc, Auc(scores, labels));
    EXPECT_DOUBLE_EQ(slice.logloss, Logloss(scores, labels));
    EXPECT_DOUBLE_EQ(slice.label_mean, Mean(labels));
    EXPECT_DOUBLE_EQ(slice.mean_prediction, Mean(scores));
    EXPECT_NEAR(slice.error_share, slice_pairs / total, 1e-12);
    EXPECT_TRUE(std::isnan(slice.rmse));
    share_sum += slice.error_share;
  }
  EXPECT_NEAR(share_sum, 1.0, 1e-12);
}

TEST(SlicesTest, OneClassSlicesHaveNoAucAndRowsOutsideTheSampleSpaceAreLeftOut) {
  // Slice "x" holds only positives; slice "y" loses its only negative to the sample space; "z" has no labels.
  const std::vector<float> scores = {0.9f, 0.4f, 0.3f, 0.8f, 0.2f, 0.5f};
  const std::vector<float> labels = {1, 1, 0, 1, 0, kMissing};
  const std::vector<float> space = {1, 1, 1, 1, 0, 1};
  const std::vector<std::string> values = {"x", "x", "y", "y", "y", "z"};
  const Slicing slicing = SliceRows("col", values, 10);
  TaskScores task;
  task.name = "cvr";
  task.predictions = scores;
  task.labels = labels;
  task.sample_space = space;
  const TaskSlices result = EvaluateSlices(task, slicing);
  ASSERT_EQ(result.slices.size(), 2u);  // "z" has no labelled row
  EXPECT_EQ(result.slices[0].value, "y");
  EXPECT_EQ(result.slices[0].rows, 2);
  EXPECT_DOUBLE_EQ(result.slices[0].auc, 1.0);
  EXPECT_EQ(result.slices[1].value, "x");
  EXPECT_TRUE(std::isnan(result.slices[1].auc));
  // Inside the sample space every positive scores above the one negative (0.3): no error to share.
  EXPECT_TRUE(std::isnan(result.slices[0].error_share));

  // With the row at 0.2 made a positive below the negative at 0.3, the pair (0.2+, 0.3-) is the only error:
  // half to "y" twice (both rows are in "y").
  const std::vector<float> labels2 = {1, 1, 0, 1, 1, kMissing};
  task.labels = labels2;
  task.sample_space = {};
  const TaskSlices result2 = EvaluateSlices(task, slicing);
  EXPECT_DOUBLE_EQ(result2.slices[0].error_share, 1.0);
  EXPECT_DOUBLE_EQ(result2.slices[1].error_share, 0.0);
}

TEST(SlicesTest, RegressionSlicesShareTheSquaredError) {
  const std::vector<float> predictions = {1, 2, 3, 4};
  const std::vector<float> targets = {1, 4, 6, 4};  // squared errors 0, 4, 9, 0
  const std::vector<std::string> values = {"a", "a", "b", "b"};
  TaskScores task;
  task.name = "gmv";
  task.binary = false;
  task.predictions = predictions;
  task.labels = targets;
  const TaskSlices result = EvaluateSlices(task, SliceRows("col", values, 10));
  ASSERT_EQ(result.slices.size(), 2u);
  EXPECT_EQ(result.slices[0].value, "a");  // a tie of 2 rows each: by value
  EXPECT_NEAR(result.slices[0].error_share, 4.0 / 13.0, 1e-12);
  EXPECT_NEAR(result.slices[1].error_share, 9.0 / 13.0, 1e-12);
  EXPECT_DOUBLE_EQ(result.slices[0].rmse, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(result.slices[1].rmse, std::sqrt(4.5));
  EXPECT_DOUBLE_EQ(result.slices[1].label_mean, 5.0);
  EXPECT_TRUE(std::isnan(result.slices[0].auc));
}

TEST(SlicesTest, BadInputIsRefused) {
  const std::vector<float> scores = {0.5f, kMissing};
  const std::vector<float> labels = {1, 0};
  EXPECT_THROW(MisorderedPairsPerRow(scores, labels), Error);  // a labelled row without a score
  const std::vector<float> two = {0.5f, 0.2f};
  const std::vector<float> bad_label = {1, 2};
  EXPECT_THROW(MisorderedPairsPerRow(two, bad_label), Error);
  const std::vector<float> one_label = {1};
  EXPECT_THROW(MisorderedPairsPerRow(two, one_label), Error);
  TaskScores task;
  task.name = "click";
  task.predictions = two;
  task.labels = labels;
  const std::vector<std::string> three = {"a", "b", "c"};
  EXPECT_THROW(EvaluateSlices(task, SliceRows("col", three, 10)), Error);  // 3 rows sliced, 2 scored
}

}  // namespace
}  // namespace mtrec
