#include "eval/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace mtrec {

Calibration ComputeCalibration(std::span<const float> scores, std::span<const float> labels, int bins) {
  MTREC_CHECK(bins >= 1, "ComputeCalibration: {} bins; expected at least 1", bins);
  MTREC_CHECK(scores.size() == labels.size(), "ComputeCalibration: {} scores but {} labels; expected one score per label",
              scores.size(), labels.size());
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> prediction_sum(bins, 0.0), positives(bins, 0.0);
  std::vector<int64_t> rows(bins, 0);
  double total_prediction = 0.0, total_positives = 0.0;
  int64_t total_rows = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (std::isnan(labels[i])) continue;
    MTREC_CHECK(labels[i] == 0.f || labels[i] == 1.f,
                "ComputeCalibration: label at row {} is {}; expected 0 or 1 (or NaN for missing)", i, labels[i]);
    MTREC_CHECK(!std::isnan(scores[i]), "ComputeCalibration: score at row {} is NaN; expected a number", i);
    const double score = scores[i];
    // floor(score · bins) puts a score on a bin edge into the bin above it; 1.0 (and beyond) goes in the last bin.
    const int bin = static_cast<int>(std::clamp(std::floor(score * bins), 0.0, static_cast<double>(bins - 1)));
    prediction_sum[bin] += score;
    positives[bin] += labels[i];
    ++rows[bin];
    total_prediction += score;
    total_positives += labels[i];
    ++total_rows;
  }
  Calibration calibration;
  calibration.ratio = total_positives > 0 ? total_prediction / total_positives : kNaN;
  calibration.ece = total_rows > 0 ? 0.0 : kNaN;
  for (int b = 0; b < bins; ++b) {
    ReliabilityBin bin;
    bin.lower = static_cast<double>(b) / bins;
    bin.upper = static_cast<double>(b + 1) / bins;
    bin.rows = rows[b];
    bin.mean_prediction = rows[b] ? prediction_sum[b] / static_cast<double>(rows[b]) : kNaN;
    bin.positive_rate = rows[b] ? positives[b] / static_cast<double>(rows[b]) : kNaN;
    if (rows[b]) {
      calibration.ece += static_cast<double>(rows[b]) / static_cast<double>(total_rows) *
                         std::abs(bin.mean_prediction - bin.positive_rate);
    }
    calibration.bins.push_back(bin);
  }
  return calibration;
}

}  // namespace mtrec
