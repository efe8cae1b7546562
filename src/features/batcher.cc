#include "features/batcher.h"

#include <algorithm>
#include <numeric>

#include "common/rng.h"

namespace mtrec {

void GatherBatch(const EncodedData& data, const int64_t* rows, int64_t count, Batch* batch) {
  batch->size = count;
  batch->rows.assign(rows, rows + count);
  batch->single_ids.resize(data.single_ids.size());
  for (size_t s = 0; s < data.single_ids.size(); ++s) {
    auto& ids = batch->single_ids[s];
    ids.resize(count);
    const int32_t* source = data.single_ids[s].data();
    for (int64_t b = 0; b < count; ++b) ids[b] = source[rows[b]];
  }
  batch->multi_offsets.resize(data.multi_ids.size());
  batch->multi_ids.resize(data.multi_ids.size());
  for (size_t s = 0; s < data.multi_ids.size(); ++s) {
    const auto& source = data.multi_ids[s];
    auto& offsets = batch->multi_offsets[s];
    auto& ids = batch->multi_ids[s];
    offsets.resize(count + 1);
    ids.clear();
    offsets[0] = 0;
    for (int64_t b = 0; b < count; ++b) {
      int64_t begin = source.offsets[rows[b]];
      int64_t end = source.offsets[rows[b] + 1];
      ids.insert(ids.end(), source.ids.begin() + begin, source.ids.begin() + end);
      offsets[b + 1] = static_cast<int64_t>(ids.size());
    }
  }
  const int64_t width = data.rows ? static_cast<int64_t>(data.numeric.size()) / data.rows : 0;
  batch->numeric.resize(count * width);
  for (int64_t b = 0; b < count; ++b) {
    std::copy_n(data.numeric.data() + rows[b] * width, width, batch->numeric.data() + b * width);
  }
  batch->labels.resize(data.labels.size());
  for (size_t t = 0; t < data.labels.size(); ++t) {
    batch->labels[t].resize(count);
    for (int64_t b = 0; b < count; ++b) batch->labels[t][b] = data.labels[t][rows[b]];
  }
  // Per-task columns that a task may lack (left empty in the batch too).
  auto gather_optional = [&](const std::vector<std::vector<float>>& from, std::vector<std::vector<float>>& into) {
    into.resize(from.size());
    for (size_t t = 0; t < from.size(); ++t) {
      into[t].resize(from[t].empty() ? 0 : count);
      for (int64_t b = 0; b < count && !from[t].empty(); ++b) into[t][b] = from[t][rows[b]];
    }
  };
  gather_optional(data.censored, batch->censored);
  gather_optional(data.treatment, batch->treatment);
}

std::vector<int64_t> SequentialOrder(int64_t rows) {
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<int64_t> ShuffledOrder(int64_t rows, uint64_t seed) {
  std::vector<int64_t> order = SequentialOrder(rows);
  Rng rng(seed);
  for (int64_t i = rows - 1; i > 0; --i) std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  return order;
}

BatchStream::BatchStream(const EncodedData& data, int64_t batch_size, std::vector<int64_t> order)
    : data_(data),
      batch_size_(batch_size),
      order_(std::move(order)),
      batches_((static_cast<int64_t>(order_.size()) + batch_size - 1) / batch_size),
      worker_([this] { Produce(); }) {}

BatchStream::~BatchStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void BatchStream::Produce() {
  try {
    for (int64_t i = 0; i < batches_; ++i) {
      const int slot = static_cast<int>(i % 2);
      {
        std::unique_lock<std::mutex> lock(mutex_);
        // The slot is free once the consumer has moved past the batch that used it.
        changed_.wait(lock, [&] { return stop_ || !full_[slot]; });
        if (stop_) return;
      }
      const int64_t begin = i * batch_size_;
      const int64_t count = std::min<int64_t>(batch_size_, static_cast<int64_t>(order_.size()) - begin);
      GatherBatch(data_, order_.data() + begin, count, &buffers_[slot]);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        full_[slot] = true;
      }
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    changed_.notify_all();
  }
}

const Batch* BatchStream::Next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (consumed_ > 0) {
    full_[(consumed_ - 1) % 2] = false;  // the previous batch is no longer in use
    changed_.notify_all();
  }
  if (consumed_ >= batches_) return nullptr;
  const int slot = static_cast<int>(consumed_ % 2);
  changed_.wait(lock, [&] { return full_[slot] || error_; });
  if (error_) std::rethrow_exception(error_);
  ++consumed_;
  return &buffers_[slot];
}

}  // namespace mtrec
