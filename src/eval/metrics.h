// Offline metrics of one task, computed from scores and labels only (no model, no dataset), so the trainer, the
// eval command and the tests all share one definition of each number.
//
//   BinaryMetrics click = ComputeBinaryMetrics(click_scores, click_labels, /*threshold=*/0.5);
//   fmt::print("auc {:.4f} logloss {:.4f}\n", click.auc, click.logloss);
//   double auc = Auc(scores, labels);                 // NaN when one class is absent
//   RegressionMetrics dwell = ComputeRegressionMetrics(dwell_predictions, dwell_targets);
//
// Conventions shared by every function here:
// - A NaN label (or target) means "missing": that row is skipped by every metric, its score included. Multi-task
//   data leaves labels missing where a task does not apply (no conversion label without a click), so skipping is
//   the ordinary case, not an error.
// - Scores and labels must have the same length; otherwise Error.
// - Binary labels must be exactly 0 or 1; any other value throws Error naming the row index and the value, since
//   a 2 or a 0.5 in a binary column means the wrong column or a broken reader, not a label.
// - Sums are accumulated in double; a metric that is undefined on the rows given (no valid row, or AUC with one
//   class) is NaN rather than a made-up number, so a report shows it as missing.
#pragma once

#include <cstdint>
#include <span>

namespace mtrec {

// Area under the ROC curve: the probability that a random positive scores above a random negative, ties counting
// 1/2. Exact, from one sort of the valid rows: tied scores share their average rank (Mann-Whitney U / (n+ n-)).
// O(n log n). NaN when positives or negatives are absent. A NaN score on a valid row throws (it has no rank).
double Auc(std::span<const float> scores, std::span<const float> labels);

// AUC against known probabilities instead of labels: each row is a positive with weight t and a negative with
// weight 1 − t (t its true probability), pairs of distinct rows only. This is the AUC a scorer reaches against
// labels drawn from the truth, without the noise of one draw — how simulated data measures a conditional model
// over every row, including those where the condition was never observed. Ties count 1/2. Rows with a NaN truth
// are skipped; a truth outside [0, 1] throws. NaN when all the weight is on one side.
double SoftAuc(std::span<const float> scores, std::span<const float> truth);

// Mean binary cross-entropy of probabilities against 0/1 labels, with p clipped to [1e-15, 1 - 1e-15] so a
// confident wrong prediction costs a large finite amount instead of infinity. NaN when no valid row.
double Logloss(std::span<const float> probabilities, std::span<const float> labels);

// Confusion counts at one threshold. Precision, recall and F1 define 0/0 as 0 (a model that predicts no positive
// has precision 0, as in scikit-learn's zero_division=0), so thresholds can be swept without special cases.
// Accuracy of zero rows is NaN, like every other metric of no rows.
struct BinaryCounts {
  int64_t tp = 0;
  int64_t fp = 0;
  int64_t tn = 0;
  int64_t fn = 0;

  int64_t Total() const { return tp + fp + tn + fn; }
  double Accuracy() const;   // (tp + tn) / total
  double Precision() const;  // tp / (tp + fp)
  double Recall() const;     // tp / (tp + fn)
  double F1() const;         // 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall
};

// A row is predicted positive when score >= threshold (a NaN score is predicted negative).
BinaryCounts CountAtThreshold(std::span<const float> scores, std::span<const float> labels, double threshold);

// Area under the precision-recall curve as average precision: Σ_t (R_t − R_{t−1}) · P_t over the distinct scores
// t from high to low (predicting positive when score >= t), R_0 = 0 — a step function, not the trapezoid, which
// overstates the area between distant points. Tied scores are one threshold. NaN without positives; a NaN score on
// a valid row throws. Equals scikit-learn's average_precision_score.
double PrAuc(std::span<const float> scores, std::span<const float> labels);

// The threshold with the highest F1, searched over every distinct score of a valid row (predict positive when
// score >= threshold); among equal F1s the highest threshold. NaN threshold and F1 0 without a valid row.
struct BestF1 {
  double threshold = 0.0;
  double f1 = 0.0;
  BinaryCounts counts;
};
BestF1 FindBestF1(std::span<const float> scores, std::span<const float> labels);

// Root mean squared error and mean absolute error over rows whose target is not NaN. NaN when no valid row.
double Rmse(std::span<const float> predictions, std::span<const float> targets);
double Mae(std::span<const float> predictions, std::span<const float> targets);

// Coefficient of determination 1 − Σ(y − ŷ)² / Σ(y − ȳ)²: 0 for predicting the mean, negative when worse.
// NaN with fewer than 2 valid rows or a constant target.
double RSquared(std::span<const float> predictions, std::span<const float> targets);

// Mean Tweedie deviance with power p: p = 1 is Poisson, 1 < p < 2 compound Poisson-gamma (GMV-like targets: many
// zeros, skewed positives), p = 2 gamma. For each row, with μ the prediction and y the target,
//   p = 1:      2 (y log(y/μ) − y + μ)          (y log(y/μ) = 0 at y = 0)
//   1 < p < 2:  2 (y^{2−p} / ((1−p)(2−p)) − y μ^{1−p} / (1−p) + μ^{2−p} / (2−p))
//   p = 2:      2 (log(μ/y) + y/μ − 1)
// The deviance is defined for μ > 0 only: predictions below kMinDevianceMean (a regression model trained with
// MSE can predict slightly negative amounts) are raised to it, which the report notes. NaN when a target is
// negative (p = 1 and 1 < p < 2 need y ≥ 0, p = 2 needs y > 0), when no row is valid, or when p is outside
// {1} ∪ (1, 2]: throws for such a power, since that is a caller's mistake rather than a property of the data.
inline constexpr double kMinDevianceMean = 1e-6;
double TweedieDeviance(std::span<const float> predictions, std::span<const float> targets, double power);
inline double PoissonDeviance(std::span<const float> predictions, std::span<const float> targets) {
  return TweedieDeviance(predictions, targets, 1.0);
}

// Number of non-missing labels, and their mean (the positive rate of a binary task, the target mean of a
// regression task; NaN when none is present).
int64_t CountValid(std::span<const float> labels);
double Mean(std::span<const float> labels);

// Everything a report shows for a binary task, over its valid rows.
struct BinaryMetrics {
  int64_t rows = 0;               // rows with a label
  double positive_rate = 0.0;     // mean label
  double mean_prediction = 0.0;   // mean score; compared with positive_rate it shows calibration bias
  double auc = 0.0;
  double pr_auc = 0.0;
  double logloss = 0.0;
  double accuracy = 0.0;          // these four at the threshold given
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  double best_f1 = 0.0;           // at best_f1_threshold (FindBestF1)
  double best_f1_threshold = 0.0;
};

// Scores are probabilities (logloss needs them in [0, 1]); labels 0, 1 or NaN.
BinaryMetrics ComputeBinaryMetrics(std::span<const float> scores, std::span<const float> labels, double threshold);

// Everything a report shows for a regression task, over rows whose target is not NaN.
struct RegressionMetrics {
  int64_t rows = 0;
  double target_mean = 0.0;
  double mean_prediction = 0.0;
  double rmse = 0.0;
  double mae = 0.0;
  double r2 = 0.0;
  double poisson_deviance = 0.0;
  double tweedie_deviance = 0.0;  // at tweedie_power
};

// `tweedie_power` in (1, 2]: the power of the Tweedie deviance reported beside the Poisson one.
RegressionMetrics ComputeRegressionMetrics(std::span<const float> predictions, std::span<const float> targets,
                                           double tweedie_power = 1.5);

}  // namespace mtrec
