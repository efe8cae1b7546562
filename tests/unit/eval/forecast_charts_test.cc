#include "eval/forecast_charts.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

// Three series over five days: "fast" sells 10 a day, "mid" 3, "slow" 1 on its two days (it lacks day 3).
ForecastSamples ThreeSeries() {
  ForecastSamples samples;
  samples.task = "units";
  const std::vector<std::string> days = {"2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05"};
  for (const auto& [key, units] : std::vector<std::pair<std::string, float>>{{"fast", 10}, {"mid", 3}}) {
    for (const std::string& day : days) {
      samples.series.push_back(key);
      samples.dates.push_back(day);
      samples.actual.push_back(units);
      samples.predicted.push_back(units + 0.5f);
      samples.upper.push_back(units + 2.f);
    }
  }
  // The slow series' rows out of date order, with a gap on 03-03 and 03-04.
  for (const char* day : {"2024-03-05", "2024-03-01", "2024-03-02"}) {
    samples.series.push_back("slow");
    samples.dates.push_back(day);
    samples.actual.push_back(1);
    samples.predicted.push_back(0.8f);
    samples.upper.push_back(2.f);
  }
  return samples;
}

TEST(ForecastChartsTest, SampleSeriesSpreadFromTheFastestToTheSlowest) {
  const ForecastSamples samples = ThreeSeries();
  EXPECT_EQ(SampleSeries(samples, 4), (std::vector<std::string>{"fast", "mid", "slow"}));
  EXPECT_EQ(SampleSeries(samples, 2), (std::vector<std::string>{"fast", "slow"}));
  EXPECT_EQ(SampleSeries(samples, 1), (std::vector<std::string>{"fast"}));
  // Equal volumes rank by key.
  ForecastSamples tied;
  tied.task = "t";
  tied.series = {"b", "a", "c"};
  tied.dates = {"d", "d", "d"};
  tied.actual = tied.predicted = {1, 1, 1};
  EXPECT_EQ(SampleSeries(tied, 2), (std::vector<std::string>{"a", "c"}));
}

TEST(ForecastChartsTest, EachSampleSeriesIsAChartOfActualForecastAndTheP90Band) {
  const std::vector<std::string> charts = RenderForecastCharts(ThreeSeries(), 2);
  ASSERT_EQ(charts.size(), 2u);
  const std::string& fast = charts[0];
  EXPECT_NE(fast.find("data-chart=\"forecast_units_fast\""), std::string::npos);
  EXPECT_NE(fast.find(">units: fast</text>"), std::string::npos);
  EXPECT_EQ(CountOf(fast, "<path class=\"series\""), 2);
  EXPECT_EQ(CountOf(fast, "<path class=\"band\" data-band=\"forecast to p90\""), 1);
  EXPECT_EQ(CountOf(PathOf(fast, "data-series=\"actual\""), "L"), 4);  // five days, one run
  EXPECT_EQ(CountOf(fast, ">2024-03-01</text>"), 1);
  EXPECT_EQ(CountOf(fast, ">2024-03-05</text>"), 1);
  // The slow series: its rows sorted by date, and the days it lacks break its lines and band into two runs.
  const std::string& slow = charts[1];
  EXPECT_NE(slow.find("data-chart=\"forecast_units_slow\""), std::string::npos);
  const std::string actual = PathOf(slow, "data-series=\"actual\"");
  EXPECT_EQ(CountOf(actual, "M"), 2) << actual;
  EXPECT_EQ(CountOf(actual, "L"), 1) << actual;
  EXPECT_EQ(CountOf(PathOf(slow, "data-band="), "Z"), 2);
  EXPECT_EQ(CountOf(slow, ">2024-03-03</text>"), 0);
  // Without upper values, no band.
  ForecastSamples no_band = ThreeSeries();
  no_band.upper.clear();
  EXPECT_EQ(CountOf(RenderForecastCharts(no_band, 1)[0], "class=\"band\""), 0);
  no_band.dates.pop_back();
  EXPECT_THROW(RenderForecastCharts(no_band), Error);
}

// Reports of a units forecast at horizons 1, 7 and 14 (the naive known at 7 and 14 only) and its p50 and p90 at 7
// and 14; a task without a horizon stays off the charts.
std::vector<TaskReport> HorizonReports() {
  std::vector<TaskReport> reports;
  const auto add = [&](const std::string& name, std::vector<std::pair<std::string, double>> metrics) {
    TaskReport report;
    report.name = name;
    report.binary = false;
    report.metrics = std::move(metrics);
    reports.push_back(report);
  };
  add("sales_today", {{"rows", 10}, {"wape", 0.1}});
  add("units_14d", {{"rows", 10}, {"horizon", 14}, {"wape", 0.4}, {"naive_wape", 0.6}});
  add("units_1d", {{"rows", 10}, {"horizon", 1}, {"wape", 0.2}});
  add("units_7d", {{"rows", 10}, {"horizon", 7}, {"wape", 0.3}, {"naive_wape", 0.5}});
  add("units_7d_p90", {{"rows", 10}, {"horizon", 7}, {"wape", 0.9}, {"quantile", 0.9}, {"pinball", 1.5},
                       {"coverage", 0.88}});
  add("units_14d_p90", {{"rows", 10}, {"horizon", 14}, {"wape", 0.9}, {"quantile", 0.9}, {"pinball", 1.9},
                        {"coverage", 0.86}});
  add("units_7d_p50", {{"rows", 10}, {"horizon", 7}, {"quantile", 0.5}, {"pinball", 1.1}, {"coverage", 0.52}});
  return reports;
}

TEST(ForecastChartsTest, MetricByHorizonHasALinePerModelThroughItsHorizonsInOrder) {
  const std::vector<TaskReport> reports = HorizonReports();
  const std::string svg = RenderMetricByHorizon(
      "wape_by_horizon", "WAPE", "wape", reports,
      {{"model", "wape"}, {"seasonal naive", "naive_wape"}, {"oracle", "oracle_wape"}});
  EXPECT_NE(svg.find("data-chart=\"wape_by_horizon\""), std::string::npos);
  // The oracle has no value anywhere: no line. The model's line goes 1 -> 7 -> 14 (quantile tasks and the task
  // without a horizon left out), the naive's 7 -> 14.
  EXPECT_EQ(CountOf(svg, "<path class=\"series\""), 2);
  EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"model\""), "L"), 2);
  EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"seasonal naive\""), "L"), 1);
  EXPECT_EQ(CountOf(svg, "<circle"), 5);
  EXPECT_EQ(CountOf(svg, "data-series=\"oracle\""), 0);
  // The model's points from left to right: x grows along its path.
  std::vector<double> xs;
  const std::string path = PathOf(svg, "data-series=\"model\"");
  for (size_t at = 0; (at = path.find_first_of("ML", at)) != std::string::npos; ++at) {
    xs.push_back(std::stod(path.substr(at + 1)));
  }
  ASSERT_EQ(xs.size(), 3u);
  EXPECT_LT(xs[0], xs[1]);
  EXPECT_LT(xs[1], xs[2]);
  // A tick at each horizon measured.
  for (const char* horizon : {">1</text>", ">7</text>", ">14</text>"}) EXPECT_EQ(CountOf(svg, horizon), 1) << horizon;
  EXPECT_EQ(CountOf(svg, ">5</text>"), 0);
  EXPECT_EQ(RenderMetricByHorizon("none", "t", "y", reports, {{"oracle", "oracle_wape"}}), "");
}

TEST(ForecastChartsTest, ForecastSectionDrawsEachHorizonChartAndTheSamples) {
  const ReportSection section = ForecastSection(HorizonReports(), {ThreeSeries()});
  EXPECT_EQ(section.title, "Forecasts");
  ASSERT_EQ(section.charts.size(), 3u + 3u);  // wape, pinball, coverage by horizon; three sample series
  EXPECT_NE(section.charts[0].find("data-chart=\"wape_by_horizon\""), std::string::npos);
  // One line per quantile level, named as the report names them.
  const std::string& pinball = section.charts[1];
  EXPECT_NE(pinball.find("data-chart=\"pinball_by_horizon\""), std::string::npos);
  EXPECT_EQ(CountOf(pinball, "<path class=\"series\""), 2);
  EXPECT_EQ(CountOf(PathOf(pinball, "data-series=\"p90\""), "L"), 1);
  EXPECT_EQ(CountOf(PathOf(pinball, "data-series=\"p50\""), "L"), 0);
  EXPECT_NE(section.charts[2].find("data-chart=\"coverage_by_horizon\""), std::string::npos);
  EXPECT_NE(section.charts[5].find("data-chart=\"forecast_units_slow\""), std::string::npos);
  // Without horizons or samples: no chart, so the report leaves the section out.
  std::vector<TaskReport> plain = {HorizonReports()[0]};
  EXPECT_TRUE(ForecastSection(plain, {}).charts.empty());
}

}  // namespace
}  // namespace mtrec
