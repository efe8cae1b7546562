#include "eval/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "eval/html_report.h"

namespace mtrec {
namespace {

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST(SvgChartTest, TextIsEscapedEverywhere) {
  EXPECT_EQ(EscapeHtml("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  LineChart chart("x\"y", "<script>", "a&b", "c");
  chart.series.push_back({"<b>", {{0, 0}, {1, 1}}});
  const std::string svg = RenderLineChart(chart);
  EXPECT_EQ(Count(svg, "<script>"), 0);
  EXPECT_EQ(Count(svg, "<b>"), 0);
  EXPECT_NE(svg.find("data-chart=\"x&quot;y\""), std::string::npos);
  HtmlReport report{"<title>", {{"k", "<v>"}}, {{"<h>", "n & m", {{"<c>", {"<th>"}, {{"<td>"}}}}, {svg}}}};
  const std::string html = RenderHtmlReport(report);
  EXPECT_EQ(Count(html, "<script"), 0);
  EXPECT_EQ(Count(html, "<td>&lt;td&gt;</td>"), 1);
}

TEST(SvgChartTest, SeriesBecomePathsBrokenAtNaN) {
  LineChart chart("c", "t", "x", "y");
  chart.series.push_back({"a", {{1, 0.5}, {2, 0.7}, {3, NAN}, {4, 0.6}, {5, 0.65}}, true});
  chart.series.push_back({"b", {{1, 0.2}, {5, 0.3}}});
  const std::string svg = RenderLineChart(chart);
  EXPECT_EQ(Count(svg, "<path class=\"series\""), 2);
  // Series a: two runs (M...L, M...L) around the NaN, a dot per finite point.
  const size_t a = svg.find("data-series=\"a\"");
  const std::string path_a = svg.substr(a, svg.find("\"", svg.find("d=\"", a) + 3) - a);
  EXPECT_EQ(Count(path_a, "M"), 2);
  EXPECT_EQ(Count(path_a, "L"), 2);
  EXPECT_EQ(Count(svg, "<circle"), 4);
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

TEST(SvgChartTest, HeatmapCellsCarryTheirValues) {
  Heatmap heatmap("h", "cosines");
  heatmap.diverging = true;
  heatmap.rows = heatmap.columns = {"click", "gmv"};
  heatmap.values = {{1.0, -0.25}, {-0.25, NAN}};
  const std::string svg = RenderHeatmap(heatmap);
  EXPECT_EQ(Count(svg, ">1.00<"), 1);
  EXPECT_EQ(Count(svg, ">-0.25<"), 2);
  EXPECT_EQ(Count(svg, "fill=\"#d62728\""), 1);  // +1: full red
  EXPECT_EQ(Count(svg, "fill=\"#f3f3f3\""), 1);  // NaN: the empty cell
}

}  // namespace
}  // namespace mtrec
