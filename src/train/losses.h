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

#include "common/config.h"
#include "models/output_link.h"

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

// The count losses read the output as s = log μ (predictions are e^s, models/output_link.h) and need labels
// y >= 0 (a negative one throws Error). `censored`, when not null, flags rows (1) whose label is only a lower bound
// of the count; their loss is the survival form -log P(Y >= y | μ) (train/count_survival.h). Math and the choice
// between them: docs/losses.md.

// Poisson negative log-likelihood without its constant log y!: μ − y·s, d/ds = μ − y.
LossValue PoissonLoss(const float* outputs, int64_t outputs_stride, const float* labels, const float* censored,
                      int64_t n, float scale, float* diff, int64_t diff_stride);

// Tweedie deviance's likelihood part with power p in (1, 2) (LightGBM's and XGBoost's objective):
//   −y·e^{(1−p)s} / (1−p) + e^{(2−p)s} / (2−p),  d/ds = −y·e^{(1−p)s} + e^{(2−p)s}.
LossValue TweedieLoss(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float power,
                      float scale, float* diff, int64_t diff_stride);

// Negative binomial (NB2, Var = μ + αμ²) negative log-likelihood, complete, with r = 1/α:
//   −[lgamma(y + r) − lgamma(r) − lgamma(y + 1) + r·log(r / (r + μ)) + y·log(μ / (r + μ))],
//   d/ds = r(μ − y) / (r + μ).
LossValue NegBinLoss(const float* outputs, int64_t outputs_stride, const float* labels, const float* censored,
                     int64_t n, float alpha, float scale, float* diff, int64_t diff_stride);

// Pinball (quantile) loss of the τ-quantile q = s: max(τ(y − q), (τ − 1)(y − q)); d/dq = −τ where y > q, 1 − τ
// where y < q, and 0 where y = q (the subgradient of least norm: counts often sit exactly on a quantile).
LossValue PinballLoss(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float quantile,
                      float scale, float* diff, int64_t diff_stride);

// The zero-inflated log-normal's negative log-likelihood (models/ziln.h) over three adjacent output columns per row
// (s, mu, r at outputs[i·stride + 0..2]; diff likewise): softplus(s) for y = 0, and for y > 0
//   softplus(−s) + log y + log sigma + ½ log 2π + ½ ((log y − mu) / sigma)²,  sigma = softplus(r) + 0.01.
// Labels must be >= 0 (a negative one throws Error).
LossValue ZilnLoss(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale,
                   float* diff, int64_t diff_stride);

// The loss `task` trains with (task.loss and its keys) over its output columns (one, or ziln's three); `censored` as above (only read
// for task.censored). Count losses name the task when a label is negative.
LossValue TaskLoss(const TaskConfig& task, const float* outputs, int64_t outputs_stride, const float* labels,
                   const float* censored, int64_t n, float scale, float* diff, int64_t diff_stride);

// A task with a treatment (TARNet): each row's loss on its own arm's columns — control at `outputs`, treated at
// outputs + arm_width — and a zero gradient for the other arm. A row whose treatment is NaN counts as unlabelled;
// any value but 0 and 1 throws Error. `weights` (nullable) weighs the rows (inverse propensity), normalised to a
// mean of 1 over the labelled rows, so the loss stays on the scale of the unweighted one. `normaliser`, when
// positive, replaces that batch's own factor (labelled rows ÷ their weight sum): under mpirun, the whole step's.
LossValue ArmLoss(const TaskConfig& task, int64_t arm_width, const float* outputs, int64_t outputs_stride,
                  const float* labels, const float* censored, const float* treatment, const float* weights, int64_t n,
                  float scale, float* diff, int64_t diff_stride, double normaliser = 0);

// AITM's calibrator (Xi et al. 2021) on one parent link: max(σ(s_child) − σ(s_parent), 0) per row, which is zero
// when the child's probability does not exceed its parent's. Returns the sum over the n rows and count n, and
// ADDS scale / n times the gradient to diff_child and diff_parent (they already hold the task losses' gradients):
// d/ds_child = σ'(s_child), d/ds_parent = −σ'(s_parent) on rows where the child exceeds the parent.
LossValue CalibratorPenalty(const float* child, const float* parent, int64_t outputs_stride, int64_t n, float scale,
                            float* diff_child, float* diff_parent, int64_t diff_stride);

// The mean loss of predicting the best constant for a task's labels (over the non-NaN labels, and only where
// `parent` is 1 when given), above the loss a perfect prediction of each row would have: the entropy of the positive
// rate for a binary task, the variance for squared error, the Huber loss around the mean for huber (the same scale
// as its minimum). Dividing a task's loss by it makes every task start near 1 (for binary tasks, the "normalised
// entropy" of He et al. 2014). NaN without labels.
// A binary task's pos_weight w weighs the positives as its loss does: the best constant is then
// p = w·m / (w·m + 1 - m) for a positive rate m, and the loss -(w·m·log p + (1 - m)·log(1 - p)).
// The count losses' constant is the mean m (s = log m) and their loss is known up to each row's constant, so the
// excess over the row's best (the saturated model, μ = y) is what is averaged: half the Poisson deviance of the
// mean for poisson; a censored row's best is 0 (μ → ∞). Pinball's constant is the labels' τ-quantile.
double ConstantPredictorLoss(const TaskConfig& task, const std::vector<float>& labels,
                             const std::vector<float>* parent = nullptr, const std::vector<float>* censored = nullptr);

// The constant ConstantPredictorLoss predicts, as an output (logit, log μ or value): where a count or pinball task's
// output bias starts before training. NaN without labels; for ziln, the purchase logit (ZilnConstantOutputs in
// models/ziln.h gives all three outputs). ziln's constant loss is its negative log-likelihood under that constant
// distribution (a density's loss has no natural zero, so it is the loss itself, as for logloss).
double BestConstantOutput(const TaskConfig& task, const std::vector<float>& labels,
                          const std::vector<float>* parent = nullptr);

}  // namespace mtrec
