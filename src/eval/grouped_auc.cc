#include "eval/grouped_auc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/error.h"
#include "eval/metrics.h"

namespace mtrec {

GroupedAuc ComputeGroupedAuc(std::span<const float> scores, std::span<const float> labels,
                             std::span<const int64_t> groups) {
  MTREC_CHECK(scores.size() == labels.size() && labels.size() == groups.size(),
              "ComputeGroupedAuc: {} scores, {} labels and {} group ids; expected one of each per row", scores.size(),
              labels.size(), groups.size());
  struct Row {
    int64_t group;
    float score;
    bool positive;
  };
  std::vector<Row> rows;
  rows.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (std::isnan(labels[i])) continue;
    MTREC_CHECK(labels[i] == 0.f || labels[i] == 1.f,
                "ComputeGroupedAuc: label at row {} is {}; expected 0 or 1 (or NaN for missing)", i, labels[i]);
    MTREC_CHECK(!std::isnan(scores[i]), "ComputeGroupedAuc: score at row {} is NaN; expected a number", i);
    rows.push_back({groups[i], scores[i], labels[i] == 1.f});
  }
  // Rows of a group become adjacent; each group's AUC is then Auc itself, so GAUC inherits its exactness and ties.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.group < b.group; });
  GroupedAuc result;
  double weighted_by_rows = 0.0, rows_weight = 0.0, weighted_by_positives = 0.0, positives_weight = 0.0;
  std::vector<float> group_scores, group_labels;
  for (size_t begin = 0; begin < rows.size();) {
    size_t end = begin;
    int64_t positives = 0;
    group_scores.clear();
    group_labels.clear();
    for (; end < rows.size() && rows[end].group == rows[begin].group; ++end) {
      group_scores.push_back(rows[end].score);
      group_labels.push_back(rows[end].positive ? 1.f : 0.f);
      positives += rows[end].positive ? 1 : 0;
    }
    const double auc = Auc(group_scores, group_labels);
    if (std::isnan(auc)) {
      ++result.skipped;  // one class only
    } else {
      const double impressions = static_cast<double>(end - begin);
      weighted_by_rows += impressions * auc;
      rows_weight += impressions;
      weighted_by_positives += static_cast<double>(positives) * auc;
      positives_weight += static_cast<double>(positives);
      ++result.groups;
    }
    begin = end;
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  result.by_impressions = result.groups ? weighted_by_rows / rows_weight : kNaN;
  result.by_positives = result.groups ? weighted_by_positives / positives_weight : kNaN;
  return result;
}

}  // namespace mtrec
