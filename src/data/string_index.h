// Codes for strings in first-appearance order, the dictionary of a categorical column while a file is parsed.
// An open-addressing table of (hash, code) pairs over the list of values: a lookup is one hash, a probe of
// adjacent slots and one comparison, without the node allocations and pointer chasing of std::unordered_map
// (which made interning the largest cost of parsing).
//
//   StringIndex index;
//   uint32_t code = index.Intern("berlin");        // 0
//   index.Intern("paris");                         // 1
//   index.Intern("berlin");                        // 0 again
//   std::string_view first = index.values()[0];    // "berlin"
//
// The index keeps views: the text must outlive it (the parser passes views into the file or into strings it owns).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace mtrec {

class StringIndex {
 public:
  // The code of `value`; a new value gets the next code.
  uint32_t Intern(std::string_view value) {
    if (2 * (values_.size() + 1) > slots_.size()) Grow();
    const uint64_t hash = std::hash<std::string_view>{}(value);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.code == kEmpty) {
        slot = {hash, static_cast<uint32_t>(values_.size())};
        values_.push_back(value);
        return slot.code;
      }
      if (slot.hash == hash && values_[slot.code] == value) return slot.code;
    }
  }
  // Like Intern, but a value not yet there is not added: its code, or kAbsent.
  uint32_t Find(std::string_view value) const {
    if (slots_.empty()) return kAbsent;
    const uint64_t hash = std::hash<std::string_view>{}(value);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.code == kEmpty) return kAbsent;
      if (slot.hash == hash && values_[slot.code] == value) return slot.code;
    }
  }
  const std::vector<std::string_view>& values() const { return values_; }
  size_t size() const { return values_.size(); }

  static constexpr uint32_t kAbsent = UINT32_MAX;

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t hash = 0;
    uint32_t code = kEmpty;
  };

  // Doubles the table (at most half full, so probes stay short) and re-places every value by its stored hash.
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : 2 * old.size(), Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.code == kEmpty) continue;
      size_t i = slot.hash & mask;
      while (slots_[i].code != kEmpty) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  std::vector<std::string_view> values_;
};

}  // namespace mtrec
