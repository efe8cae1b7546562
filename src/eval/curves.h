// Curves a report draws, computed exactly and then thinned to a drawable number of points.
//
//   std::vector<CurvePoint> roc = RocCurve(scores, labels, /*max_points=*/200);   // (fpr, tpr) from (0,0) to (1,1)
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace mtrec {

struct CurvePoint {
  double x = 0.0;
  double y = 0.0;
};

// The ROC curve: one point per distinct score threshold (tied scores move both rates at once, a diagonal segment,
// so the area under the drawn polyline is the AUC), from (0, 0) to (1, 1). With more than max_points (≥ 2) points
// it keeps the ends and points evenly spaced along the list. Empty when a class is absent. NaN labels are skipped;
// other labels must be 0 or 1.
std::vector<CurvePoint> RocCurve(std::span<const float> scores, std::span<const float> labels, size_t max_points);

}  // namespace mtrec
