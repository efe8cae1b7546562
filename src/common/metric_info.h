// What mtrec knows about each metric early stopping can watch, and about those eval reports that have no better
// direction to watch (bias, coverage): its name, its direction, whether it has one, and the task kinds that have
// it, in one table. Code that compares metric values asks the
// table instead of comparing names, so a metric added here is minimised or maximised as it says. It lives in common
// because the config checks train.early_stop_metric against it; eval and train read it too.
//
//   const MetricInfo& metric = GetMetric(config.train.early_stop_metric);
//   if (IsBetter(metric, score, best)) best = score;
//   const char* key = HeadlineMetric(report.binary).name;   // "auc" or "rmse"
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mtrec {

struct MetricInfo {
  const char* name;
  bool higher_is_better;  // meaningless without early_stopping
  bool binary;            // measured on binary tasks
  bool regression;        // measured on regression tasks
  // Whether a lower or higher value is better at all, so that early stopping can watch it. A relative bias is best
  // at 0 and a quantile's coverage at its level, from either side: eval reports them, the config refuses them.
  bool early_stopping = true;
};

// Every metric of the table, in the order the config documents them.
std::span<const MetricInfo> Metrics();
// Their names, in the same order.
std::vector<std::string> MetricNames();

// The entry named `name`; nullptr when the table has none.
const MetricInfo* FindMetric(std::string_view name);
// As FindMetric, but an unknown name is an Error listing the table's names.
const MetricInfo& GetMetric(std::string_view name);

// The metric that sums up a task of its kind in summaries, charts and delta_m: auc for binary, rmse for regression.
const MetricInfo& HeadlineMetric(bool binary);

// Whether `candidate` beats `best` in the metric's direction (ties do not). Error for a metric without one.
bool IsBetter(const MetricInfo& metric, double candidate, double best);

// The values train.early_stop_metric accepts: the names of the table's metrics with a direction, then "none" (no
// early stopping).
std::vector<std::string> EarlyStopMetricChoices();
inline constexpr const char* kNoEarlyStopping = "none";

}  // namespace mtrec
