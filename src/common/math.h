// Small numeric helpers shared by training, prediction and serving, so that a module which only scores (serve/)
// does not depend on the one that trains.
//
//   float p = Sigmoid(logit);   // a binary task's probability from its output
#pragma once

namespace mtrec {

// 1 / (1 + e^-x) without overflow for large |x|.
float Sigmoid(float x);

// The x with softplus(x) = log(1 + e^x) = y, for y > 0.
double InverseSoftplus(double y);

// Φ⁻¹(p), the standard normal quantile, for p in (0, 1) (±infinity at 0 and 1): Acklam's rational approximation
// refined by one Halley step on erfc, accurate to about 1e-15 relative.
double NormalQuantile(double p);

}  // namespace mtrec
