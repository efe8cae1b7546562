// Progress of long work: a redrawn bar (rows/s, ETA, extra text such as per-task loss) on a terminal, plain log
// lines every few seconds otherwise (CI logs, pipes).
//
//   Progress progress("epoch 1", total_rows);
//   progress.Update(done_rows, "click 0.412 purchase 0.071");
//   progress.Finish("valid auc 0.78");
#pragma once

#include <chrono>
#include <string>

namespace mtrec {

class Progress {
 public:
  Progress(std::string label, size_t total);
  void Update(size_t done, const std::string& extra = "");
  void Finish(const std::string& extra = "");

 private:
  std::string Line(size_t done, const std::string& extra, bool bar) const;

  std::string label_;
  size_t total_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace mtrec
