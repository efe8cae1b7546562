#include "eval/forecast_charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "common/error.h"
#include "eval/svg_chart.h"

namespace mtrec {
namespace {

void CheckSamples(const ForecastSamples& samples) {
  const size_t rows = samples.series.size();
  MTREC_CHECK(samples.dates.size() == rows && samples.actual.size() == rows && samples.predicted.size() == rows &&
                  (samples.upper.empty() || samples.upper.size() == rows),
              "forecast samples of {}: {} series keys, {} dates, {} actual, {} predicted and {} upper values; "
              "expected one of each per row (upper may be empty)",
              samples.task, rows, samples.dates.size(), samples.actual.size(), samples.predicted.size(),
              samples.upper.size());
}

// A quantile level as the report names it: 0.9 -> "p90".
std::string QuantileName(double quantile) { return fmt::format("p{:g}", 100.0 * quantile); }

bool SameLevel(double a, double b) { return std::isnan(a) ? std::isnan(b) : a == b; }

}  // namespace

std::vector<std::string> SampleSeries(const ForecastSamples& samples, size_t max_series) {
  CheckSamples(samples);
  std::map<std::string, double> volume;
  for (size_t i = 0; i < samples.series.size(); ++i) {
    double& units = volume[samples.series[i]];
    if (!std::isnan(samples.actual[i])) units += samples.actual[i];
  }
  std::vector<std::pair<std::string, double>> ranked(volume.begin(), volume.end());
  // The map's order is by key, so a stable sort leaves ties in key order.
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> chosen;
  const size_t n = ranked.size(), shown = std::min(n, max_series);
  for (size_t i = 0; i < shown; ++i) chosen.push_back(ranked[shown == 1 ? 0 : i * (n - 1) / (shown - 1)].first);
  return chosen;
}

std::vector<std::string> RenderForecastCharts(const ForecastSamples& samples, size_t max_series) {
  CheckSamples(samples);
  std::map<std::string, size_t> day;  // every date of the samples, in order: its position is the x of its rows
  for (const std::string& date : samples.dates) day.emplace(date, 0);
  size_t position = 0;
  for (auto& [date, x] : day) x = position++;
  std::vector<std::string> charts;
  for (const std::string& key : SampleSeries(samples, max_series)) {
    std::vector<std::pair<size_t, size_t>> rows;  // (day, row) of this series, in time order
    for (size_t i = 0; i < samples.series.size(); ++i) {
      if (samples.series[i] == key) rows.emplace_back(day.at(samples.dates[i]), i);
    }
    std::sort(rows.begin(), rows.end());
    LineChart chart{"forecast_" + samples.task + "_" + key, fmt::format("{}: {}", samples.task, key), "date", "units"};
    ChartSeries actual{"actual", {}, false, 0}, forecast{"forecast", {}, false, 1};
    ChartBand band{"forecast to p90", {}, {}, {}, 1};
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto [x, i] = rows[r];
      // A date the series lacks breaks its lines instead of joining its neighbours.
      if (r > 0 && x > rows[r - 1].first + 1) {
        actual.points.push_back({static_cast<double>(x) - 1, NAN});
        forecast.points.push_back({static_cast<double>(x) - 1, NAN});
        band.x.push_back(static_cast<double>(x) - 1), band.lower.push_back(NAN), band.upper.push_back(NAN);
      }
      actual.points.push_back({static_cast<double>(x), samples.actual[i]});
      forecast.points.push_back({static_cast<double>(x), samples.predicted[i]});
      if (!samples.upper.empty()) {
        band.x.push_back(static_cast<double>(x)), band.lower.push_back(samples.predicted[i]);
        band.upper.push_back(samples.upper[i]);
      }
      chart.x_tick_labels.emplace_back(static_cast<double>(x), samples.dates[i]);
    }
    chart.series = {actual, forecast};
    if (!samples.upper.empty()) chart.bands.push_back(band);
    charts.push_back(RenderLineChart(chart));
  }
  return charts;
}

std::string RenderMetricByHorizon(const std::string& id, const std::string& title, const std::string& y_label,
                                  const std::vector<TaskReport>& reports, const std::vector<HorizonLine>& lines) {
  LineChart chart{id, title, "horizon (days ahead)", y_label};
  chart.integer_x = true;
  std::set<int64_t> horizons;  // of every line
  for (size_t l = 0; l < lines.size(); ++l) {
    const HorizonLine& line = lines[l];
    std::map<int64_t, double> by_horizon;
    for (const TaskReport& report : reports) {
      const double horizon = report.Get("horizon");
      if (!(horizon > 0) || !report.Has(line.key) || !SameLevel(report.Get("quantile"), line.quantile)) continue;
      by_horizon.emplace(static_cast<int64_t>(horizon), report.Get(line.key));  // the first task of a horizon
    }
    if (by_horizon.empty()) continue;
    ChartSeries series{line.name, {}, /*markers=*/true, static_cast<int>(l)};
    for (const auto& [horizon, value] : by_horizon) series.points.push_back({static_cast<double>(horizon), value});
    chart.series.push_back(series);
    for (const auto& [horizon, value] : by_horizon) horizons.insert(horizon);
  }
  // A tick at each horizon measured (1, 7, 28 days), not at round numbers between them.
  for (int64_t horizon : horizons) chart.x_tick_labels.emplace_back(horizon, fmt::format("{}", horizon));
  return chart.series.empty() ? "" : RenderLineChart(chart);
}

ReportSection ForecastSection(const std::vector<TaskReport>& reports, const std::vector<ForecastSamples>& samples) {
  ReportSection section;
  section.title = "Forecasts";
  section.note =
      "By horizon, each forecasting task's error: wape = Σ|forecast − actual| / Σ actual for the model, the seasonal "
      "naive (the same weekday a week earlier, on the rows it forecasts) and the oracle (the simulator's expected "
      "demand); the pinball loss of each quantile forecast and its coverage, the share of rows at or below it (a "
      "calibrated p90 covers 0.9). Then the forecast against the actual for sample series from the fastest mover "
      "to the slowest, with the band up to the p90 forecast.";
  std::vector<double> levels;
  for (const TaskReport& report : reports) {
    const double level = report.Get("quantile");
    if (report.Get("horizon") > 0 && !std::isnan(level) &&
        std::find(levels.begin(), levels.end(), level) == levels.end()) {
      levels.push_back(level);
    }
  }
  std::sort(levels.begin(), levels.end());
  std::vector<HorizonLine> pinball, coverage;
  for (double level : levels) {
    pinball.push_back({QuantileName(level), "pinball", level});
    coverage.push_back({QuantileName(level), "coverage", level});
  }
  for (const std::string& chart :
       {RenderMetricByHorizon("wape_by_horizon", "WAPE by horizon", "wape", reports,
                              {{"model", "wape"}, {"seasonal naive", "naive_wape"}, {"oracle", "oracle_wape"}}),
        RenderMetricByHorizon("pinball_by_horizon", "Pinball loss by horizon", "pinball loss", reports, pinball),
        RenderMetricByHorizon("coverage_by_horizon", "Quantile coverage by horizon", "share of rows at or below",
                              reports, coverage)}) {
    if (!chart.empty()) section.charts.push_back(chart);
  }
  for (const ForecastSamples& task : samples) {
    for (std::string& chart : RenderForecastCharts(task)) section.charts.push_back(std::move(chart));
  }
  return section;
}

}  // namespace mtrec
