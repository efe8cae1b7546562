// The report's charts of customer value and campaign effect: a value model's deciles (is the money where it
// predicts, in the amounts it predicts) and an uplift model's Qini curve against targeting at random and, on
// simulated data, against the true uplift's ranking.
//
//   ValueMetrics value = ComputeValueMetrics(predicted_revenue, revenue, top_percent);
//   section.charts.push_back(RenderDecileChart("revenue", value.deciles));
//   UpliftMetrics model = ComputeUpliftMetrics(uplift, converted, treatment, {}, tau, top_percent);
//   UpliftMetrics oracle = ComputeUpliftMetrics(tau, converted, treatment, {}, tau, top_percent);
//   section.charts.push_back(RenderQiniChart("converted", model, &oracle));
#pragma once

#include <span>
#include <string>

#include "eval/uplift_metrics.h"
#include "eval/value_metrics.h"

namespace mtrec {

// x = decile of the prediction (1 the lowest predictions, 10 the highest), y = the decile's mean: a line with a
// dot per decile for "actual" and one for "predicted", which coincide for a calibrated model and rise to the right
// for one that ranks well. Empty deciles (fewer than 10 rows) are gaps. data-chart="deciles_<task>".
std::string RenderDecileChart(const std::string& task, std::span<const DecileRow> deciles);

// x = fraction of customers targeted, y = incremental outcome per customer (Q(i)/n): the lines "model" (its
// qini_curve), "random" (its qini_random) and, when `oracle` is given and has a curve, "oracle" (the same on the same
// rows ranked by the true uplift). The area between the model's line and the random one is its qini.
// data-chart="qini_<task>". Empty text when the model has no curve (no treated or no control rows).
std::string RenderQiniChart(const std::string& task, const UpliftMetrics& model, const UpliftMetrics* oracle = nullptr);

}  // namespace mtrec
