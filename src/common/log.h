// Log lines go to stderr so that stdout carries only results (metric tables, JSON, CSV).
//
//   LogInfo("epoch {}: loss {:.4f}", epoch, loss);
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>

namespace mtrec {

enum class LogLevel { kQuiet = 0, kInfo = 1, kDebug = 2 };
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// One whole line to stderr (or to the sink), never interleaved with another thread's; the callers below decide by
// level.
void LogLine(const std::string& line);
// Where lines go instead of stderr: the Python module hands them to Python's logging. Empty: stderr. The sink may
// be called from any thread, one line at a time.
void SetLogSink(std::function<void(const std::string& line)> sink);
bool HasLogSink();

template <typename... Args>
void LogInfo(fmt::format_string<Args...> format, Args&&... args) {
  if (GetLogLevel() >= LogLevel::kInfo) LogLine(fmt::format(format, std::forward<Args>(args)...));
}

// A problem in the input that does not stop the run but makes its results suspect: printed after "warning: " at
// every level, -q included, since a quiet run is the one nobody reads the log of.
template <typename... Args>
void LogWarning(fmt::format_string<Args...> format, Args&&... args) {
  LogLine("warning: " + fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void LogDebug(fmt::format_string<Args...> format, Args&&... args) {
  if (GetLogLevel() >= LogLevel::kDebug) LogLine(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace mtrec
