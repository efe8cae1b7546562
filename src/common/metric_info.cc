#include "common/metric_info.h"

#include <array>

#include "common/error.h"
#include "common/strings.h"

namespace mtrec {
namespace {

// "loss" is the validation loss in the training objective's terms (trainer.cc: ValidationMonitor).
constexpr std::array<MetricInfo, 5> kMetrics = {{
    {"auc", /*higher_is_better=*/true, /*binary=*/true, /*regression=*/false},
    {"logloss", false, true, false},
    {"rmse", false, false, true},
    {"mae", false, false, true},
    {"loss", false, true, true},
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
  return metric.higher_is_better ? candidate > best : candidate < best;
}

std::vector<std::string> EarlyStopMetricChoices() {
  std::vector<std::string> choices = MetricNames();
  choices.emplace_back(kNoEarlyStopping);
  return choices;
}

}  // namespace mtrec
