#include "common/log.h"

#include <cstdio>
#include <memory>
#include <mutex>

namespace mtrec {
namespace {
LogLevel g_level = LogLevel::kInfo;
std::mutex g_mutex;
std::shared_ptr<const std::function<void(const std::string&)>> g_sink;
}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
LogLevel GetLogLevel() { return g_level; }

void SetLogSink(std::function<void(const std::string& line)> sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sink = std::make_shared<const std::function<void(const std::string&)>>(std::move(sink));
}

bool HasLogSink() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_sink && *g_sink;
}

void LogLine(const std::string& line) {
  std::unique_lock<std::mutex> lock(g_mutex);
  if (g_sink && *g_sink) {
    // Called without the lock: the sink may wait for another lock (Python's) whose holder logs too.
    const auto sink = g_sink;
    lock.unlock();
    (*sink)(line);
    return;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace mtrec
