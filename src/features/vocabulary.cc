#include "features/vocabulary.h"

#include <algorithm>

#include "common/error.h"
#include "common/rng.h"

namespace mtrec {

Vocabulary Vocabulary::Fit(const std::vector<std::pair<std::string, int64_t>>& counts, int64_t min_count) {
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& entry : counts) {
    if (entry.second >= min_count) kept.push_back(entry);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  Vocabulary vocabulary;
  for (auto& entry : kept) vocabulary.values_.push_back(std::move(entry.first));
  vocabulary.BuildIndex();
  return vocabulary;
}

Vocabulary Vocabulary::Extended(const std::vector<std::pair<std::string, int64_t>>& counts, int64_t min_count) const {
  std::vector<std::pair<std::string, int64_t>> unseen;
  for (const auto& entry : counts) {
    if (Lookup(entry.first) == kOutOfVocabulary) unseen.push_back(entry);
  }
  Vocabulary extended = *this;
  for (auto& value : Fit(unseen, min_count).values_) extended.values_.push_back(std::move(value));
  extended.BuildIndex();
  return extended;
}

Vocabulary Vocabulary::Remapped(const std::vector<int32_t>& keep) const {
  Vocabulary remapped;
  remapped.values_.reserve(keep.size());
  for (const int32_t id : keep) {
    MTREC_CHECK(id >= 1 && id < size(), "vocabulary remap: id {} outside [1, {})", id, size());
    remapped.values_.push_back(values_[static_cast<size_t>(id - 1)]);
  }
  remapped.BuildIndex();
  return remapped;
}

void Vocabulary::BuildIndex() {
  index_.clear();
  index_.reserve(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) index_.emplace(values_[i], static_cast<int32_t>(i + 1));
}

int32_t Vocabulary::Lookup(std::string_view value) const {
  auto it = index_.find(value);
  return it == index_.end() ? kOutOfVocabulary : it->second;
}

void Vocabulary::Serialize(BinaryWriter& out) const {
  out.Pod<uint64_t>(values_.size());
  for (const auto& value : values_) out.String(value);
}

Vocabulary Vocabulary::Deserialize(BinaryReader& in) {
  Vocabulary vocabulary;
  uint64_t n = in.Pod<uint64_t>();
  // Each value takes at least its 8-byte length: a count the bytes cannot hold is refused before the reserve.
  MTREC_CHECK(n <= in.remaining() / sizeof(uint64_t), "vocabulary size {} exceeds the data that follows ({} bytes)", n,
              in.remaining());
  vocabulary.values_.reserve(n);
  for (uint64_t i = 0; i < n; ++i) vocabulary.values_.push_back(in.String());
  vocabulary.BuildIndex();
  return vocabulary;
}

int32_t HashBucket(std::string_view value, int64_t buckets) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then a final mix for well-spread low bits
  for (unsigned char c : value) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return static_cast<int32_t>(Mix64(h) % static_cast<uint64_t>(buckets));
}

}  // namespace mtrec
