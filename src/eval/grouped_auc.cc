#include "eval/grouped_auc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/error.h"

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
  // One sort by (group, score) serves every group: each group's rows are then a run in ascending score, and the
  // AUC of a run is Auc's tied-block walk (each positive wins the negatives below it and half those tied with it).
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.group != b.group ? a.group < b.group : a.score < b.score;
  });
  GroupedAuc result;
  double weighted_by_rows = 0.0, rows_weight = 0.0, weighted_by_positives = 0.0, positives_weight = 0.0;
  for (size_t begin = 0; begin < rows.size();) {
    size_t end = begin;
    double pairs_won = 0.0;
    int64_t negatives_below = 0, positives = 0;
    while (end < rows.size() && rows[end].group == rows[begin].group) {
      size_t block_end = end;
      int64_t block_positives = 0;
      while (block_end < rows.size() && rows[block_end].group == rows[begin].group &&
             rows[block_end].score == rows[end].score) {
        block_positives += rows[block_end].positive ? 1 : 0;
        ++block_end;
      }
      const int64_t block_negatives = static_cast<int64_t>(block_end - end) - block_positives;
      pairs_won += static_cast<double>(block_positives) *
                   (static_cast<double>(negatives_below) + 0.5 * static_cast<double>(block_negatives));
      negatives_below += block_negatives;
      positives += block_positives;
      end = block_end;
    }
    const int64_t negatives = negatives_below;
    if (positives == 0 || negatives == 0) {
      ++result.skipped;
    } else {
      const double auc = pairs_won / (static_cast<double>(positives) * static_cast<double>(negatives));
      const double impressions = static_cast<double>(positives + negatives);
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
