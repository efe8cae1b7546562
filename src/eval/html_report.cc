#include "eval/html_report.h"

#include "eval/svg_chart.h"

namespace mtrec {
namespace {

// System fonts only: nothing is fetched, and the page looks native on every platform.
constexpr const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px 32px;
       color: #222; background: #ffffff; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.note { color: #555; font-size: 13px; max-width: 900px; margin: 4px 0 10px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; font-size: 13px; margin: 0; }
dl.facts dt { color: #666; } dl.facts dd { margin: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 24px 12px 0; display: inline-table;
        vertical-align: top; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: right; white-space: nowrap; }
th { background: #f6f6f6; } td:first-child, th:first-child { text-align: left; }
div.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { border: 1px solid #e4e4e4; }
svg .title { font-size: 13px; font-weight: 600; fill: #222; }
svg .tick { font-size: 10px; fill: #555; } svg .label { font-size: 11px; fill: #333; }
svg .legend { font-size: 11px; fill: #222; } svg .cell { font-size: 11px; }
svg .grid { stroke: #eeeeee; stroke-width: 1; } svg .frame { fill: none; stroke: #999999; stroke-width: 1; }
svg .reference { stroke: #aaaaaa; stroke-width: 1; stroke-dasharray: 4 3; }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
)";

}  // namespace

std::string RenderHtmlReport(const HtmlReport& report) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                     EscapeHtml(report.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>" + EscapeHtml(report.title) + "</h1>\n<dl class=\"facts\">\n";
  for (const auto& [key, value] : report.facts) {
    html += "<dt>" + EscapeHtml(key) + "</dt><dd>" + EscapeHtml(value) + "</dd>\n";
  }
  html += "</dl>\n";
  for (const auto& section : report.sections) {
    html += "<section>\n<h2>" + EscapeHtml(section.title) + "</h2>\n";
    if (!section.note.empty()) html += "<p class=\"note\">" + EscapeHtml(section.note) + "</p>\n";
    for (const auto& table : section.tables) {
      html += "<table>\n";
      if (!table.caption.empty()) html += "<caption>" + EscapeHtml(table.caption) + "</caption>\n";
      html += "<tr>";
      for (const auto& cell : table.header) html += "<th>" + EscapeHtml(cell) + "</th>";
      html += "</tr>\n";
      for (const auto& row : table.rows) {
        html += "<tr>";
        for (const auto& cell : row) html += "<td>" + EscapeHtml(cell) + "</td>";
        html += "</tr>\n";
      }
      html += "</table>\n";
    }
    if (!section.charts.empty()) {
      html += "<div class=\"charts\">\n";
      for (const auto& chart : section.charts) html += chart;
      html += "</div>\n";
    }
    html += "</section>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace mtrec
