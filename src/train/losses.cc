#include "train/losses.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "common/error.h"
#include "models/ziln.h"
#include "train/count_survival.h"

namespace mtrec {
namespace {

double StableSigmoid(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

int64_t CountValid(const float* labels, int64_t n) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += std::isnan(labels[i]) ? 0 : 1;
  return count;
}

// The shared loop: row_loss(s, y, &gradient) returns the loss of one row and its derivative in s; rows without a
// label get a zero gradient. A loss with censored rows takes row_loss(s, y, censored, &gradient), censored true
// where the `censored` column (nullable) holds 1.
template <typename RowLoss>
LossValue Reduce(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale, float* diff,
                 int64_t diff_stride, const RowLoss& row_loss, const float* censored = nullptr) {
  LossValue value;
  value.count = CountValid(labels, n);
  const double factor = value.count > 0 ? static_cast<double>(scale) / static_cast<double>(value.count) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float y = labels[i];
    double gradient = 0.0;
    if (!std::isnan(y)) {
      const double s = outputs[i * outputs_stride];
      if constexpr (std::is_invocable_v<const RowLoss&, double, double, bool, double*>) {
        value.sum += row_loss(s, y, censored != nullptr && censored[i] == 1.f, &gradient);
      } else {
        value.sum += row_loss(s, y, &gradient);
      }
    }
    if (diff) diff[i * diff_stride] = static_cast<float>(factor * gradient);
  }
  return value;
}

void CheckCounts(const char* loss, const float* labels, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    MTREC_CHECK(std::isnan(labels[i]) || labels[i] >= 0.f, "{} loss: label {} of row {} is negative; counts are >= 0",
                loss, labels[i], i);
  }
}

// The censored flags: 0, 1 or missing (read as 0).
void CheckCensored(const char* loss, const float* censored, int64_t n) {
  if (censored == nullptr) return;
  for (int64_t i = 0; i < n; ++i) {
    MTREC_CHECK(std::isnan(censored[i]) || censored[i] == 0.f || censored[i] == 1.f,
                "{} loss: the censored flag of row {} is {}, not 0 or 1", loss, i, censored[i]);
  }
}

// The τ-quantile of the values: the smallest whose share of values at or below it reaches τ (a minimiser of the
// pinball loss).
double Quantile(std::vector<float> values, double tau) {
  if (values.empty()) return NAN;
  const double rank = std::ceil(tau * static_cast<double>(values.size()));
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(std::max(rank, 1.0)) - 1);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index), values.end());
  return values[index];
}

// Row losses of the count and quantile losses, shared by the loss functions and ConstantPredictorLoss.
double PoissonRow(double s, double y, bool censored, double* g) {
  if (censored) {
    const CountSurvival tail = PoissonLogSurvival(y, s);
    *g = -tail.d_ds;
    return -tail.log_survival;
  }
  const double mu = std::exp(s);
  *g = mu - y;
  return mu - y * s;
}

double TweedieRow(double s, double y, double p, double* g) {
  const double a = std::exp((1.0 - p) * s), b = std::exp((2.0 - p) * s);
  *g = -y * a + b;
  return -y * a / (1.0 - p) + b / (2.0 - p);
}

double NegBinRow(double s, double y, bool censored, double alpha, double* g) {
  if (censored) {
    const CountSurvival tail = NegBinLogSurvival(y, s, alpha);
    *g = -tail.d_ds;
    return -tail.log_survival;
  }
  const double r = 1.0 / alpha;
  const double t = s + std::log(alpha);  // log(μ / r)
  const double q = StableSigmoid(t);     // μ / (r + μ)
  // log q = −softplus(−t), log(1 − q) = −softplus(t): stable for any s.
  const double log_q = -(std::max(-t, 0.0) + std::log1p(std::exp(-std::abs(t))));
  const double log_1mq = -(std::max(t, 0.0) + std::log1p(std::exp(-std::abs(t))));
  *g = (r + y) * q - y;  // = r(μ − y) / (r + μ)
  return -(std::lgamma(y + r) - std::lgamma(r) - std::lgamma(y + 1.0) + r * log_1mq + y * log_q);
}

double PinballRow(double q, double y, double tau, double* g) {
  const double r = y - q;
  *g = r > 0 ? -tau : (r < 0 ? 1.0 - tau : 0.0);
  return r >= 0 ? tau * r : (tau - 1.0) * r;
}

// The loss of a row a perfect prediction has: the count losses' constants (μ = y; a censored row's best is
// μ → ∞, where −log P(Y >= y) → 0), 0 for the others.
double SaturatedRow(const TaskConfig& task, double y, bool censored) {
  if (censored || y == 0 || !IsCountLoss(task.loss)) return 0.0;
  double g = 0;
  const double s = std::log(y);
  switch (task.loss) {
    case LossKind::kPoisson:
      return PoissonRow(s, y, false, &g);
    case LossKind::kTweedie:
      return TweedieRow(s, y, task.tweedie_power, &g);
    case LossKind::kNegbin:
      return NegBinRow(s, y, false, task.negbin_alpha, &g);
    default:
      return 0.0;
  }
}

}  // namespace

LossValue BceWithLogits(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale,
                        float* diff, int64_t diff_stride) {
  return WeightedBceWithLogits(outputs, outputs_stride, labels, n, 1.f, scale, diff, diff_stride);
}

LossValue WeightedBceWithLogits(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n,
                                float pos_weight, float scale, float* diff, int64_t diff_stride) {
  for (int64_t i = 0; i < n; ++i) {
    MTREC_CHECK(std::isnan(labels[i]) || (labels[i] >= 0.f && labels[i] <= 1.f),
                "binary cross-entropy: label {} of row {} is outside [0, 1]", labels[i], i);
  }
  MTREC_CHECK(pos_weight > 0.f, "binary cross-entropy: pos_weight {} must be positive", pos_weight);
  if (pos_weight == 1.f) {
    return Reduce(outputs, outputs_stride, labels, n, scale, diff, diff_stride, [](double s, double y, double* g) {
      *g = StableSigmoid(s) - y;
      return std::max(s, 0.0) - s * y + std::log1p(std::exp(-std::abs(s)));
    });
  }
  const double w = pos_weight;
  return Reduce(outputs, outputs_stride, labels, n, scale, diff, diff_stride, [w](double s, double y, double* g) {
    const double a = 1.0 - y + w * y;  // the weight of softplus(s) = -log(1 - σ(s)) after folding in log σ(s)
    *g = a * StableSigmoid(s) - w * y;
    return a * (std::max(s, 0.0) + std::log1p(std::exp(-std::abs(s)))) - w * y * s;
  });
}

LossValue Mse(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale,
              float* diff, int64_t diff_stride) {
  return Reduce(outputs, outputs_stride, labels, n, scale, diff, diff_stride, [](double s, double y, double* g) {
    const double r = s - y;
    *g = 2.0 * r;
    return r * r;
  });
}

LossValue Huber(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float delta,
                float scale, float* diff, int64_t diff_stride) {
  MTREC_CHECK(delta > 0.f, "huber loss: delta {} must be positive", delta);
  const double d = delta;
  return Reduce(outputs, outputs_stride, labels, n, scale, diff, diff_stride, [d](double s, double y, double* g) {
    const double r = s - y;
    if (std::abs(r) <= d) {
      *g = r;
      return 0.5 * r * r;
    }
    *g = r > 0 ? d : -d;
    return d * (std::abs(r) - 0.5 * d);
  });
}

LossValue PoissonLoss(const float* outputs, int64_t outputs_stride, const float* labels, const float* censored,
                      int64_t n, float scale, float* diff, int64_t diff_stride) {
  CheckCounts("poisson", labels, n);
  CheckCensored("poisson", censored, n);
  return Reduce(outputs, outputs_stride, labels, n, scale, diff, diff_stride, PoissonRow, censored);
}

LossValue TweedieLoss(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float power,
                      float scale, float* diff, int64_t diff_stride) {
  CheckCounts("tweedie", labels, n);
  MTREC_CHECK(power > 1.f && power < 2.f, "tweedie loss: power {} must be in (1, 2)", power);
  const double p = power;
  return Reduce(outputs, outputs_stride, labels, n, scale, diff, diff_stride,
                [p](double s, double y, double* g) { return TweedieRow(s, y, p, g); });
}

LossValue NegBinLoss(const float* outputs, int64_t outputs_stride, const float* labels, const float* censored,
                     int64_t n, float alpha, float scale, float* diff, int64_t diff_stride) {
  CheckCounts("negbin", labels, n);
  CheckCensored("negbin", censored, n);
  MTREC_CHECK(alpha > 0.f, "negbin loss: alpha {} must be positive", alpha);
  const double a = alpha;
  return Reduce(
      outputs, outputs_stride, labels, n, scale, diff, diff_stride,
      [a](double s, double y, bool is_censored, double* g) { return NegBinRow(s, y, is_censored, a, g); }, censored);
}

LossValue PinballLoss(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float quantile,
                      float scale, float* diff, int64_t diff_stride) {
  MTREC_CHECK(quantile > 0.f && quantile < 1.f, "pinball loss: quantile {} must be in (0, 1)", quantile);
  const double tau = quantile;
  return Reduce(outputs, outputs_stride, labels, n, scale, diff, diff_stride,
                [tau](double q, double y, double* g) { return PinballRow(q, y, tau, g); });
}

LossValue ZilnLoss(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale,
                   float* diff, int64_t diff_stride) {
  LossValue value;
  value.count = CountValid(labels, n);
  const double factor = value.count > 0 ? static_cast<double>(scale) / static_cast<double>(value.count) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float y = labels[i];
    double gradient[kZilnColumns] = {0, 0, 0};
    if (!std::isnan(y)) {
      MTREC_CHECK(y >= 0, "ziln loss: label {} is negative; the zero-inflated log-normal needs values >= 0", y);
      value.sum += ZilnNll(outputs + i * outputs_stride, y, gradient);
    }
    if (diff) {
      for (int j = 0; j < kZilnColumns; ++j) diff[i * diff_stride + j] = static_cast<float>(factor * gradient[j]);
    }
  }
  return value;
}

LossValue ArmLoss(const TaskConfig& task, int64_t arm_width, const float* outputs, int64_t outputs_stride,
                  const float* labels, const float* censored, const float* treatment, const float* weights, int64_t n,
                  float scale, float* diff, int64_t diff_stride, double normaliser) {
  // Each row's arm gathered into a dense block, the task's own loss over it, and its gradient scattered back.
  std::vector<float> arm_outputs(static_cast<size_t>(n * arm_width));
  std::vector<float> arm_labels(static_cast<size_t>(n));
  std::vector<float> arm_diff(diff ? arm_outputs.size() : 0);
  std::vector<int64_t> offset(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    const float t = treatment[i];
    MTREC_CHECK(std::isnan(t) || t == 0.f || t == 1.f, "task '{}': treatment column '{}' holds {}; expected 0 or 1",
                task.name, task.treatment, t);
    offset[i] = t == 1.f ? arm_width : 0;
    arm_labels[i] = std::isnan(t) ? NAN : labels[i];
    std::copy_n(outputs + i * outputs_stride + offset[i], arm_width, arm_outputs.data() + i * arm_width);
  }
  LossValue value = TaskLoss(task, arm_outputs.data(), arm_width, arm_labels.data(), censored, n, scale,
                             diff ? arm_diff.data() : nullptr, arm_width);
  if (weights) {
    double weight_sum = 0;
    for (int64_t i = 0; i < n; ++i) weight_sum += std::isnan(arm_labels[i]) ? 0.0 : weights[i];
    if (normaliser <= 0) normaliser = weight_sum > 0 ? static_cast<double>(value.count) / weight_sum : 0.0;
    value.sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(arm_labels[i])) continue;
      const double w = weights[i] * normaliser;
      value.sum += w * TaskLoss(task, arm_outputs.data() + i * arm_width, arm_width, &arm_labels[i],
                                censored ? censored + i : nullptr, 1, 1.f, nullptr, 0)
                           .sum;
      for (int64_t j = 0; j < arm_width && diff; ++j) arm_diff[i * arm_width + j] *= static_cast<float>(w);
    }
  }
  if (diff) {
    for (int64_t i = 0; i < n; ++i) {
      float* row = diff + i * diff_stride;
      std::fill(row, row + 2 * arm_width, 0.f);
      std::copy_n(arm_diff.data() + i * arm_width, arm_width, row + offset[i]);
    }
  }
  return value;
}

LossValue TaskLoss(const TaskConfig& task, const float* outputs, int64_t outputs_stride, const float* labels,
                   const float* censored, int64_t n, float scale, float* diff, int64_t diff_stride) {
  const float* flags = task.censored.empty() ? nullptr : censored;
  try {
    switch (task.loss) {
      case LossKind::kLogloss:  // binary tasks only (ValidateConfig)
        return WeightedBceWithLogits(outputs, outputs_stride, labels, n, static_cast<float>(task.pos_weight), scale,
                                     diff, diff_stride);
      case LossKind::kHuber:
        return Huber(outputs, outputs_stride, labels, n, static_cast<float>(task.huber_delta), scale, diff,
                     diff_stride);
      case LossKind::kMse:
        return Mse(outputs, outputs_stride, labels, n, scale, diff, diff_stride);
      case LossKind::kPoisson:
        return PoissonLoss(outputs, outputs_stride, labels, flags, n, scale, diff, diff_stride);
      case LossKind::kTweedie:
        return TweedieLoss(outputs, outputs_stride, labels, n, static_cast<float>(task.tweedie_power), scale, diff,
                           diff_stride);
      case LossKind::kNegbin:
        return NegBinLoss(outputs, outputs_stride, labels, flags, n, static_cast<float>(task.negbin_alpha), scale, diff,
                          diff_stride);
      case LossKind::kPinball:
        return PinballLoss(outputs, outputs_stride, labels, n, static_cast<float>(task.quantile), scale, diff,
                           diff_stride);
      case LossKind::kZiln:
        return ZilnLoss(outputs, outputs_stride, labels, n, scale, diff, diff_stride);
    }
  } catch (const Error& error) {
    Fail("task '{}': {}", task.name, error.what());
  }
  Fail("task '{}': unknown loss {}", task.name, static_cast<int>(task.loss));
}

LossValue CalibratorPenalty(const float* child, const float* parent, int64_t outputs_stride, int64_t n, float scale,
                            float* diff_child, float* diff_parent, int64_t diff_stride) {
  LossValue value;
  value.count = n;
  const double factor = n > 0 ? static_cast<double>(scale) / static_cast<double>(n) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double p_child = StableSigmoid(child[i * outputs_stride]);
    const double p_parent = StableSigmoid(parent[i * outputs_stride]);
    if (p_child <= p_parent) continue;
    value.sum += p_child - p_parent;
    if (diff_child) diff_child[i * diff_stride] += static_cast<float>(factor * p_child * (1.0 - p_child));
    if (diff_parent) diff_parent[i * diff_stride] -= static_cast<float>(factor * p_parent * (1.0 - p_parent));
  }
  return value;
}

namespace {

// The labels ConstantPredictorLoss counts: not NaN, and where `parent` (when given) is 1.
std::vector<float> CountedLabels(const std::vector<float>& labels, const std::vector<float>* parent) {
  std::vector<float> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (!std::isnan(labels[r]) && (parent == nullptr || (*parent)[r] == 1.f)) out.push_back(labels[r]);
  }
  return out;
}

double Mean(const std::vector<float>& values) {
  double sum = 0;
  for (float v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

}  // namespace

double BestConstantOutput(const TaskConfig& task, const std::vector<float>& labels, const std::vector<float>* parent) {
  const std::vector<float> counted = CountedLabels(labels, parent);
  if (counted.empty()) return NAN;
  if (task.loss == LossKind::kPinball) return Quantile(counted, task.quantile);
  if (task.loss == LossKind::kZiln) {
    double outputs[kZilnColumns];
    ZilnConstantOutputs(counted.data(), static_cast<long>(counted.size()), outputs);
    return outputs[0];
  }
  return InverseLink(LinkOf(task), Mean(counted));
}

double ConstantPredictorLoss(const TaskConfig& task, const std::vector<float>& labels, const std::vector<float>* parent,
                             const std::vector<float>* censored) {
  const std::vector<float> counted = CountedLabels(labels, parent);
  if (counted.empty()) return NAN;
  const auto count = static_cast<double>(counted.size());
  const double mean = Mean(counted);
  if (task.kind == TaskKind::kBinary) {
    const double w = task.pos_weight;
    const double m = std::clamp(mean, 1e-7, 1 - 1e-7);
    const double p = w * m / (w * m + 1 - m);
    return -w * m * std::log(p) - (1 - m) * std::log(1 - p);
  }
  if (task.loss == LossKind::kMse || task.loss == LossKind::kHuber) {
    const double delta = task.huber_delta;
    const bool huber = task.loss == LossKind::kHuber;
    double loss = 0;
    for (float y : counted) {
      const double e = y - mean;
      const double a = std::abs(e);
      loss += huber ? (a <= delta ? 0.5 * e * e : delta * (a - 0.5 * delta)) : e * e;
    }
    return loss / count;
  }
  if (task.loss == LossKind::kZiln) {
    double constant[kZilnColumns];
    ZilnConstantOutputs(counted.data(), static_cast<long>(counted.size()), constant);
    float outputs[kZilnColumns];
    for (int j = 0; j < kZilnColumns; ++j) outputs[j] = std::isfinite(constant[j]) ? static_cast<float>(constant[j]) : 0.f;
    double sum = 0;
    for (float y : counted) sum += ZilnNll(outputs, y, nullptr);
    return sum / count;
  }
  // The loss at the best constant for every counted row, less each row's saturated loss.
  const float constant = static_cast<float>(BestConstantOutput(task, labels, parent));
  if (!std::isfinite(constant)) return 0.0;  // all labels 0: a count task predicting 0 everywhere is perfect
  std::vector<float> row_labels(labels.size(), NAN);
  for (size_t r = 0; r < labels.size(); ++r) {
    if (parent == nullptr || (*parent)[r] == 1.f) row_labels[r] = labels[r];
  }
  const std::vector<float> outputs(labels.size(), constant);
  const float* flags = censored != nullptr && !censored->empty() ? censored->data() : nullptr;
  const LossValue value =
      TaskLoss(task, outputs.data(), 1, row_labels.data(), flags, static_cast<int64_t>(labels.size()), 1.f, nullptr, 0);
  double saturated = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (!std::isnan(row_labels[r])) {
      saturated += SaturatedRow(task, row_labels[r], flags != nullptr && flags[r] == 1.f && !task.censored.empty());
    }
  }
  return (value.sum - saturated) / count;
}

}  // namespace mtrec
