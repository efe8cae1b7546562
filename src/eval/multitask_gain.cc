#include "eval/multitask_gain.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/metric_info.h"

namespace mtrec {

MultiTaskGain ComputeMultiTaskGain(const std::vector<TaskReport>& reports, const std::vector<TaskReport>& baseline) {
  MultiTaskGain gain;
  double sum = 0;
  for (const auto& report : reports) {
    const TaskReport* base = nullptr;
    for (const auto& b : baseline) {
      if (b.name == report.name) base = &b;
    }
    if (base == nullptr) continue;
    const MetricInfo& info = HeadlineMetric(report.binary);
    const char* metric = info.name;
    const double m = report.Get(metric);
    const double b = base->Get(metric);
    if (!std::isfinite(m) || !std::isfinite(b) || b == 0) continue;
    const double change = (info.higher_is_better ? 1.0 : -1.0) * (m - b) / b * 100.0;
    gain.per_task.emplace_back(report.name, change);
    sum += change;
  }
  gain.delta_m = gain.per_task.empty() ? NAN : sum / static_cast<double>(gain.per_task.size());
  return gain;
}

std::vector<TaskReport> ReadBaselineReports(const std::string& path) {
  const std::string text = ReadFileBytes(path);
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text, nullptr, false);
  MTREC_CHECK(!json.is_discarded(), "{}: not valid JSON (expected the output of `mtrec eval --json`)", path);
  MTREC_CHECK(json.is_object() && json.contains("tasks"), "{}: no \"tasks\" object (expected the output of "
              "`mtrec eval --json`)", path);
  return ReportsFromJson(json["tasks"], path);
}

}  // namespace mtrec
