#include "eval/curves.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/error.h"

namespace mtrec {

std::vector<CurvePoint> RocCurve(std::span<const float> scores, std::span<const float> labels, size_t max_points) {
  MTREC_CHECK(scores.size() == labels.size(), "RocCurve: {} scores but {} labels; expected one score per label",
              scores.size(), labels.size());
  MTREC_CHECK(max_points >= 2, "RocCurve: max_points is {}; expected at least 2", max_points);
  std::vector<std::pair<float, bool>> rows;
  int64_t positives = 0, negatives = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (std::isnan(labels[i])) continue;
    MTREC_CHECK(labels[i] == 0.f || labels[i] == 1.f,
                "RocCurve: label at row {} is {}; expected 0 or 1 (or NaN for missing)", i, labels[i]);
    MTREC_CHECK(!std::isnan(scores[i]), "RocCurve: score at row {} is NaN; expected a number", i);
    rows.emplace_back(scores[i], labels[i] == 1.f);
    ++(labels[i] == 1.f ? positives : negatives);
  }
  if (positives == 0 || negatives == 0) return {};
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<CurvePoint> points = {{0.0, 0.0}};
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    ++(rows[i].second ? tp : fp);
    if (i + 1 == rows.size() || rows[i + 1].first != rows[i].first) {
      points.push_back({static_cast<double>(fp) / static_cast<double>(negatives),
                        static_cast<double>(tp) / static_cast<double>(positives)});
    }
  }
  if (points.size() <= max_points) return points;
  std::vector<CurvePoint> thinned;
  thinned.reserve(max_points);
  for (size_t j = 0; j < max_points; ++j) {
    thinned.push_back(points[j * (points.size() - 1) / (max_points - 1)]);
  }
  return thinned;
}

}  // namespace mtrec
