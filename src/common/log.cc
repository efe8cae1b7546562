#include "common/log.h"

#include <cstdio>
#include <mutex>

namespace mtrec {
namespace {
LogLevel g_level = LogLevel::kInfo;
std::mutex g_mutex;
}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }

void LogLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace mtrec
