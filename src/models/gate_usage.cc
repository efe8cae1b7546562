#include "models/gate_usage.h"

#include <algorithm>
#include <utility>

#include "common/error.h"

namespace mtrec {

int GateUsageLog::AddGate(std::string gate, std::vector<std::string> experts) {
  sums_.emplace_back(experts.size(), 0.0);
  gates_.push_back({std::move(gate), std::move(experts), {}});
  return static_cast<int>(gates_.size()) - 1;
}

void GateUsageLog::Record(int first, const Tensor& weights, int gates) {
  MTREC_CHECK(first >= 0 && gates >= 1 && static_cast<size_t>(first) + static_cast<size_t>(gates) <= sums_.size(),
              "gate usage: gates {} to {} recorded, {} added", first, first + gates - 1, sums_.size());
  int64_t width = 0;
  for (int g = first; g < first + gates; ++g) width += static_cast<int64_t>(sums_[static_cast<size_t>(g)].size());
  MTREC_CHECK(weights.cols == width, "gate usage: {} weight columns for gates {} to {}, whose experts number {}",
              weights.cols, first, first + gates - 1, width);
  int64_t column = 0;
  for (int g = first; g < first + gates; ++g) {
    std::vector<double>& sums = sums_[static_cast<size_t>(g)];
    AddColumnSums(weights.Columns(column, static_cast<int64_t>(sums.size())), sums);
    column += static_cast<int64_t>(sums.size());
  }
}

std::vector<GateUsage> GateUsageLog::Usages() const {
  std::vector<GateUsage> usages = gates_;
  for (size_t g = 0; g < usages.size(); ++g) {
    for (double sum : sums_[g]) usages[g].mean_weight.push_back(rows_ ? sum / static_cast<double>(rows_) : 0.0);
  }
  return usages;
}

void GateUsageLog::Reset() {
  for (std::vector<double>& sums : sums_) std::fill(sums.begin(), sums.end(), 0.0);
  rows_ = 0;
}

}  // namespace mtrec
