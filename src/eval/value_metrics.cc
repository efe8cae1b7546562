#include "eval/value_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "eval/score_order.h"

namespace mtrec {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kDeciles = 10;

// The rows with an actual, in file order.
struct ValueRows {
  std::vector<float> predicted;
  std::vector<double> actual;
};

ValueRows RowsWithActual(const char* metric, std::span<const float> predicted, std::span<const float> actual) {
  MTREC_CHECK(predicted.size() == actual.size(),
              "{}: {} predictions but {} actual values; expected one prediction per actual value", metric,
              predicted.size(), actual.size());
  ValueRows rows;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(actual[i])) continue;
    MTREC_CHECK(!std::isnan(predicted[i]), "{}: prediction at row {} is NaN; expected a number on a row with an actual",
                metric, i);
    rows.predicted.push_back(predicted[i]);
    rows.actual.push_back(actual[i]);
  }
  return rows;
}

// gini(s) = (1/n) Σ_i L(i) − (n+1)/(2n) with the rows ordered by `order`; NaN when Σa = 0.
double GiniOfOrder(const ScoreOrder& order, const std::vector<double>& actual) {
  const double n = static_cast<double>(actual.size());
  const double total = std::accumulate(actual.begin(), actual.end(), 0.0);
  if (actual.empty() || total == 0.0) return kNaN;
  double lorenz_sum = 0.0;
  order.WalkPrefixSums<1>([&](size_t row) { return std::array<double, 1>{actual[row]}; },
                          [&](size_t, const std::array<double, 1>& sum) { lorenz_sum += sum[0] / total; });
  return lorenz_sum / n - (n + 1.0) / (2.0 * n);
}

double NormalizedGiniOfRows(const ValueRows& rows) {
  const std::vector<float> actual_scores(rows.actual.begin(), rows.actual.end());
  // The best order is by a itself; float ties there are tied actuals, whose order does not change the sums.
  const double best = GiniOfOrder(ScoreOrder(actual_scores), rows.actual);
  if (std::isnan(best) || best == 0.0) return kNaN;
  return GiniOfOrder(ScoreOrder(rows.predicted), rows.actual) / best;
}

// 1-based ranks, a tie group sharing the mean of the positions it covers.
template <typename T>
std::vector<double> AverageRanks(const std::vector<T>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin;
    while (end < order.size() && values[order[end]] == values[order[begin]]) ++end;
    const double rank = 0.5 * static_cast<double>(begin + 1 + end);  // mean of begin+1 .. end
    for (size_t p = begin; p < end; ++p) ranks[order[p]] = rank;
    begin = end;
  }
  return ranks;
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return kNaN;
  const double mean_x = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
  const double mean_y = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  double xy = 0.0, xx = 0.0, yy = 0.0;
  for (size_t i = 0; i < n; ++i) {
    xy += (x[i] - mean_x) * (y[i] - mean_y);
    xx += (x[i] - mean_x) * (x[i] - mean_x);
    yy += (y[i] - mean_y) * (y[i] - mean_y);
  }
  return xx == 0.0 || yy == 0.0 ? kNaN : xy / std::sqrt(xx * yy);
}

double SpearmanOfRows(const ValueRows& rows) {
  return Pearson(AverageRanks(rows.predicted), AverageRanks(rows.actual));
}

std::vector<DecileRow> Deciles(const ValueRows& rows) {
  const size_t n = rows.actual.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rows.predicted[a] < rows.predicted[b]; });
  std::vector<DecileRow> deciles(kDeciles);
  std::vector<double> predicted_sum(kDeciles, 0.0), actual_sum(kDeciles, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const size_t d = kDeciles * i / n;
    ++deciles[d].rows;
    predicted_sum[d] += rows.predicted[order[i]];
    actual_sum[d] += rows.actual[order[i]];
  }
  for (int d = 0; d < kDeciles; ++d) {
    const double count = static_cast<double>(deciles[d].rows);
    deciles[d].mean_predicted = deciles[d].rows ? predicted_sum[d] / count : kNaN;
    deciles[d].mean_actual = deciles[d].rows ? actual_sum[d] / count : kNaN;
  }
  return deciles;
}

double MaxRelativeError(const std::vector<DecileRow>& deciles) {
  double worst = kNaN;
  for (const DecileRow& d : deciles) {
    if (!(d.mean_actual > 0.0)) continue;
    const double error = std::abs(d.mean_predicted / d.mean_actual - 1.0);
    if (std::isnan(worst) || error > worst) worst = error;
  }
  return worst;
}

std::vector<TopShare> TopShares(const ValueRows& rows, std::span<const int> top_percent) {
  const size_t n = rows.actual.size();
  std::vector<size_t> top_rows;
  for (int percent : top_percent) top_rows.push_back(TopRows(percent, n));
  const double total = std::accumulate(rows.actual.begin(), rows.actual.end(), 0.0);
  std::vector<TopShare> shares;
  for (int percent : top_percent) shares.push_back({percent, kNaN});
  if (n == 0 || total == 0.0) return shares;
  ScoreOrder(rows.predicted)
      .WalkPrefixSums<1>([&](size_t row) { return std::array<double, 1>{rows.actual[row]}; },
                         [&](size_t i, const std::array<double, 1>& sum) {
                           for (size_t k = 0; k < top_rows.size(); ++k) {
                             if (top_rows[k] == i) shares[k].share = sum[0] / total;
                           }
                         });
  return shares;
}

}  // namespace

double NormalizedGini(std::span<const float> predicted, std::span<const float> actual) {
  return NormalizedGiniOfRows(RowsWithActual("NormalizedGini", predicted, actual));
}

double Spearman(std::span<const float> predicted, std::span<const float> actual) {
  return SpearmanOfRows(RowsWithActual("Spearman", predicted, actual));
}

ValueMetrics ComputeValueMetrics(std::span<const float> predicted, std::span<const float> actual,
                                 std::span<const int> top_percent) {
  const ValueRows rows = RowsWithActual("ComputeValueMetrics", predicted, actual);
  ValueMetrics metrics;
  metrics.rows = static_cast<int64_t>(rows.actual.size());
  metrics.gini = NormalizedGiniOfRows(rows);
  metrics.spearman = SpearmanOfRows(rows);
  metrics.deciles = Deciles(rows);
  metrics.decile_max_rel_error = MaxRelativeError(metrics.deciles);
  metrics.top_share = TopShares(rows, top_percent);
  return metrics;
}

}  // namespace mtrec
