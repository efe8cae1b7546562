#include "nn/embedding.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/rng.h"
#include "common/threads.h"

namespace mtrec {
EmbeddingTable::EmbeddingTable(std::string name, int64_t rows, int64_t dim)
    : name_(std::move(name)), rows_(rows), dim_(dim) {
  MTREC_CHECK(rows > 0 && dim > 0, "embedding '{}' has shape {}x{}; expected positive sizes", name_, rows, dim);
  MTREC_CHECK(rows <= (int64_t{1} << 31) - 1, "embedding '{}' has {} rows; at most 2^31 - 1 fit int32 ids", name_,
              rows);
  data_.Resize(static_cast<size_t>(rows * dim));
}

void EmbeddingTable::Initialize(uint64_t seed, float stddev, int64_t first_row, int64_t row_stride) {
  MTREC_CHECK(stddev >= 0.f, "embedding '{}': initial stddev {} is negative", name_, stddev);
  // U(-a, a) has standard deviation a / sqrt(3).
  const double bound = static_cast<double>(stddev) * std::sqrt(3.0);
  const uint64_t mixed_seed = Mix64(seed);
  ParallelFor(static_cast<size_t>(rows_), [=, this](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r) {
      Rng rng(mixed_seed ^ Mix64(static_cast<uint64_t>(first_row) + r * static_cast<uint64_t>(row_stride) + 1));
      float* row = Row(static_cast<int64_t>(r));
      for (int64_t c = 0; c < dim_; ++c) row[c] = static_cast<float>(bound * (2.0 * rng.Uniform() - 1.0));
    }
  });
}

void EmbeddingTable::Remap(const std::vector<int32_t>& source, uint64_t seed, float stddev) {
  const auto rows = static_cast<int64_t>(source.size());
  MTREC_CHECK(rows > 0, "embedding '{}': a remap to no rows", name_);
  AlignedBuffer<float> data(static_cast<size_t>(rows * dim_));
  const double bound = static_cast<double>(stddev) * std::sqrt(3.0);
  const uint64_t mixed_seed = Mix64(seed);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = data.data() + r * dim_;
    const int32_t from = source[static_cast<size_t>(r)];
    if (from >= 0) {
      MTREC_CHECK(from < rows_, "embedding '{}': remap row {} from row {} of {}", name_, r, from, rows_);
      std::copy_n(Row(from), dim_, row);
      continue;
    }
    Rng rng(mixed_seed ^ Mix64(static_cast<uint64_t>(r) + 1));
    for (int64_t c = 0; c < dim_; ++c) row[c] = static_cast<float>(bound * (2.0 * rng.Uniform() - 1.0));
  }
  data_ = std::move(data);
  rows_ = rows;
}

void EmbeddingTable::Adopt(int64_t rows, AlignedBuffer<float> data) {
  MTREC_CHECK(rows >= 0 && data.size() == static_cast<size_t>(rows * dim_),
              "embedding '{}': {} values for {} rows of {}", name_, data.size(), rows, dim_);
  data_ = std::move(data);
  rows_ = rows;
}

void EmbeddingTable::ShareStorageOf(const EmbeddingTable& source) {
  MTREC_CHECK(name_ == source.name_ && rows_ == source.rows_ && dim_ == source.dim_,
              "embedding '{}' ({} × {}) cannot share the rows of '{}' ({} × {})", name_, rows_, dim_, source.name_,
              source.rows_, source.dim_);
  data_ = source.data_.Share();
}

void EmbeddingTable::ViewRowsIn(std::shared_ptr<const void> owner, const float* data) {
  MTREC_CHECK(owner != nullptr && reinterpret_cast<uintptr_t>(data) % alignof(float) == 0,
              "embedding '{}': rows viewed in place need an owner and float alignment", name_);
  data_ = AlignedBuffer<float>::View(std::move(owner), data, static_cast<size_t>(rows_ * dim_));
}

void EmbeddingTable::ResizeScratch(int64_t rows) {
  MTREC_CHECK(rows >= 0, "embedding '{}': {} rows", name_, rows);
  if (static_cast<size_t>(rows * dim_) > data_.size()) data_.Resize(static_cast<size_t>(rows * dim_));
  rows_ = rows;
}

void EmbeddingTable::CheckId(int64_t id, int64_t example) const {
  MTREC_CHECK(id >= 0 && id < rows_, "embedding '{}': id {} of example {} is outside [0, {})", name_, id, example,
              rows_);
}

void EmbeddingTable::CheckDst(const Tensor& t, int64_t batch, const char* what) const {
  MTREC_CHECK(t.data != nullptr || batch == 0, "embedding '{}': {} is null", name_, what);
  MTREC_CHECK(t.rows == batch && t.cols == dim_, "embedding '{}': {} is {}x{}, expected {}x{}", name_, what, t.rows,
              t.cols, batch, dim_);
  MTREC_CHECK(t.ld >= t.cols, "embedding '{}': {} has ld {} < cols {}", name_, what, t.ld, t.cols);
}

void EmbeddingTable::Lookup(const int32_t* ids, int64_t batch, const Tensor& dst) const {
  CheckDst(dst, batch, "dst");
  ParallelRows(batch, batch * dim_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      CheckId(ids[r], r);
      std::memcpy(dst.Row(r), Row(ids[r]), sizeof(float) * dim_);
    }
  });
}

void EmbeddingTable::LookupPooled(const int32_t* ids, const int64_t* offsets, int64_t batch, Pooling pooling,
                                  const Tensor& dst) const {
  CheckDst(dst, batch, "dst");
  for (int64_t r = 0; r < batch; ++r) {
    MTREC_CHECK(offsets[r] <= offsets[r + 1], "embedding '{}': offsets decrease at example {} ({} > {})", name_, r,
                offsets[r], offsets[r + 1]);
  }
  const int64_t lookups = batch > 0 ? offsets[batch] - offsets[0] : 0;
  ParallelRows(batch, lookups * dim_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* out = dst.Row(r);
      std::fill(out, out + dim_, 0.f);
      for (int64_t k = offsets[r]; k < offsets[r + 1]; ++k) {
        CheckId(ids[k], r);
        const float* row = Row(ids[k]);
        for (int64_t c = 0; c < dim_; ++c) out[c] += row[c];
      }
      const int64_t count = offsets[r + 1] - offsets[r];
      if (pooling == Pooling::kMean && count > 1) {
        const float inverse = 1.f / static_cast<float>(count);
        for (int64_t c = 0; c < dim_; ++c) out[c] *= inverse;
      }
    }
  });
}

// Lookup: dst_r = E[ids[r]], so dL/dE[i] = Σ_{r : ids[r] = i} diff_dst_r.
void EmbeddingTable::AccumulateGrad(const int32_t* ids, int64_t batch, const Tensor& diff_dst,
                                    SparseGrad* grad) const {
  CheckDst(diff_dst, batch, "diff_dst");
  grad->keys.clear();
  for (int64_t r = 0; r < batch; ++r) {
    CheckId(ids[r], r);
    grad->keys.push_back((static_cast<uint64_t>(ids[r]) << 32) | static_cast<uint64_t>(r));
  }
  MergeKeys(diff_dst, nullptr, Pooling::kSum, grad);
}

// Pooled lookup: dst_r = w_r Σ_{k in bag r} E[ids[k]] with w_r = 1 (sum) or 1/|bag r| (mean), so
// dL/dE[i] = Σ_r w_r · (number of times i occurs in bag r) · diff_dst_r.
void EmbeddingTable::AccumulateGradPooled(const int32_t* ids, const int64_t* offsets, int64_t batch,
                                          Pooling pooling, const Tensor& diff_dst, SparseGrad* grad) const {
  CheckDst(diff_dst, batch, "diff_dst");
  grad->keys.clear();
  for (int64_t r = 0; r < batch; ++r) {
    MTREC_CHECK(offsets[r] <= offsets[r + 1], "embedding '{}': offsets decrease at example {} ({} > {})", name_, r,
                offsets[r], offsets[r + 1]);
    for (int64_t k = offsets[r]; k < offsets[r + 1]; ++k) {
      CheckId(ids[k], r);
      grad->keys.push_back((static_cast<uint64_t>(ids[k]) << 32) | static_cast<uint64_t>(r));
    }
  }
  MergeKeys(diff_dst, offsets, pooling, grad);
}

void EmbeddingTable::MergeKeys(const Tensor& diff_dst, const int64_t* offsets, Pooling pooling,
                               SparseGrad* grad) const {
  MTREC_CHECK(grad->dim == 0 || grad->dim == dim_, "embedding '{}': sparse gradient has dim {}, expected {}", name_,
              grad->dim, dim_);
  grad->dim = dim_;
  std::vector<uint64_t>& keys = grad->keys;
  // Keys are unique except for an id repeated within one bag, whose contributions are equal: the sorted order,
  // and so every sum below, is the same on every run.
  std::sort(keys.begin(), keys.end());
  const auto id_of = [](uint64_t key) { return static_cast<int32_t>(key >> 32); };
  const int64_t n = static_cast<int64_t>(keys.size());

  // Size of the union of the rows already held and the new ids.
  const int64_t old_count = grad->count();
  int64_t merged = 0;
  {
    int64_t i = 0;
    int64_t k = 0;
    while (i < old_count || k < n) {
      if (k == n || (i < old_count && grad->rows[i] < id_of(keys[k]))) {
        ++i;
      } else {
        const int32_t id = id_of(keys[k]);
        if (i < old_count && grad->rows[i] == id) ++i;
        while (k < n && id_of(keys[k]) == id) ++k;
      }
      ++merged;
    }
  }

  // Merge from the back so the held rows move only towards higher indices, in place.
  grad->rows.resize(static_cast<size_t>(merged));
  grad->values.resize(static_cast<size_t>(merged * dim_));
  {
    int64_t i = old_count - 1;
    int64_t k = n - 1;
    for (int64_t out = merged - 1; out >= 0; --out) {
      const bool take_old = i >= 0 && (k < 0 || grad->rows[i] >= id_of(keys[k]));
      if (take_old) {
        if (k >= 0 && grad->rows[i] == id_of(keys[k])) {
          const int32_t id = id_of(keys[k]);
          while (k >= 0 && id_of(keys[k]) == id) --k;
        }
        if (out != i) {
          grad->rows[out] = grad->rows[i];
          std::memcpy(grad->Row(out), grad->Row(i), sizeof(float) * dim_);
        }
        --i;
      } else {
        const int32_t id = id_of(keys[k]);
        while (k >= 0 && id_of(keys[k]) == id) --k;
        grad->rows[out] = id;
        std::fill(grad->Row(out), grad->Row(out) + dim_, 0.f);
      }
    }
  }

  // Add each example's gradient into its row, in key order.
  int64_t p = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int32_t id = id_of(keys[k]);
    while (grad->rows[p] < id) ++p;
    const int64_t example = static_cast<int64_t>(keys[k] & 0xffffffffULL);
    float scale = 1.f;
    if (offsets && pooling == Pooling::kMean) {
      scale = 1.f / static_cast<float>(offsets[example + 1] - offsets[example]);
    }
    const float* g = diff_dst.Row(example);
    float* out = grad->Row(p);
    for (int64_t c = 0; c < dim_; ++c) out[c] += scale * g[c];
  }
}

}  // namespace mtrec
