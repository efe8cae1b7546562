#include "train/count_survival.h"

#include <cmath>
#include <limits>

#include "common/error.h"

namespace mtrec {
namespace {

constexpr double kEps = 1e-15;
constexpr double kTiny = 1e-300;  // keeps the continued fractions' denominators off zero (modified Lentz)

// Near y ≈ μ the series and the continued fractions need O(sqrt(y + μ)) terms; far from it a few.
int MaxIterations(double a, double x) { return 200 + static_cast<int>(50.0 * std::sqrt(a + x)); }

[[noreturn]] void NoConvergence(const char* what, double y, double mu) {
  Fail("{}: no convergence for y = {}, mu = {}", what, y, mu);
}

// One step of the modified Lentz algorithm on a continued fraction b0 + a1/(b1 + a2/(b2 + ...)): updates its two
// running ratios and returns the factor the step multiplies the estimate by.
double LentzFactor(double a, double b, double& c, double& d) {
  d = a * d + b;
  if (std::abs(d) < kTiny) d = kTiny;
  c = b + a / c;
  if (std::abs(c) < kTiny) c = kTiny;
  d = 1.0 / d;
  return d * c;
}

// log(1 + e^x) without overflow.
double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// log Σ_{n>=0} x^n / ((a+1)...(a+n)), the series of P(a, x) (Numerical Recipes' gser, summed from 1 rather than 1/a).
double LogGammaSeries(double a, double x, double mu) {
  double sum = 1.0, term = 1.0, ap = a;
  const int limit = MaxIterations(a, x);
  for (int n = 0; n < limit; ++n) {
    ap += 1.0;
    term *= x / ap;
    sum += term;
    if (term < sum * kEps) return std::log(sum);
  }
  NoConvergence("poisson survival (series)", a, mu);
}

// log of the continued fraction of Q(a, x) = e^{-x} x^a / Γ(a) · CF (Numerical Recipes' gcf, modified Lentz).
double LogGammaFraction(double a, double x, double mu) {
  double b = x + 1.0 - a, c = 1.0 / kTiny, d = 1.0 / b, h = d;
  const int limit = MaxIterations(a, x);
  for (int i = 1; i <= limit; ++i) {
    b += 2.0;
    const double delta = LentzFactor(-i * (i - a), b, c, d);
    h *= delta;
    if (std::abs(delta - 1.0) < kEps) return std::log(h);
  }
  NoConvergence("poisson survival (continued fraction)", a, mu);
}

// log of the continued fraction of I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · CF (Numerical Recipes' betacf).
double LogBetaFraction(double a, double b, double x, double y, double mu) {
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0, d = 1.0 - qab * x / qap;
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  const int limit = MaxIterations(a, b);
  for (int m = 1; m <= limit; ++m) {
    const double m2 = 2.0 * m;
    h *= LentzFactor(m * (b - m) * x / ((qam + m2) * (a + m2)), 1.0, c, d);  // the even step
    const double delta = LentzFactor(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), 1.0, c, d);
    h *= delta;
    if (std::abs(delta - 1.0) < kEps) return std::log(h);
  }
  NoConvergence("negbin survival (continued fraction)", y, mu);
}

// log(1 − e^{a}) for a < 0 (Mächler 2012).
double Log1mExp(double a) { return a > -0.6931471805599453 ? std::log(-std::expm1(a)) : std::log1p(-std::exp(a)); }

void CheckCount(const char* what, double y) {
  MTREC_CHECK(y >= 0, "{}: a censored count must be >= 0, got {}", what, y);
}

}  // namespace

CountSurvival PoissonLogSurvival(double y, double s) {
  CheckCount("poisson survival", y);
  if (y == 0) return {};
  const double a = y, mu = std::exp(s);
  if (mu == 0) return {-std::numeric_limits<double>::infinity(), 0.0};
  // log of μ^y e^{-μ} / Γ(y) = y · pmf(y): the derivative's numerator and the prefactor of both expansions.
  const double log_front = a * s - mu - std::lgamma(a);
  CountSurvival out;
  if (mu < a + 1.0) {
    out.log_survival = log_front - std::log(a) + LogGammaSeries(a, mu, mu);  // P directly: it is the small tail
  } else {
    out.log_survival = Log1mExp(std::min(log_front + LogGammaFraction(a, mu, mu), -1e-300));  // 1 − Q
  }
  out.d_ds = std::exp(log_front - out.log_survival);
  return out;
}

CountSurvival NegBinLogSurvival(double y, double s, double alpha) {
  CheckCount("negbin survival", y);
  MTREC_CHECK(alpha > 0, "negbin survival: alpha must be > 0, got {}", alpha);
  if (y == 0) return {};
  const double a = y, r = 1.0 / alpha;
  const double t = s + std::log(alpha);  // log(μ / r): q = σ(t)
  const double log_q = -Softplus(-t), log_1mq = -Softplus(t);
  const double mu = std::exp(s);
  // log of q^y (1 − q)^r / B(y, r) = y · pmf(y), the derivative's numerator.
  const double log_front = std::lgamma(a + r) - std::lgamma(a) - std::lgamma(r) + a * log_q + r * log_1mq;
  CountSurvival out;
  const double q = std::exp(log_q);
  if (q < (a + 1.0) / (a + r + 2.0)) {
    out.log_survival = log_front - std::log(a) + LogBetaFraction(a, r, q, y, mu);  // I_q(y, r): the small tail
  } else {
    // I_q(y, r) = 1 − I_{1−q}(r, y), whose front is the same product divided by r instead of y.
    const double other = log_front - std::log(r) + LogBetaFraction(r, a, std::exp(log_1mq), y, mu);
    out.log_survival = Log1mExp(std::min(other, -1e-300));
  }
  out.d_ds = std::exp(log_front - out.log_survival);
  return out;
}

}  // namespace mtrec
