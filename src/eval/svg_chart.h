// Charts as inline SVG text for the HTML report: line charts (curves, training history) and heatmaps (expert
// utilisation, task conflict). No scripts, no external fonts: the SVG draws the same in any browser, offline.
//
//   LineChart roc{"roc", "ROC", "false positive rate", "true positive rate"};
//   roc.series.push_back({"click", points});
//   roc.unit_square = roc.diagonal = true;
//   std::string svg = RenderLineChart(roc);
//
// A forecast chart: dates as the x ticks, a shaded band between the forecast and its p90 under the lines.
//   chart.x_tick_labels = {{0, "2024-03-01"}, {7, "2024-03-08"}};
//   chart.bands.push_back({"p90", days, forecast, p90});
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eval/curves.h"

namespace mtrec {

struct ChartSeries {
  std::string name;
  std::vector<CurvePoint> points;  // NaN y values break the line
  bool markers = false;            // a dot at every point (few points, e.g. one per epoch)
  int color = -1;                  // index into the palette; -1: the series' position in its chart
  bool scatter = false;            // dots only, no line (the trials of a search)
};

// A shaded area between two lines (a forecast's band up to its p90), drawn under the series; NaN breaks it.
struct ChartBand {
  std::string name;
  std::vector<double> x, lower, upper;
  int color = -1;  // index into the palette; -1: the band's position in its chart
};

struct LineChart {
  LineChart(std::string id_, std::string title_, std::string x_label_, std::string y_label_)
      : id(std::move(id_)), title(std::move(title_)), x_label(std::move(x_label_)), y_label(std::move(y_label_)) {}

  std::string id;  // data-chart attribute, for tests and styling
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
  bool unit_square = false;  // both axes [0, 1]
  bool diagonal = false;     // the y = x reference line (ROC: chance, reliability: perfect calibration)
  bool integer_x = false;    // x ticks at whole numbers (epochs)
  bool legend_bottom = false;  // legend in the lower right corner (curves that rise to the upper left: ROC)
  // Text ticks on the x axis in place of numbers (dates at their day index); at most 6 of them, evenly spread.
  std::vector<std::pair<double, std::string>> x_tick_labels;
  std::vector<ChartBand> bands;
};

struct Heatmap {
  Heatmap(std::string id_, std::string title_) : id(std::move(id_)), title(std::move(title_)) {}

  std::string id;
  std::string title;
  std::vector<std::string> rows;
  std::vector<std::string> columns;
  std::vector<std::vector<double>> values;  // rows × columns; NaN: empty cell
  bool diverging = false;  // values in [-1, 1], blue below 0 and red above; otherwise [0, max] in one hue
};

// The colour of series i, shared by every chart so a task keeps its colour throughout a report.
const char* SeriesColor(size_t i);

std::string RenderLineChart(const LineChart& chart, int width = 440, int height = 300);
std::string RenderHeatmap(const Heatmap& heatmap);

// Text for HTML/SVG content and attribute values.
std::string EscapeHtml(std::string_view text);

}  // namespace mtrec
