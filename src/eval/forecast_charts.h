// The report's forecasting charts: the forecast against the actual for a few sample series, and each forecasting
// metric by horizon. Their inputs are plain: per-row vectors of series keys, dates and values, and the task
// reports, so whoever knows a file's series and dates fills them, and the tests need no model.
//
//   ForecastSamples units{"units_next_7d", store_item, dates, sales, forecast, p90};
//   ReportSection section = ForecastSection(run.tasks, {units});
//   if (!section.charts.empty()) report.sections.push_back(section);
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "eval/evaluation.h"
#include "eval/html_report.h"

namespace mtrec {

// One task's forecasts over the rows of a file, one row per series and date.
struct ForecastSamples {
  std::string task;                 // names the charts
  std::vector<std::string> series;  // per row: the key of its series (a store × item)
  std::vector<std::string> dates;   // per row: its date, as text that sorts in time order (ISO 8601)
  std::vector<float> actual;        // NaN: not observed
  std::vector<float> predicted;
  std::vector<float> upper;  // per row, the p90 forecast: a band from the forecast up to it; empty: no band
};

// The keys of up to `max_series` series of `samples`, spread over their volume (Σ actual): ranked from the most
// units to the fewest (ties by key), the ranks evenly spaced from first to last, so that a fast mover and a slow
// one are both shown. Every series when there are no more than `max_series`.
std::vector<std::string> SampleSeries(const ForecastSamples& samples, size_t max_series);

// One chart per sample series: x = its dates (a day's position among all of samples' dates, so a missing date is
// a gap in the lines), y = units; the lines "actual" and "forecast", and the band "forecast to p90" when `upper`
// is given. Error when the vectors differ in length.
std::vector<std::string> RenderForecastCharts(const ForecastSamples& samples, size_t max_series = 4);

// A line of the metric-by-horizon chart: a model's value of one metric key at each horizon.
struct HorizonLine {
  std::string name;       // in the legend: "model", "seasonal naive"
  std::string key;        // the reports' key: "wape", "naive_wape"
  double quantile = NAN;  // the tasks it goes through: those of this quantile level; NaN: the point forecasts
};

// x = horizon, y = the metric: each line through the tasks of `reports` that have a horizon, its quantile level
// and its key, in order of horizon (of two tasks at one horizon, the first). Empty text when no line has a point.
std::string RenderMetricByHorizon(const std::string& id, const std::string& title, const std::string& y_label,
                                  const std::vector<TaskReport>& reports, const std::vector<HorizonLine>& lines);

// The report's "Forecasts" section: wape by horizon (the model, the seasonal naive, the oracle), pinball loss and
// coverage by horizon (one line per quantile level), then the sample series of each entry of `samples`. No chart
// when no task has a horizon and no samples are given.
ReportSection ForecastSection(const std::vector<TaskReport>& reports, const std::vector<ForecastSamples>& samples);

}  // namespace mtrec
