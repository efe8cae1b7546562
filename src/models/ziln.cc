#include "models/ziln.h"

#include <algorithm>
#include <cmath>

#include "common/math.h"

namespace mtrec {
namespace {

double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double StableSigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}
constexpr double kHalfLog2Pi = 0.91893853320467274178;

}  // namespace

double Ziln::Mean() const { return p * std::exp(mu + 0.5 * sigma * sigma); }

double Ziln::Quantile(double q) const {
  if (q <= 1.0 - p || p <= 0) return 0.0;
  return std::exp(mu + sigma * NormalQuantile(std::min((q - (1.0 - p)) / p, 1.0 - 1e-12)));
}

Ziln ZilnOf(const float* outputs) {
  return {.p = StableSigmoid(outputs[0]), .mu = outputs[1], .sigma = Softplus(outputs[2]) + kZilnMinSigma};
}

double ZilnNll(const float* outputs, double y, double* gradient) {
  const double s = outputs[0];
  if (y <= 0) {
    if (gradient) {
      gradient[0] = StableSigmoid(s);
      gradient[1] = gradient[2] = 0;
    }
    return Softplus(s);
  }
  const double mu = outputs[1];
  const double r = outputs[2];
  const double sigma = Softplus(r) + kZilnMinSigma;
  const double log_y = std::log(y);
  const double z = (log_y - mu) / sigma;
  if (gradient) {
    gradient[0] = StableSigmoid(s) - 1.0;
    gradient[1] = -z / sigma;
    gradient[2] = (1.0 - z * z) / sigma * StableSigmoid(r);
  }
  return Softplus(-s) + log_y + std::log(sigma) + kHalfLog2Pi + 0.5 * z * z;
}

void ZilnConstantOutputs(const float* labels, long n, double outputs[3]) {
  double count = 0, positives = 0, sum = 0, sum_sq = 0;
  for (long i = 0; i < n; ++i) {
    if (std::isnan(labels[i])) continue;
    ++count;
    if (labels[i] <= 0) continue;
    ++positives;
    const double l = std::log(labels[i]);
    sum += l;
    sum_sq += l * l;
  }
  outputs[0] = outputs[1] = outputs[2] = NAN;
  if (count == 0) return;
  const double p = std::clamp(positives / count, 1e-6, 1 - 1e-6);
  outputs[0] = std::log(p / (1 - p));
  if (positives == 0) return;
  outputs[1] = sum / positives;
  const double sd = std::sqrt(std::max(sum_sq / positives - outputs[1] * outputs[1], 0.0));
  outputs[2] = InverseSoftplus(std::max(sd - kZilnMinSigma, 1e-3));
}

}  // namespace mtrec
