// Helpers shared by the unit tests: the message of an expected Error, how often a text holds a string, the drawing
// of an SVG path, and files in a folder private to the test process (ctest runs the tests of one program in
// parallel processes).
//
//   std::string message = ErrorOf([&] { LoadTable(path, data, requests); });
//   EXPECT_EQ(CountOf(svg, "<circle"), 4);
//   EXPECT_EQ(CountOf(PathOf(svg, "data-series=\"model\""), "L"), 100);
//   std::string path = WriteFile(TestDir("column_table_test"), "a.csv", "x,y\n1,2\n");
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "support/temp_dirs.h"

namespace mtrec {

template <typename Fn>
std::string ErrorOf(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Non-overlapping occurrences of `what` in `text`.
inline int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The d attribute of the first SVG path at or after `marker` (data-series="actual"); empty when there is none.
inline std::string PathOf(const std::string& svg, const std::string& marker) {
  const size_t at = svg.find(marker);
  if (at == std::string::npos) return "";
  const size_t d = svg.find(" d=\"", at) + 4;
  return svg.substr(d, svg.find('"', d) - d);
}

// <test temp dir>/<name>.<pid>, created (and removed at exit).
inline std::filesystem::path TestDir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / (name + "." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  RemoveAtExit(dir);
  return dir;
}

inline std::string WriteFile(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  std::string path = (dir / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return path;
}

}  // namespace mtrec
