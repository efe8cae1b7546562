// e^x (and σ(x) from it) with arithmetic and bit operations only, so that GCC vectorises a loop that calls it: std::exp is a library
// call per element, and in HoME's feature gates and Swish (a sigmoid for every element of E copies of the input)
// those calls were a sixth of a training step. Cephes' single-precision polynomial after a Cody-Waite reduction:
// within 1 ulp of the correctly rounded e^x over the whole range (tests/unit/common/vector_exp_test.cc), and the
// same bits in every MTREC_HOT_LOOP clone, since the project builds with -ffp-contract=off.
//
//   MTREC_HOT_LOOP void SigmoidRow(float* u, int64_t n) { for (...) u[c] = 1.f / (1.f + VectorExp(-u[c])); }
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace mtrec {

// x is clamped to [-87.3, 88]: below, e^x is under the smallest normal float (the result is about 1.2e-38, not 0);
// above, it would overflow. Callers that need exact 0 or infinity there must not use it. NaN gives NaN.
inline float VectorExp(float x_in) {
  const bool nan = x_in != x_in;
  const float x = nan ? 0.f : std::min(std::max(x_in, -87.3f), 88.f);
  // n = round(x / ln 2) by the 1.5·2^23 trick (round to nearest, no library call); r = x − n ln 2 in two parts.
  constexpr float kRound = 12582912.f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * (r * r) + r + 1.f;
  // 2^n from its exponent bits; n lies in [-126, 127] after the clamp.
  const float two_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return nan ? x_in : er * two_n;
}

// σ(x) = 1 / (1 + e^-x) through VectorExp(-|x|), so that neither sign overflows and the loop stays vectorised.
inline float VectorSigmoid(float x) {
  const float e = VectorExp(-std::abs(x));
  return x >= 0 ? 1.f / (1.f + e) : e / (1.f + e);
}

}  // namespace mtrec
