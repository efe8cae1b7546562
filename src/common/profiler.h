// Where the time of a training step goes: scopes named after what they time ("experts.0 dense forward",
// "optimizer (dense)"), summed over the steps of a run. Off unless a command turns it on (`mtrec bench train
// --profile`, `mtrec train --profile`); then each scope costs two clock reads. Scopes are opened on the thread that
// drives the step (layers parallelise inside them), so the totals add up to the step's wall time.
//
//   Profiler::Enable(true);
//   { ProfileScope scope("loss"); ... }
//   for (const ProfileEntry& e : Profiler::Entries()) fmt::print("{} {:.1f} ms\n", e.name, e.seconds * 1e3);
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mtrec {

struct ProfileEntry {
  std::string name;
  double seconds = 0.0;
  int64_t calls = 0;
};

class Profiler {
 public:
  static void Enable(bool on);
  static bool enabled() { return enabled_; }
  static void Reset();
  static void Add(const char* name, double seconds);
  // In the order the scopes were first seen.
  static std::vector<ProfileEntry> Entries();

 private:
  static inline bool enabled_ = false;
};

// The scopes' totals as a table: per scope its milliseconds per step and its share of `seconds`, the wall time of
// `steps` steps of `rows` rows each, and last the time outside every scope.
//   profile: 636.1 ms per step of 2048 rows
//     scope                                           ms/step   share
//     experts.0 linear forward                         164.28   25.8%
std::string ProfileTable(double seconds, int64_t steps, int64_t rows);

// Times its own lifetime under `name` when the profiler is on. `name` must outlive the run (a literal, or a
// string a layer keeps).
class ProfileScope {
 public:
  explicit ProfileScope(const char* name) : name_(Profiler::enabled() ? name : nullptr) {
    if (name_) start_ = std::chrono::steady_clock::now();
  }
  ~ProfileScope() {
    if (name_) Profiler::Add(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  const char* name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mtrec
