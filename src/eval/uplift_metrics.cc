#include "eval/uplift_metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "eval/score_order.h"

namespace mtrec {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kCurveSteps = 100;  // the Qini curve's points: fractions 0, 1/100, ..., 1

// The rows with an outcome and a treatment, in file order.
struct UpliftRows {
  std::vector<float> uplift;
  std::vector<double> outcome;
  std::vector<bool> treated;
  std::vector<double> propensity;   // empty: the treated share
  std::vector<double> true_uplift;  // empty when not given
};

UpliftRows KeptRows(std::span<const float> uplift, std::span<const float> outcome, std::span<const float> treatment,
                    std::span<const float> propensity, std::span<const float> true_uplift) {
  const size_t n = uplift.size();
  MTREC_CHECK(outcome.size() == n && treatment.size() == n && (propensity.empty() || propensity.size() == n) &&
                  (true_uplift.empty() || true_uplift.size() == n),
              "ComputeUpliftMetrics: {} uplift scores, {} outcomes, {} treatments, {} propensities and {} true "
              "uplifts; expected one of each per row (propensities and true uplifts may be empty)",
              n, outcome.size(), treatment.size(), propensity.size(), true_uplift.size());
  UpliftRows rows;
  for (size_t i = 0; i < n; ++i) {
    const float t = treatment[i];
    MTREC_CHECK(std::isnan(t) || t == 0.0f || t == 1.0f,
                "ComputeUpliftMetrics: treatment at row {} is {}; expected 0 or 1 (or NaN for missing)", i, t);
    if (std::isnan(t) || std::isnan(outcome[i])) continue;
    MTREC_CHECK(!std::isnan(uplift[i]), "ComputeUpliftMetrics: uplift at row {} is NaN; expected a number", i);
    rows.uplift.push_back(uplift[i]);
    rows.outcome.push_back(outcome[i]);
    rows.treated.push_back(t == 1.0f);
    if (!propensity.empty()) {
      const float e = propensity[i];
      // IPW divides a treated row's outcome by e and a control row's by 1 - e.
      MTREC_CHECK(t == 1.0f ? e > 0.0f && e <= 1.0f : e >= 0.0f && e < 1.0f,
                  "ComputeUpliftMetrics: propensity at row {} is {} for a {} row; expected {} (clip the "
                  "propensities away from 0 and 1)",
                  i, e, t == 1.0f ? "treated" : "control", t == 1.0f ? "0 < e <= 1" : "0 <= e < 1");
      rows.propensity.push_back(e);
    }
    if (!true_uplift.empty()) {
      MTREC_CHECK(!std::isnan(true_uplift[i]), "ComputeUpliftMetrics: true uplift at row {} is NaN; expected a number",
                  i);
      rows.true_uplift.push_back(true_uplift[i]);
    }
  }
  return rows;
}

// Cumulative sums along the ranking, one column each.
enum Column : size_t {
  kTreatedRows,     // N_t
  kControlRows,     // N_c
  kTreatedOutcome,  // Y_t
  kControlOutcome,  // Y_c
  kTreatedIpw,      // Σ t y / e
  kControlIpw,      // Σ (1 − t) y / (1 − e)
  kTrueUplift,      // C, Σ τ
  kColumns
};
using Sums = std::array<double, kColumns>;

double Qini(const Sums& s) {
  return s[kControlRows] > 0 ? s[kTreatedOutcome] - s[kControlOutcome] * s[kTreatedRows] / s[kControlRows] : 0.0;
}

// Y_t/N_t − Y_c/N_c, NaN where a count is 0.
double MeanDifference(const Sums& s) {
  if (s[kTreatedRows] == 0 || s[kControlRows] == 0) return kNaN;
  return s[kTreatedOutcome] / s[kTreatedRows] - s[kControlOutcome] / s[kControlRows];
}

// The positions 0..n at which the report's Qini curve is drawn: i = round(j n / 100), without repeats.
std::vector<size_t> CurvePositions(size_t n) {
  std::vector<size_t> positions;
  for (size_t j = 0; j <= kCurveSteps; ++j) {
    const size_t i = (j * n + kCurveSteps / 2) / kCurveSteps;
    if (positions.empty() || positions.back() != i) positions.push_back(i);
  }
  return positions;
}

}  // namespace

UpliftMetrics ComputeUpliftMetrics(std::span<const float> uplift, std::span<const float> outcome,
                                   std::span<const float> treatment, std::span<const float> propensity,
                                   std::span<const float> true_uplift, std::span<const int> top_percent) {
  const UpliftRows rows = KeptRows(uplift, outcome, treatment, propensity, true_uplift);
  const size_t n = rows.outcome.size();
  std::vector<size_t> top_rows;
  for (int percent : top_percent) top_rows.push_back(TopRows(percent, n));
  const bool with_truth = !true_uplift.empty();

  UpliftMetrics metrics;
  metrics.rows = static_cast<int64_t>(n);
  metrics.treated = std::count(rows.treated.begin(), rows.treated.end(), true);
  const double treated_share = n ? static_cast<double>(metrics.treated) / static_cast<double>(n) : kNaN;
  const auto row_sums = [&](size_t row) {
    const double y = rows.outcome[row], e = rows.propensity.empty() ? treated_share : rows.propensity[row];
    const bool t = rows.treated[row];
    Sums s{};
    s[t ? kTreatedRows : kControlRows] = 1.0;
    s[t ? kTreatedOutcome : kControlOutcome] = y;
    s[t ? kTreatedIpw : kControlIpw] = t ? y / e : y / (1.0 - e);
    s[kTrueUplift] = with_truth ? rows.true_uplift[row] : 0.0;
    return s;
  };

  // One walk down the ranking: the sums of the curves, and the cumulative sums at each top k and curve position.
  const std::vector<size_t> curve_positions = CurvePositions(n);
  size_t next_curve = 1;  // position 0 is the origin
  double qini_sum = 0.0, uplift_curve_sum = 0.0, true_sum = 0.0;
  std::vector<Sums> at_top(top_rows.size());
  std::vector<double> curve_values;  // Q at curve_positions[1..]
  Sums all{};
  ScoreOrder(rows.uplift).WalkPrefixSums<kColumns>(row_sums, [&](size_t i, const Sums& s) {
    const double q = Qini(s), difference = MeanDifference(s);
    qini_sum += q;
    uplift_curve_sum += std::isnan(difference) ? 0.0 : difference * static_cast<double>(i);
    true_sum += s[kTrueUplift];
    for (size_t k = 0; k < top_rows.size(); ++k) {
      if (top_rows[k] == i) at_top[k] = s;
    }
    if (next_curve < curve_positions.size() && curve_positions[next_curve] == i) {
      curve_values.push_back(q);
      ++next_curve;
    }
    if (i == n) all = s;
  });

  // Σ_{i=1..n} (i/n) X(n) = X(n) (n + 1) / 2.
  const double rows_n = static_cast<double>(n), half = (rows_n + 1.0) / 2.0, area = rows_n * rows_n;
  const bool both_groups = all[kTreatedRows] > 0 && all[kControlRows] > 0;
  metrics.qini = both_groups ? (qini_sum - Qini(all) * half) / area : kNaN;
  metrics.auuc = both_groups ? (uplift_curve_sum - MeanDifference(all) * rows_n * half) / area : kNaN;
  metrics.policy_value_none = n ? all[kControlIpw] / rows_n : kNaN;
  metrics.policy_value_all = n ? all[kTreatedIpw] / rows_n : kNaN;
  metrics.true_qini = with_truth && n ? (true_sum - all[kTrueUplift] * half) / area : kNaN;
  metrics.pehe = kNaN;
  if (with_truth && n) {
    double squares = 0.0;
    for (size_t r = 0; r < n; ++r) squares += std::pow(rows.uplift[r] - rows.true_uplift[r], 2);
    metrics.pehe = std::sqrt(squares / rows_n);
  }
  for (size_t k = 0; k < top_rows.size(); ++k) {
    const Sums& s = at_top[k];
    const double m = static_cast<double>(top_rows[k]);
    UpliftAtK& r = metrics.at_k.emplace_back();
    r.percent = top_percent[k];
    r.uplift = n ? MeanDifference(s) : kNaN;
    r.policy_value = n ? (s[kTreatedIpw] + all[kControlIpw] - s[kControlIpw]) / rows_n : kNaN;
    r.true_uplift = with_truth && n ? s[kTrueUplift] / m : kNaN;
  }
  if (both_groups) {
    metrics.qini_curve.push_back({0.0, 0.0});
    for (size_t c = 0; c < curve_values.size(); ++c) {
      metrics.qini_curve.push_back({static_cast<double>(curve_positions[c + 1]) / rows_n, curve_values[c] / rows_n});
    }
    metrics.qini_random = {{0.0, 0.0}, {1.0, Qini(all) / rows_n}};
  }
  return metrics;
}

}  // namespace mtrec
