// Metrics of a customer value prediction (revenue in the next months, lifetime value): how well the predicted value
// orders customers by what they actually spent, and whether the amounts are right decile by decile. These are the
// questions a marketer asks of a value model: does the top of the list hold the money, and can its numbers be
// budgeted with.
//
//   ValueMetrics v = ComputeValueMetrics(predicted_revenue, revenue, /*top_percent=*/std::vector<int>{10, 30});
//   fmt::print("gini {:.3f} top 10% holds {:.0%} of revenue\n", v.gini, v.top_share[0].share);
//   double rho = Spearman(predicted_revenue, revenue);
//
// Conventions (those of eval/metrics.h): a NaN actual is a missing label and skips its row; a NaN prediction on a
// row with an actual throws (it has no rank); sizes must match (otherwise Error); a metric undefined on the rows
// given is NaN. Ties in the prediction are rows without an order, taken in a random order in expectation: within a
// tie group every cumulative sum grows linearly (eval/score_order.h), so no number depends on the order of the file
// (except the deciles, which the definition splits by row order).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mtrec {

// Normalised Gini: gini(s) / gini(a), where, with the rows sorted by s descending and L(i) the share of Σa held by
// the first i rows (the Lorenz curve), gini(s) = (1/n) Σ_{i=1..n} L(i) − (n+1)/(2n). 1 when the prediction orders
// the rows as the actual does, 0 for a constant (or random) prediction, below 0 when it ranks the big spenders
// last. Only the order of s matters. NaN without rows, when Σa = 0 or when a is constant (gini(a) = 0).
double NormalizedGini(std::span<const float> predicted, std::span<const float> actual);

// Spearman's rank correlation: the Pearson correlation of the rows' average ranks (tied values share the mean of
// their ranks) in s and in a. NaN with fewer than 2 rows or when either side is constant.
double Spearman(std::span<const float> predicted, std::span<const float> actual);

// A tenth of the rows by predicted value.
struct DecileRow {
  int64_t rows = 0;
  double mean_predicted = 0.0;  // NaN in an empty decile (fewer than 10 rows)
  double mean_actual = 0.0;
};

// The share of the total actual held by the top k% of the rows by prediction.
struct TopShare {
  int percent = 0;
  double share = 0.0;  // NaN when Σa = 0
};

struct ValueMetrics {
  int64_t rows = 0;       // rows with an actual
  double gini = 0.0;      // NormalizedGini
  double spearman = 0.0;  // Spearman
  // Rows sorted by s ascending (ties in row order), decile d holding positions i (0-based) with floor(10 i / n) = d:
  // always 10 entries, the lowest predictions first.
  std::vector<DecileRow> deciles;
  // max_d |mean_predicted_d / mean_actual_d − 1| over the deciles with mean_actual_d > 0: how far off the amounts
  // are in the worst decile (0.25: 25% too high or too low). NaN without such a decile.
  double decile_max_rel_error = 0.0;
  // Per entry of top_percent: the first ceil(k% · n) rows by s descending, a tie group straddling the cut counted
  // by its share of rows inside it.
  std::vector<TopShare> top_share;
};

// Every value metric over the rows with an actual. top_percent: each k in [1, 100] (otherwise Error).
ValueMetrics ComputeValueMetrics(std::span<const float> predicted, std::span<const float> actual,
                                 std::span<const int> top_percent);

}  // namespace mtrec
