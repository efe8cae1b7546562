#include "common/metric_info.h"

#include <array>

#include "common/error.h"
#include "common/strings.h"

namespace mtrec {
namespace {

// "loss" is the validation loss in the training objective's terms (trainer.cc: ValidationMonitor). The forecasting
// metrics (eval/forecast_metrics.h) are measured on regression tasks: mase where a naive forecast is given, pinball
// and coverage on quantile tasks.
constexpr std::array<MetricInfo, 10> kMetrics = {{
    {"auc", /*higher_is_better=*/true, /*binary=*/true, /*regression=*/false},
    {"logloss", false, true, false},
    {"rmse", false, false, true},
    {"mae", false, false, true},
    {"wape", false, false, true},
    {"mase", false, false, true},
    {"pinball", false, false, true},
    {"loss", false, true, true},
    {"bias", false, false, true, /*early_stopping=*/false},
    {"coverage", false, false, true, /*early_stopping=*/false},
}};

}  // namespace

std::span<const MetricInfo> Metrics() { return kMetrics; }

std::vector<std::string> MetricNames() {
  std::vector<std::string> names;
  for (const MetricInfo& metric : kMetrics) names.emplace_back(metric.name);
  return names;
}

const MetricInfo* FindMetric(std::string_view name) {
  for (const MetricInfo& metric : kMetrics) {
    if (name == metric.name) return &metric;
  }
  return nullptr;
}

const MetricInfo& GetMetric(std::string_view name) {
  const MetricInfo* metric = FindMetric(name);
  MTREC_CHECK(metric != nullptr, "unknown metric {}; expected one of {}{}", Quoted(std::string(name)),
              QuotedList(MetricNames()), DidYouMeanSuffix(name, MetricNames()));
  return *metric;
}

const MetricInfo& HeadlineMetric(bool binary) { return GetMetric(binary ? "auc" : "rmse"); }

bool IsBetter(const MetricInfo& metric, double candidate, double best) {
  MTREC_CHECK(metric.early_stopping, "metric '{}' has no better direction; no value of it beats another",
              metric.name);
  return metric.higher_is_better ? candidate > best : candidate < best;
}

std::vector<std::string> EarlyStopMetricChoices() {
  std::vector<std::string> choices;
  for (const MetricInfo& metric : kMetrics) {
    if (metric.early_stopping) choices.emplace_back(metric.name);
  }
  choices.emplace_back(kNoEarlyStopping);
  return choices;
}

}  // namespace mtrec
