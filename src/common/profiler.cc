#include "common/profiler.h"

#include <mutex>

namespace mtrec {
namespace {

struct Totals {
  std::mutex mutex;
  std::vector<const char*> keys;  // by address: scopes pass the same pointer every step
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
  for (size_t i = 0; i < t.keys.size(); ++i) {
    if (t.keys[i] == name) {
      t.entries[i].seconds += seconds;
      ++t.entries[i].calls;
      return;
    }
  }
  t.keys.push_back(name);
  t.entries.push_back({name, seconds, 1});
}

std::vector<ProfileEntry> Profiler::Entries() {
  Totals& t = GetTotals();
  std::lock_guard<std::mutex> lock(t.mutex);
  return t.entries;
}

}  // namespace mtrec
