// The evaluation metrics checked against slow reference implementations written here from the headers'
// definitions alone: every threshold scanned over every row, every pair of a group compared, every order of tied
// rows enumerated. The references share nothing with the production algorithms (sorting, rank sums, tie-block
// walks), so agreement on random data full of ties and missing labels means the fast code computes the definition.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "eval/calibration.h"
#include "eval/curves.h"
#include "eval/forecast_metrics.h"
#include "eval/grouped_auc.h"
#include "eval/metrics.h"
#include "eval/ranking.h"
#include "support/reference_checks.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool Labelled(float label) { return !std::isnan(label); }

// ---------------------------------------------------------------------------------------------------------------
// Reference implementations.

// Distinct scores of labelled rows, high to low: the thresholds every threshold-swept metric is defined over.
std::vector<float> DistinctLabelledScoresDescending(const std::vector<float>& scores,
                                                    const std::vector<float>& labels) {
  std::set<float, std::greater<float>> distinct;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (Labelled(labels[i])) distinct.insert(scores[i]);
  }
  return {distinct.begin(), distinct.end()};
}

struct RefCounts {
  int64_t tp = 0;
  int64_t fp = 0;
  int64_t tn = 0;
  int64_t fn = 0;
};

// Confusion counts at "score >= t" by scanning every labelled row.
RefCounts CountByScan(const std::vector<float>& scores, const std::vector<float>& labels, double t) {
  RefCounts c;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!Labelled(labels[i])) continue;
    const bool predicted = static_cast<double>(scores[i]) >= t;
    const bool positive = labels[i] == 1.0f;
    if (predicted && positive) ++c.tp;
    if (predicted && !positive) ++c.fp;
    if (!predicted && !positive) ++c.tn;
    if (!predicted && positive) ++c.fn;
  }
  return c;
}

// Average precision: Σ (R_t − R_prev) P_t over the distinct scores from high to low, each one an O(n) scan.
double RefPrAuc(const std::vector<float>& scores, const std::vector<float>& labels) {
  int64_t positives = 0;
  for (size_t i = 0; i < labels.size(); ++i) positives += Labelled(labels[i]) && labels[i] == 1.0f;
  if (positives == 0) return kNaN;
  double ap = 0.0;
  double previous_recall = 0.0;
  for (float t : DistinctLabelledScoresDescending(scores, labels)) {
    const RefCounts c = CountByScan(scores, labels, t);
    const double precision = static_cast<double>(c.tp) / static_cast<double>(c.tp + c.fp);  // t's row counts
    const double recall = static_cast<double>(c.tp) / static_cast<double>(positives);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return ap;
}

struct RefBestF1 {
  double threshold = kNaN;
  double f1 = 0.0;
  RefCounts counts;
};

// Every distinct score tried as the threshold, from high to low; F1s compared exactly as fractions
// 2tp / (2tp + fp + fn), so that equal F1s are recognised as equal and the first (highest) threshold is kept.
RefBestF1 RefFindBestF1(const std::vector<float>& scores, const std::vector<float>& labels) {
  RefBestF1 best;
  bool found = false;
  int64_t best_numerator = 0;
  int64_t best_denominator = 1;
  for (float t : DistinctLabelledScoresDescending(scores, labels)) {
    const RefCounts c = CountByScan(scores, labels, t);
    const int64_t numerator = 2 * c.tp;
    const int64_t denominator = std::max<int64_t>(1, 2 * c.tp + c.fp + c.fn);  // 0/0 is 0
    if (!found || numerator * best_denominator > best_numerator * denominator) {
      found = true;
      best_numerator = numerator;
      best_denominator = denominator;
      best.threshold = t;
      best.f1 = static_cast<double>(numerator) / static_cast<double>(denominator);
      best.counts = c;
    }
  }
  return best;
}

double RefRSquared(const std::vector<float>& predictions, const std::vector<float>& targets) {
  double sum = 0.0;
  int64_t n = 0;
  for (float y : targets) {
    if (Labelled(y)) {
      sum += y;
      ++n;
    }
  }
  if (n < 2) return kNaN;
  const double mean = sum / static_cast<double>(n);
  double residual = 0.0;
  double total = 0.0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!Labelled(targets[i])) continue;
    const double y = targets[i];
    residual += (y - predictions[i]) * (y - predictions[i]);
    total += (y - mean) * (y - mean);
  }
  return total == 0.0 ? kNaN : 1.0 - residual / total;
}

// The header's per-row formulas, one branch per power, averaged over the rows with a target.
double RefTweedieDeviance(const std::vector<float>& predictions, const std::vector<float>& targets, double p) {
  double sum = 0.0;
  int64_t n = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!Labelled(targets[i])) continue;
    const double y = targets[i];
    const double mu = std::max(static_cast<double>(predictions[i]), kMinDevianceMean);
    if (y < 0.0 || (p == 2.0 && y == 0.0)) return kNaN;
    double d = 0.0;
    if (p == 1.0) {
      d = 2.0 * ((y > 0.0 ? y * std::log(y / mu) : 0.0) - y + mu);
    } else if (p == 2.0) {
      d = 2.0 * (std::log(mu / y) + y / mu - 1.0);
    } else {
      d = 2.0 * (std::pow(y, 2.0 - p) / ((1.0 - p) * (2.0 - p)) - y * std::pow(mu, 1.0 - p) / (1.0 - p) +
                 std::pow(mu, 2.0 - p) / (2.0 - p));
    }
    sum += d;
    ++n;
  }
  return n == 0 ? kNaN : sum / static_cast<double>(n);
}

struct RefBin {
  double lower = 0.0;
  double upper = 0.0;
  int64_t rows = 0;
  double prediction_sum = 0.0;
  double label_sum = 0.0;
};

struct RefCalibration {
  double ratio = kNaN;
  double ece = kNaN;
  std::vector<RefBin> bins;
};

// Each labelled row goes to the bin whose [b/B, (b+1)/B) holds its score, found by comparing with every bin's
// bounds; 1 and above go to the last bin (closed), below 0 to the first.
RefCalibration RefComputeCalibration(const std::vector<float>& scores, const std::vector<float>& labels, int B) {
  RefCalibration c;
  for (int b = 0; b < B; ++b) {
    c.bins.push_back({static_cast<double>(b) / B, static_cast<double>(b + 1) / B, 0, 0.0, 0.0});
  }
  double prediction_sum = 0.0;
  double label_sum = 0.0;
  int64_t n = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!Labelled(labels[i])) continue;
    const double s = scores[i];
    int bin = -1;
    if (s < 0.0) bin = 0;
    if (s >= 1.0) bin = B - 1;
    for (int b = 0; b < B && bin < 0; ++b) {
      if (c.bins[b].lower <= s && s < c.bins[b].upper) bin = b;
    }
    ++c.bins[bin].rows;
    c.bins[bin].prediction_sum += s;
    c.bins[bin].label_sum += labels[i];
    prediction_sum += s;
    label_sum += labels[i];
    ++n;
  }
  if (label_sum > 0.0) c.ratio = prediction_sum / label_sum;
  if (n > 0) {
    c.ece = 0.0;
    for (const RefBin& bin : c.bins) {
      if (bin.rows == 0) continue;
      const double rows = static_cast<double>(bin.rows);
      c.ece += rows / static_cast<double>(n) * std::abs(bin.prediction_sum / rows - bin.label_sum / rows);
    }
  }
  return c;
}

// (fpr, tpr) at every distinct threshold from high to low, each by a full scan, after (0, 0).
std::vector<CurvePoint> RefRocCurve(const std::vector<float>& scores, const std::vector<float>& labels) {
  const RefCounts all = CountByScan(scores, labels, -std::numeric_limits<double>::infinity());
  const int64_t positives = all.tp;
  const int64_t negatives = all.fp;
  if (positives == 0 || negatives == 0) return {};
  std::vector<CurvePoint> curve{{0.0, 0.0}};
  for (float t : DistinctLabelledScoresDescending(scores, labels)) {
    const RefCounts c = CountByScan(scores, labels, t);
    curve.push_back({static_cast<double>(c.fp) / static_cast<double>(negatives),
                     static_cast<double>(c.tp) / static_cast<double>(positives)});
  }
  return curve;
}

double TrapezoidArea(const std::vector<CurvePoint>& curve) {
  double area = 0.0;
  for (size_t i = 1; i < curve.size(); ++i) {
    area += (curve[i].x - curve[i - 1].x) * (curve[i].y + curve[i - 1].y) / 2.0;
  }
  return area;
}

// AUC as the share of (positive, negative) pairs won, ties 1/2, over the given rows.
double PairwiseAuc(const std::vector<float>& scores, const std::vector<float>& labels,
                   const std::vector<size_t>& rows) {
  double won = 0.0;
  int64_t pairs = 0;
  for (size_t i : rows) {
    if (!Labelled(labels[i]) || labels[i] != 1.0f) continue;
    for (size_t j : rows) {
      if (!Labelled(labels[j]) || labels[j] != 0.0f) continue;
      ++pairs;
      won += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
    }
  }
  return pairs == 0 ? kNaN : won / static_cast<double>(pairs);
}

struct RefGroupedAuc {
  double by_impressions = kNaN;
  double by_positives = kNaN;
  int64_t groups = 0;
  int64_t skipped = 0;
};

RefGroupedAuc RefComputeGroupedAuc(const std::vector<float>& scores, const std::vector<float>& labels,
                                   const std::vector<int64_t>& ids) {
  std::map<int64_t, std::vector<size_t>> rows_of;
  for (size_t i = 0; i < ids.size(); ++i) rows_of[ids[i]].push_back(i);
  RefGroupedAuc g;
  double impressions_sum = 0.0;
  double impressions_weight = 0.0;
  double positives_sum = 0.0;
  double positives_weight = 0.0;
  for (const auto& [id, rows] : rows_of) {
    int64_t labelled = 0;
    int64_t positives = 0;
    for (size_t i : rows) {
      labelled += Labelled(labels[i]);
      positives += Labelled(labels[i]) && labels[i] == 1.0f;
    }
    if (labelled == 0) continue;  // in neither count
    if (positives == 0 || positives == labelled) {
      ++g.skipped;
      continue;
    }
    ++g.groups;
    const double auc = PairwiseAuc(scores, labels, rows);
    impressions_sum += static_cast<double>(labelled) * auc;
    impressions_weight += static_cast<double>(labelled);
    positives_sum += static_cast<double>(positives) * auc;
    positives_weight += static_cast<double>(positives);
  }
  if (g.groups > 0) {
    g.by_impressions = impressions_sum / impressions_weight;
    g.by_positives = positives_sum / positives_weight;
  }
  return g;
}

struct RefRankingAtK {
  int64_t k = 0;
  double ndcg = kNaN;
  double recall = kNaN;
  double value_share = kNaN;
  int64_t groups = 0;
  int64_t groups_relevant = 0;
};

double Gain(float relevance) { return std::pow(2.0, static_cast<double>(relevance)) - 1.0; }
double Discount(size_t position) { return 1.0 / std::log2(static_cast<double>(position) + 2.0); }  // 0-based

// Calls visit(order) for every order of `rows` sorted by score descending, i.e. every permutation within each
// block of equal scores (the product of the blocks' permutations).
void ForEachConsistentOrder(const std::vector<std::vector<size_t>>& blocks, size_t block,
                            std::vector<size_t>& order, const std::function<void(const std::vector<size_t>&)>& visit) {
  if (block == blocks.size()) {
    visit(order);
    return;
  }
  std::vector<size_t> permutation = blocks[block];
  std::sort(permutation.begin(), permutation.end());
  do {
    order.insert(order.end(), permutation.begin(), permutation.end());
    ForEachConsistentOrder(blocks, block + 1, order, visit);
    order.resize(order.size() - permutation.size());
  } while (std::next_permutation(permutation.begin(), permutation.end()));
}

// Every metric of every group averaged over all orders of its tied rows, enumerated one by one.
std::vector<RefRankingAtK> RefComputeRanking(const std::vector<float>& scores, const std::vector<float>& relevance,
                                             const std::vector<float>& value, const std::vector<int64_t>& ids,
                                             const std::vector<int64_t>& ks) {
  std::map<int64_t, std::vector<size_t>> rows_of;
  for (size_t i = 0; i < ids.size(); ++i) rows_of[ids[i]].push_back(i);
  std::vector<double> ndcg_sum(ks.size(), 0.0);
  std::vector<double> recall_sum(ks.size(), 0.0);
  std::vector<double> top_value_sum(ks.size(), 0.0);
  double all_value = 0.0;
  int64_t relevant_groups = 0;
  for (const auto& [id, rows] : rows_of) {
    std::map<float, std::vector<size_t>, std::greater<float>> by_score;
    for (size_t i : rows) by_score[scores[i]].push_back(i);
    std::vector<std::vector<size_t>> blocks;
    double orders_expected = 1.0;
    for (const auto& [score, block] : by_score) {
      blocks.push_back(block);
      for (size_t f = 2; f <= block.size(); ++f) orders_expected *= static_cast<double>(f);
    }
    if (orders_expected > 1e6) {
      ADD_FAILURE() << "fixture too large for enumeration: group " << id << " has " << orders_expected << " orders";
      return {};
    }
    std::vector<float> ideal;
    int64_t relevant = 0;
    for (size_t i : rows) {
      ideal.push_back(relevance[i]);
      relevant += relevance[i] > 0.0f;
      if (!value.empty()) all_value += value[i];
    }
    std::sort(ideal.begin(), ideal.end(), std::greater<float>());
    std::vector<double> dcg(ks.size(), 0.0);
    std::vector<double> hits(ks.size(), 0.0);
    std::vector<double> top_value(ks.size(), 0.0);
    int64_t orders = 0;
    std::vector<size_t> order;
    ForEachConsistentOrder(blocks, 0, order, [&](const std::vector<size_t>& o) {
      ++orders;
      for (size_t q = 0; q < ks.size(); ++q) {
        for (size_t pos = 0; pos < o.size() && pos < static_cast<size_t>(ks[q]); ++pos) {
          dcg[q] += Gain(relevance[o[pos]]) * Discount(pos);
          hits[q] += relevance[o[pos]] > 0.0f;
          if (!value.empty()) top_value[q] += value[o[pos]];
        }
      }
    });
    if (relevant > 0) ++relevant_groups;
    for (size_t q = 0; q < ks.size(); ++q) {
      top_value_sum[q] += top_value[q] / static_cast<double>(orders);
      if (relevant == 0) continue;
      double idcg = 0.0;
      for (size_t pos = 0; pos < ideal.size() && pos < static_cast<size_t>(ks[q]); ++pos) {
        idcg += Gain(ideal[pos]) * Discount(pos);
      }
      ndcg_sum[q] += dcg[q] / static_cast<double>(orders) / idcg;
      recall_sum[q] += hits[q] / static_cast<double>(orders) / static_cast<double>(relevant);
    }
  }
  std::vector<RefRankingAtK> result;
  for (size_t q = 0; q < ks.size(); ++q) {
    RefRankingAtK r;
    r.k = ks[q];
    r.groups = static_cast<int64_t>(rows_of.size());
    r.groups_relevant = relevant_groups;
    if (relevant_groups > 0) {
      r.ndcg = ndcg_sum[q] / static_cast<double>(relevant_groups);
      r.recall = recall_sum[q] / static_cast<double>(relevant_groups);
    }
    if (!value.empty() && all_value != 0.0) r.value_share = top_value_sum[q] / all_value;
    result.push_back(r);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures.

// Scores on a coarse grid (so ties are common), labels loosely tied to the score, some labels missing; the scores
// of missing rows are sometimes NaN, which every metric must skip without reading.
struct BinaryRows {
  std::vector<float> scores;
  std::vector<float> labels;
};

BinaryRows RandomBinaryRows(TestRng& rng, size_t n, uint64_t grid, double positive_rate, double missing_rate) {
  BinaryRows rows;
  for (size_t i = 0; i < n; ++i) {
    const float score = static_cast<float>(rng.Below(grid)) / static_cast<float>(grid);
    if (rng.Uniform() < missing_rate) {
      rows.scores.push_back(rng.Below(2) == 0 ? kMissing : score);
      rows.labels.push_back(kMissing);
    } else {
      rows.scores.push_back(score);
      rows.labels.push_back(rng.Uniform() < positive_rate * (0.5 + score) ? 1.0f : 0.0f);
    }
  }
  return rows;
}

std::string Trace(uint64_t seed, size_t n, uint64_t grid) {
  return "seed " + std::to_string(seed) + " n " + std::to_string(n) + " grid " + std::to_string(grid);
}

// ---------------------------------------------------------------------------------------------------------------
// PR-AUC.

TEST(PrAucReferenceTest, HandComputedCases) {
  // t = 0.9: P 1, R 1/2; t = 0.8: R unchanged; t = 0.7: P 2/3, R 1. AP = 1/2 · 1 + 1/2 · 2/3 = 5/6.
  EXPECT_NEAR(PrAuc(std::vector<float>{0.9f, 0.8f, 0.7f, 0.6f}, std::vector<float>{1, 0, 1, 0}), 5.0 / 6.0, 1e-15);
  // scikit-learn's documented example of average_precision_score.
  EXPECT_NEAR(PrAuc(std::vector<float>{0.1f, 0.4f, 0.35f, 0.8f}, std::vector<float>{0, 0, 1, 1}), 5.0 / 6.0, 1e-15);
  // Ties are one threshold: t = 0.8 takes a positive and a negative at once (P 1/2, R 1/3), t = 0.5 two positives
  // (P 3/4, R 1). AP = 1/3 · 1/2 + 2/3 · 3/4 = 2/3, not what any order of the tied rows would give.
  EXPECT_NEAR(PrAuc(std::vector<float>{0.8f, 0.8f, 0.5f, 0.5f, 0.2f}, std::vector<float>{1, 0, 1, 1, 0}),
              2.0 / 3.0, 1e-15);
  // Everything tied: one threshold at the positive rate.
  EXPECT_NEAR(PrAuc(std::vector<float>{0.3f, 0.3f, 0.3f, 0.3f}, std::vector<float>{1, 0, 0, 0}), 0.25, 1e-15);
  // Only positives: precision 1 everywhere.
  EXPECT_NEAR(PrAuc(std::vector<float>{0.3f, 0.1f}, std::vector<float>{1, 1}), 1.0, 1e-15);
}

TEST(PrAucReferenceTest, SkipsMissingLabelsAndIsNaNWithoutPositives) {
  // The NaN-labelled rows (one with a NaN score, one scoring above everything) must not enter any threshold.
  const std::vector<float> scores{0.9f, kMissing, 0.99f, 0.7f, 0.6f};
  const std::vector<float> labels{1, kMissing, kMissing, 0, 1};
  EXPECT_NEAR(PrAuc(scores, labels), RefPrAuc(scores, labels), 1e-15);
  EXPECT_NEAR(PrAuc(scores, labels), 0.5 + 0.5 * (2.0 / 3.0), 1e-15);
  EXPECT_TRUE(std::isnan(PrAuc(std::vector<float>{0.2f, 0.4f}, std::vector<float>{0, 0})));
  EXPECT_TRUE(std::isnan(PrAuc(std::vector<float>{0.2f, 0.4f}, std::vector<float>{kMissing, kMissing})));
  EXPECT_TRUE(std::isnan(PrAuc(std::vector<float>{}, std::vector<float>{})));
}

TEST(PrAucReferenceTest, MatchesThresholdScanOnRandomTiedData) {
  int defined = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    for (size_t n : {1, 2, 5, 17, 300}) {
      for (uint64_t grid : {1, 2, 5, 20, 1000}) {
        TestRng rng(seed * 1000 + n * 10 + grid);
        const BinaryRows rows = RandomBinaryRows(rng, n, grid, 0.05 + 0.6 * rng.Uniform(), 0.2 * rng.Uniform());
        SCOPED_TRACE(Trace(seed, n, grid));
        const double expected = RefPrAuc(rows.scores, rows.labels);
        ExpectClose(PrAuc(rows.scores, rows.labels), expected, 1e-12, "PrAuc");
        defined += !std::isnan(expected);
      }
    }
  }
  EXPECT_GT(defined, 400);
}

// ---------------------------------------------------------------------------------------------------------------
// Best F1.

TEST(BestF1ReferenceTest, HandComputedCases) {
  // Thresholds 0.9 (F1 2/3), 0.8 (1/2), 0.7 (4/5), 0.6 (2/3): the best is 0.7 with tp 2, fp 1, fn 0.
  const BestF1 best = FindBestF1(std::vector<float>{0.9f, 0.8f, 0.7f, 0.6f}, std::vector<float>{1, 0, 1, 0});
  EXPECT_EQ(best.threshold, static_cast<double>(0.7f));
  EXPECT_NEAR(best.f1, 0.8, 1e-15);
  EXPECT_EQ(best.counts.tp, 2);
  EXPECT_EQ(best.counts.fp, 1);
  EXPECT_EQ(best.counts.tn, 1);
  EXPECT_EQ(best.counts.fn, 0);
  // Equal F1 at 0.8 (tp 1, fn 1: 2/3) and at 0.4 (tp 2, fp 2: 2/3): the higher threshold wins.
  const BestF1 tie = FindBestF1(std::vector<float>{0.8f, 0.4f, 0.4f, 0.4f}, std::vector<float>{1, 1, 0, 0});
  EXPECT_EQ(tie.threshold, static_cast<double>(0.8f));
  EXPECT_NEAR(tie.f1, 2.0 / 3.0, 1e-15);
  // No positive: F1 0 at every threshold, so the highest score is the threshold.
  const BestF1 none = FindBestF1(std::vector<float>{0.2f, 0.6f, 0.1f}, std::vector<float>{0, 0, 0});
  EXPECT_EQ(none.threshold, static_cast<double>(0.6f));
  EXPECT_EQ(none.f1, 0.0);
}

TEST(BestF1ReferenceTest, NoLabelledRowGivesNaNThresholdAndZeroF1) {
  const BestF1 empty = FindBestF1(std::vector<float>{}, std::vector<float>{});
  EXPECT_TRUE(std::isnan(empty.threshold));
  EXPECT_EQ(empty.f1, 0.0);
  const BestF1 missing = FindBestF1(std::vector<float>{0.5f, kMissing}, std::vector<float>{kMissing, kMissing});
  EXPECT_TRUE(std::isnan(missing.threshold));
  EXPECT_EQ(missing.f1, 0.0);
}

TEST(BestF1ReferenceTest, MatchesEveryThresholdTriedOnRandomTiedData) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    for (size_t n : {1, 2, 5, 17, 300}) {
      for (uint64_t grid : {1, 2, 5, 20, 1000}) {
        TestRng rng(seed * 7919 + n * 31 + grid);
        const BinaryRows rows = RandomBinaryRows(rng, n, grid, 0.05 + 0.6 * rng.Uniform(), 0.2 * rng.Uniform());
        SCOPED_TRACE(Trace(seed, n, grid));
        const RefBestF1 expected = RefFindBestF1(rows.scores, rows.labels);
        const BestF1 actual = FindBestF1(rows.scores, rows.labels);
        if (std::isnan(expected.threshold)) {
          EXPECT_TRUE(std::isnan(actual.threshold)) << actual.threshold;
        } else {
          EXPECT_EQ(actual.threshold, expected.threshold);
        }
        EXPECT_NEAR(actual.f1, expected.f1, 1e-15);
        EXPECT_EQ(actual.counts.tp, expected.counts.tp);
        EXPECT_EQ(actual.counts.fp, expected.counts.fp);
        EXPECT_EQ(actual.counts.tn, expected.counts.tn);
        EXPECT_EQ(actual.counts.fn, expected.counts.fn);
        // The reported F1 is the one CountAtThreshold gives at the reported threshold.
        if (!std::isnan(actual.threshold)) {
          EXPECT_NEAR(CountAtThreshold(rows.scores, rows.labels, actual.threshold).F1(), actual.f1, 1e-15);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// R² and deviances.

TEST(RSquaredReferenceTest, HandComputedCases) {
  // SSres 1, SStot 2.
  EXPECT_NEAR(RSquared(std::vector<float>{1, 2, 4}, std::vector<float>{1, 2, 3}), 0.5, 1e-15);
  // Predicting the mean is 0; worse than the mean is negative.
  EXPECT_NEAR(RSquared(std::vector<float>{2, 2, 2}, std::vector<float>{1, 2, 3}), 0.0, 1e-15);
  EXPECT_NEAR(RSquared(std::vector<float>{3, 2, 1}, std::vector<float>{1, 2, 3}), -3.0, 1e-15);
  // Missing targets are skipped, their predictions included.
  EXPECT_NEAR(RSquared(std::vector<float>{1, 100, 2, kMissing, 4}, std::vector<float>{1, kMissing, 2, kMissing, 3}),
              0.5, 1e-15);
}

TEST(RSquaredReferenceTest, UndefinedCasesAreNaN) {
  EXPECT_TRUE(std::isnan(RSquared(std::vector<float>{}, std::vector<float>{})));
  EXPECT_TRUE(std::isnan(RSquared(std::vector<float>{1}, std::vector<float>{2})));
  EXPECT_TRUE(std::isnan(RSquared(std::vector<float>{1, 2}, std::vector<float>{2, kMissing})));
  // Constant targets (0.1f thrice: their mean is exactly 0.1f, so SStot is exactly 0).
  EXPECT_TRUE(std::isnan(RSquared(std::vector<float>{0.1f, 0.2f, 0.3f}, std::vector<float>{0.1f, 0.1f, 0.1f})));
}

TEST(TweedieDevianceReferenceTest, HandComputedCases) {
  // Poisson: y 2, μ 1: 2 (2 log 2 − 1); y 0, μ 0.5: 2 · 0.5 = 1.
  EXPECT_NEAR(PoissonDeviance(std::vector<float>{1.0f, 0.5f}, std::vector<float>{2.0f, 0.0f}),
              (2.0 * (2.0 * std::log(2.0) - 1.0) + 1.0) / 2.0, 1e-14);
  // Gamma: y 2, μ 1: 2 (log(1/2) + 1).
  EXPECT_NEAR(TweedieDeviance(std::vector<float>{1.0f}, std::vector<float>{2.0f}, 2.0),
              2.0 * (1.0 - std::log(2.0)), 1e-14);
  // p = 1.5, y 4, μ 1: 2 (4^0.5 / (−0.5 · 0.5) − 4 / (−0.5) + 1 / 0.5) = 2 (−8 + 8 + 2) = 4.
  EXPECT_NEAR(TweedieDeviance(std::vector<float>{1.0f}, std::vector<float>{4.0f}, 1.5), 4.0, 1e-14);
  // p = 1.5, y 0, μ 4: 2 · 4^0.5 / 0.5 = 8.
  EXPECT_NEAR(TweedieDeviance(std::vector<float>{4.0f}, std::vector<float>{0.0f}, 1.5), 8.0, 1e-14);
  // A perfect prediction has deviance 0 at every power.
  for (double p : {1.0, 1.3, 1.5, 2.0}) {
    EXPECT_NEAR(TweedieDeviance(std::vector<float>{0.5f, 3.0f}, std::vector<float>{0.5f, 3.0f}, p), 0.0, 1e-14) << p;
  }
}

TEST(TweedieDevianceReferenceTest, ClampsPredictionsBelowTheMinimumMean) {
  // Negative and zero predictions are raised to kMinDevianceMean: with y 0 and p 1 each row costs 2 · 1e-6.
  const std::vector<float> targets{0.0f, 0.0f, 1.0f};
  const std::vector<float> predictions{-0.3f, 0.0f, -5.0f};
  const double y1 = 2.0 * (std::log(1.0 / kMinDevianceMean) - 1.0 + kMinDevianceMean);
  EXPECT_NEAR(PoissonDeviance(predictions, targets), (2.0 * kMinDevianceMean * 2.0 + y1) / 3.0, 1e-12);
  for (double p : {1.0, 1.2, 1.5, 1.8}) {
    ExpectClose(TweedieDeviance(predictions, targets, p), RefTweedieDeviance(predictions, targets, p), 1e-12,
                "power " + std::to_string(p));
  }
  EXPECT_NEAR(TweedieDeviance(std::vector<float>{-1.0f}, std::vector<float>{2.0f}, 2.0),
              2.0 * (std::log(kMinDevianceMean / 2.0) + 2.0 / kMinDevianceMean - 1.0), 1e-6);
}

TEST(TweedieDevianceReferenceTest, NegativeTargetsZeroGammaTargetsAndNoRowsAreNaN) {
  const std::vector<float> predictions{1.0f, 2.0f, 3.0f};
  for (double p : {1.0, 1.5, 2.0}) {
    EXPECT_TRUE(std::isnan(TweedieDeviance(predictions, std::vector<float>{1.0f, -0.5f, 2.0f}, p))) << p;
    EXPECT_TRUE(std::isnan(TweedieDeviance(std::vector<float>{}, std::vector<float>{}, p))) << p;
    EXPECT_TRUE(std::isnan(TweedieDeviance(predictions, std::vector<float>{kMissing, kMissing, kMissing}, p))) << p;
  }
  // p = 2 needs y > 0; p < 2 accepts y = 0.
  EXPECT_TRUE(std::isnan(TweedieDeviance(predictions, std::vector<float>{1.0f, 0.0f, 2.0f}, 2.0)));
  EXPECT_FALSE(std::isnan(TweedieDeviance(predictions, std::vector<float>{1.0f, 0.0f, 2.0f}, 1.9)));
  EXPECT_FALSE(std::isnan(TweedieDeviance(predictions, std::vector<float>{1.0f, 0.0f, 2.0f}, 1.0)));
  // A missing target is skipped, not negative.
  EXPECT_FALSE(std::isnan(TweedieDeviance(predictions, std::vector<float>{1.0f, kMissing, 2.0f}, 2.0)));
}

TEST(TweedieDevianceReferenceTest, PowersOutsideOneAndOneToTwoThrow) {
  const std::vector<float> predictions{1.0f, 2.0f};
  const std::vector<float> targets{1.0f, 3.0f};
  for (double p : {0.0, 0.5, 0.999, -1.0, 2.001, 2.5, 3.0, kNaN, std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(TweedieDeviance(predictions, targets, p), Error) << p;
  }
}

TEST(TweedieDevianceReferenceTest, IsContinuousAtTheEndsOfTheCompoundRange) {
  // The 1 < p < 2 formula tends to the Poisson one as p → 1 and to the gamma one as p → 2.
  const std::vector<float> predictions{0.5f, 2.0f, 3.0f, 0.1f};
  const std::vector<float> targets{1.0f, 2.5f, 0.7f, 4.0f};
  EXPECT_NEAR(TweedieDeviance(predictions, targets, 1.0 + 1e-7), TweedieDeviance(predictions, targets, 1.0), 1e-5);
  EXPECT_NEAR(TweedieDeviance(predictions, targets, 2.0 - 1e-7), TweedieDeviance(predictions, targets, 2.0), 1e-5);
}

struct RegressionRows {
  std::vector<float> predictions;
  std::vector<float> targets;
};

// GMV-like targets: mostly zeros, skewed positives; predictions near them, some slightly negative; some missing.
RegressionRows RandomRegressionRows(TestRng& rng, size_t n, bool allow_zero_targets) {
  RegressionRows rows;
  for (size_t i = 0; i < n; ++i) {
    float target = 0.0f;
    if (rng.Uniform() < 0.1) {
      target = kMissing;
    } else if (!allow_zero_targets || rng.Uniform() < 0.4) {
      target = static_cast<float>(std::exp(4.0 * rng.Uniform()) * 0.5);
    }
    const double base = std::isnan(target) ? 1.0 : target;
    float prediction = static_cast<float>(base * (0.3 + 1.4 * rng.Uniform()) + 2.0 * rng.Uniform() - 0.2);
    if (rng.Uniform() < 0.05) prediction = static_cast<float>(-rng.Uniform());
    rows.predictions.push_back(prediction);
    rows.targets.push_back(target);
  }
  return rows;
}

TEST(RegressionReferenceTest, MatchesDefinitionsOnRandomData) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    TestRng rng(seed);
    const size_t n = 1 + rng.Below(400);
    const RegressionRows rows = RandomRegressionRows(rng, n, /*allow_zero_targets=*/true);
    SCOPED_TRACE("seed " + std::to_string(seed) + " n " + std::to_string(n));
    ExpectClose(RSquared(rows.predictions, rows.targets), RefRSquared(rows.predictions, rows.targets), 1e-10, "r2");
    for (double p : {1.0, 1.1, 1.5, 1.9}) {
      ExpectClose(TweedieDeviance(rows.predictions, rows.targets, p),
                  RefTweedieDeviance(rows.predictions, rows.targets, p), 1e-10, "tweedie " + std::to_string(p));
    }
    // Gamma deviance needs positive targets throughout.
    const RegressionRows positive = RandomRegressionRows(rng, n, /*allow_zero_targets=*/false);
    ExpectClose(TweedieDeviance(positive.predictions, positive.targets, 2.0),
                RefTweedieDeviance(positive.predictions, positive.targets, 2.0), 1e-10, "gamma");
  }
}

TEST(RegressionReferenceTest, ComputeRegressionMetricsReportsTheNewFields) {
  TestRng rng(11);
  const RegressionRows rows = RandomRegressionRows(rng, 300, /*allow_zero_targets=*/true);
  const RegressionMetrics defaults = ComputeRegressionMetrics(rows.predictions, rows.targets);
  ExpectClose(defaults.r2, RefRSquared(rows.predictions, rows.targets), 1e-10, "r2");
  ExpectClose(defaults.poisson_deviance, RefTweedieDeviance(rows.predictions, rows.targets, 1.0), 1e-10, "poisson");
  ExpectClose(defaults.tweedie_deviance, RefTweedieDeviance(rows.predictions, rows.targets, 1.5), 1e-10, "tweedie");
  const RegressionMetrics at_1_3 = ComputeRegressionMetrics(rows.predictions, rows.targets, 1.3);
  ExpectClose(at_1_3.tweedie_deviance, RefTweedieDeviance(rows.predictions, rows.targets, 1.3), 1e-10, "tweedie 1.3");
  ExpectClose(at_1_3.poisson_deviance, defaults.poisson_deviance, 1e-15, "poisson does not depend on the power");
}

// ---------------------------------------------------------------------------------------------------------------
// ComputeBinaryMetrics' new fields.

TEST(BinaryMetricsReferenceTest, PrAucAndBestF1FieldsMatchReferences) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    TestRng rng(seed + 500);
    const BinaryRows rows = RandomBinaryRows(rng, 250, 8, 0.3, 0.1);
    SCOPED_TRACE("seed " + std::to_string(seed));
    const BinaryMetrics m = ComputeBinaryMetrics(rows.scores, rows.labels, 0.5);
    const RefBestF1 best = RefFindBestF1(rows.scores, rows.labels);
    ExpectClose(m.pr_auc, RefPrAuc(rows.scores, rows.labels), 1e-12, "pr_auc");
    EXPECT_NEAR(m.best_f1, best.f1, 1e-15);
    EXPECT_EQ(m.best_f1_threshold, best.threshold);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Forecasting metrics.

// A forecast of units sold: integer sales with many zeros and some missing labels, a forecast near them, a
// seasonal naive forecast (another day's sales, absent for some rows) and a quantile forecast, all on a grid of
// whole or half units so that a quantile often equals its target exactly (coverage counts y = q as covered).
struct ForecastRows {
  std::vector<float> sales;
  std::vector<float> forecast;
  std::vector<float> naive;
  std::vector<float> quantile;
};

ForecastRows RandomForecastRows(TestRng& rng, size_t n, double zero_rate) {
  ForecastRows rows;
  for (size_t i = 0; i < n; ++i) {
    float y = rng.Uniform() < zero_rate ? 0.0f : static_cast<float>(1 + rng.Below(12));
    rows.forecast.push_back(static_cast<float>(0.5 * static_cast<double>(rng.Below(30))));
    rows.naive.push_back(rng.Uniform() < 0.15 ? kMissing : static_cast<float>(rng.Below(12)));
    rows.quantile.push_back(y + static_cast<float>(0.5 * (static_cast<double>(rng.Below(9)) - 3.0)));
    if (rng.Uniform() < 0.1) y = kMissing;
    rows.sales.push_back(y);
  }
  return rows;
}

// The rows with a target (and, for the naive, a naive forecast), as (forecast, target) pairs.
std::vector<std::pair<double, double>> LabelledPairs(const std::vector<float>& forecast,
                                                     const std::vector<float>& targets) {
  std::vector<std::pair<double, double>> pairs;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (Labelled(targets[i])) pairs.emplace_back(forecast[i], targets[i]);
  }
  return pairs;
}

// WAPE as the mean absolute error over the mean absolute target.
double RefWape(const std::vector<float>& forecast, const std::vector<float>& targets) {
  const auto pairs = LabelledPairs(forecast, targets);
  double mae = 0.0, volume = 0.0;
  for (const auto& [f, y] : pairs) mae += std::abs(f - y) / static_cast<double>(pairs.size());
  for (const auto& [f, y] : pairs) volume += std::abs(y) / static_cast<double>(pairs.size());
  return volume == 0.0 ? kNaN : mae / volume;
}

// Bias as (Σ forecast − Σ target) / Σ target.
double RefBias(const std::vector<float>& forecast, const std::vector<float>& targets) {
  double forecast_total = 0.0, target_total = 0.0;
  for (const auto& [f, y] : LabelledPairs(forecast, targets)) forecast_total += f, target_total += y;
  return target_total == 0.0 ? kNaN : (forecast_total - target_total) / target_total;
}

// MASE from the list of rows having both a target and a naive forecast, each MAE a plain mean over that list.
double RefMase(const std::vector<float>& forecast, const std::vector<float>& naive, const std::vector<float>& targets) {
  std::vector<size_t> rows;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (Labelled(targets[i]) && !std::isnan(naive[i])) rows.push_back(i);
  }
  if (rows.empty()) return kNaN;
  double model = 0.0, baseline = 0.0;
  for (size_t i : rows) model += std::abs(static_cast<double>(forecast[i]) - targets[i]);
  for (size_t i : rows) baseline += std::abs(static_cast<double>(naive[i]) - targets[i]);
  if (baseline == 0.0) return kNaN;
  return (model / static_cast<double>(rows.size())) / (baseline / static_cast<double>(rows.size()));
}

// The pinball loss in its other textbook form, ρ_τ(u) = u (τ − 1{u < 0}) with u = y − q.
double RefPinball(const std::vector<float>& quantiles, const std::vector<float>& targets, double tau) {
  const auto pairs = LabelledPairs(quantiles, targets);
  if (pairs.empty()) return kNaN;
  double sum = 0.0;
  for (const auto& [q, y] : pairs) sum += (y - q) * (tau - (y - q < 0.0 ? 1.0 : 0.0));
  return sum / static_cast<double>(pairs.size());
}

// Coverage by sorting the rows' slack q − y and counting those at or above 0.
double RefCoverage(const std::vector<float>& quantiles, const std::vector<float>& targets) {
  std::vector<double> slack;
  for (const auto& [q, y] : LabelledPairs(quantiles, targets)) slack.push_back(q - y);
  if (slack.empty()) return kNaN;
  std::sort(slack.begin(), slack.end());
  const auto first_covered = std::lower_bound(slack.begin(), slack.end(), 0.0);
  return static_cast<double>(slack.end() - first_covered) / static_cast<double>(slack.size());
}

TEST(ForecastReferenceTest, HandComputedWapeAndBias) {
  const std::vector<float> forecast{2, 0, 5, 100}, sales{1, 2, 4, kMissing};
  // |1| + |−2| + |1| = 4 over 7 units sold; the missing row and its 100 are skipped.
  EXPECT_NEAR(Wape(forecast, sales), 4.0 / 7.0, 1e-15);
  // (1 − 2 + 1) / 7: errors of both signs cancel in the bias, not in the WAPE.
  EXPECT_NEAR(Bias(forecast, sales), 0.0, 1e-15);
  // 6 forecast for 4 sold: 50% over; 2 for 4: 50% under.
  EXPECT_NEAR(Bias(std::vector<float>{3, 3}, std::vector<float>{2, 2}), 0.5, 1e-15);
  EXPECT_NEAR(Bias(std::vector<float>{1, 1}, std::vector<float>{2, 2}), -0.5, 1e-15);
  // A zero sale adds only its forecast's error.
  EXPECT_NEAR(Wape(std::vector<float>{1, 3}, std::vector<float>{0, 4}), 2.0 / 4.0, 1e-15);
  // No units sold: both undefined.
  EXPECT_TRUE(std::isnan(Wape(std::vector<float>{1, 2}, std::vector<float>{0, 0})));
  EXPECT_TRUE(std::isnan(Bias(std::vector<float>{1, 2}, std::vector<float>{0, 0})));
  EXPECT_TRUE(std::isnan(Wape(std::vector<float>{1}, std::vector<float>{kMissing})));
  EXPECT_TRUE(std::isnan(Bias(std::vector<float>{}, std::vector<float>{})));
}

TEST(ForecastReferenceTest, HandComputedMase) {
  // Rows 0 and 2 have a naive forecast: model errors 1, 1 (MAE 1), naive errors 0, 3 (MAE 1.5). Row 1 has no
  // naive forecast and row 3 no label: both left out of both MAEs.
  const std::vector<float> forecast{2, 30, 5, 9}, naive{1, kMissing, 7, 0}, sales{1, 3, 4, kMissing};
  EXPECT_NEAR(Mase(forecast, naive, sales), 2.0 / 3.0, 1e-15);
  // The naive forecast itself scores 1.
  EXPECT_NEAR(Mase(naive, naive, sales), 1.0, 1e-15);
  // A perfect naive forecast, or none at all, leaves no scale.
  EXPECT_TRUE(std::isnan(Mase(forecast, std::vector<float>{1, 3, 4, 0}, sales)));
  EXPECT_TRUE(std::isnan(Mase(forecast, std::vector<float>(4, kMissing), sales)));
  // The naive's own WAPE on the rows it forecasts: (0 + 3) / (1 + 4).
  EXPECT_NEAR(Wape(naive, TargetsWhereForecast(naive, sales)), 3.0 / 5.0, 1e-15);
}

TEST(ForecastReferenceTest, HandComputedPinballAndCoverage) {
  // τ 0.9, q 10: 2 units under costs 0.9 · 2, 2 units over costs 0.1 · 2.
  EXPECT_NEAR(PinballLoss(std::vector<float>{10, 10}, std::vector<float>{12, 8}, 0.9), (1.8 + 0.2) / 2, 1e-15);
  // At τ 0.5 it is half the absolute error.
  EXPECT_NEAR(PinballLoss(std::vector<float>{1, 4}, std::vector<float>{2, 2}, 0.5), 0.5 * 1.5, 1e-15);
  // y ≤ q: 12 > 10 not covered, 10 = 10 covered, 4 < 5 covered; the missing row is skipped.
  const std::vector<float> q{10, 10, 5, 3}, y{12, 10, 4, kMissing};
  EXPECT_NEAR(Coverage(q, y), 2.0 / 3.0, 1e-15);
  EXPECT_TRUE(std::isnan(Coverage(std::vector<float>{1}, std::vector<float>{kMissing})));
  EXPECT_TRUE(std::isnan(PinballLoss(std::vector<float>{1}, std::vector<float>{kMissing}, 0.9)));
  for (double tau : {0.0, 1.0, -0.1, 1.5, kNaN}) {
    EXPECT_THROW(PinballLoss(q, y, tau), Error) << tau;
  }
}

// The pinball loss at τ of a constant forecast is lowest at the τ-quantile of the targets: 1..10 at τ 0.9 is
// lowest from 9 to 10 (any q between the 9th and 10th order statistics), higher on either side.
TEST(ForecastReferenceTest, PinballLossIsLowestAtTheQuantile) {
  std::vector<float> sales;
  for (int y = 1; y <= 10; ++y) sales.push_back(static_cast<float>(y));
  const auto loss = [&](float q) { return PinballLoss(std::vector<float>(sales.size(), q), sales, 0.9); };
  EXPECT_NEAR(loss(9.0f), loss(10.0f), 1e-12);
  EXPECT_NEAR(loss(9.0f), loss(9.5f), 1e-12);
  for (float q : {0.0f, 5.0f, 8.0f, 8.9f, 10.1f, 12.0f}) EXPECT_GT(loss(q), loss(9.0f) + 1e-9) << q;
}

TEST(ForecastReferenceTest, MatchesDefinitionsOnRandomData) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    TestRng rng(seed + 900);
    const size_t n = 1 + rng.Below(300);
    // Some runs all zeros or nearly: WAPE and bias must then be NaN, not a division by zero.
    const double zero_rate = seed % 10 == 0 ? 1.0 : 0.6 * rng.Uniform();
    const ForecastRows rows = RandomForecastRows(rng, n, zero_rate);
    SCOPED_TRACE("seed " + std::to_string(seed) + " n " + std::to_string(n));
    ExpectClose(Wape(rows.forecast, rows.sales), RefWape(rows.forecast, rows.sales), 1e-12, "wape");
    ExpectClose(Bias(rows.forecast, rows.sales), RefBias(rows.forecast, rows.sales), 1e-12, "bias");
    ExpectClose(Mase(rows.forecast, rows.naive, rows.sales), RefMase(rows.forecast, rows.naive, rows.sales), 1e-12,
                "mase");
    for (double tau : {0.1, 0.5, 0.9}) {
      ExpectClose(PinballLoss(rows.quantile, rows.sales, tau), RefPinball(rows.quantile, rows.sales, tau), 1e-12,
                  "pinball " + std::to_string(tau));
    }
    ExpectClose(Coverage(rows.quantile, rows.sales), RefCoverage(rows.quantile, rows.sales), 1e-15, "coverage");
  }
}

TEST(BadInputReferenceTest, ForecastMetricsRejectMismatchedLengths) {
  const std::vector<float> three{1, 2, 3}, two{1, 2};
  EXPECT_THROW(Wape(three, two), Error);
  EXPECT_THROW(Bias(three, two), Error);
  EXPECT_THROW(Mase(three, three, two), Error);
  EXPECT_THROW(Mase(three, two, three), Error);
  EXPECT_THROW(PinballLoss(three, two, 0.9), Error);
  EXPECT_THROW(Coverage(three, two), Error);
  EXPECT_THROW(TargetsWhereForecast(three, two), Error);
}

// ---------------------------------------------------------------------------------------------------------------
// Calibration.

void ExpectCalibrationMatches(const Calibration& actual, const RefCalibration& expected) {
  ExpectClose(actual.ratio, expected.ratio, 1e-12, "ratio");
  ExpectClose(actual.ece, expected.ece, 1e-12, "ece");
  ASSERT_EQ(actual.bins.size(), expected.bins.size());
  for (size_t b = 0; b < expected.bins.size(); ++b) {
    const RefBin& e = expected.bins[b];
    const ReliabilityBin& a = actual.bins[b];
    SCOPED_TRACE("bin " + std::to_string(b));
    EXPECT_NEAR(a.lower, e.lower, 1e-15);
    EXPECT_NEAR(a.upper, e.upper, 1e-15);
    EXPECT_EQ(a.rows, e.rows);
    const double rows = static_cast<double>(e.rows);
    ExpectClose(a.mean_prediction, e.rows == 0 ? kNaN : e.prediction_sum / rows, 1e-12, "mean_prediction");
    ExpectClose(a.positive_rate, e.rows == 0 ? kNaN : e.label_sum / rows, 1e-12, "positive_rate");
  }
}

TEST(CalibrationReferenceTest, BinEdgesFollowTheHalfOpenRuleWithALastClosedBin) {
  // Four bins with exactly representable bounds: 0.25 opens bin 1, 0.5 bin 2, 0.75 bin 3; 1.0 is in the closed
  // last bin; below 0 and above 1 are counted in the first and last bins.
  const std::vector<float> scores{0.0f, 0.25f, 0.5f, 0.75f, 1.0f, -0.2f, 1.3f, 0.1f, 0.2499f, kMissing};
  const std::vector<float> labels{0, 1, 0, 1, 1, 0, 1, 0, 1, kMissing};
  const Calibration c = ComputeCalibration(scores, labels, 4);
  ASSERT_EQ(c.bins.size(), 4u);
  EXPECT_EQ(c.bins[0].rows, 4);  // 0.0, -0.2, 0.1, 0.2499
  EXPECT_EQ(c.bins[1].rows, 1);  // 0.25
  EXPECT_EQ(c.bins[2].rows, 1);  // 0.5
  EXPECT_EQ(c.bins[3].rows, 3);  // 0.75, 1.0, 1.3
  ExpectCalibrationMatches(c, RefComputeCalibration(scores, labels, 4));
}

TEST(CalibrationReferenceTest, TenBinEdgesOfFloatScores) {
  // 0.1f is slightly above 0.1, so bin 1; 0.7f is slightly below 0.7, so bin 6 (the bins are of real numbers, and
  // the float 0.7f is not 0.7); 0.5 opens bin 5; 1.0 is the last bin.
  const std::vector<float> scores{0.1f, 0.7f, 0.5f, 1.0f, 0.0999f};
  const std::vector<float> labels{1, 0, 1, 1, 0};
  const Calibration c = ComputeCalibration(scores, labels, 10);
  ASSERT_EQ(c.bins.size(), 10u);
  EXPECT_EQ(c.bins[0].rows, 1);
  EXPECT_EQ(c.bins[1].rows, 1);
  EXPECT_EQ(c.bins[5].rows, 1);
  EXPECT_EQ(c.bins[6].rows, 1);
  EXPECT_EQ(c.bins[7].rows, 0);
  EXPECT_EQ(c.bins[9].rows, 1);
  ExpectCalibrationMatches(c, RefComputeCalibration(scores, labels, 10));
}

TEST(CalibrationReferenceTest, HandComputedEceAndRatio) {
  // Two bins: [0, 0.5) holds 0.25 and 0.25 with one positive (|0.25 − 0.5| = 0.25), [0.5, 1] holds 0.75 with no
  // positive (0.75). ECE = 2/3 · 0.25 + 1/3 · 0.75 = 5/12; ratio = 1.25 / 1.
  const Calibration c = ComputeCalibration(std::vector<float>{0.25f, 0.25f, 0.75f}, std::vector<float>{1, 0, 0}, 2);
  EXPECT_NEAR(c.ece, 5.0 / 12.0, 1e-15);
  EXPECT_NEAR(c.ratio, 1.25, 1e-15);
}

TEST(CalibrationReferenceTest, EmptyAndDegenerateInputs) {
  // No labelled rows: every bin present and empty, ECE and ratio NaN.
  const Calibration none =
      ComputeCalibration(std::vector<float>{0.3f, kMissing}, std::vector<float>{kMissing, kMissing}, 5);
  ExpectCalibrationMatches(none, RefComputeCalibration({0.3f, kMissing}, {kMissing, kMissing}, 5));
  EXPECT_TRUE(std::isnan(none.ece));
  EXPECT_TRUE(std::isnan(none.ratio));
  // No positive: ratio NaN, ECE defined.
  const Calibration negatives = ComputeCalibration(std::vector<float>{0.2f, 0.6f}, std::vector<float>{0, 0}, 3);
  EXPECT_TRUE(std::isnan(negatives.ratio));
  EXPECT_NEAR(negatives.ece, 0.4, 1e-7);
  // One bin: ECE is |mean prediction − positive rate|.
  const Calibration one = ComputeCalibration(std::vector<float>{0.2f, 0.6f, 0.9f}, std::vector<float>{1, 0, 1}, 1);
  ExpectCalibrationMatches(one, RefComputeCalibration({0.2f, 0.6f, 0.9f}, {1, 0, 1}, 1));
}

TEST(CalibrationReferenceTest, MatchesReferenceOnRandomTiedData) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (int bins : {1, 3, 10, 20}) {
      TestRng rng(seed * 101 + bins);
      BinaryRows rows = RandomBinaryRows(rng, 300, 40, 0.3, 0.1);
      // Stretch the grid to [-0.05, 1.05] so some scores fall outside [0, 1] and some hit bin edges.
      for (float& s : rows.scores) {
        if (!std::isnan(s)) s = s * 1.1f - 0.05f;
      }
      SCOPED_TRACE("seed " + std::to_string(seed) + " bins " + std::to_string(bins));
      ExpectCalibrationMatches(ComputeCalibration(rows.scores, rows.labels, bins),
                               RefComputeCalibration(rows.scores, rows.labels, bins));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ROC curve.

TEST(RocCurveReferenceTest, HandComputedCurveWithTies) {
  // Thresholds 0.9 (tp 1), 0.5 (a tied positive and negative: diagonal step), 0.2 (the last negative).
  const std::vector<float> scores{0.5f, 0.9f, 0.2f, 0.5f, kMissing};
  const std::vector<float> labels{1, 1, 0, 0, kMissing};
  const std::vector<CurvePoint> curve = RocCurve(scores, labels, 100);
  const std::vector<CurvePoint> expected{{0, 0}, {0, 0.5}, {0.5, 1}, {1, 1}};
  ASSERT_EQ(curve.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(curve[i].x, expected[i].x, 1e-15) << i;
    EXPECT_NEAR(curve[i].y, expected[i].y, 1e-15) << i;
  }
  EXPECT_NEAR(TrapezoidArea(curve), 0.875, 1e-15);
  EXPECT_NEAR(TrapezoidArea(curve), Auc(scores, labels), 1e-15);
}

TEST(RocCurveReferenceTest, EmptyWhenAClassIsAbsent) {
  EXPECT_TRUE(RocCurve(std::vector<float>{0.1f, 0.2f}, std::vector<float>{1, 1}, 10).empty());
  EXPECT_TRUE(RocCurve(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, kMissing}, 10).empty());
  EXPECT_TRUE(RocCurve(std::vector<float>{}, std::vector<float>{}, 10).empty());
}

TEST(RocCurveReferenceTest, UnthinnedCurveIsOnePointPerThresholdAndItsAreaIsTheAuc) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (uint64_t grid : {1, 3, 10, 200}) {
      TestRng rng(seed * 13 + grid);
      const BinaryRows rows = RandomBinaryRows(rng, 300, grid, 0.3, 0.1);
      SCOPED_TRACE("seed " + std::to_string(seed) + " grid " + std::to_string(grid));
      const std::vector<CurvePoint> expected = RefRocCurve(rows.scores, rows.labels);
      const std::vector<CurvePoint> actual = RocCurve(rows.scores, rows.labels, 1000);
      ASSERT_EQ(actual.size(), expected.size());
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_NEAR(actual[i].x, expected[i].x, 1e-15) << i;
        EXPECT_NEAR(actual[i].y, expected[i].y, 1e-15) << i;
      }
      if (expected.empty()) continue;
      EXPECT_EQ(actual.front().x, 0.0);
      EXPECT_EQ(actual.front().y, 0.0);
      EXPECT_EQ(actual.back().x, 1.0);
      EXPECT_EQ(actual.back().y, 1.0);
      const std::vector<size_t> all = [&] {
        std::vector<size_t> v(rows.scores.size());
        for (size_t i = 0; i < v.size(); ++i) v[i] = i;
        return v;
      }();
      EXPECT_NEAR(TrapezoidArea(actual), PairwiseAuc(rows.scores, rows.labels, all), 1e-12);
      EXPECT_NEAR(TrapezoidArea(actual), Auc(rows.scores, rows.labels), 1e-12);
    }
  }
}

TEST(RocCurveReferenceTest, ThinnedCurveKeepsEndsAndEvenlySpacedPointsOfTheFullCurve) {
  TestRng rng(77);
  const BinaryRows rows = RandomBinaryRows(rng, 400, 1000, 0.4, 0.05);
  // The unthinned curve (checked against the reference above) is what thinning selects from.
  const std::vector<CurvePoint> full = RocCurve(rows.scores, rows.labels, 1u << 20);
  ASSERT_EQ(full.size(), RefRocCurve(rows.scores, rows.labels).size());
  ASSERT_GT(full.size(), 100u);
  for (size_t max_points : {2, 3, 7, 50, 100}) {
    SCOPED_TRACE("max_points " + std::to_string(max_points));
    const std::vector<CurvePoint> thin = RocCurve(rows.scores, rows.labels, max_points);
    ASSERT_GE(thin.size(), 2u);
    EXPECT_LE(thin.size(), max_points);
    EXPECT_EQ(thin.front().x, 0.0);
    EXPECT_EQ(thin.front().y, 0.0);
    EXPECT_EQ(thin.back().x, 1.0);
    EXPECT_EQ(thin.back().y, 1.0);
    // Every kept point is a point of the full curve, in order; no gap is far wider than an even spacing.
    std::vector<size_t> kept;
    size_t next = 0;
    for (const CurvePoint& p : thin) {
      while (next < full.size() && (full[next].x != p.x || full[next].y != p.y)) ++next;
      ASSERT_LT(next, full.size()) << "(" << p.x << ", " << p.y << ") is not on the full curve in order";
      kept.push_back(next++);
    }
    const size_t even_gap = (full.size() - 1 + thin.size() - 2) / (thin.size() - 1);
    for (size_t i = 1; i < kept.size(); ++i) EXPECT_LE(kept[i] - kept[i - 1], 2 * even_gap) << i;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// GAUC.

void ExpectGroupedAucMatches(const GroupedAuc& actual, const RefGroupedAuc& expected) {
  ExpectClose(actual.by_impressions, expected.by_impressions, 1e-12, "by_impressions");
  ExpectClose(actual.by_positives, expected.by_positives, 1e-12, "by_positives");
  EXPECT_EQ(actual.groups, expected.groups);
  EXPECT_EQ(actual.skipped, expected.skipped);
}

TEST(GroupedAucReferenceTest, HandComputedGroupsWithTiesOneClassAndMissingLabels) {
  // Group 7: AUC 1 (2 rows, 1 positive). Group 3: both positives lose to the negative, AUC 0 (3 rows, 2 positives).
  // Group 9: positives only, skipped. Group 4: no label at all, in neither count. Group 5: a tie, AUC 1/2 (2 rows
  // once the NaN-labelled, NaN-scored row is left out, 1 positive). Rows of a group are interleaved.
  const std::vector<int64_t> ids{7, 3, 9, 4, 5, 3, 7, 5, 3, 9, 4, 5};
  const std::vector<float> scores{0.9f, 0.2f, 0.1f, 0.5f, 0.3f, 0.8f, 0.1f, kMissing, 0.5f, 0.4f, 0.6f, 0.3f};
  const std::vector<float> labels{1, 1, 1, kMissing, 0, 0, 0, kMissing, 1, 1, kMissing, 1};
  const GroupedAuc g = ComputeGroupedAuc(scores, labels, ids);
  EXPECT_NEAR(g.by_impressions, (2 * 1.0 + 3 * 0.0 + 2 * 0.5) / 7.0, 1e-15);
  EXPECT_NEAR(g.by_positives, (1 * 1.0 + 2 * 0.0 + 1 * 0.5) / 4.0, 1e-15);
  EXPECT_EQ(g.groups, 3);
  EXPECT_EQ(g.skipped, 1);
  ExpectGroupedAucMatches(g, RefComputeGroupedAuc(scores, labels, ids));
}

TEST(GroupedAucReferenceTest, NoGroupWithBothClassesIsNaN) {
  const GroupedAuc g = ComputeGroupedAuc(std::vector<float>{0.1f, 0.2f, 0.3f}, std::vector<float>{1, 0, kMissing},
                                         std::vector<int64_t>{1, 2, 3});
  EXPECT_TRUE(std::isnan(g.by_impressions));
  EXPECT_TRUE(std::isnan(g.by_positives));
  EXPECT_EQ(g.groups, 0);
  EXPECT_EQ(g.skipped, 2);
  const GroupedAuc empty = ComputeGroupedAuc(std::vector<float>{}, std::vector<float>{}, std::vector<int64_t>{});
  EXPECT_TRUE(std::isnan(empty.by_impressions));
  EXPECT_EQ(empty.groups, 0);
  EXPECT_EQ(empty.skipped, 0);
}

TEST(GroupedAucReferenceTest, OneGroupIsTheAuc) {
  TestRng rng(5);
  const BinaryRows rows = RandomBinaryRows(rng, 200, 6, 0.4, 0.1);
  const GroupedAuc g = ComputeGroupedAuc(rows.scores, rows.labels, std::vector<int64_t>(200, -42));
  EXPECT_NEAR(g.by_impressions, Auc(rows.scores, rows.labels), 1e-12);
  EXPECT_NEAR(g.by_positives, Auc(rows.scores, rows.labels), 1e-12);
  EXPECT_EQ(g.groups, 1);
}

TEST(GroupedAucReferenceTest, MatchesPairwiseReferenceOnRandomGroups) {
  int64_t skipped_seen = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    TestRng rng(seed * 37);
    const size_t n = 50 + rng.Below(300);
    const uint64_t group_count = 1 + rng.Below(60);
    BinaryRows rows = RandomBinaryRows(rng, n, 1 + rng.Below(6), 0.1 + 0.5 * rng.Uniform(), 0.15);
    std::vector<int64_t> ids(n);
    for (auto& id : ids) id = static_cast<int64_t>(rng.Below(group_count)) * 1'000'003 - 500;  // arbitrary ids
    // One group whose rows all lack a label.
    for (size_t i = 0; i < n; ++i) {
      if (ids[i] == -500) rows.labels[i] = kMissing;
    }
    SCOPED_TRACE("seed " + std::to_string(seed) + " n " + std::to_string(n));
    const RefGroupedAuc expected = RefComputeGroupedAuc(rows.scores, rows.labels, ids);
    ExpectGroupedAucMatches(ComputeGroupedAuc(rows.scores, rows.labels, ids), expected);
    skipped_seen += expected.skipped;
  }
  EXPECT_GT(skipped_seen, 20);
}

// ---------------------------------------------------------------------------------------------------------------
// Ranking.

void ExpectRankingMatches(const std::vector<RankingAtK>& actual, const std::vector<RefRankingAtK>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t q = 0; q < expected.size(); ++q) {
    SCOPED_TRACE("k " + std::to_string(expected[q].k));
    EXPECT_EQ(actual[q].k, expected[q].k);
    ExpectClose(actual[q].ndcg, expected[q].ndcg, 1e-12, "ndcg");
    ExpectClose(actual[q].recall, expected[q].recall, 1e-12, "recall");
    ExpectClose(actual[q].value_share, expected[q].value_share, 1e-12, "value_share");
    EXPECT_EQ(actual[q].groups, expected[q].groups);
    EXPECT_EQ(actual[q].groups_relevant, expected[q].groups_relevant);
  }
}

TEST(RankingReferenceTest, HandComputedTieStraddlingK) {
  // Order a, {b, c} tied, d. At k = 2 the tied block straddles the cut: position 2 holds b or c with probability
  // 1/2 each. DCG@2 = 0 + 1/2 · 1/log2(3); IDCG@2 = 3 + 1/log2(3) (relevances 2, 1). Recall@2: b is in the top 2
  // half the time, d never: 1/4. Value@2 = 10 + (20 + 30)/2 of 100.
  const std::vector<float> scores{0.9f, 0.5f, 0.5f, 0.1f};
  const std::vector<float> relevance{0, 1, 0, 2};
  const std::vector<float> value{10, 20, 30, 40};
  const std::vector<int64_t> ids{1, 1, 1, 1};
  const std::vector<RankingAtK> r = ComputeRanking(scores, relevance, value, ids, std::vector<int64_t>{2});
  ASSERT_EQ(r.size(), 1u);
  const double l3 = std::log2(3.0);
  EXPECT_NEAR(r[0].ndcg, (0.5 / l3) / (3.0 + 1.0 / l3), 1e-15);
  EXPECT_NEAR(r[0].recall, 0.25, 1e-15);
  EXPECT_NEAR(r[0].value_share, 0.35, 1e-15);
  EXPECT_EQ(r[0].groups, 1);
  EXPECT_EQ(r[0].groups_relevant, 1);
  ExpectRankingMatches(r, RefComputeRanking(scores, relevance, value, ids, {2}));
}

TEST(RankingReferenceTest, ConstantScoreIsTheExpectationOfARandomRanking) {
  // Every row tied: each position holds the mean gain, so E[DCG@k] = mean gain · Σ_{i ≤ k} 1/log2(i + 1), and
  // recall and value share are both min(k, n) / n.
  const std::vector<float> scores(5, 0.5f);
  const std::vector<float> relevance{3, 0, 1, 0, 2};
  const std::vector<float> value{5, 1, 0, 2, 2};
  const std::vector<int64_t> ids(5, 8);
  const std::vector<int64_t> ks{1, 2, 3, 5, 9};
  const std::vector<RankingAtK> r = ComputeRanking(scores, relevance, value, ids, ks);
  ASSERT_EQ(r.size(), ks.size());
  const double mean_gain = (7.0 + 0.0 + 1.0 + 0.0 + 3.0) / 5.0;
  const double ideal_gains[] = {7.0, 3.0, 1.0, 0.0, 0.0};
  for (size_t q = 0; q < ks.size(); ++q) {
    const size_t top = std::min<size_t>(ks[q], 5);
    double discounts = 0.0;
    double idcg = 0.0;
    for (size_t i = 0; i < top; ++i) {
      discounts += 1.0 / std::log2(static_cast<double>(i) + 2.0);
      idcg += ideal_gains[i] / std::log2(static_cast<double>(i) + 2.0);
    }
    SCOPED_TRACE("k " + std::to_string(ks[q]));
    EXPECT_NEAR(r[q].ndcg, mean_gain * discounts / idcg, 1e-14);
    EXPECT_NEAR(r[q].recall, static_cast<double>(top) / 5.0, 1e-14);
    EXPECT_NEAR(r[q].value_share, static_cast<double>(top) / 5.0, 1e-14);
  }
  ExpectRankingMatches(r, RefComputeRanking(scores, relevance, value, ids, ks));
}

TEST(RankingReferenceTest, MixedGroupsSingletonsNoRelevantRowsAndInterleavedRows) {
  // Group 1: a tie at the top; group 2: one row, relevant; group 3: no relevant row (counts for value only);
  // group 4: one row, not relevant; group 5: ties everywhere, graded relevance. Rows of groups interleaved.
  const std::vector<int64_t> ids{1, 3, 2, 1, 5, 3, 1, 5, 4, 5, 1, 5, 3};
  const std::vector<float> scores{0.7f, 0.2f, 0.4f, 0.7f, 0.3f, 0.9f, 0.1f, 0.3f, 0.5f, 0.6f, 0.7f, 0.6f, 0.2f};
  const std::vector<float> relevance{1, 0, 2, 0, 3, 0, 2, 1, 0, 0, 0, 1.5f, 0};
  const std::vector<float> value{4, 7, 9, 0, 12, 1, 6, 3, 2, 0, 0, 5, 8};
  const std::vector<int64_t> ks{1, 2, 3, 4, 10};
  ExpectRankingMatches(ComputeRanking(scores, relevance, value, ids, ks),
                       RefComputeRanking(scores, relevance, value, ids, ks));
  // Without values the share is NaN, the rest unchanged.
  ExpectRankingMatches(ComputeRanking(scores, relevance, std::vector<float>{}, ids, ks),
                       RefComputeRanking(scores, relevance, {}, ids, ks));
}

TEST(RankingReferenceTest, DegenerateInputsAreNaN) {
  // No relevant row anywhere: ndcg and recall average over no group.
  const std::vector<RankingAtK> none =
      ComputeRanking(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, 0}, std::vector<float>{1, 2},
                     std::vector<int64_t>{1, 2}, std::vector<int64_t>{1});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(std::isnan(none[0].ndcg));
  EXPECT_TRUE(std::isnan(none[0].recall));
  EXPECT_NEAR(none[0].value_share, 1.0, 1e-15);
  EXPECT_EQ(none[0].groups, 2);
  EXPECT_EQ(none[0].groups_relevant, 0);
  // Values that sum to 0.
  const std::vector<RankingAtK> zero =
      ComputeRanking(std::vector<float>{0.1f, 0.2f}, std::vector<float>{1, 0}, std::vector<float>{0, 0},
                     std::vector<int64_t>{1, 1}, std::vector<int64_t>{1});
  ASSERT_EQ(zero.size(), 1u);
  EXPECT_TRUE(std::isnan(zero[0].value_share));
  EXPECT_NEAR(zero[0].ndcg, 0.0, 1e-15);
}

TEST(RankingReferenceTest, MatchesEnumerationOfTiedOrdersOnRandomGroups) {
  const std::vector<int64_t> ks{1, 2, 3, 5, 10};
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    TestRng rng(seed * 9973);
    // Groups of 1 to 7 rows (so at most 7! orders), about 300 rows in all, then shuffled so groups interleave.
    std::vector<int64_t> ids;
    for (int64_t group = 0; ids.size() < 300; ++group) {
      const size_t size = 1 + rng.Below(7);
      for (size_t j = 0; j < size; ++j) ids.push_back(group * 17 + 3);
    }
    for (size_t i = ids.size() - 1; i > 0; --i) std::swap(ids[i], ids[rng.Below(i + 1)]);
    const uint64_t grid = 1 + rng.Below(5);
    std::vector<float> scores;
    std::vector<float> relevance;
    std::vector<float> value;
    for (size_t i = 0; i < ids.size(); ++i) {
      scores.push_back(static_cast<float>(rng.Below(grid)) / 4.0f);
      const uint64_t r = rng.Below(8);
      relevance.push_back(r < 5 ? 0.0f : static_cast<float>(r - 4));
      value.push_back(relevance.back() > 0.0f ? static_cast<float>(rng.Below(100)) : (rng.Below(4) == 0 ? 1.5f : 0.0f));
    }
    SCOPED_TRACE("seed " + std::to_string(seed) + " grid " + std::to_string(grid));
    ExpectRankingMatches(ComputeRanking(scores, relevance, value, ids, ks),
                         RefComputeRanking(scores, relevance, value, ids, ks));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bad inputs, where the headers promise an Error.

TEST(BadInputReferenceTest, MetricsRejectMismatchedLengthsBadLabelsAndNaNScores) {
  const std::vector<float> three{0.1f, 0.5f, 0.9f};
  const std::vector<float> two{0, 1};
  EXPECT_THROW(PrAuc(three, two), Error);
  EXPECT_THROW(FindBestF1(three, two), Error);
  EXPECT_THROW(RSquared(three, two), Error);
  EXPECT_THROW(TweedieDeviance(three, two, 1.5), Error);
  EXPECT_THROW(PoissonDeviance(three, two), Error);
  EXPECT_THROW(ComputeRegressionMetrics(three, two), Error);
  EXPECT_THROW(ComputeBinaryMetrics(three, two, 0.5), Error);
  // Binary labels other than 0 and 1.
  EXPECT_THROW(PrAuc(three, std::vector<float>{0, 2, 1}), Error);
  EXPECT_THROW(PrAuc(three, std::vector<float>{0, 0.5f, 1}), Error);
  EXPECT_THROW(FindBestF1(three, std::vector<float>{0, 2, 1}), Error);
  // A NaN score on a labelled row has no place among the thresholds; on an unlabelled row it is ignored.
  const std::vector<float> nan_score{0.1f, kMissing, 0.9f};
  EXPECT_THROW(PrAuc(nan_score, std::vector<float>{0, 1, 1}), Error);
  EXPECT_THROW(FindBestF1(nan_score, std::vector<float>{0, 1, 1}), Error);
  EXPECT_NO_THROW(PrAuc(nan_score, std::vector<float>{0, kMissing, 1}));
  EXPECT_NO_THROW(FindBestF1(nan_score, std::vector<float>{0, kMissing, 1}));
}

TEST(BadInputReferenceTest, CalibrationCurvesAndGaucRejectBadInputs) {
  const std::vector<float> three{0.1f, 0.5f, 0.9f};
  const std::vector<float> nan_score{0.1f, kMissing, 0.9f};
  EXPECT_THROW(ComputeCalibration(three, std::vector<float>{0, 1}, 10), Error);
  EXPECT_THROW(ComputeCalibration(three, std::vector<float>{0, 2, 1}, 10), Error);
  EXPECT_THROW(ComputeCalibration(nan_score, std::vector<float>{0, 1, 1}, 10), Error);
  EXPECT_NO_THROW(ComputeCalibration(nan_score, std::vector<float>{0, kMissing, 1}, 10));
  EXPECT_THROW(RocCurve(three, std::vector<float>{0, 2, 1}, 10), Error);
  const std::vector<int64_t> ids{1, 1, 2};
  EXPECT_THROW(ComputeGroupedAuc(three, std::vector<float>{0, 1}, ids), Error);
  EXPECT_THROW(ComputeGroupedAuc(three, std::vector<float>{0, 1, 1}, std::vector<int64_t>{1, 1}), Error);
  EXPECT_THROW(ComputeGroupedAuc(three, std::vector<float>{0, 2, 1}, ids), Error);
  EXPECT_THROW(ComputeGroupedAuc(nan_score, std::vector<float>{0, 1, 1}, ids), Error);
  EXPECT_NO_THROW(ComputeGroupedAuc(nan_score, std::vector<float>{0, kMissing, 1}, ids));
}

TEST(BadInputReferenceTest, RankingRejectsNaNsNegativeRelevanceBadKAndMismatchedLengths) {
  const std::vector<float> scores{0.1f, 0.5f, 0.9f};
  const std::vector<float> relevance{0, 1, 2};
  const std::vector<float> value{1, 2, 3};
  const std::vector<int64_t> ids{1, 1, 2};
  const std::vector<int64_t> ks{1, 3};
  EXPECT_NO_THROW(ComputeRanking(scores, relevance, value, ids, ks));
  EXPECT_THROW(ComputeRanking(std::vector<float>{0.1f, kMissing, 0.9f}, relevance, value, ids, ks), Error);
  EXPECT_THROW(ComputeRanking(scores, std::vector<float>{0, -1, 2}, value, ids, ks), Error);
  EXPECT_THROW(ComputeRanking(scores, std::vector<float>{0, kMissing, 2}, value, ids, ks), Error);
  EXPECT_THROW(ComputeRanking(scores, relevance, std::vector<float>{1, kMissing, 3}, ids, ks), Error);
  EXPECT_THROW(ComputeRanking(scores, relevance, value, ids, std::vector<int64_t>{0}), Error);
  EXPECT_THROW(ComputeRanking(scores, relevance, value, ids, std::vector<int64_t>{2, -1}), Error);
  EXPECT_THROW(ComputeRanking(scores, std::vector<float>{0, 1}, value, ids, ks), Error);
  EXPECT_THROW(ComputeRanking(scores, relevance, std::vector<float>{1, 2}, ids, ks), Error);
  EXPECT_THROW(ComputeRanking(scores, relevance, value, std::vector<int64_t>{1, 1}, ks), Error);
}

}  // namespace
}  // namespace mtrec
