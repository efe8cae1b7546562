// A self-contained HTML page: facts, then sections of tables and inline SVG charts. One file, no scripts, no
// fonts or styles from the network, so it opens offline, survives being mailed around and prints.
//
//   HtmlReport report{"mtrec evaluation: model.mtrec"};
//   report.facts.push_back({"data", "test.csv (200000 rows)"});
//   report.sections.push_back({"Curves", "", {}, {RenderLineChart(roc)}});
//   WriteFileAtomic("report.html", RenderHtmlReport(report));
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mtrec {

struct ReportTable {
  std::string caption;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // cells are text (escaped when rendered)
};

struct ReportSection {
  std::string title;
  std::string note;  // a paragraph under the title: what the section shows and how to read it
  std::vector<ReportTable> tables;
  std::vector<std::string> charts;  // SVG markup (svg_chart.h), laid out in a wrapping grid
};

struct HtmlReport {
  std::string title;
  std::vector<std::pair<std::string, std::string>> facts;  // key/value lines under the title
  std::vector<ReportSection> sections;
};

std::string RenderHtmlReport(const HtmlReport& report);

}  // namespace mtrec
