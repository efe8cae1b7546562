#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/error.h"

namespace mtrec {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Logloss clipping, so that p = 0 or 1 on the wrong side costs -log(1e-15) ~ 34.5 instead of infinity.
constexpr double kProbabilityEpsilon = 1e-15;

bool IsMissing(float label) { return std::isnan(label); }

void CheckSameSize(const char* metric, size_t scores, size_t labels) {
  MTREC_CHECK(scores == labels, "{}: {} scores but {} labels; expected one score per label", metric, scores,
              labels);
}

// Returns true for a positive; throws for anything but 0 or 1 so that a wrong column is caught, not averaged.
bool BinaryLabel(const char* metric, size_t row, float label) {
  if (label == 1.0f) return true;
  MTREC_CHECK(label == 0.0f, "{}: label at row {} is {}; expected 0 or 1 (or NaN for missing)", metric, row,
              label);
  return false;
}

// Mean of scores over the rows whose label is present: the mean prediction a report puts next to the label mean.
double MeanWhereLabelled(std::span<const float> scores, std::span<const float> labels) {
  double sum = 0.0;
  int64_t rows = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (IsMissing(labels[i])) continue;
    sum += scores[i];
    ++rows;
  }
  return rows == 0 ? kNaN : sum / static_cast<double>(rows);
}

double Ratio(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

// The valid rows grouped by distinct score, highest score first: each block's positives and negatives. Lowering
// the threshold from block to block is the sweep behind the PR curve and the best-F1 search.
struct ScoreBlock {
  float score;
  int64_t positives;
  int64_t negatives;
};

std::vector<ScoreBlock> DescendingScoreBlocks(const char* metric, std::span<const float> scores,
                                              std::span<const float> labels) {
  CheckSameSize(metric, scores.size(), labels.size());
  std::vector<std::pair<float, bool>> rows;
  rows.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (IsMissing(labels[i])) continue;
    const bool positive = BinaryLabel(metric, i, labels[i]);
    MTREC_CHECK(!std::isnan(scores[i]), "{}: score at row {} is NaN; expected a number", metric, i);
    rows.emplace_back(scores[i], positive);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<ScoreBlock> blocks;
  for (const auto& [score, positive] : rows) {
    if (blocks.empty() || blocks.back().score != score) blocks.push_back({score, 0, 0});
    ++(positive ? blocks.back().positives : blocks.back().negatives);
  }
  return blocks;
}

// Walk the blocks from the lowest score up. Giving a tied block its average rank in the Mann-Whitney rank sum is
// the same as crediting each positive of the block with every negative below it plus half the negatives inside it;
// in this form the running sum is a half-integer no larger than n+ n-, so it is exact in double while
// n+ n- < 2^52 (beyond 60 million rows of each class only the last bit can round).
double AucOfBlocks(const std::vector<ScoreBlock>& blocks) {
  double pairs_won = 0.0;
  int64_t negatives_below = 0, positives = 0;
  for (auto block = blocks.rbegin(); block != blocks.rend(); ++block) {
    pairs_won += static_cast<double>(block->positives) *
                 (static_cast<double>(negatives_below) + 0.5 * static_cast<double>(block->negatives));
    negatives_below += block->negatives;
    positives += block->positives;
  }
  const int64_t negatives = negatives_below;
  if (positives == 0 || negatives == 0) return kNaN;
  return pairs_won / (static_cast<double>(positives) * static_cast<double>(negatives));
}

// Recall grows only at blocks with positives, by block.positives / positives, at the precision reached there.
double PrAucOfBlocks(const std::vector<ScoreBlock>& blocks) {
  int64_t positives = 0;
  for (const auto& block : blocks) positives += block.positives;
  if (positives == 0) return kNaN;
  double area = 0.0;
  int64_t tp = 0, predicted = 0;
  for (const auto& block : blocks) {
    tp += block.positives;
    predicted += block.positives + block.negatives;
    area += static_cast<double>(block.positives) * static_cast<double>(tp) / static_cast<double>(predicted);
  }
  return area / static_cast<double>(positives);
}

BestF1 BestF1OfBlocks(const std::vector<ScoreBlock>& blocks) {
  BestF1 best;
  best.threshold = kNaN;
  BinaryCounts counts;
  for (const auto& block : blocks) counts.fn += block.positives, counts.tn += block.negatives;
  for (const auto& block : blocks) {
    counts.tp += block.positives;
    counts.fn -= block.positives;
    counts.fp += block.negatives;
    counts.tn -= block.negatives;
    const double f1 = counts.F1();
    // Strictly greater: the first (highest) threshold wins a tie.
    if (std::isnan(best.threshold) || f1 > best.f1) {
      best.threshold = block.score;
      best.f1 = f1;
      best.counts = counts;
    }
  }
  return best;
}

}  // namespace

double Auc(std::span<const float> scores, std::span<const float> labels) {
  return AucOfBlocks(DescendingScoreBlocks("Auc", scores, labels));
}

double SoftAuc(std::span<const float> scores, std::span<const float> truth) {
  CheckSameSize("SoftAuc", scores.size(), truth.size());
  struct Row {
    float score;
    double t;
  };
  std::vector<Row> rows;
  rows.reserve(truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    if (std::isnan(truth[i])) continue;
    MTREC_CHECK(truth[i] >= 0.f && truth[i] <= 1.f, "SoftAuc: truth at row {} is {}; expected a probability", i,
                truth[i]);
    MTREC_CHECK(!std::isnan(scores[i]), "SoftAuc: score at row {} is NaN; expected a number", i);
    rows.push_back({scores[i], truth[i]});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.score < b.score; });
  // As in Auc, groups of equal score in ascending order, with weights instead of counts. Summing over all ordered
  // pairs counts each row against itself once, inside its own group with weight ½ t (1 − t): removed at the end.
  double pairs_won = 0.0, negative_below = 0.0, positive = 0.0, self = 0.0;
  for (size_t begin = 0; begin < rows.size();) {
    size_t end = begin;
    double group_positive = 0.0, group_negative = 0.0;
    while (end < rows.size() && rows[end].score == rows[begin].score) {
      group_positive += rows[end].t;
      group_negative += 1.0 - rows[end].t;
      self += rows[end].t * (1.0 - rows[end].t);
      ++end;
    }
    pairs_won += group_positive * (negative_below + 0.5 * group_negative);
    negative_below += group_negative;
    positive += group_positive;
    begin = end;
  }
  const double pairs = positive * negative_below - self;
  if (!(pairs > 0.0)) return kNaN;
  return (pairs_won - 0.5 * self) / pairs;
}

double Logloss(std::span<const float> probabilities, std::span<const float> labels) {
  CheckSameSize("Logloss", probabilities.size(), labels.size());
  double sum = 0.0;
  int64_t rows = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (IsMissing(labels[i])) continue;
    const bool positive = BinaryLabel("Logloss", i, labels[i]);
    const double p = std::clamp(static_cast<double>(probabilities[i]), kProbabilityEpsilon, 1.0 - kProbabilityEpsilon);
    sum -= positive ? std::log(p) : std::log(1.0 - p);
    ++rows;
  }
  return rows == 0 ? kNaN : sum / static_cast<double>(rows);
}

double BinaryCounts::Accuracy() const {
  const int64_t total = Total();
  return total == 0 ? kNaN : static_cast<double>(tp + tn) / static_cast<double>(total);
}

double BinaryCounts::Precision() const { return Ratio(tp, tp + fp); }

double BinaryCounts::Recall() const { return Ratio(tp, tp + fn); }

// Written with counts rather than 2PR/(P+R) so that P = R = 0 needs no special case and no rounding enters.
double BinaryCounts::F1() const { return Ratio(2 * tp, 2 * tp + fp + fn); }

BinaryCounts CountAtThreshold(std::span<const float> scores, std::span<const float> labels, double threshold) {
  CheckSameSize("CountAtThreshold", scores.size(), labels.size());
  BinaryCounts counts;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (IsMissing(labels[i])) continue;
    const bool positive = BinaryLabel("CountAtThreshold", i, labels[i]);
    // A NaN score compares false and is predicted negative.
    const bool predicted = static_cast<double>(scores[i]) >= threshold;
    if (predicted) {
      ++(positive ? counts.tp : counts.fp);
    } else {
      ++(positive ? counts.fn : counts.tn);
    }
  }
  return counts;
}

double PrAuc(std::span<const float> scores, std::span<const float> labels) {
  return PrAucOfBlocks(DescendingScoreBlocks("PrAuc", scores, labels));
}

BestF1 FindBestF1(std::span<const float> scores, std::span<const float> labels) {
  return BestF1OfBlocks(DescendingScoreBlocks("FindBestF1", scores, labels));
}

double Rmse(std::span<const float> predictions, std::span<const float> targets) {
  CheckSameSize("Rmse", predictions.size(), targets.size());
  double sum = 0.0;
  int64_t rows = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (IsMissing(targets[i])) continue;
    const double error = static_cast<double>(predictions[i]) - static_cast<double>(targets[i]);
    sum += error * error;
    ++rows;
  }
  return rows == 0 ? kNaN : std::sqrt(sum / static_cast<double>(rows));
}

double Mae(std::span<const float> predictions, std::span<const float> targets) {
  CheckSameSize("Mae", predictions.size(), targets.size());
  double sum = 0.0;
  int64_t rows = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (IsMissing(targets[i])) continue;
    sum += std::abs(static_cast<double>(predictions[i]) - static_cast<double>(targets[i]));
    ++rows;
  }
  return rows == 0 ? kNaN : sum / static_cast<double>(rows);
}

double RSquared(std::span<const float> predictions, std::span<const float> targets) {
  CheckSameSize("RSquared", predictions.size(), targets.size());
  const double mean = Mean(targets);
  double residual = 0.0, total = 0.0;
  int64_t rows = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (IsMissing(targets[i])) continue;
    const double y = targets[i];
    residual += (y - predictions[i]) * (y - predictions[i]);
    total += (y - mean) * (y - mean);
    ++rows;
  }
  if (rows < 2 || total == 0.0) return kNaN;
  return 1.0 - residual / total;
}

double TweedieDeviance(std::span<const float> predictions, std::span<const float> targets, double power) {
  CheckSameSize("TweedieDeviance", predictions.size(), targets.size());
  MTREC_CHECK(power == 1.0 || (power > 1.0 && power <= 2.0),
              "TweedieDeviance: power {} is not supported; expected 1 (Poisson) or a value in (1, 2]", power);
  double sum = 0.0;
  int64_t rows = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (IsMissing(targets[i])) continue;
    const double y = targets[i];
    const double mu = std::max(static_cast<double>(predictions[i]), kMinDevianceMean);
    if (y < 0.0 || (power == 2.0 && y == 0.0)) return kNaN;
    if (power == 1.0) {
      sum += 2.0 * ((y > 0.0 ? y * std::log(y / mu) : 0.0) - y + mu);
    } else if (power == 2.0) {
      sum += 2.0 * (std::log(mu / y) + y / mu - 1.0);
    } else {
      sum += 2.0 * (std::pow(y, 2.0 - power) / ((1.0 - power) * (2.0 - power)) -
                    y * std::pow(mu, 1.0 - power) / (1.0 - power) + std::pow(mu, 2.0 - power) / (2.0 - power));
    }
    ++rows;
  }
  return rows == 0 ? kNaN : sum / static_cast<double>(rows);
}

int64_t CountValid(std::span<const float> labels) {
  return std::count_if(labels.begin(), labels.end(), [](float label) { return !IsMissing(label); });
}

double Mean(std::span<const float> labels) {
  double sum = 0.0;
  int64_t rows = 0;
  for (float label : labels) {
    if (IsMissing(label)) continue;
    sum += label;
    ++rows;
  }
  return rows == 0 ? kNaN : sum / static_cast<double>(rows);
}

BinaryMetrics ComputeBinaryMetrics(std::span<const float> scores, std::span<const float> labels, double threshold) {
  // One sort serves AUC, PR-AUC and the best-F1 search; it also checks the sizes and every label before the
  // cheaper passes read them.
  const std::vector<ScoreBlock> blocks = DescendingScoreBlocks("ComputeBinaryMetrics", scores, labels);
  BinaryMetrics metrics;
  metrics.auc = AucOfBlocks(blocks);
  metrics.rows = CountValid(labels);
  metrics.positive_rate = Mean(labels);
  metrics.mean_prediction = MeanWhereLabelled(scores, labels);
  metrics.logloss = Logloss(scores, labels);
  const BinaryCounts counts = CountAtThreshold(scores, labels, threshold);
  metrics.accuracy = counts.Accuracy();
  metrics.precision = counts.Precision();
  metrics.recall = counts.Recall();
  metrics.f1 = counts.F1();
  metrics.pr_auc = PrAucOfBlocks(blocks);
  const BestF1 best = BestF1OfBlocks(blocks);
  metrics.best_f1 = best.f1;
  metrics.best_f1_threshold = best.threshold;
  return metrics;
}

RegressionMetrics ComputeRegressionMetrics(std::span<const float> predictions, std::span<const float> targets,
                                           double tweedie_power) {
  CheckSameSize("ComputeRegressionMetrics", predictions.size(), targets.size());
  RegressionMetrics metrics;
  metrics.rows = CountValid(targets);
  metrics.target_mean = Mean(targets);
  metrics.mean_prediction = MeanWhereLabelled(predictions, targets);
  metrics.rmse = Rmse(predictions, targets);
  metrics.mae = Mae(predictions, targets);
  metrics.r2 = RSquared(predictions, targets);
  metrics.poisson_deviance = PoissonDeviance(predictions, targets);
  metrics.tweedie_deviance = TweedieDeviance(predictions, targets, tweedie_power);
  return metrics;
}

}  // namespace mtrec
