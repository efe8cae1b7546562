#include "common/math.h"

#include <cmath>

namespace mtrec {

float Sigmoid(float x) {
  if (x >= 0.f) return 1.f / (1.f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.f + e);
}

}  // namespace mtrec
