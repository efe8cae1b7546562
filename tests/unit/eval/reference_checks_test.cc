// The evaluation metrics against slow implementations written straight from their definitions: every threshold
// scanned over every row, every group's pairs counted, every order of tied rows enumerated. Fixtures have ties,
// missing labels, empty and one-class groups.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "common/error.h"
#include "eval/calibration.h"
#include "eval/curves.h"
#include "eval/grouped_auc.h"
#include "eval/metrics.h"
#include "eval/ranking.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Raw mt19937_64 output is fixed by the standard, so fixtures are the same everywhere.
class Draws {
 public:
  explicit Draws(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return engine_() % n; }

 private:
  std::mt19937_64 engine_;
};

struct Rows {
  std::vector<float> scores, labels;
  std::vector<int64_t> groups;
};

// Scores on a grid of `levels` values (many ties), labels loosely following the score, some missing.
Rows RandomRows(uint64_t seed, size_t n, uint64_t levels, double missing, int64_t groups = 1) {
  Draws draws(seed);
  Rows rows;
  for (size_t i = 0; i < n; ++i) {
    const float score = static_cast<float>(draws.Below(levels)) / static_cast<float>(levels);
    rows.scores.push_back(score);
    rows.labels.push_back(draws.Uniform() < missing ? kMissing : (draws.Uniform() < 0.2 + 0.5 * score ? 1.f : 0.f));
    rows.groups.push_back(static_cast<int64_t>(draws.Below(static_cast<uint64_t>(groups))) * 7 - 10);
  }
  return rows;
}

bool Labelled(float label) { return !std::isnan(label); }

// Precision and recall of "score >= t" by scanning every row.
std::pair<double, double> PrecisionRecallAt(const Rows& r, float t) {
  double tp = 0, fp = 0, positives = 0;
  for (size_t i = 0; i < r.labels.size(); ++i) {
    if (!Labelled(r.labels[i])) continue;
    positives += r.labels[i];
    if (r.scores[i] >= t) (r.labels[i] == 1.f ? tp : fp) += 1;
  }
  return {tp + fp > 0 ? tp / (tp + fp) : 0.0, positives > 0 ? tp / positives : kNaN};
}

std::vector<float> DistinctLabelledScores(const Rows& r) {
  std::set<float, std::greater<>> distinct;
  for (size_t i = 0; i < r.labels.size(); ++i) {
    if (Labelled(r.labels[i])) distinct.insert(r.scores[i]);
  }
  return {distinct.begin(), distinct.end()};
}

double ReferencePrAuc(const Rows& r) {
  double area = 0, previous_recall = 0;
  for (float t : DistinctLabelledScores(r)) {
    const auto [precision, recall] = PrecisionRecallAt(r, t);
    if (std::isnan(recall)) return kNaN;
    area += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return area;
}

TEST(ReferenceChecks, PrAucByHand) {
  // Thresholds 0.9 (P 1, R ½), 0.8 (P ½, R ½), 0.7 (P ⅔, R 1), 0.6: AP = ½·1 + ½·⅔.
  EXPECT_NEAR(PrAuc(std::vector<float>{0.9f, 0.8f, 0.7f, 0.6f}, std::vector<float>{1, 0, 1, 0}), 0.5 + 1.0 / 3, 1e-12);
  // Ties are one threshold: all tied at 0.5 with 2 of 4 positive gives precision ½ at recall 1.
  EXPECT_NEAR(PrAuc(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, std::vector<float>{1, 0, 1, 0}), 0.5, 1e-12);
  EXPECT_TRUE(std::isnan(PrAuc(std::vector<float>{0.5f, 0.2f}, std::vector<float>{0, 0})));
}

TEST(ReferenceChecks, PrAucAndBestF1MatchThresholdScans) {
  for (uint64_t seed = 1; seed <= 25; ++seed) {
    SCOPED_TRACE(seed);
    const Rows r = RandomRows(seed, 60 + seed * 7, 2 + seed % 9, 0.15);
    EXPECT_NEAR(PrAuc(r.scores, r.labels), ReferencePrAuc(r), 1e-12);
    double best = -1, best_threshold = kNaN;
    for (float t : DistinctLabelledScores(r)) {  // from high to low: ties keep the highest threshold
      const double f1 = CountAtThreshold(r.scores, r.labels, t).F1();
      if (f1 > best) best = f1, best_threshold = t;
    }
    const BestF1 found = FindBestF1(r.scores, r.labels);
    EXPECT_NEAR(found.f1, best, 1e-12);
    EXPECT_EQ(found.threshold, best_threshold);
    const BinaryCounts at = CountAtThreshold(r.scores, r.labels, found.threshold);
    EXPECT_EQ(found.counts.tp, at.tp);
    EXPECT_EQ(found.counts.fp, at.fp);
    EXPECT_EQ(found.counts.fn, at.fn);
    EXPECT_EQ(found.counts.tn, at.tn);
  }
}

TEST(ReferenceChecks, RegressionMetricsFromTheirFormulas) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Draws d(seed);
    std::vector<float> predictions, targets;
    for (int i = 0; i < 80; ++i) {
      const bool zero = d.Uniform() < 0.6;  // GMV-like: many zeros, a skewed positive part
      targets.push_back(d.Uniform() < 0.1 ? kMissing : zero ? 0.f : static_cast<float>(std::exp(3 * d.Uniform())));
      predictions.push_back(static_cast<float>(d.Uniform() * 8 - 0.5));  // a few below 0
    }
    double mean = 0, n = 0;
    for (float y : targets) {
      if (Labelled(y)) mean += y, n += 1;
    }
    mean /= n;
    double sse = 0, sst = 0, poisson = 0, tweedie = 0;
    for (size_t i = 0; i < targets.size(); ++i) {
      if (!Labelled(targets[i])) continue;
      const double y = targets[i], mu = std::max<double>(predictions[i], kMinDevianceMean);
      sse += (y - predictions[i]) * (y - predictions[i]);
      sst += (y - mean) * (y - mean);
      poisson += 2 * ((y > 0 ? y * std::log(y / mu) : 0) - y + mu);
      const double p = 1.5;
      tweedie += 2 * (std::pow(y, 2 - p) / ((1 - p) * (2 - p)) - y * std::pow(mu, 1 - p) / (1 - p) +
                      std::pow(mu, 2 - p) / (2 - p));
    }
    EXPECT_NEAR(RSquared(predictions, targets), 1 - sse / sst, 1e-9);
    EXPECT_NEAR(PoissonDeviance(predictions, targets), poisson / n, 1e-9 * (1 + poisson / n));
    EXPECT_NEAR(TweedieDeviance(predictions, targets, 1.5), tweedie / n, 1e-9 * (1 + tweedie / n));
  }
  // Gamma (p = 2) by hand: y = 2, μ = 1 → 2 (log ½ + 2 − 1).
  EXPECT_NEAR(TweedieDeviance(std::vector<float>{1}, std::vector<float>{2}, 2.0), 2 * (std::log(0.5) + 1), 1e-12);
  // Deviances do not apply to negative targets, gamma not to zeros; a power outside {1} ∪ (1, 2] is a mistake.
  EXPECT_TRUE(std::isnan(PoissonDeviance(std::vector<float>{1}, std::vector<float>{-1})));
  EXPECT_TRUE(std::isnan(TweedieDeviance(std::vector<float>{1}, std::vector<float>{0}, 2.0)));
  EXPECT_THROW(TweedieDeviance(std::vector<float>{1}, std::vector<float>{1}, 0.5), Error);
  EXPECT_THROW(TweedieDeviance(std::vector<float>{1}, std::vector<float>{1}, 3.0), Error);
  // R²: the mean predicts 0; a constant target has none.
  EXPECT_NEAR(RSquared(std::vector<float>{2, 2, 2}, std::vector<float>{1, 2, 3}), 0.0, 1e-12);
  EXPECT_TRUE(std::isnan(RSquared(std::vector<float>{1, 2}, std::vector<float>{5, 5})));
}

TEST(ReferenceChecks, CalibrationBinsAndEce) {
  for (uint64_t seed = 1; seed <= 15; ++seed) {
    SCOPED_TRACE(seed);
    Rows r = RandomRows(seed, 150, 20, 0.1);
    r.scores[0] = 1.0f;    // the closed last bin
    r.scores[1] = 0.1f;    // a bin edge: belongs to the bin above
    r.scores[2] = -0.25f;  // outside [0, 1]: first and last bins
    r.scores[3] = 1.5f;
    const int bins = static_cast<int>(3 + seed % 8);
    std::vector<double> count(bins, 0), sum_p(bins, 0), sum_y(bins, 0);
    double total = 0, all_p = 0, all_y = 0;
    for (size_t i = 0; i < r.labels.size(); ++i) {
      if (!Labelled(r.labels[i])) continue;
      int b = 0;  // the bin whose [lower, upper) holds the score, scanning edges as written
      while (b + 1 < bins && static_cast<double>(r.scores[i]) >= static_cast<double>(b + 1) / bins) ++b;
      count[b] += 1, sum_p[b] += r.scores[i], sum_y[b] += r.labels[i];
      total += 1, all_p += r.scores[i], all_y += r.labels[i];
    }
    double ece = 0;
    for (int b = 0; b < bins; ++b) {
      if (count[b] > 0) ece += count[b] / total * std::abs(sum_p[b] / count[b] - sum_y[b] / count[b]);
    }
    const Calibration c = ComputeCalibration(r.scores, r.labels, bins);
    ASSERT_EQ(c.bins.size(), static_cast<size_t>(bins));
    EXPECT_NEAR(c.ece, ece, 1e-12);
    EXPECT_NEAR(c.ratio, all_p / all_y, 1e-12);
    for (int b = 0; b < bins; ++b) {
      EXPECT_EQ(c.bins[b].rows, static_cast<int64_t>(count[b])) << b;
      if (count[b] == 0) {
        EXPECT_TRUE(std::isnan(c.bins[b].mean_prediction) && std::isnan(c.bins[b].positive_rate)) << b;
      } else {
        EXPECT_NEAR(c.bins[b].mean_prediction, sum_p[b] / count[b], 1e-12) << b;
        EXPECT_NEAR(c.bins[b].positive_rate, sum_y[b] / count[b], 1e-12) << b;
      }
    }
  }
  const Calibration none = ComputeCalibration(std::vector<float>{0.3f}, std::vector<float>{kMissing}, 10);
  EXPECT_TRUE(std::isnan(none.ece) && std::isnan(none.ratio));
}

double PairwiseAuc(const std::vector<float>& scores, const std::vector<float>& labels) {
  double won = 0, pairs = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t j = 0; j < labels.size(); ++j) {
      if (labels[i] != 1.f || labels[j] != 0.f) continue;
      pairs += 1;
      won += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
    }
  }
  return pairs > 0 ? won / pairs : kNaN;
}

TEST(ReferenceChecks, RocCurveAreaIsTheAucAndItsEndsAreFixed) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const Rows r = RandomRows(seed, 120, 2 + seed * 3, 0.1);
    const std::vector<CurvePoint> roc = RocCurve(r.scores, r.labels, 10000);
    ASSERT_GE(roc.size(), 2u);
    EXPECT_EQ(roc.front().x, 0.0);
    EXPECT_EQ(roc.front().y, 0.0);
    EXPECT_EQ(roc.back().x, 1.0);
    EXPECT_EQ(roc.back().y, 1.0);
    double area = 0;
    for (size_t i = 1; i < roc.size(); ++i) {
      EXPECT_GE(roc[i].x, roc[i - 1].x);
      EXPECT_GE(roc[i].y, roc[i - 1].y);
      area += (roc[i].x - roc[i - 1].x) * (roc[i].y + roc[i - 1].y) / 2;
    }
    EXPECT_NEAR(area, Auc(r.scores, r.labels), 1e-12);
    const std::vector<CurvePoint> thin = RocCurve(r.scores, r.labels, 5);
    ASSERT_EQ(thin.size(), std::min<size_t>(5, roc.size()));
    EXPECT_EQ(thin.back().x, 1.0);
  }
  EXPECT_TRUE(RocCurve(std::vector<float>{0.2f, 0.4f}, std::vector<float>{1, 1}, 10).empty());
}

TEST(ReferenceChecks, GroupedAucCountsEveryGroupsPairs) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    // Many small groups: some with one class, some with every label missing (an empty group).
    const Rows r = RandomRows(seed, 200, 6, 0.2, 40);
    std::map<int64_t, std::pair<std::vector<float>, std::vector<float>>> groups;
    std::set<int64_t> seen;
    for (size_t i = 0; i < r.labels.size(); ++i) {
      seen.insert(r.groups[i]);
      if (!Labelled(r.labels[i])) continue;
      groups[r.groups[i]].first.push_back(r.scores[i]);
      groups[r.groups[i]].second.push_back(r.labels[i]);
    }
    double by_rows = 0, rows_weight = 0, by_positives = 0, positives_weight = 0;
    int64_t used = 0, skipped = 0;
    for (const auto& [id, group] : groups) {
      const double auc = PairwiseAuc(group.first, group.second);
      if (std::isnan(auc)) {
        ++skipped;
        continue;
      }
      double positives = 0;
      for (float y : group.second) positives += y;
      by_rows += group.first.size() * auc, rows_weight += group.first.size();
      by_positives += positives * auc, positives_weight += positives;
      ++used;
    }
    const GroupedAuc g = ComputeGroupedAuc(r.scores, r.labels, r.groups);
    EXPECT_NEAR(g.by_impressions, by_rows / rows_weight, 1e-12);
    EXPECT_NEAR(g.by_positives, by_positives / positives_weight, 1e-12);
    EXPECT_EQ(g.groups, used);
    EXPECT_EQ(g.skipped, skipped);
    EXPECT_LE(g.groups + g.skipped, static_cast<int64_t>(seen.size()));  // empty groups are in neither count
  }
  const GroupedAuc none = ComputeGroupedAuc(std::vector<float>{0.1f, 0.2f}, std::vector<float>{1, 1},
                                            std::vector<int64_t>{1, 1});
  EXPECT_TRUE(std::isnan(none.by_impressions));
  EXPECT_EQ(none.skipped, 1);
}

// Ranking metrics of one group by brute force: the mean over every order of the rows that sorts the scores from
// high to low (each tied block in every permutation).
struct GroupReference {
  double ndcg = 0, recall = 0, value_top = 0, value_all = 0;
  bool relevant = false;
};

GroupReference RankGroup(std::vector<std::tuple<float, float, float>> rows, int64_t k) {
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::vector<double> ideal;
  double relevant = 0;
  GroupReference ref;
  for (const auto& [score, rel, value] : rows) {
    ideal.push_back(std::exp2(rel) - 1);
    relevant += rel > 0 ? 1 : 0;
    ref.value_all += value;
  }
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  double idcg = 0;
  for (size_t i = 0; i < ideal.size() && static_cast<int64_t>(i) < k; ++i) idcg += ideal[i] / std::log2(i + 2.0);
  ref.relevant = relevant > 0;
  // Enumerate orders: permute within each tied block, combining blocks as a product of their permutations.
  std::vector<std::pair<size_t, size_t>> blocks;
  for (size_t b = 0; b < rows.size();) {
    size_t e = b;
    while (e < rows.size() && std::get<0>(rows[e]) == std::get<0>(rows[b])) ++e;
    blocks.push_back({b, e});
    b = e;
  }
  double orders = 0, ndcg = 0, recall = 0, top = 0;
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Odometer over the blocks' permutations.
  while (true) {
    double dcg = 0, hits = 0, value = 0;
    for (size_t p = 0; p < order.size() && static_cast<int64_t>(p) < k; ++p) {
      const auto& [score, rel, v] = rows[order[p]];
      dcg += (std::exp2(rel) - 1) / std::log2(p + 2.0);
      hits += rel > 0 ? 1 : 0;
      value += v;
    }
    orders += 1;
    ndcg += idcg > 0 ? dcg / idcg : 0;
    recall += relevant > 0 ? hits / relevant : 0;
    top += value;
    size_t b = 0;
    for (; b < blocks.size(); ++b) {
      if (std::next_permutation(order.begin() + blocks[b].first, order.begin() + blocks[b].second)) break;
    }
    if (b == blocks.size()) break;
  }
  ref.ndcg = ndcg / orders;
  ref.recall = recall / orders;
  ref.value_top = top / orders;
  return ref;
}

void CheckRanking(const std::vector<float>& scores, const std::vector<float>& relevance,
                  const std::vector<float>& value, const std::vector<int64_t>& groups, std::vector<int64_t> ks) {
  const std::vector<RankingAtK> got = ComputeRanking(scores, relevance, value, groups, ks);
  ASSERT_EQ(got.size(), ks.size());
  for (size_t j = 0; j < ks.size(); ++j) {
    SCOPED_TRACE(testing::Message() << "k = " << ks[j]);
    std::map<int64_t, std::vector<std::tuple<float, float, float>>> by_group;
    for (size_t i = 0; i < scores.size(); ++i) {
      by_group[groups[i]].push_back({scores[i], relevance[i], value.empty() ? 0.f : value[i]});
    }
    double ndcg = 0, recall = 0, top = 0, all = 0;
    int64_t with_relevant = 0;
    for (const auto& [id, rows] : by_group) {
      const GroupReference ref = RankGroup(rows, ks[j]);
      if (ref.relevant) ++with_relevant, ndcg += ref.ndcg, recall += ref.recall;
      top += ref.value_top, all += ref.value_all;
    }
    EXPECT_EQ(got[j].k, ks[j]);
    EXPECT_EQ(got[j].groups, static_cast<int64_t>(by_group.size()));
    EXPECT_EQ(got[j].groups_relevant, with_relevant);
    if (with_relevant == 0) {
      EXPECT_TRUE(std::isnan(got[j].ndcg) && std::isnan(got[j].recall));
    } else {
      EXPECT_NEAR(got[j].ndcg, ndcg / with_relevant, 1e-12);
      EXPECT_NEAR(got[j].recall, recall / with_relevant, 1e-12);
    }
    if (value.empty() || all == 0) {
      EXPECT_TRUE(std::isnan(got[j].value_share));
    } else {
      EXPECT_NEAR(got[j].value_share, top / all, 1e-12);
    }
  }
}

TEST(ReferenceChecks, RankingByHand) {
  // One group, scores 0.9, 0.5, 0.1 with relevance 0, 1, 3: DCG@2 = 0 + 1/log2(3); IDCG@2 = 7 + 1/log2(3).
  const std::vector<RankingAtK> r = ComputeRanking(std::vector<float>{0.9f, 0.5f, 0.1f}, std::vector<float>{0, 1, 3},
                                                   std::vector<float>{0, 10, 30}, std::vector<int64_t>{4, 4, 4},
                                                   std::vector<int64_t>{2});
  EXPECT_NEAR(r[0].ndcg, (1 / std::log2(3.0)) / (7 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_NEAR(r[0].recall, 0.5, 1e-12);
  EXPECT_NEAR(r[0].value_share, 0.25, 1e-12);
  // A constant score ranks at random: recall@1 of one relevant row among 4 is ¼.
  const std::vector<RankingAtK> flat = ComputeRanking(std::vector<float>(4, 0.5f), std::vector<float>{0, 0, 1, 0},
                                                      {}, std::vector<int64_t>(4, 0), std::vector<int64_t>{1});
  EXPECT_NEAR(flat[0].recall, 0.25, 1e-12);
  EXPECT_TRUE(std::isnan(flat[0].value_share));
}

TEST(ReferenceChecks, RankingMatchesEveryOrderOfTiedRows) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(seed);
    Draws d(seed);
    std::vector<float> scores, relevance, value;
    std::vector<int64_t> groups;
    // Groups of 1 to 7 rows, interleaved in the input; scores on 3 levels so ties are common (blocks stay small
    // enough to enumerate); some groups without any relevant row or any value.
    for (int i = 0; i < 45; ++i) {
      const int64_t g = static_cast<int64_t>(d.Below(9));
      groups.push_back(g);
      scores.push_back(static_cast<float>(d.Below(3)) * 0.25f);
      const bool dead = g % 4 == 3;
      relevance.push_back(dead ? 0.f : static_cast<float>(d.Below(4)) * (d.Uniform() < 0.5 ? 1.f : 0.f));
      value.push_back(dead ? 0.f : static_cast<float>(d.Below(50)));
    }
    // Cap any group at 7 rows so its tied blocks enumerate quickly.
    std::map<int64_t, int> sizes;
    for (size_t i = 0; i < groups.size(); ++i) {
      if (++sizes[groups[i]] > 7) groups[i] = 100 + static_cast<int64_t>(i);
    }
    CheckRanking(scores, relevance, value, groups, {1, 2, 3, 5, 10});
    CheckRanking(scores, relevance, {}, groups, {3});
  }
}

TEST(ReferenceChecks, RankingRefusesBadInput) {
  const std::vector<int64_t> g = {0, 0}, k = {1};
  EXPECT_THROW(ComputeRanking(std::vector<float>{0.1f, kMissing}, std::vector<float>{0, 1}, {}, g, k), Error);
  EXPECT_THROW(ComputeRanking(std::vector<float>{0.1f, 0.2f}, std::vector<float>{-1, 1}, {}, g, k), Error);
  EXPECT_THROW(ComputeRanking(std::vector<float>{0.1f, 0.2f}, std::vector<float>{kMissing, 1}, {}, g, k), Error);
  EXPECT_THROW(ComputeRanking(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, 1}, std::vector<float>{1}, g, k),
               Error);
  EXPECT_THROW(ComputeRanking(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, 1}, {}, g, std::vector<int64_t>{0}),
               Error);
}

TEST(ReferenceChecks, BinaryInputsAreChecked) {
  const std::vector<float> scores = {0.1f, 0.2f}, bad = {0, 2};
  const std::vector<int64_t> g = {0, 1};
  EXPECT_THROW(PrAuc(scores, bad), Error);
  EXPECT_THROW(FindBestF1(scores, bad), Error);
  EXPECT_THROW(ComputeCalibration(scores, bad, 10), Error);
  EXPECT_THROW(ComputeGroupedAuc(scores, bad, g), Error);
  EXPECT_THROW(RocCurve(scores, bad, 10), Error);
  EXPECT_THROW(PrAuc(std::vector<float>{kMissing, 0.2f}, std::vector<float>{1, 0}), Error);
  EXPECT_THROW(ComputeGroupedAuc(scores, std::vector<float>{0, 1}, std::vector<int64_t>{0}), Error);
}

}  // namespace
}  // namespace mtrec
