// A tiny input layout and data for whole-model gradient checks, and the element check they share.
//
// Seen as a function of one parameter with all others fixed, a ReLU network's output is piecewise linear, so away
// from a kink the one-sided differences left and right of the point agree with each other and with the analytic
// gradient. Where they disagree a ReLU changes state inside the step, and that element is skipped (and counted).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "common/rng.h"
#include "features/pipeline.h"

namespace mtrec::gradcheck {

constexpr double kStep = 1e-2;
constexpr double kAtol = 2e-4;
constexpr double kRtol = 2e-2;

// Two single slots sharing table 0, a mean-pooled bag on table 1, a sum-pooled bag on table 2 (of width 2) and a
// numeric block of width 2.
inline InputLayout MakeTinyLayout() {
  InputLayout layout;
  layout.tables = {{"user", 6, 3}, {"tags", 7, 3}, {"hist", 5, 2}};
  layout.single_slots = {{"user", 0, Pooling::kSum}, {"friend", 0, Pooling::kSum}};
  layout.multi_slots = {{"tags", 1, Pooling::kMean}, {"hist", 2, Pooling::kSum}};
  layout.numeric_names = {"price", "price.missing"};
  return layout;
}

inline EncodedData MakeTinyData(int64_t rows, int64_t tasks, Rng& rng) {
  EncodedData data;
  data.rows = rows;
  data.single_ids.assign(2, std::vector<int32_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    data.single_ids[0][r] = static_cast<int32_t>(rng.Below(6));
    data.single_ids[1][r] = static_cast<int32_t>(rng.Below(6));
  }
  const int64_t tables[2] = {7, 5};
  for (int m = 0; m < 2; ++m) {
    EncodedData::MultiIds multi;
    multi.offsets.push_back(0);
    for (int64_t r = 0; r < rows; ++r) {
      // Bags of 0 to 3 ids, repeats allowed; row 1 always empty.
      const int64_t n = r == 1 ? 0 : static_cast<int64_t>(rng.Below(4));
      for (int64_t k = 0; k < n; ++k) multi.ids.push_back(static_cast<int32_t>(rng.Below(tables[m])));
      multi.offsets.push_back(static_cast<int64_t>(multi.ids.size()));
    }
    data.multi_ids.push_back(multi);
  }
  for (int64_t r = 0; r < rows; ++r) {
    data.numeric.push_back(static_cast<float>(rng.Uniform() * 2 - 1));
    data.numeric.push_back(r % 3 == 0 ? 1.f : 0.f);
  }
  data.labels.assign(tasks, std::vector<float>(rows, 0.f));
  data.oracle.assign(tasks, {});
  data.oracle_given_parent.assign(tasks, {});
  return data;
}

struct Tally {
  int checked = 0;
  int skipped = 0;
};

// Compares the analytic derivative with finite differences for the element at `x`; see the file comment.
// atol: the absolute tolerance, kAtol unless the forward pass is noisier (batch normalisation divides by small
// batch deviations, so its float rounding reaches the finite differences).
inline testing::AssertionResult CheckElement(float* x, double analytic, const std::function<double()>& objective,
                                             Tally* tally, double step = kStep, double atol = kAtol) {
  const float original = *x;
  const double f0 = objective();
  auto at = [&](double delta) {
    *x = static_cast<float>(original + delta);
    const double f = objective();
    const double moved = static_cast<double>(*x) - original;
    *x = original;
    return std::pair<double, double>{f, moved};
  };
  const auto [f_plus, up] = at(step);
  const auto [f_minus, down] = at(-step);
  const double right = (f_plus - f0) / up;
  const double left = (f0 - f_minus) / -down;
  const double numeric = (f_plus - f_minus) / (up - down);
  // A ReLU changing state within the step shows as left and right slopes that disagree. With batch
  // normalisation one element moves every row's pre-activations, so kinks are dense and a small slope change can
  // hide inside the left/right tolerance: the central difference at a quarter of the step must agree too.
  const auto [f_plus4, up4] = at(step / 4);
  const auto [f_minus4, down4] = at(-step / 4);
  const double numeric4 = (f_plus4 - f_minus4) / (up4 - down4);
  auto differ = [atol](double a, double b) { return std::abs(a - b) > atol + kRtol * std::max(std::abs(a), std::abs(b)); };
  if (differ(right, left) || differ(numeric, numeric4)) {
    ++tally->skipped;
    return testing::AssertionSuccess();
  }
  ++tally->checked;
  const double tolerance = atol + kRtol * std::max(std::abs(numeric), std::abs(analytic));
  if (std::abs(numeric - analytic) <= tolerance) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "analytic " << analytic << ", numeric " << numeric;
}

}  // namespace mtrec::gradcheck
