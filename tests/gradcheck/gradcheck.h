// Finite-difference gradient checks shared by the layer and loss tests. A check perturbs each element of an input
// in place, re-evaluates a scalar objective (usually a fixed random linear functional of a layer's output,
// Σ c ⊙ dst, whose gradient with respect to dst is c), and compares the central difference with the analytic
// gradient the layer's Backward produced.
//
//   Matrix c(batch, out);  FillUniform(c.View(), rng, -1, 1);
//   auto objective = [&] { dense.Forward(x, y, Mode::kTrain); return Dot(y, c.View()); };
//   dense.Backward(x, y, c.View(), &diff_x);
//   EXPECT_TRUE(CheckGradient(x, diff_x, objective));
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/rng.h"
#include "nn/tensor.h"

namespace mtrec::gradcheck {

struct Options {
  double eps = 1e-2;   // the step of the central difference, in f32 units of the input
  double rtol = 1e-2;  // relative to the larger of the two gradients
  double atol = 2e-4;  // for gradients near zero, where f32 round-off in the objective dominates
};

// Storage for a rows × cols view with row stride ld.
struct Buffer {
  Buffer(int64_t rows, int64_t cols, int64_t ld) : storage(rows * ld, 0.f), view{storage.data(), rows, cols, ld} {}
  std::vector<float> storage;
  Tensor view;
};

inline void FillUniform(const Tensor& t, Rng& rng, double lo, double hi) {
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t c = 0; c < t.cols; ++c) t.At(r, c) = static_cast<float>(lo + (hi - lo) * rng.Uniform());
  }
}

// Σ_ij y_ij · c_ij in double: the random linear functional whose gradient with respect to y is c.
inline double Dot(const Tensor& y, const Tensor& c) {
  double sum = 0;
  for (int64_t r = 0; r < y.rows; ++r) {
    for (int64_t j = 0; j < y.cols; ++j) sum += static_cast<double>(y.At(r, j)) * c.At(r, j);
  }
  return sum;
}

// Compares analytic(r, c) with (f(x + h) - f(x - h)) / 2h for every element of x, where f is `objective`
// evaluated with that one element perturbed (and restored afterwards). The step actually taken is measured from
// the rounded f32 values, so rounding of x ± eps does not bias the quotient.
inline testing::AssertionResult CheckGradient(const Tensor& x, const Tensor& analytic,
                                              const std::function<double()>& objective, const Options& options = {}) {
  if (x.rows != analytic.rows || x.cols != analytic.cols) {
    return testing::AssertionFailure() << "input is " << x.rows << "x" << x.cols << ", gradient " << analytic.rows
                                       << "x" << analytic.cols;
  }
  int64_t failures = 0;
  testing::AssertionResult result = testing::AssertionSuccess();
  for (int64_t r = 0; r < x.rows; ++r) {
    for (int64_t c = 0; c < x.cols; ++c) {
      float& element = x.At(r, c);
      const float original = element;
      const float plus = static_cast<float>(original + options.eps);
      const float minus = static_cast<float>(original - options.eps);
      element = plus;
      const double f_plus = objective();
      element = minus;
      const double f_minus = objective();
      element = original;
      const double numeric = (f_plus - f_minus) / (static_cast<double>(plus) - static_cast<double>(minus));
      const double expected = analytic.At(r, c);
      const double tolerance = options.atol + options.rtol * std::max(std::abs(numeric), std::abs(expected));
      if (!(std::abs(numeric - expected) <= tolerance)) {
        if (failures == 0) result = testing::AssertionFailure();
        if (failures < 5) {
          result << "\n  element (" << r << ", " << c << "): analytic " << expected << ", numeric " << numeric;
        }
        ++failures;
      }
    }
  }
  if (failures > 0) result << "\n  " << failures << " of " << x.rows * x.cols << " elements differ";
  objective();  // leave whatever the objective computes in the state of the unperturbed input
  return result;
}

// The same over a flat array of n floats.
inline testing::AssertionResult CheckGradient(float* x, const float* analytic, int64_t n,
                                              const std::function<double()>& objective, const Options& options = {}) {
  return CheckGradient(Tensor{x, 1, n, n}, Tensor{const_cast<float*>(analytic), 1, n, n}, objective, options);
}

}  // namespace mtrec::gradcheck
