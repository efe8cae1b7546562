#include "train/counterfactual.h"

#include <algorithm>
#include <cmath>

namespace mtrec {
namespace {

double Sigma(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

// logloss(y, s) = softplus(s) − y·s for a label (or imputed probability) y in [0, 1].
double Logloss(double y, double s) { return std::max(s, 0.0) + std::log1p(std::exp(-std::abs(s))) - y * s; }

}  // namespace

CounterfactualValue CounterfactualRisk(const CounterfactualLink& link, const Tensor& conditional,
                                       const Tensor& outputs, const float* parent_labels, const float* labels,
                                       int64_t rows, const Tensor* diff, double normaliser) {
  const bool dr = link.kind == CounterfactualKind::kDr;
  CounterfactualValue value;
  for (int64_t r = 0; r < rows; ++r) {
    const float o = parent_labels[r];
    if (std::isnan(o) || (o == 1.f && std::isnan(labels[r]))) continue;
    ++value.count;
  }
  if (value.count == 0) return value;
  const double per_row = link.weight * (normaliser > 0 ? normaliser : 1.0 / static_cast<double>(value.count));
  for (int64_t r = 0; r < rows; ++r) {
    const float o = parent_labels[r];
    if (std::isnan(o) || (o == 1.f && std::isnan(labels[r]))) continue;
    const double s = conditional.At(r, link.column);
    const double y_hat = Sigma(s);
    // o/ô: the reached rows' inverse propensity, 0 for the others.
    const double weight = o == 1.f ? 1 / std::max<double>(Sigma(outputs.At(r, link.parent_column)), link.clip) : 0;
    const double y = o == 1.f ? labels[r] : 0;
    double ds = 0;
    if (!dr) {
      if (weight > 0) value.risk_sum += weight * Logloss(y, s);
      ds = weight * (y_hat - y);
    } else {
      const double u = conditional.At(r, link.imputation_column);
      const double imputed = Sigma(u);
      const double e_hat = Logloss(imputed, s);
      value.risk_sum += e_hat + (weight > 0 ? weight * (Logloss(y, s) - e_hat) : 0.0);
      ds = (y_hat - imputed) + weight * (imputed - y);
      if (weight > 0) {
        value.imputation_sum += weight * Logloss(y, u);
        if (diff) diff->Row(r)[link.imputation_column] += static_cast<float>(per_row * weight * (imputed - y));
      }
    }
    if (diff) diff->Row(r)[link.column] += static_cast<float>(per_row * ds);
  }
  return value;
}

}  // namespace mtrec
