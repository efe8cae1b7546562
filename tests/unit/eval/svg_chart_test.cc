#include "eval/svg_chart.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "common/error.h"
#include "eval/html_report.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

TEST(SvgChartTest, TextIsEscapedEverywhere) {
  EXPECT_EQ(EscapeHtml("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  LineChart chart("x\"y", "<script>", "a&b", "c");
  chart.series.push_back({"<b>", {{0, 0}, {1, 1}}});
  const std::string svg = RenderLineChart(chart);
  EXPECT_EQ(CountOf(svg, "<script>"), 0);
  EXPECT_EQ(CountOf(svg, "<b>"), 0);
  EXPECT_NE(svg.find("data-chart=\"x&quot;y\""), std::string::npos);
  HtmlReport report{"<title>", {{"k", "<v>"}}, {{"<h>", "n & m", {{"<c>", {"<th>"}, {{"<td>"}}}}, {svg}}}};
  const std::string html = RenderHtmlReport(report);
  EXPECT_EQ(CountOf(html, "<script"), 0);
  EXPECT_EQ(CountOf(html, "<td>&lt;td&gt;</td>"), 1);
}

TEST(SvgChartTest, SeriesBecomePathsBrokenAtNaN) {
  LineChart chart("c", "t", "x", "y");
  chart.series.push_back({"a", {{1, 0.5}, {2, 0.7}, {3, NAN}, {4, 0.6}, {5, 0.65}}, true});
  chart.series.push_back({"b", {{1, 0.2}, {5, 0.3}}});
  const std::string svg = RenderLineChart(chart);
  EXPECT_EQ(CountOf(svg, "<path class=\"series\""), 2);
  // Series a: two runs (M...L, M...L) around the NaN, a dot per finite point.
  const size_t a = svg.find("data-series=\"a\"");
  const std::string path_a = svg.substr(a, svg.find("\"", svg.find("d=\"", a) + 3) - a);
  EXPECT_EQ(CountOf(path_a, "M"), 2);
  EXPECT_EQ(CountOf(path_a, "L"), 2);
  EXPECT_EQ(CountOf(svg, "<circle"), 4);
  EXPECT_NE(svg.find(SeriesColor(1)), std::string::npos);
}

TEST(SvgChartTest, NeighbouringTicksNeverPrintAlike) {
  LineChart chart("c", "t", "x", "y");
  chart.series.push_back({"a", {{1, 3.4501}, {2, 3.4523}}});
  const std::string svg = RenderLineChart(chart);
  std::vector<std::string> labels;
  for (size_t at = svg.find("text-anchor=\"end\">"); at != std::string::npos;
       at = svg.find("text-anchor=\"end\">", at + 1)) {
    const size_t begin = at + std::string("text-anchor=\"end\">").size();
    labels.push_back(svg.substr(begin, svg.find('<', begin) - begin));
  }
  ASSERT_GE(labels.size(), 3u);
  for (size_t i = 1; i < labels.size(); ++i) EXPECT_NE(labels[i], labels[i - 1]);
}

TEST(SvgChartTest, BandsAreClosedPolygonsBrokenAtNaNAndListedInTheLegend) {
  LineChart chart("c", "t", "day", "units");
  chart.series.push_back({"forecast", {{0, 2}, {1, 3}, {2, 3}, {3, 2}, {4, 1}}});
  chart.bands.push_back({"to p90", {0, 1, 2, 3, 4}, {2, 3, 3, 2, 1}, {4, 5, NAN, 4, 3}});
  const std::string svg = RenderLineChart(chart);
  const size_t at = svg.find("<path class=\"band\" data-band=\"to p90\"");
  ASSERT_NE(at, std::string::npos) << svg;
  EXPECT_LT(at, svg.find("<path class=\"series\""));  // under the lines
  // Two runs (days 0-1 and 3-4), each up along the upper edge, back along the lower one and closed.
  const std::string path = svg.substr(at, svg.find("/>", at) - at);
  EXPECT_EQ(CountOf(path, "M"), 2);
  EXPECT_EQ(CountOf(path, "L"), 6);
  EXPECT_EQ(CountOf(path, "Z"), 2);
  EXPECT_EQ(CountOf(svg, ">to p90</text>"), 1);
  EXPECT_EQ(CountOf(svg, ">forecast</text>"), 1);
  // The band's top (5) is inside the y range: a tick at 5 or above.
  EXPECT_NE(svg.find("text-anchor=\"end\">5</text>"), std::string::npos) << svg;
  chart.bands[0].upper.pop_back();
  EXPECT_THROW(RenderLineChart(chart), Error);
}

TEST(SvgChartTest, TextTicksReplaceNumbersAndAreThinnedToSix) {
  LineChart chart("c", "t", "date", "units");
  chart.series.push_back({"actual", {}});
  for (int d = 0; d < 11; ++d) {
    chart.series[0].points.push_back({static_cast<double>(d), 1.0 + d % 3});
    chart.x_tick_labels.emplace_back(d, fmt::format("2024-03-{:02}", d + 1));
  }
  const std::string svg = RenderLineChart(chart);
  EXPECT_EQ(CountOf(svg, "text-anchor=\"middle\">2024-03-"), 5);
  EXPECT_EQ(CountOf(svg, "text-anchor=\"end\">2024-03-11<"), 1);  // the last ends at the plot's right edge
  EXPECT_EQ(CountOf(svg, ">2024-03-01<"), 1);  // the first and the last are kept
  EXPECT_EQ(CountOf(svg, ">2024-03-11<"), 1);
  EXPECT_EQ(CountOf(svg, ">2024-03-02<"), 0);
}

TEST(SvgChartTest, HeatmapCellsCarryTheirValues) {
  Heatmap heatmap("h", "cosines");
  heatmap.diverging = true;
  heatmap.rows = heatmap.columns = {"click", "gmv"};
  heatmap.values = {{1.0, -0.25}, {-0.25, NAN}};
  const std::string svg = RenderHeatmap(heatmap);
  EXPECT_EQ(CountOf(svg, ">1.00<"), 1);
  EXPECT_EQ(CountOf(svg, ">-0.25<"), 2);
  EXPECT_EQ(CountOf(svg, "fill=\"#d62728\""), 1);  // +1: full red
  EXPECT_EQ(CountOf(svg, "fill=\"#f3f3f3\""), 1);  // NaN: the empty cell
}

}  // namespace
}  // namespace mtrec
