#include "common/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "common/log.h"

namespace mtrec {

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)),
      total_(total),
      terminal_(isatty(STDERR_FILENO) != 0 && GetLogLevel() >= LogLevel::kInfo && !HasLogSink()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string Progress::Line(size_t done, const std::string& extra, bool bar) const {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = seconds > 0 ? done / seconds : 0;
  double fraction = total_ ? static_cast<double>(done) / total_ : 1.0;
  double eta = rate > 0 && total_ > done ? (total_ - done) / rate : 0;
  std::string out = label_;
  if (bar) {
    const int width = 24;
    int filled = static_cast<int>(fraction * width);
    out += " [" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
  }
  out += fmt::format(" {:3.0f}% {}/{} rows, {:.0f} rows/s, ETA {:.0f}s", fraction * 100, done, total_, rate, eta);
  if (!extra.empty()) out += "  " + extra;
  return out;
}

void Progress::Update(size_t done, const std::string& extra) {
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (terminal_) {
    if (since < 0.1) return;
    std::fprintf(stderr, "\r\033[K%s", Line(done, extra, true).c_str());
    std::fflush(stderr);
  } else {
    if (since < 10) return;
    LogInfo("{}", Line(done, extra, false));
  }
  last_draw_ = now;
}

void Progress::Finish(const std::string& extra) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = fmt::format("{} done: {} rows in {:.1f}s ({:.0f} rows/s)", label_, total_, seconds,
                                 seconds > 0 ? total_ / seconds : 0.0);
  if (!extra.empty()) line += "  " + extra;
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K");
  }
  LogInfo("{}", line);
}

}  // namespace mtrec
