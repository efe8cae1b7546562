// The gradient of each task separately, for the gradient strategies (pcgrad, mgda, cagrad), gradnorm and the
// task-conflict matrix. One forward pass serves K backward passes, one per task's column of the loss gradient; the
// Gram matrix G_ij = g_i · g_j of the task gradients on what the tasks share is what every strategy needs.
//
// Two spaces (train.gradient_space):
//   shared          every element of the dense parameters that two or more tasks' gradients reach in this step
//                   (a non-zero value), plus the gradient of the input layer's embedding columns, which stands for
//                   the embedding rows it scatters into (the numeric columns have no parameters and are left out). Elements only one task reaches (its tower, its gate's columns in a grouped tensor) keep
//                   that task's gradient. Keeps K copies of the dense gradients; the combination is applied to them
//                   directly: K passes.
//   representation  the gradient of the input layer's embedding columns only (K × batch × input width floats); the
//                   coefficients then weight the task losses of one more full backward pass (as MGDA-UB does).
// Either way the embedding tables get one sparse gradient, from the combined representation gradient.
//
//   TaskGradients gradients(model, max_batch, /*representation_only=*/false);
//   TaskMatrix gram = gradients.Measure(batch.size, diff);      // diff: batch × tasks loss gradients
//   gradients.Apply(batch, diff, weighting.Step(losses, &gram, seed));
//   dense_optimizer.Step();
#pragma once

#include <cstdint>
#include <vector>

#include "common/aligned.h"
#include "common/communicator.h"
#include "models/model.h"
#include "train/gradient_combination.h"
#include "train/task_weighting.h"

namespace mtrec {

// diff[:, j] = c[task(j)] · diff[:, j] + extra[:, j] (extra optional): task losses weighted, the extra term as it
// is. column_task[j] is output column j's task (a task may own several columns); empty: column j is task j.
void WeightLossColumns(const Tensor& diff, const std::vector<double>& c, const Tensor* extra,
                       const std::vector<int>& column_task = {});

// Gradients added as they are, outside the task weighting: `outputs` on the model's outputs (AITM's calibrator),
// `conditional` on the body's outputs before the task graph (ESCM²'s counterfactual term). Each optional, but
// `conditional` comes with `outputs` (zero where there is nothing).
struct ExtraGradients {
  const Tensor* outputs = nullptr;
  const Tensor* conditional = nullptr;
  bool empty() const { return outputs == nullptr && conditional == nullptr; }
};

class TaskGradients {
 public:
  // column_task: per output column of the model, its task (a ziln or treated task owns several); empty: one
  // column per task.
  // Under mpirun (`world` distributed) the Gram matrix is that of the task gradients over every rank's rows: the
  // representation part's inner products are summed over the ranks, and each task's dense gradient is all-reduced
  // before its inner products are taken.
  TaskGradients(Model& model, int64_t max_batch, bool representation_only, std::vector<int> column_task = {},
                Communicator& world = World());

  // K backward passes, one per task's columns of `diff`; returns the Gram matrix of the task gradients over the elements
  // two or more of them reach. Leaves the model's dense gradients undefined until Apply.
  TaskMatrix Measure(int64_t rows, const Tensor& diff);

  // Leaves in the model the gradient Σ_k c.shared[k] g_k on every element two or more tasks reach and
  // Σ_k c.specific[k] g_k on the others (shared space), or the gradient of Σ_k c.shared[k] L_k
  // (representation space), with the embeddings' sparse gradients built from it. `diff` is scaled in place in
  // the representation space.
  // `extra` (batch × tasks each) is added as it is, outside the combination.
  void Apply(const Batch& batch, const Tensor& diff, const TaskCoefficients& c, const ExtraGradients& extra = {});

  bool representation_only() const { return representation_only_; }

 private:
  Model& model_;
  Communicator& world_;
  bool representation_only_;
  std::vector<int> column_task_;
  int tasks_;
  int64_t width_;
  int64_t copy_cols_;       // the input layer writes `width_ / copy_cols_` sets of columns side by side...
  int64_t numeric_offset_;  // ...each ending with its numeric block at [numeric_offset_, copy_cols_)
  int64_t rows_ = 0;
  Matrix column_diff_;                           // one task's columns of the loss gradient, zeros elsewhere
  std::vector<AlignedBuffer<float>> dense_;      // shared space: each task's dense gradients, arena layout
  std::vector<AlignedBuffer<float>> input_;      // each task's gradient of the input layer's output, rows × width
  Matrix combined_input_;
};

}  // namespace mtrec
