// Maps categorical values to embedding rows. A vocabulary is fitted on the training file: values seen at least
// min_count times get ids 1..n in order of decreasing count (ties by value, so fitting is deterministic); id 0 is
// the out-of-vocabulary row shared by rare and unseen values. Hashing maps values into a fixed number of rows
// instead, for columns too large or too open to enumerate.
//
//   Vocabulary vocabulary = Vocabulary::Fit(counts, /*min_count=*/2);
//   int32_t id = vocabulary.Lookup("c7");     // 0 when unknown
//   int32_t bucket = HashBucket("u123", 1 << 20);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/binary.h"

namespace mtrec {

class Vocabulary {
 public:
  static constexpr int32_t kOutOfVocabulary = 0;

  Vocabulary() = default;
  // The index views the values' own strings: a copy builds its own index over its own values.
  Vocabulary(const Vocabulary& other) : values_(other.values_) { BuildIndex(); }
  Vocabulary& operator=(const Vocabulary& other) {
    if (this != &other) {
      values_ = other.values_;
      BuildIndex();
    }
    return *this;
  }
  Vocabulary(Vocabulary&&) = default;
  Vocabulary& operator=(Vocabulary&&) = default;

  static Vocabulary Fit(const std::vector<std::pair<std::string, int64_t>>& counts, int64_t min_count);

  // This vocabulary with the values of `counts` that reach min_count and it lacks appended after its own, in Fit's
  // order: every id it had keeps its value, so a model's embedding rows keep their meaning (a warm start).
  Vocabulary Extended(const std::vector<std::pair<std::string, int64_t>>& counts, int64_t min_count) const;
  // The values of ids `keep` only, id keep[i] becoming i + 1: a stream's eviction (train/streaming.h).
  Vocabulary Remapped(const std::vector<int32_t>& keep) const;
  int32_t Lookup(std::string_view value) const;
  // Rows of the embedding table: the values plus the out-of-vocabulary row.
  int64_t size() const { return static_cast<int64_t>(values_.size()) + 1; }
  const std::string& Value(int32_t id) const { return values_[id - 1]; }
  // Every value in id order: values()[i] has id i + 1.
  const std::vector<std::string>& values() const { return values_; }

  void Serialize(BinaryWriter& out) const;
  static Vocabulary Deserialize(BinaryReader& in);

 private:
  void BuildIndex();

  std::vector<std::string> values_;  // id - 1 -> value
  std::unordered_map<std::string_view, int32_t> index_;
};

// A stable 64-bit hash of the value (the same on every machine), reduced to [0, buckets).
int32_t HashBucket(std::string_view value, int64_t buckets);

}  // namespace mtrec
