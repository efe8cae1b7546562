// Rows ranked by a score from high to low, where rows of equal score have no order: each tie group is taken as if
// its rows came in a random order, in expectation, so within a group every cumulative sum grows linearly from its
// value before the group to its value after it. The customer value and uplift metrics read their curves (Lorenz,
// Qini, top k%) from these sums, so no result depends on the order of the file.
//
//   ScoreOrder order(scores);                                   // one sort, O(n log n)
//   order.WalkPrefixSums<1>([&](size_t row) { return std::array<double, 1>{revenue[row]}; },
//                           [&](size_t i, const std::array<double, 1>& sum) { lorenz += sum[0]; });
//   size_t m = TopRows(10, order.size());                       // the rows of the top 10%
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <vector>

namespace mtrec {

class ScoreOrder {
 public:
  // `scores` must hold no NaN (a NaN has no rank; the metrics check it with a message naming their row).
  explicit ScoreOrder(std::span<const float> scores);

  size_t size() const { return order_.size(); }

  // For i = 1..n, in order, calls visit(i, sums) where sums[c] is the expected Σ of column c of row_values(row) over
  // the first i rows. row_values(row) returns std::array<double, kColumns> for a row index of the scores given.
  template <size_t kColumns, typename RowValues, typename Visit>
  void WalkPrefixSums(RowValues row_values, Visit visit) const;

 private:
  std::vector<size_t> order_;      // row indices, highest score first (ties in row order)
  std::vector<size_t> group_end_;  // the end position of each tie group, in order
};

// The number of rows in the top `percent`% of n rows: ceil(percent · n / 100), exactly (in integers). Throws unless
// percent is in [1, 100].
size_t TopRows(int percent, size_t n);

template <size_t kColumns, typename RowValues, typename Visit>
void ScoreOrder::WalkPrefixSums(RowValues row_values, Visit visit) const {
  std::array<double, kColumns> before{}, group{}, sums{};
  size_t begin = 0;
  for (size_t end : group_end_) {
    group.fill(0.0);
    for (size_t p = begin; p < end; ++p) {
      const std::array<double, kColumns> values = row_values(order_[p]);
      for (size_t c = 0; c < kColumns; ++c) group[c] += values[c];
    }
    const double size = static_cast<double>(end - begin);
    for (size_t p = begin + 1; p <= end; ++p) {
      // The group's last position gets its exact total rather than total · size / size.
      const double share = p == end ? 1.0 : static_cast<double>(p - begin) / size;
      for (size_t c = 0; c < kColumns; ++c) sums[c] = before[c] + share * group[c];
      visit(p, sums);
    }
    for (size_t c = 0; c < kColumns; ++c) before[c] += group[c];
    begin = end;
  }
}

}  // namespace mtrec
