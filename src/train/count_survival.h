// The survival function of the count distributions behind the poisson and negbin losses, for censored rows whose
// label y is only a lower bound: log P(Y >= y) and its derivative in the output s = log μ, stable for large y and
// μ (both computed in log space; the tail that is not near 1 is the one evaluated).
//
//   CountSurvival tail = PoissonLogSurvival(/*y=*/12, /*s=*/std::log(9.5));
//   double loss = -tail.log_survival, gradient = -tail.d_ds;
#pragma once

namespace mtrec {

struct CountSurvival {
  double log_survival = 0.0;  // log P(Y >= y | μ = e^s); 0 for y = 0
  double d_ds = 0.0;          // its derivative in s; >= 0 (a larger mean makes a larger count likelier)
};

// Y ~ Poisson(μ): P(Y >= y) = P(y, μ), the regularized lower incomplete gamma function, and
// d/ds log P(Y >= y) = μ · pmf(y − 1) / P(Y >= y) = y · pmf(y) / P(Y >= y). A y that is not an integer takes the
// function's continuous extension. y < 0 or NaN throws Error.
CountSurvival PoissonLogSurvival(double y, double s);

// Y ~ NB2 with mean μ and dispersion α (r = 1/α, q = μ / (μ + r), Var = μ + αμ²): P(Y >= y) = I_q(y, r), the
// regularized incomplete beta function, and since dq/ds = q(1 − q), d/ds log P(Y >= y) = y · pmf(y) / P(Y >= y)
// as for Poisson (the limit α → 0).
CountSurvival NegBinLogSurvival(double y, double s, double alpha);

}  // namespace mtrec
