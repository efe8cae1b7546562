// Reads a simulator's CSV output (a header, comma-separated cells without quotes) for the simulator tests.
//
//   Rows train = ReadCsv(dir / "train.csv");
//   double p = train.Number(0, "p_click");
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/strings.h"

namespace mtrec {

struct Rows {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> cells;
  size_t Column(const std::string& name) const {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  }
  double Number(size_t row, const std::string& name) const {
    auto value = ParseDouble(cells[row][Column(name)]);
    return value ? *value : NAN;
  }
};

inline Rows ReadCsv(const std::filesystem::path& path) {
  Rows rows;
  std::istringstream in(ReadFileBytes(path));
  std::string line;
  std::getline(in, line);
  for (auto part : Split(line, ",")) rows.header.emplace_back(part);
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    for (auto part : Split(line, ",")) cells.emplace_back(part);
    rows.cells.push_back(std::move(cells));
  }
  return rows;
}

}  // namespace mtrec
