// Codes for strings in first-appearance order, the dictionary of a categorical column while a file is parsed.
// An open-addressing table of slots (hash, code, size and the first 16 bytes) over the list of values: a lookup
// is one hash, a probe of adjacent slots and one comparison, made inside the slot for values of up to 16 bytes,
// without the node allocations and pointer chasing of std::unordered_map (which made interning the largest cost
// of parsing).
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
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

namespace mtrec {

class StringIndex {
 public:
  // The code of `value`; a new value gets the next code.
  uint32_t Intern(std::string_view value) {
    if (2 * (values_.size() + 1) > slots_.size()) Grow();
    const Key key(value);
    const size_t mask = slots_.size() - 1;
    for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.code == kEmpty) {
        slot = {key.hash, {key.head[0], key.head[1]}, static_cast<uint32_t>(values_.size()),
                static_cast<uint32_t>(value.size())};
        values_.push_back(value);
        return slot.code;
      }
      if (Matches(slot, key, value)) return slot.code;
    }
  }
  // Like Intern, but a value not yet there is not added: its code, or kAbsent.
  uint32_t Find(std::string_view value) const {
    if (slots_.empty()) return kAbsent;
    const Key key(value);
    const size_t mask = slots_.size() - 1;
    for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.code == kEmpty) return kAbsent;
      if (Matches(slot, key, value)) return slot.code;
    }
  }
  const std::vector<std::string_view>& values() const { return values_; }
  size_t size() const { return values_.size(); }

  static constexpr uint32_t kAbsent = UINT32_MAX;

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static constexpr size_t kInline = 16;  // values this short are compared inside the slot

  // A value's first 16 bytes (zero-padded) and its hash. Categorical values are mostly short ids and labels:
  // hashing two words and comparing them in the slot avoids a call into a byte hash, and a read of the value's
  // first occurrence somewhere in the file (a cache miss) for the comparison.
  struct Key {
    explicit Key(std::string_view value) {
      std::memcpy(head, value.data(), value.size() < kInline ? value.size() : kInline);
      if (value.size() <= kInline) {
        uint64_t h = (head[0] ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
        h ^= (head[1] + value.size()) * 0x94d049bb133111ebULL;
        h ^= h >> 31;
        h *= 0xd6e8feb86659fd93ULL;
        hash = h ^ (h >> 32);
      } else {
        hash = std::hash<std::string_view>{}(value);
      }
    }
    uint64_t head[2] = {0, 0};
    uint64_t hash = 0;
  };
  struct Slot {
    uint64_t hash = 0;
    uint64_t head[2] = {0, 0};
    uint32_t code = kEmpty;
    uint32_t size = 0;
  };

  bool Matches(const Slot& slot, const Key& key, std::string_view value) const {
    if (slot.hash != key.hash || slot.size != value.size() || slot.head[0] != key.head[0] ||
        slot.head[1] != key.head[1]) {
      return false;
    }
    return value.size() <= kInline || values_[slot.code] == value;
  }

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
