#include "train/task_gradients.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/threads.h"

namespace mtrec {
namespace {

constexpr int kMaxTasks = 64;

// gram += Σ over the elements e that two or more vectors reach (v_k[e] != 0) of v_i[e] v_j[e]. Off the diagonal
// that is the plain dot product; on it, a task's norm leaves out what only it reaches. Fixed blocks summed in
// order: reproducible for a thread count.
void AddSharedGram(const std::vector<const float*>& v, size_t n, TaskMatrix& gram) {
  if (n == 0) return;
  const size_t k = v.size();
  const size_t blocks = static_cast<int64_t>(n * k) < kMinParallelWork ? 1 : static_cast<size_t>(Threads());
  std::vector<double> partial(blocks * k * k, 0.0);
  ParallelForBlocks(blocks, [&](size_t block, int) {
    const size_t begin = n * block / blocks;
    const size_t end = n * (block + 1) / blocks;
    double* p = partial.data() + block * k * k;
    // Float products summed in short runs, then in double: the long sums stay accurate for millions of entries.
    std::vector<float> run(k * k);
    float x[kMaxTasks];
    for (size_t e0 = begin; e0 < end; e0 += 256) {
      std::fill(run.begin(), run.end(), 0.f);
      const size_t stop = std::min(end, e0 + 256);
      for (size_t e = e0; e < stop; ++e) {
        int reached = 0;
        for (size_t i = 0; i < k; ++i) reached += (x[i] = v[i][e]) != 0.f;
        if (reached < 2) continue;
        for (size_t i = 0; i < k; ++i) {
          for (size_t j = i; j < k; ++j) run[i * k + j] += x[i] * x[j];
        }
      }
      for (size_t i = 0; i < k * k; ++i) p[i] += run[i];
    }
  });
  for (size_t block = 0; block < blocks; ++block) {
    const double* p = partial.data() + block * k * k;
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = i; j < k; ++j) {
        gram[i][j] += p[i * k + j];
        if (j != i) gram[j][i] += p[i * k + j];
      }
    }
  }
}

// out[e] = Σ_k a_k v_k[e] with a = shared where two or more vectors reach e, specific elsewhere.
void Combine(const std::vector<const float*>& v, size_t n, const std::vector<double>& shared,
             const std::vector<double>& specific, float* out) {
  const size_t k = v.size();
  float a[kMaxTasks], b[kMaxTasks];
  for (size_t i = 0; i < k; ++i) {
    a[i] = static_cast<float>(shared[i]);
    b[i] = static_cast<float>(specific[i]);
  }
  ParallelRows(static_cast<int64_t>(n), static_cast<int64_t>(n * k), [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end; ++e) {
      int reached = 0;
      float with_shared = 0.f, with_specific = 0.f;
      for (size_t i = 0; i < k; ++i) {
        const float x = v[i][e];
        reached += x != 0.f;
        with_shared += a[i] * x;
        with_specific += b[i] * x;
      }
      out[e] = reached >= 2 ? with_shared : with_specific;
    }
  });
}

}  // namespace

void WeightLossColumns(const Tensor& diff, const std::vector<double>& c, const Tensor* extra,
                       const std::vector<int>& column_task) {
  for (int64_t r = 0; r < diff.rows; ++r) {
    for (int64_t j = 0; j < diff.cols; ++j) {
      const double weight = c[column_task.empty() ? j : column_task[j]];
      diff.At(r, j) = diff.At(r, j) * static_cast<float>(weight) + (extra ? extra->At(r, j) : 0.f);
    }
  }
}

// Column j of the model's outputs belongs to task j unless told otherwise.
std::vector<int> OnePerColumn(std::vector<int> column_task, int64_t columns) {
  if (column_task.empty()) {
    for (int j = 0; j < columns; ++j) column_task.push_back(j);
  }
  MTREC_CHECK(std::ssize(column_task) == columns, "task gradients: {} column tasks for a model of {} columns",
              column_task.size(), columns);
  return column_task;
}

TaskGradients::TaskGradients(Model& model, int64_t max_batch, bool representation_only, std::vector<int> column_task,
                             Communicator& world)
    : model_(model),
      world_(world),
      representation_only_(representation_only),
      column_task_(OnePerColumn(std::move(column_task), model.columns())),
      tasks_(*std::max_element(column_task_.begin(), column_task_.end()) + 1),
      width_(model.input_width()),
      copy_cols_(model.input().CopyCols()),
      numeric_offset_(model.input().NumericOffset()) {
  MTREC_CHECK(tasks_ <= kMaxTasks, "task gradients: at most {} tasks, the model has {}", kMaxTasks, tasks_);
  column_diff_.Resize(max_batch, model.columns());
  input_.resize(tasks_);
  for (auto& buffer : input_) buffer.Resize(static_cast<size_t>(max_batch * width_));
  combined_input_.Resize(max_batch, width_);
  if (!representation_only_) {
    dense_.resize(tasks_);
    for (auto& buffer : dense_) buffer.Resize(model.arena().size());
  }
}

TaskMatrix TaskGradients::Measure(int64_t rows, const Tensor& diff) {
  MTREC_CHECK(rows <= column_diff_.rows() && diff.cols == column_diff_.cols(),
              "task gradients: a batch of {} rows × {} columns does not fit buffers of {} × {}", rows, diff.cols,
              column_diff_.rows(), column_diff_.cols());
  rows_ = rows;
  Tensor column = column_diff_.View().TopRows(rows);
  ParameterArena& arena = model_.arena();
  for (int k = 0; k < tasks_; ++k) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < column.cols; ++j) column.At(r, j) = column_task_[j] == k ? diff.At(r, j) : 0.f;
    }
    arena.ZeroGrad();
    Tensor diff_x = model_.BackwardToInput(rows, column);
    Tensor stored{input_[k].data(), rows, width_, width_};
    CopyInto(stored, diff_x);
    if (numeric_offset_ < copy_cols_) {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t set = 0; set < width_; set += copy_cols_) {
          std::fill(stored.Row(r) + set + numeric_offset_, stored.Row(r) + set + copy_cols_, 0.f);
        }
      }
    }
    if (!representation_only_) std::memcpy(dense_[k].data(), arena.grads(), sizeof(float) * arena.size());
  }
  TaskMatrix gram(tasks_, std::vector<double>(tasks_, 0.0));
  std::vector<const float*> vectors(tasks_);
  for (int k = 0; k < tasks_; ++k) vectors[k] = input_[k].data();
  AddSharedGram(vectors, static_cast<size_t>(rows * width_), gram);
  if (world_.distributed()) {
    // The rows' inner products add up over the ranks; the dense gradients are added first, then multiplied.
    std::vector<double> flat;
    for (const auto& row : gram) flat.insert(flat.end(), row.begin(), row.end());
    world_.AllReduceSum(flat.data(), flat.size());
    for (int i = 0; i < tasks_; ++i) std::copy_n(flat.begin() + i * tasks_, tasks_, gram[i].begin());
    if (!representation_only_) {
      for (int k = 0; k < tasks_; ++k) world_.AllReduceSum(dense_[k].data(), arena.size());
    }
  }
  if (!representation_only_) {
    for (int k = 0; k < tasks_; ++k) vectors[k] = dense_[k].data();
    AddSharedGram(vectors, arena.size(), gram);
  }
  return gram;
}

void TaskGradients::Apply(const Batch& batch, const Tensor& diff, const TaskCoefficients& c,
                          const ExtraGradients& extra) {
  MTREC_CHECK(extra.conditional == nullptr || extra.outputs != nullptr,
              "task gradients: an extra conditional gradient without its outputs' part");
  MTREC_CHECK(batch.size == rows_, "task gradients: Apply on a batch of {} rows after Measure on {}", batch.size,
              rows_);
  ParameterArena& arena = model_.arena();
  if (representation_only_) {
    WeightLossColumns(diff, c.shared, extra.outputs, column_task_);
    arena.ZeroGrad();
    model_.Backward(batch, diff, extra.conditional);
    return;
  }
  std::vector<const float*> vectors(tasks_);
  for (int k = 0; k < tasks_; ++k) vectors[k] = dense_[k].data();
  Combine(vectors, arena.size(), c.shared, c.specific, arena.grads());
  if (world_.distributed()) {
    // The task gradients were the ranks' sums already; the trainer sums the dense gradients over the ranks once
    // more (with the calibrator's, which are this rank's own), so each rank keeps 1/N of the combination.
    const auto share = 1.f / static_cast<float>(world_.size());
    float* grads = arena.grads();
    for (size_t i = 0; i < arena.size(); ++i) grads[i] *= share;
  }
  for (int k = 0; k < tasks_; ++k) vectors[k] = input_[k].data();
  Tensor combined = combined_input_.View().TopRows(batch.size);
  Combine(vectors, static_cast<size_t>(batch.size * width_), c.shared, c.specific, combined.data);
  if (extra.outputs) {
    // The dense gradients accumulate on top of the combination; the input gradient is added to it.
    AddInto(combined, model_.BackwardToInput(batch.size, *extra.outputs, extra.conditional));
  }
  model_.BackwardInput(batch, combined);
}

}  // namespace mtrec
