// GAUC: AUC within groups (a user's impressions, a request's candidates), averaged over groups — the question a
// ranking system actually faces, since it never compares one user's items with another's.
//
//   GroupedAuc g = ComputeGroupedAuc(scores, labels, user_ids);
//   fmt::print("gauc {:.4f} over {} users ({} with one class skipped)\n", g.by_impressions, g.groups, g.skipped);
#pragma once

#include <cstdint>
#include <span>

namespace mtrec {

struct GroupedAuc {
  // Σ_g w_g AUC_g / Σ_g w_g over the groups having both classes, with w_g the group's labelled rows ...
  double by_impressions = 0.0;
  // ... or its positives. Both NaN when no group has both classes.
  double by_positives = 0.0;
  int64_t groups = 0;   // groups that entered the averages
  int64_t skipped = 0;  // groups with labelled rows of one class only (no AUC); groups without any label are not counted
};

// `groups[i]` is any id of row i's group (rows of a group need not be adjacent). Rows with a NaN label are left out;
// labels must be 0 or 1; a NaN score on a valid row throws; the three spans must have one length.
GroupedAuc ComputeGroupedAuc(std::span<const float> scores, std::span<const float> labels,
                             std::span<const int64_t> groups);

}  // namespace mtrec
