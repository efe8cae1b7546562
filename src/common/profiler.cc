#include "common/profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <utility>

namespace mtrec {
namespace {

struct Totals {
  std::mutex mutex;
  // By address (scopes pass the same pointer every step) to the entry of that name: copies of a model (a server's
  // scorers) name their scopes alike from strings of their own, and add up in one entry.
  std::vector<std::pair<const char*, size_t>> keys;
  std::vector<ProfileEntry> entries;
};

Totals& GetTotals() {
  static Totals totals;
  return totals;
}

}  // namespace

void Profiler::Enable(bool on) { enabled_ = on; }

void Profiler::Reset() {
  Totals& t = GetTotals();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.keys.clear();
  t.entries.clear();
}

void Profiler::Add(const char* name, double seconds) {
  Totals& t = GetTotals();
  std::lock_guard<std::mutex> lock(t.mutex);
  size_t entry = t.entries.size();
  for (const auto& [key, index] : t.keys) {
    if (key == name) {
      entry = index;
      break;
    }
  }
  if (entry == t.entries.size()) {
    for (size_t i = 0; i < t.entries.size() && entry == t.entries.size(); ++i) {
      if (t.entries[i].name == name) entry = i;
    }
    if (entry == t.entries.size()) t.entries.push_back({name, 0.0, 0});
    t.keys.emplace_back(name, entry);
  }
  t.entries[entry].seconds += seconds;
  ++t.entries[entry].calls;
}

std::string ProfileTable(double seconds, int64_t steps, int64_t rows) {
  const double per_step = 1e3 / static_cast<double>(std::max<int64_t>(steps, 1));  // seconds -> ms a step
  const double step_ms = seconds * per_step;
  const auto share = [&](double ms) { return step_ms > 0 ? 100.0 * ms / step_ms : 0.0; };
  std::string out = fmt::format("profile: {:.1f} ms per step of {} rows\n", step_ms, rows);
  out += fmt::format("  {:<44} {:>10} {:>7}\n", "scope", "ms/step", "share");
  double covered = 0;
  for (const ProfileEntry& e : Profiler::Entries()) {
    const double ms = e.seconds * per_step;
    covered += ms;
    out += fmt::format("  {:<44} {:>10.2f} {:>6.1f}%\n", e.name, ms, share(ms));
  }
  out += fmt::format("  {:<44} {:>10.2f} {:>6.1f}%\n", "(outside the scopes above)", step_ms - covered,
                     share(step_ms - covered));
  return out;
}

std::vector<ProfileEntry> Profiler::Entries() {
  Totals& t = GetTotals();
  std::lock_guard<std::mutex> lock(t.mutex);
  return t.entries;
}

}  // namespace mtrec
