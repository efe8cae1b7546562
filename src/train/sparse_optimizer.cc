#include "train/sparse_optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/binary.h"
#include "common/error.h"
#include "common/hot_loop.h"
#include "common/threads.h"

namespace mtrec {
namespace {

constexpr char kMagic[4] = {'M', 'S', 'O', 'S'};
constexpr uint32_t kStateVersion = 1;

// One row of lazy Adam, in the CPU's widest vectors (common/hot_loop.h: every clone rounds alike).
MTREC_HOT_LOOP void LazyAdamRow(float* __restrict w, const float* __restrict g, float* __restrict m,
                                float* __restrict v, int64_t dim, float beta1, float beta2, float l2, float step_size,
                                float inv_sqrt_bc2, float eps) {
  for (int64_t c = 0; c < dim; ++c) {
    const float gc = g[c] + l2 * w[c];
    m[c] = beta1 * m[c] + (1.f - beta1) * gc;
    v[c] = beta2 * v[c] + (1.f - beta2) * gc * gc;
    w[c] -= step_size * m[c] / (std::sqrt(v[c]) * inv_sqrt_bc2 + eps);
  }
}

}  // namespace

SparseOptimizer::SparseOptimizer(EmbeddingTable& table, const SparseOptimizerOptions& options)
    : table_(&table), options_(options) {
  MTREC_CHECK(options.lr >= 0.f, "sparse optimizer of '{}': learning rate {} is negative", table.name(), options.lr);
  MTREC_CHECK(options.beta1 >= 0.f && options.beta1 < 1.f && options.beta2 >= 0.f && options.beta2 < 1.f,
              "sparse optimizer of '{}': beta1 {} and beta2 {} must lie in [0, 1)", table.name(), options.beta1,
              options.beta2);
  MTREC_CHECK(options.l2 >= 0.f, "sparse optimizer of '{}': L2 penalty {} is negative", table.name(), options.l2);
  MTREC_CHECK(options.initial_accumulator >= 0.f, "sparse optimizer of '{}': initial accumulator {} is negative",
              table.name(), options.initial_accumulator);
  const size_t elements = static_cast<size_t>(table.rows() * table.dim());
  switch (options.kind) {
    case SparseOptimizerKind::kAdagrad:
      accumulator_.Resize(static_cast<size_t>(table.rows()));
      std::fill(accumulator_.begin(), accumulator_.end(), options.initial_accumulator);
      break;
    case SparseOptimizerKind::kLazyAdam:
      m_.Resize(elements);
      v_.Resize(elements);
      break;
    case SparseOptimizerKind::kSgd:
      break;
  }
}

void SparseOptimizer::Remap(const std::vector<int32_t>& source) {
  MTREC_CHECK(std::ssize(source) == table_->rows(), "sparse optimizer of '{}': a remap of {} rows for a table of {}",
              table_->name(), source.size(), table_->rows());
  const auto dim = static_cast<size_t>(table_->dim());
  if (accumulator_.size() > 0) {
    AlignedBuffer<float> accumulator(source.size());
    for (size_t r = 0; r < source.size(); ++r) {
      accumulator[r] = source[r] >= 0 ? accumulator_[static_cast<size_t>(source[r])] : options_.initial_accumulator;
    }
    accumulator_ = std::move(accumulator);
  }
  for (AlignedBuffer<float>* buffer : {&m_, &v_}) {
    if (buffer->size() == 0) continue;
    AlignedBuffer<float> moved(source.size() * dim);  // zeroed: a new row's moments
    for (size_t r = 0; r < source.size(); ++r) {
      if (source[r] >= 0) std::copy_n(buffer->data() + static_cast<size_t>(source[r]) * dim, dim, moved.data() + r * dim);
    }
    *buffer = std::move(moved);
  }
}

std::vector<SparseOptimizer::RowState> SparseOptimizer::RowStates() {
  std::vector<RowState> states;
  if (options_.kind == SparseOptimizerKind::kAdagrad) states.push_back({&accumulator_, 1});
  if (options_.kind == SparseOptimizerKind::kLazyAdam) {
    states.push_back({&m_, table_->dim()});
    states.push_back({&v_, table_->dim()});
  }
  return states;
}

// Row-wise Adagrad (as in DLRM/FBGEMM): G_r ← G_r + mean_j g_rj²,  w_rj ← w_rj - lr · g_rj / (sqrt(G_r) + ε).
// Lazy Adam: on touched rows only, m ← β1·m + (1-β1)·g, v ← β2·v + (1-β2)·g²,
//   w ← w - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε), with t the number of Step() calls so far.
// SGD: w ← w - lr·g.
// With an L2 penalty λ, every kind uses g + λ·w in place of g on the rows the step touches (the gradient of
// λ/2·‖w‖² over the rows in use; rows a step does not touch are not shrunk, or sparse updates would not be sparse).
void SparseOptimizer::Step(const SparseGrad& grad) {
  ++t_;
  const int64_t count = grad.count();
  if (count == 0) return;
  const int64_t dim = table_->dim();
  MTREC_CHECK(grad.dim == dim, "sparse optimizer of '{}': gradient has dim {}, the table has {}", table_->name(),
              grad.dim, dim);
  MTREC_CHECK(grad.values.size() == static_cast<size_t>(count * dim),
              "sparse optimizer of '{}': gradient lists {} rows but holds {} values, expected {}", table_->name(),
              count, grad.values.size(), count * dim);
  // Rows strictly ascending (as AccumulateGrad leaves them) also means unique, which the parallel update relies on.
  for (int64_t i = 1; i < count; ++i) {
    MTREC_CHECK(grad.rows[i - 1] < grad.rows[i], "sparse optimizer of '{}': gradient rows not strictly ascending at {}",
                table_->name(), i);
  }
  const int32_t first = grad.rows.front();
  const int32_t last = grad.rows.back();
  MTREC_CHECK(first >= 0 && last < table_->rows(), "sparse optimizer of '{}': gradient rows [{}, {}] exceed [0, {})",
              table_->name(), first, last, table_->rows());
  const double t = static_cast<double>(t_);
  const float lr = options_.lr;
  const float eps = options_.eps;
  const float beta1 = options_.beta1;
  const float beta2 = options_.beta2;
  const float step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, t)));
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(beta2, t)));
  const float inv_dim = 1.f / static_cast<float>(dim);
  const float l2 = options_.l2;
  const SparseOptimizerKind kind = options_.kind;

  const auto update_rows = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = grad.rows[i];
      const float* g = grad.Row(i);
      float* w = table_->Row(row);
      switch (kind) {
        case SparseOptimizerKind::kAdagrad: {
          float mean_square = 0.f;
          for (int64_t c = 0; c < dim; ++c) mean_square += (g[c] + l2 * w[c]) * (g[c] + l2 * w[c]);
          float& accumulator = accumulator_[static_cast<size_t>(row)];
          accumulator += mean_square * inv_dim;
          const float scale = lr / (std::sqrt(accumulator) + eps);
          for (int64_t c = 0; c < dim; ++c) w[c] -= scale * (g[c] + l2 * w[c]);
          break;
        }
        case SparseOptimizerKind::kLazyAdam: {
          LazyAdamRow(w, g, m_.data() + row * dim, v_.data() + row * dim, dim, beta1, beta2, l2, step_size,
                      inv_sqrt_bc2, eps);
          break;
        }
        case SparseOptimizerKind::kSgd:
          for (int64_t c = 0; c < dim; ++c) w[c] -= lr * (g[c] + l2 * w[c]);
          break;
      }
    }
  };
  // Rows are unique, so blocks of them update disjoint memory and any split gives the same result.
  ParallelRows(count, count * dim, update_rows);
}

void SparseOptimizer::Serialize(std::string* out) const {
  BinaryWriter writer;
  writer.Bytes(std::string_view(kMagic, sizeof(kMagic)));
  writer.Pod<uint32_t>(kStateVersion);
  writer.Pod<uint32_t>(static_cast<uint32_t>(options_.kind));
  writer.Pod<int64_t>(t_);
  writer.Pod<int64_t>(table_->rows());
  writer.Pod<int64_t>(table_->dim());
  writer.Array(accumulator_.data(), accumulator_.size());
  writer.Array(m_.data(), m_.size());
  writer.Array(v_.data(), v_.size());
  out->append(writer.str());
}

void SparseOptimizer::Deserialize(std::string_view data) {
  const std::string& name = table_->name();
  BinaryReader reader(data.data(), data.size(), "sparse optimizer state of '" + name + "'");
  MTREC_CHECK(reader.Bytes(sizeof(kMagic)) == std::string_view(kMagic, sizeof(kMagic)),
              "sparse optimizer state of '{}': bad magic; this is not a sparse optimizer state", name);
  const uint32_t version = reader.Pod<uint32_t>();
  MTREC_CHECK(version == kStateVersion, "sparse optimizer state of '{}': version {}, this build reads version {}",
              name, version, kStateVersion);
  const uint32_t kind = reader.Pod<uint32_t>();
  MTREC_CHECK(kind == static_cast<uint32_t>(options_.kind),
              "sparse optimizer state of '{}': written by optimizer kind {}, this optimizer is kind {}", name, kind,
              static_cast<uint32_t>(options_.kind));
  const int64_t t = reader.Pod<int64_t>();
  MTREC_CHECK(t >= 0, "sparse optimizer state of '{}': negative step {}", name, t);
  const int64_t rows = reader.Pod<int64_t>();
  const int64_t dim = reader.Pod<int64_t>();
  MTREC_CHECK(rows == table_->rows() && dim == table_->dim(),
              "sparse optimizer state of '{}': written for a {}x{} table, this table is {}x{}", name, rows, dim,
              table_->rows(), table_->dim());
  AlignedBuffer<float>* buffers[3] = {&accumulator_, &m_, &v_};
  const char* names[3] = {"accumulator", "m", "v"};
  const float* sources[3] = {nullptr, nullptr, nullptr};
  for (int b = 0; b < 3; ++b) {
    size_t count = 0;
    sources[b] = reader.Array<float>(&count);
    MTREC_CHECK(count == buffers[b]->size(), "sparse optimizer state of '{}': '{}' holds {} floats, expected {}",
                name, names[b], count, buffers[b]->size());
  }
  MTREC_CHECK(reader.AtEnd(), "sparse optimizer state of '{}': {} unexpected bytes after the end", name,
              reader.remaining());
  // Only now that everything checked out is the state replaced, so a refused blob leaves the optimizer as it was.
  for (int b = 0; b < 3; ++b) {
    if (buffers[b]->size()) std::memcpy(buffers[b]->data(), sources[b], buffers[b]->size() * sizeof(float));
  }
  t_ = t;
}

}  // namespace mtrec
