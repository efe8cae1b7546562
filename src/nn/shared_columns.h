// Rows in groups that agree on some columns of their input: a ranking request's candidates share the embeddings
// of its context. A layer that reads such an input can compute the shared columns' share of its product once per
// group instead of once per row (Dense::Forward with a SharedColumns).
//
//   SharedColumns shared{.group_starts = {0, 100}, .columns = {{0, 112}, {160, 176}}};
//   dense.Forward(x, h, Mode::kInfer, &shared);   // rows 0-99 agree on columns 0-111 and 160-175, as do 100-...
#pragma once

#include <cstdint>
#include <vector>

namespace mtrec {

struct ColumnRange {
  int64_t begin = 0;
  int64_t end = 0;  // one past the last column
  bool operator==(const ColumnRange&) const = default;
};

struct SharedColumns {
  std::vector<int64_t> group_starts;  // the first row of each group, ascending from 0; none is empty
  std::vector<ColumnRange> columns;   // ascending and disjoint: columns equal on every row of each group
  bool empty() const { return group_starts.empty() || columns.empty(); }
};

}  // namespace mtrec
