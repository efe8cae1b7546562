// The zero-inflated log-normal (ZILN; Wang, Liu & Miao 2019) of a value that is zero for most rows and spread over
// orders of magnitude for the others, such as a customer's spend over the coming months. A ziln task has three
// output columns side by side: s, the logit of P(y > 0); mu and r, the location and raw scale of log y given
// y > 0, with sigma = softplus(r) + kZilnMinSigma. Training (train/losses.h) and predictions (models/task_outputs.h)
// read them here.
//
//   const Ziln d = ZilnOf(outputs);              // outputs: s, mu, r
//   float value = d.Mean();                      // p · exp(mu + sigma²/2)
//   float q90 = d.Quantile(0.9);                 // 0 while 0.9 <= 1 - p
//   double grads[3];
//   double nll = ZilnNll(outputs, y, grads);     // −log density (or mass at 0), and its gradient in s, mu, r
#pragma once

namespace mtrec {

// The output columns of a ziln task, in order.
inline constexpr int kZilnColumns = 3;
// A floor under sigma, so that a row whose amount the model pins down exactly cannot drive the density to infinity.
inline constexpr double kZilnMinSigma = 1e-2;

struct Ziln {
  double p = 0;      // P(y > 0)
  double mu = 0;     // E[log y | y > 0]
  double sigma = 1;  // SD[log y | y > 0]

  double Mean() const;
  // The q-quantile of y: 0 when q <= 1 - p, else exp(mu + sigma · Φ⁻¹((q − (1 − p)) / p)).
  double Quantile(double q) const;
};

Ziln ZilnOf(const float* outputs);

// The negative log-likelihood of y >= 0 under the outputs' distribution:
//   y = 0: −log(1 − p) = softplus(s)
//   y > 0: −log p + log y + log sigma + ½ log 2π + ½ z², z = (log y − mu) / sigma
// (the log-normal density of y itself, as the paper's loss). `gradient` (3 values, nullable) receives its
// derivatives in s, mu and r: σ(s) − [y > 0]; −z / sigma; (1 − z²) / sigma · σ(r).
double ZilnNll(const float* outputs, double y, double* gradient);

// The outputs (s, mu, r) of the best constant distribution for labels y >= 0 (NaN skipped): the share of positive
// labels, and the mean and SD of log y over them; s = NaN without labels, mu and r NaN without positive ones.
void ZilnConstantOutputs(const float* labels, long n, double outputs[3]);

}  // namespace mtrec
