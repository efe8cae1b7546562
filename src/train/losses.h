// Per-task losses over one column of outputs. A missing label is NaN: its row adds nothing to the loss and gets
// a zero gradient. Each function returns the sum of per-row losses over the valid rows and their count, and, when
// diff is not null, writes d(loss)/d(output) scaled by scale / count, so that diff is the gradient of
// scale · (mean loss over the valid rows).
//
//   LossValue ctr = BceWithLogits(logits.data, logits.ld, click_labels, batch, task_weight,
//                                 diff_logits.data, diff_logits.ld);
//   double mean = ctr.Mean();
#pragma once

#include <cstdint>
#include <vector>

namespace mtrec {

struct LossValue {
  double sum = 0.0;   // of per-row losses over the rows with a label
  int64_t count = 0;  // rows with a label
  double Mean() const { return count > 0 ? sum / static_cast<double>(count) : 0.0; }
};

// Binary cross-entropy on a logit s with a label y in [0, 1]:
//   max(s, 0) - s·y + log1p(e^-|s|),  d/ds = sigmoid(s) - y.
// A label outside [0, 1] throws Error.
LossValue BceWithLogits(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale,
                        float* diff, int64_t diff_stride);

// The same with positive rows weighted by w (PyTorch's BCEWithLogitsLoss pos_weight): per row
//   -(w·y·log σ(s) + (1 - y)·log(1 - σ(s))) = (1 - y + w·y)·softplus(s) - w·y·s,
//   d/ds = (1 - y + w·y)·σ(s) - w·y.
// Still divided by the count of labelled rows, as torch's 'mean' divides by the element count, not by Σ weights;
// w = 1 is BceWithLogits.
LossValue WeightedBceWithLogits(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n,
                                float pos_weight, float scale, float* diff, int64_t diff_stride);

// Squared error (s - y)² without the factor 1/2, so d/ds = 2(s - y).
LossValue Mse(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale,
              float* diff, int64_t diff_stride);

// Huber with r = s - y: ½r² for |r| <= delta, delta·(|r| - ½delta) beyond; d/ds = r or delta·sign(r).
LossValue Huber(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float delta,
                float scale, float* diff, int64_t diff_stride);

// AITM's calibrator (Xi et al. 2021) on one parent link: max(σ(s_child) − σ(s_parent), 0) per row, which is zero
// when the child's probability does not exceed its parent's. Returns the sum over the n rows and count n, and
// ADDS scale / n times the gradient to diff_child and diff_parent (they already hold the task losses' gradients):
// d/ds_child = σ'(s_child), d/ds_parent = −σ'(s_parent) on rows where the child exceeds the parent.
LossValue CalibratorPenalty(const float* child, const float* parent, int64_t outputs_stride, int64_t n, float scale,
                            float* diff_child, float* diff_parent, int64_t diff_stride);

// The mean loss of predicting the mean of a task's labels (over the non-NaN labels, and only where `parent` is 1
// when given): the entropy of the positive rate for a binary task, the variance for squared error, the Huber loss
// around the mean for huber (the same scale as its minimum). Dividing a task's loss by it makes every task start
// near 1 (for binary tasks, the "normalised entropy" of He et al. 2014). NaN without labels.
// A binary task's pos_weight w weighs the positives as its loss does: the best constant is then
// p = w·m / (w·m + 1 - m) for a positive rate m, and the loss -(w·m·log p + (1 - m)·log(1 - p)).
double ConstantPredictorLoss(bool binary, bool huber, float huber_delta, const std::vector<float>& labels,
                             const std::vector<float>* parent = nullptr, double pos_weight = 1.0);

}  // namespace mtrec
