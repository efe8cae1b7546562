// Metrics of an uplift (campaign effect) prediction: whether the customers the model ranks first are those the offer
// changes most, measured on a campaign's data where some customers got the offer (treatment 1) and some did not.
// A marketer reads them as: how much more does targeting by this score gain than targeting at random (qini, auuc),
// what is the measured effect among the top k% (uplift_top), and what would the campaign yield if only they were
// treated (policy_value). On simulated data the true uplift of every row is known and measures the ranking without
// the noise of the outcomes (true_qini, true_uplift_top, pehe).
//
//   UpliftMetrics m = ComputeUpliftMetrics(uplift, converted, treatment, /*propensity=*/{}, true_uplift, {10, 30});
//   fmt::print("qini {:.4f}, top 10%: +{:.3f} conversions per customer\n", m.qini, m.at_k[0].uplift);
//   UpliftMetrics oracle = ComputeUpliftMetrics(true_uplift, converted, treatment, {}, true_uplift, {10, 30});
//   std::string svg = RenderQiniChart("converted", m, &oracle);            // eval/marketing_charts.h
//
// The rows are sorted by the predicted uplift u, highest first; for the first i of them N_t(i), N_c(i) count the
// treated and control rows and Y_t(i), Y_c(i) sum their outcomes. Ties in u are rows without an order, taken in a
// random order in expectation: within a tie group every cumulative sum grows linearly (eval/score_order.h). The
// "top k%" are the first m = ceil(k% · n) rows. A row with a NaN outcome or treatment is skipped; a treatment other
// than 0 or 1, a NaN uplift (or true uplift, or propensity) on a kept row, or vectors of different lengths throw
// Error. A metric undefined on the rows given is NaN. O(n log n).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "eval/curves.h"

namespace mtrec {

// The figures of the top k% of the rows by predicted uplift.
struct UpliftAtK {
  int percent = 0;
  // Y_t(m) / N_t(m) − Y_c(m) / N_c(m): the measured effect among them. NaN without treated or control rows there.
  double uplift = 0.0;
  // The inverse-propensity estimate of the mean outcome per customer if exactly these rows were treated:
  // (1/n) Σ_i [t_i π_i y_i / e_i + (1 − t_i)(1 − π_i) y_i / (1 − e_i)], π_i = 1 in the top m, 0 elsewhere.
  double policy_value = 0.0;
  // With the true uplift τ: its mean over them (what targeting them really gains per customer); NaN otherwise.
  double true_uplift = 0.0;
};

struct UpliftMetrics {
  int64_t rows = 0;     // n, rows with an outcome and a treatment
  int64_t treated = 0;  // of which treated
  // (1/n²) Σ_i (Q(i) − (i/n) Q(n)), Q(i) = Y_t(i) − Y_c(i) N_t(i) / N_c(i) (0 where N_c(i) = 0): the area between
  // the Qini curve and the random line, per customer. 0 for a random or constant score. NaN without treated or
  // control rows.
  double qini = 0.0;
  // (1/n²) Σ_i (U(i) − (i/n) U(n)), U(i) = (Y_t(i)/N_t(i) − Y_c(i)/N_c(i)) · i (0 where a count is 0): the same
  // area under the uplift curve, which compares the groups' means rather than scaling the control's sum. NaN as qini.
  double auuc = 0.0;
  // IPW value of treating nobody (π = 0) and everybody (π = 1). NaN without rows.
  double policy_value_none = 0.0;
  double policy_value_all = 0.0;
  std::vector<UpliftAtK> at_k;  // one per entry of top_percent, in its order
  // With the true uplift τ (NaN otherwise): (1/n²) Σ_i (C(i) − (i/n) C(n)), C(i) = Σ τ over the first i rows;
  // and pehe = sqrt(mean (u − τ)²), the error of the uplift as an amount.
  double true_qini = 0.0;
  double pehe = 0.0;
  // The Qini curve for a chart: x = i/n, the fraction of customers targeted, y = Q(i)/n, the incremental outcome
  // per customer of the whole population, at up to 101 evenly spaced i from 0 to n (every i when n < 100); the
  // area between it and the random line is qini. Empty without treated or control rows.
  std::vector<CurvePoint> qini_curve;
  // The random line: from (0, 0) to (1, Q(n)/n), the gain of targeting a random fraction.
  std::vector<CurvePoint> qini_random;
};

// `treatment`: 0, 1 or NaN (skipped). `propensity`: e_i = P(t_i = 1 | x_i), or empty for the treated share of the
// rows (a randomised campaign); a treated row needs e_i > 0 and a control row e_i < 1 (IPW divides by them; clip
// predicted propensities). `true_uplift`: τ_i, or empty. top_percent: each k in [1, 100]. The oracle's figures are
// these with uplift = true_uplift.
UpliftMetrics ComputeUpliftMetrics(std::span<const float> uplift, std::span<const float> outcome,
                                   std::span<const float> treatment, std::span<const float> propensity,
                                   std::span<const float> true_uplift, std::span<const int> top_percent);

}  // namespace mtrec
