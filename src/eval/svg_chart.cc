#include "eval/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace mtrec {
namespace {

// Tableau-like palette, readable on white and distinct for up to 10 tasks.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Light enough that the lines drawn over a band stay readable.
constexpr double kBandOpacity = 0.18;

// About five "nice" tick values (1, 2 or 5 × 10^n apart) covering [lo, hi].
std::vector<double> NiceTicks(double lo, double hi, bool integer) {
  double span = hi - lo;
  if (!(span > 0)) span = std::max(std::abs(hi), 1.0);
  double step = std::pow(10.0, std::floor(std::log10(span / 5.0)));
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    if (span / (step * factor) <= 6.0) {
      step *= factor;
      break;
    }
  }
  if (integer) step = std::max(1.0, std::round(step));
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

// As many decimals as the tick step needs, so neighbouring ticks never print alike.
std::string FormatTick(double value, double step) {
  if (std::abs(value) < step * 1e-9) return "0";
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 8);
  if (std::abs(value) >= 1e6 || std::abs(value) < 1e-4) return fmt::format("{:.3g}", value);
  return fmt::format("{:.{}f}", value, decimals);
}

double Step(const std::vector<double>& ticks) { return ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0; }

}  // namespace

const char* SeriesColor(size_t i) { return kPalette[i % std::size(kPalette)]; }

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderLineChart(const LineChart& chart, int width, int height) {
  for (const ChartBand& band : chart.bands) {
    MTREC_CHECK(band.lower.size() == band.x.size() && band.upper.size() == band.x.size(),
                "chart {}: band '{}' has {} x values but {} lower and {} upper ones", chart.id, band.name, band.x.size(),
                band.lower.size(), band.upper.size());
  }
  const double left = 62, right = 16, top = 34, bottom = 44;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (!chart.unit_square) {
    x_lo = y_lo = INFINITY;
    x_hi = y_hi = -INFINITY;
    const auto include = [&](double x, double y) {
      if (!std::isfinite(x) || !std::isfinite(y)) return;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    };
    for (const auto& s : chart.series) {
      for (const auto& p : s.points) include(p.x, p.y);
    }
    for (const auto& band : chart.bands) {
      for (size_t i = 0; i < band.x.size(); ++i) include(band.x[i], band.lower[i]), include(band.x[i], band.upper[i]);
    }
    if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
    if (x_hi == x_lo) x_lo -= 0.5, x_hi += 0.5;
    const double pad = y_hi > y_lo ? 0.08 * (y_hi - y_lo) : std::max(std::abs(y_hi) * 0.05, 1e-3);
    y_lo -= pad, y_hi += pad;
  }
  const std::vector<double> x_ticks = NiceTicks(x_lo, x_hi, chart.integer_x);
  const std::vector<double> y_ticks = NiceTicks(y_lo, y_hi, false);
  if (!chart.unit_square) {
    y_lo = std::min(y_lo, y_ticks.front()), y_hi = std::max(y_hi, y_ticks.back());
  }
  auto sx = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * plot_w; };
  auto sy = [&](double y) { return top + (1.0 - (y - y_lo) / (y_hi - y_lo)) * plot_h; };

  std::string svg = fmt::format(
      "<svg class=\"chart\" data-chart=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n",
      EscapeHtml(chart.id), width, height, width, height, EscapeHtml(chart.title));
  svg += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", width, height);
  svg += fmt::format("<text x=\"{}\" y=\"20\" class=\"title\">{}</text>\n", left, EscapeHtml(chart.title));
  std::vector<std::pair<double, std::string>> x_labels;
  if (chart.x_tick_labels.empty()) {
    for (double t : x_ticks) x_labels.emplace_back(t, FormatTick(t, Step(x_ticks)));
  } else {
    // Every label is as wide as a date: six fit under the plot.
    const size_t n = chart.x_tick_labels.size(), shown = std::min<size_t>(n, 6);
    for (size_t i = 0; i < shown; ++i) x_labels.push_back(chart.x_tick_labels[shown == 1 ? 0 : i * (n - 1) / (shown - 1)]);
  }
  for (const auto& [t, label] : x_labels) {
    if (t < x_lo - 1e-12 || t > x_hi + 1e-12) continue;
    // A long label at the right edge ends there instead of running out of the picture.
    const bool at_right_edge = !chart.x_tick_labels.empty() && sx(t) > left + plot_w - 30;
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"grid\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3:.1f}\" class=\"tick\" text-anchor=\"{4}\">{5}</text>\n",
                       sx(t), top, top + plot_h, top + plot_h + 15, at_right_edge ? "end" : "middle",
                       EscapeHtml(label));
  }
  for (double t : y_ticks) {
    if (t < y_lo - 1e-12 || t > y_hi + 1e-12) continue;
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" class=\"grid\"/>"
                       "<text x=\"{3:.1f}\" y=\"{4:.1f}\" class=\"tick\" text-anchor=\"end\">{5}</text>\n",
                       left, sy(t), left + plot_w, left - 6, sy(t) + 4, FormatTick(t, Step(y_ticks)));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n", left, top, plot_w, plot_h);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>\n",
                     left + plot_w / 2, height - 8, EscapeHtml(chart.x_label));
  svg += fmt::format("<text x=\"14\" y=\"{:.1f}\" class=\"label\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 14 {:.1f})\">{}</text>\n",
                     top + plot_h / 2, top + plot_h / 2, EscapeHtml(chart.y_label));
  if (chart.diagonal) {
    const double lo = std::max(x_lo, y_lo), hi = std::min(x_hi, y_hi);
    if (hi > lo) {
      svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"reference\"/>\n", sx(lo),
                         sy(lo), sx(hi), sy(hi));
    }
  }
  // Bands under the lines: each run of finite points one closed polygon, along the upper edge and back the lower.
  for (size_t b = 0; b < chart.bands.size(); ++b) {
    const ChartBand& band = chart.bands[b];
    const char* color = SeriesColor(band.color >= 0 ? static_cast<size_t>(band.color) : b);
    std::string path;
    for (size_t begin = 0; begin < band.x.size();) {
      const auto finite = [&](size_t i) {
        return std::isfinite(band.x[i]) && std::isfinite(band.lower[i]) && std::isfinite(band.upper[i]);
      };
      if (!finite(begin)) {
        ++begin;
        continue;
      }
      size_t end = begin;
      while (end < band.x.size() && finite(end)) ++end;
      for (size_t i = begin; i < end; ++i) {
        path += fmt::format("{}{:.1f},{:.1f} ", i == begin ? "M" : "L", sx(band.x[i]), sy(band.upper[i]));
      }
      for (size_t i = end; i-- > begin;) path += fmt::format("L{:.1f},{:.1f} ", sx(band.x[i]), sy(band.lower[i]));
      path += "Z ";
      begin = end;
    }
    svg += fmt::format("<path class=\"band\" data-band=\"{}\" d=\"{}\" fill=\"{}\" fill-opacity=\"{}\"/>\n",
                       EscapeHtml(band.name), path, color, kBandOpacity);
  }
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const char* color = SeriesColor(s.color >= 0 ? static_cast<size_t>(s.color) : i);
    std::string path;
    bool pen_down = false;
    for (const auto& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) {
        pen_down = false;
        continue;
      }
      path += fmt::format("{}{:.1f},{:.1f} ", pen_down ? "L" : "M", sx(p.x), sy(p.y));
      pen_down = true;
    }
    if (!s.scatter) {
      svg += fmt::format("<path class=\"series\" data-series=\"{}\" d=\"{}\" stroke=\"{}\"/>\n", EscapeHtml(s.name),
                         path, color);
    }
    if (s.markers || s.scatter) {
      for (const auto& p : s.points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>", sx(p.x), sy(p.y), color);
      }
      svg += "\n";
    }
  }
  // Legend inside the plot, top or bottom right, on a white box so that lines under it do not hide it: the series,
  // then the bands.
  const size_t entries = chart.series.size() + chart.bands.size();
  const double legend_h = 16.0 * static_cast<double>(entries) + 6;
  const double legend_top = chart.legend_bottom ? top + plot_h - legend_h - 4 : top + 4;
  if (entries > 0) {
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"128\" height=\"{:.1f}\" fill=\"#ffffff\" "
                       "fill-opacity=\"0.85\"/>\n", left + plot_w - 134, legend_top, legend_h);
  }
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const char* color = SeriesColor(chart.series[i].color >= 0 ? static_cast<size_t>(chart.series[i].color) : i);
    const double ly = legend_top + 11 + 16 * static_cast<double>(i);
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" "
                       "stroke-width=\"3\"/><text x=\"{4:.1f}\" y=\"{5:.1f}\" class=\"legend\">{6}</text>\n",
                       left + plot_w - 128, ly, left + plot_w - 110, color, left + plot_w - 104, ly + 4,
                       EscapeHtml(chart.series[i].name));
  }
  for (size_t b = 0; b < chart.bands.size(); ++b) {
    const char* color = SeriesColor(chart.bands[b].color >= 0 ? static_cast<size_t>(chart.bands[b].color) : b);
    const double ly = legend_top + 11 + 16 * static_cast<double>(chart.series.size() + b);
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"18\" height=\"10\" fill=\"{}\" fill-opacity=\"{}\"/>"
                       "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"legend\">{}</text>\n",
                       left + plot_w - 128, ly - 5, color, kBandOpacity, left + plot_w - 104, ly + 4,
                       EscapeHtml(chart.bands[b].name));
  }
  svg += "</svg>\n";
  return svg;
}

std::string RenderHeatmap(const Heatmap& heatmap) {
  const double cell_w = 64, cell_h = 30, top = 52;
  size_t label_chars = 4;
  for (const auto& r : heatmap.rows) label_chars = std::max(label_chars, r.size());
  const double left = 12 + 7.0 * static_cast<double>(label_chars);
  // Wide enough for the cells and for the title (about 7.5 px per character at the title's size).
  const double width = std::max(left + cell_w * static_cast<double>(heatmap.columns.size()) + 16,
                                24 + 7.5 * static_cast<double>(heatmap.title.size()));
  const double height = top + cell_h * static_cast<double>(heatmap.rows.size()) + 16;
  double max_value = 0;
  for (const auto& row : heatmap.values) {
    for (double v : row) {
      if (std::isfinite(v)) max_value = std::max(max_value, std::abs(v));
    }
  }
  if (heatmap.diverging || max_value == 0) max_value = 1;
  std::string svg = fmt::format(
      "<svg class=\"chart\" data-chart=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\" aria-label=\"{}\">\n",
      EscapeHtml(heatmap.id), width, height, width, height, EscapeHtml(heatmap.title));
  svg += fmt::format("<rect x=\"0\" y=\"0\" width=\"{:.0f}\" height=\"{:.0f}\" fill=\"#ffffff\"/>\n", width, height);
  svg += fmt::format("<text x=\"12\" y=\"20\" class=\"title\">{}</text>\n", EscapeHtml(heatmap.title));
  for (size_t c = 0; c < heatmap.columns.size(); ++c) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"middle\">{}</text>\n",
                       left + cell_w * (static_cast<double>(c) + 0.5), top - 8, EscapeHtml(heatmap.columns[c]));
  }
  for (size_t r = 0; r < heatmap.rows.size(); ++r) {
    const double y = top + cell_h * static_cast<double>(r);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>\n", left - 6,
                       y + cell_h / 2 + 4, EscapeHtml(heatmap.rows[r]));
    for (size_t c = 0; c < heatmap.columns.size(); ++c) {
      const double v = r < heatmap.values.size() && c < heatmap.values[r].size() ? heatmap.values[r][c] : NAN;
      const double x = left + cell_w * static_cast<double>(c);
      if (!std::isfinite(v)) {
        svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{}\" height=\"{}\" fill=\"#f3f3f3\" "
                           "stroke=\"#ffffff\"/>\n", x, y, cell_w, cell_h);
        continue;
      }
      // Diverging: white at 0, towards red (#d62728) above and blue (#1f77b4) below. Sequential: white to blue.
      const double t = std::clamp(std::abs(v) / max_value, 0.0, 1.0);
      const bool warm = heatmap.diverging && v > 0;
      const int r0 = warm ? 214 : 31, g0 = warm ? 39 : 119, b0 = warm ? 40 : 180;
      const int red = static_cast<int>(std::lround(255 + (r0 - 255) * t));
      const int green = static_cast<int>(std::lround(255 + (g0 - 255) * t));
      const int blue = static_cast<int>(std::lround(255 + (b0 - 255) * t));
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{}\" height=\"{}\" fill=\"#{:02x}{:02x}{:02x}\" "
                         "stroke=\"#ffffff\"/><text x=\"{:.1f}\" y=\"{:.1f}\" class=\"cell\" text-anchor=\"middle\" "
                         "fill=\"{}\">{:.2f}</text>\n",
                         x, y, cell_w, cell_h, red, green, blue, x + cell_w / 2, y + cell_h / 2 + 4,
                         t > 0.6 ? "#ffffff" : "#222222", v);
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace mtrec
