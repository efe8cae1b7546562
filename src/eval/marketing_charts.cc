#include "eval/marketing_charts.h"

#include <fmt/format.h>

#include "eval/svg_chart.h"

namespace mtrec {
namespace {

// The palette's grey, for the reference line.
constexpr int kReferenceColor = 7;

}  // namespace

std::string RenderDecileChart(const std::string& task, std::span<const DecileRow> deciles) {
  LineChart chart{"deciles_" + task, fmt::format("{}: mean by decile of the prediction", task),
                  "decile of the prediction (10: highest)", "mean per customer"};
  chart.integer_x = true;
  ChartSeries actual{"actual", {}, /*markers=*/true, 0}, predicted{"predicted", {}, /*markers=*/true, 1};
  for (size_t d = 0; d < deciles.size(); ++d) {
    const double x = static_cast<double>(d + 1);
    actual.points.push_back({x, deciles[d].mean_actual});
    predicted.points.push_back({x, deciles[d].mean_predicted});
  }
  chart.series = {actual, predicted};
  return RenderLineChart(chart);
}

std::string RenderQiniChart(const std::string& task, const UpliftMetrics& model, const UpliftMetrics* oracle) {
  if (model.qini_curve.empty()) return "";
  LineChart chart{"qini_" + task, fmt::format("{}: Qini curve", task), "fraction of customers targeted",
                  "incremental outcome per customer"};
  if (oracle != nullptr && !oracle->qini_curve.empty()) {
    chart.series.push_back({"oracle", oracle->qini_curve, false, 2});
  }
  chart.series.push_back({"model", model.qini_curve, false, 0});
  chart.series.push_back({"random", model.qini_random, false, kReferenceColor});
  return RenderLineChart(chart);
}

}  // namespace mtrec
