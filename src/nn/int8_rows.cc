#include "nn/int8_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/hot_loop.h"

namespace mtrec {

namespace {

// GCC's vector types: the same loops written as 16 scalar lanes are not vectorised by GCC 12 (the max of each lane
// stays scalar), and these are the loops int8 scoring spends most of its own time in.
using Lanes16 = float __attribute__((vector_size(64)));
using Ints16 = int32_t __attribute__((vector_size(64)));
using Bytes16 = int8_t __attribute__((vector_size(16)));

// Adding and subtracting 1.5 · 2^23 rounds a float below 2^22 in magnitude to an integer in the current rounding
// mode (nearest, ties to even), in vectors and scalars alike.
constexpr float kRound = 12582912.f;

}  // namespace

// x · 0 is NaN only for a NaN or an infinity.
MTREC_HOT_LOOP float AbsMaxRow(const float* __restrict x, int64_t n) {
  Lanes16 largest = {}, poison = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    Lanes16 v;
    std::memcpy(&v, x + i, sizeof v);
    poison += v * 0.f;
    const Lanes16 magnitude = (Lanes16)((Ints16)v & 0x7fffffff);
    largest = magnitude > largest ? magnitude : largest;
  }
  float result = 0.f, poisoned = 0.f;
  for (int j = 0; j < 16; ++j) {
    result = largest[j] > result ? largest[j] : result;
    poisoned += poison[j];
  }
  for (; i < n; ++i) {
    const float magnitude = std::fabs(x[i]);
    result = magnitude > result ? magnitude : result;
    poisoned += x[i] * 0.f;
  }
  return std::isnan(poisoned) ? poisoned : result;
}

MTREC_HOT_LOOP void QuantiseRow(const float* __restrict x, int8_t* __restrict q, int64_t n, float inverse_scale) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    Lanes16 v;
    std::memcpy(&v, x + i, sizeof v);
    v *= inverse_scale;
    v = v > 127.f ? 127.f : v;
    v = v < -127.f ? -127.f : v;
    v = (v + kRound) - kRound;
    const Bytes16 bytes = __builtin_convertvector(__builtin_convertvector(v, Ints16), Bytes16);
    std::memcpy(q + i, &bytes, sizeof bytes);
  }
  for (; i < n; ++i) {
    float v = x[i] * inverse_scale;
    v = v > 127.f ? 127.f : v;
    v = v < -127.f ? -127.f : v;
    q[i] = static_cast<int8_t>(static_cast<int32_t>((v + kRound) - kRound));
  }
}

float RowScale(float largest) {
  if (std::isnan(largest)) return largest;
  return largest >= 127.f * std::numeric_limits<float>::min() ? largest / 127.f : 1.f;
}

MTREC_HOT_LOOP void RescaleRow(const float* __restrict product, float a_scale, const float* __restrict b_scales,
                               const float* __restrict bias, float* __restrict y, int64_t n, bool accumulate,
                               bool relu) {
  for (int64_t i = 0; i < n; ++i) {
    float v = a_scale * b_scales[i] * product[i];
    if (bias) v += bias[i];
    if (accumulate) v += y[i];
    if (relu) v = std::max(v, 0.f);
    y[i] = v;
  }
}

}  // namespace mtrec
