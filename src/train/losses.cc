#include "train/losses.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

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
// label get a zero gradient.
template <typename RowLoss>
LossValue Reduce(const float* outputs, int64_t outputs_stride, const float* labels, int64_t n, float scale,
                 float* diff, int64_t diff_stride, const RowLoss& row_loss) {
  LossValue value;
  value.count = CountValid(labels, n);
  const double factor = value.count > 0 ? static_cast<double>(scale) / static_cast<double>(value.count) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float y = labels[i];
    double gradient = 0.0;
    if (!std::isnan(y)) value.sum += row_loss(static_cast<double>(outputs[i * outputs_stride]), y, &gradient);
    if (diff) diff[i * diff_stride] = static_cast<float>(factor * gradient);
  }
  return value;
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

double ConstantPredictorLoss(bool binary, bool huber, float huber_delta, const std::vector<float>& labels,
                             const std::vector<float>* parent, double pos_weight) {
  auto counts = [&](size_t r) { return !std::isnan(labels[r]) && (parent == nullptr || (*parent)[r] == 1.f); };
  double sum = 0;
  int64_t count = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (counts(r)) sum += labels[r], ++count;
  }
  if (count == 0) return NAN;
  const double mean = sum / static_cast<double>(count);
  if (binary) {
    const double m = std::clamp(mean, 1e-7, 1 - 1e-7);
    const double p = pos_weight * m / (pos_weight * m + 1 - m);
    return -pos_weight * m * std::log(p) - (1 - m) * std::log(1 - p);
  }
  double loss = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (!counts(r)) continue;
    const double e = labels[r] - mean;
    const double a = std::abs(e);
    loss += huber ? (a <= huber_delta ? 0.5 * e * e : huber_delta * (a - 0.5 * huber_delta)) : e * e;
  }
  return loss / static_cast<double>(count);
}

}  // namespace mtrec
