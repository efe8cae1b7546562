#include "eval/score_order.h"

#include <algorithm>
#include <cstdint>

#include "common/error.h"

namespace mtrec {

ScoreOrder::ScoreOrder(std::span<const float> scores) : order_(scores.size()) {
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  for (size_t p = 1; p <= order_.size(); ++p) {
    if (p == order_.size() || scores[order_[p]] != scores[order_[p - 1]]) group_end_.push_back(p);
  }
}

size_t TopRows(int percent, size_t n) {
  MTREC_CHECK(percent >= 1 && percent <= 100, "top {}%: expected a percent from 1 to 100", percent);
  const uint64_t rows = static_cast<uint64_t>(n) * static_cast<uint64_t>(percent);
  return static_cast<size_t>((rows + 99) / 100);
}

}  // namespace mtrec
