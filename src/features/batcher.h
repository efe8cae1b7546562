// Mini-batches gathered from an encoded file, in a given row order, by a prefetch thread: while the model trains
// on one batch the next is being gathered. Two batch buffers are allocated once and reused.
//
//   BatchStream stream(train, /*batch_size=*/512, ShuffledOrder(train.rows, seed + epoch));
//   while (const Batch* batch = stream.Next()) model.Step(*batch);
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "features/pipeline.h"

namespace mtrec {

struct Batch {
  int64_t size = 0;
  std::vector<int64_t> rows;                       // positions in the encoded file
  std::vector<std::vector<int32_t>> single_ids;    // [slot][b]
  std::vector<std::vector<int64_t>> multi_offsets; // [slot][b + 1]
  std::vector<std::vector<int32_t>> multi_ids;     // [slot][...]
  std::vector<float> numeric;                      // b × numeric width
  std::vector<std::vector<float>> labels;          // [task][b], NaN = missing
  std::vector<std::vector<float>> censored;        // [task][b], 1: the label is a lower bound; empty without
  std::vector<std::vector<float>> treatment;       // [task][b], 0/1 (NaN: missing); empty without

  // Serving: rows in groups (one request's candidates) that share their context features. A slot flagged in
  // `shared` holds its id(s) at the group's first row only (a shared multi slot's other rows have no ids); the
  // input layer embeds it once per group and copies the vector to the group's other rows.
  std::vector<int64_t> group_starts;  // ascending, the first is 0; empty: no groups
  std::vector<uint8_t> shared;        // [group × (single slots + multi slots)], single slots first

  bool Shared(size_t group, size_t slot, size_t slots) const { return shared[group * slots + slot] != 0; }
  int64_t GroupEnd(size_t group) const {
    return group + 1 < group_starts.size() ? group_starts[group + 1] : size;
  }
};

// Copies the listed rows of `data` into `batch` (reusing its storage).
void GatherBatch(const EncodedData& data, const int64_t* rows, int64_t count, Batch* batch);

// 0, 1, ..., rows-1 shuffled by a seeded Fisher-Yates (the same order on every machine).
std::vector<int64_t> ShuffledOrder(int64_t rows, uint64_t seed);
std::vector<int64_t> SequentialOrder(int64_t rows);

class BatchStream {
 public:
  BatchStream(const EncodedData& data, int64_t batch_size, std::vector<int64_t> order);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  // The next batch, valid until the following call; nullptr after the last one.
  const Batch* Next();
  int64_t batches() const { return batches_; }

 private:
  void Produce();

  const EncodedData& data_;
  const int64_t batch_size_;
  const std::vector<int64_t> order_;
  const int64_t batches_;
  Batch buffers_[2];
  bool full_[2] = {false, false};
  int64_t consumed_ = 0;      // batches handed to the consumer
  bool stop_ = false;
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread worker_;
};

}  // namespace mtrec
