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

void GateUsageLog::Record(int gate, const Tensor& weights) {
  int64_t column = 0;
  for (size_t g = static_cast<size_t>(gate); column < weights.cols; ++g) {
    MTREC_CHECK(g < sums_.size(), "gate usage: {} weight columns from gate {} exceed the {} gates added", weights.cols,
                gate, sums_.size());
    const auto width = static_cast<int64_t>(sums_[g].size());
    MTREC_CHECK(column + width <= weights.cols, "gate usage: {} weight columns from gate {} end inside gate {}",
                weights.cols, gate, g);
    AddColumnSums(weights.Columns(column, width), sums_[g]);
    column += width;
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
