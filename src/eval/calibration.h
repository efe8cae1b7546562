// Calibration of a binary task's probabilities: does a predicted 0.03 mean that 3% of such rows are positive?
//
//   Calibration c = ComputeCalibration(scores, labels, /*bins=*/10);
//   fmt::print("predicted/observed {:.3f}  ece {:.4f}\n", c.ratio, c.ece);
//   for (const ReliabilityBin& bin : c.bins) ...   // the reliability curve: mean prediction vs positive rate
//
// Same conventions as metrics.h: NaN labels are skipped, other labels must be 0 or 1, a NaN score on a valid row
// throws, and a number of no rows is NaN.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mtrec {

// One of `bins` equal-width bins of [0, 1]: scores in [lower, upper), the last bin closed ([0.9, 1]); scores below
// 0 or above 1 are counted in the first / last bin.
struct ReliabilityBin {
  double lower = 0.0;
  double upper = 0.0;
  int64_t rows = 0;
  double mean_prediction = 0.0;  // NaN in an empty bin
  double positive_rate = 0.0;    // NaN in an empty bin
};

struct Calibration {
  double ratio = 0.0;  // Σ predictions / Σ labels: 1 when calibrated on average, > 1 over-predicting (NaN: no positive)
  // Expected calibration error over equal-width bins: Σ_b (n_b / N) · |mean prediction_b − positive rate_b|.
  // Equal width rather than equal mass, so that bins mean the same probabilities in every report and model; CTR-like
  // tasks then fill the first bins only, which is what their reliability curve should show.
  double ece = 0.0;
  std::vector<ReliabilityBin> bins;  // all `bins` of them, empty ones included
};

Calibration ComputeCalibration(std::span<const float> scores, std::span<const float> labels, int bins);

}  // namespace mtrec
