// Finite-difference checks of the losses' gradients, each with missing labels among the rows: the objective is
// scale · mean loss over the labelled rows, whose gradient the loss functions write into diff.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "gradcheck.h"
#include "train/counterfactual.h"
#include "train/losses.h"

namespace mtrec {
namespace {

using gradcheck::CheckGradient;

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// A loss as the tests call it: outputs with a stride, and diff (nullable) with a stride.
using LossFn = std::function<LossValue(const float* outputs, int64_t stride, const float* labels, int64_t n,
                                       float scale, float* diff, int64_t diff_stride)>;

// Outputs sit in column 1 of an n × 3 matrix, to exercise the strides.
void Check(const LossFn& loss, const std::vector<float>& outputs_column, const std::vector<float>& labels,
           float scale) {
  const int64_t n = static_cast<int64_t>(labels.size());
  std::vector<float> matrix(n * 3, 0.f);
  for (int64_t i = 0; i < n; ++i) matrix[i * 3 + 1] = outputs_column[i];
  std::vector<float> diff(n * 2, 0.f);
  const float* outputs = matrix.data() + 1;
  loss(outputs, 3, labels.data(), n, scale, diff.data(), 2);
  const auto objective = [&] {
    const LossValue value = loss(outputs, 3, labels.data(), n, scale, nullptr, 0);
    return scale * value.Mean();
  };
  const Tensor x{matrix.data() + 1, n, 1, 3};
  const Tensor analytic{diff.data(), n, 1, 2};
  EXPECT_TRUE(CheckGradient(x, analytic, objective, {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-5}));
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(labels[i])) {
      EXPECT_EQ(diff[i * 2], 0.f) << "row " << i << " has no label";
    }
  }
}

TEST(LossesGradcheck, BceWithLogits) {
  Check(BceWithLogits, {-3.f, -0.4f, 0.f, 0.7f, 2.5f, 1.f, 9.f},
        {0.f, 1.f, kMissing, 1.f, 0.f, 0.3f, kMissing}, 1.f);
  Check(BceWithLogits, {-12.f, 15.f, 0.2f}, {1.f, 0.f, 1.f}, 0.5f);  // saturated logits
}

TEST(LossesGradcheck, WeightedBceWithLogits) {
  for (const float pos_weight : {10.f, 0.25f}) {
    const LossFn weighted = [pos_weight](const float* outputs, int64_t stride, const float* labels, int64_t n,
                                         float scale, float* diff, int64_t diff_stride) {
      return WeightedBceWithLogits(outputs, stride, labels, n, pos_weight, scale, diff, diff_stride);
    };
    Check(weighted, {-3.f, -0.4f, 0.f, 0.7f, 2.5f, 1.f, 9.f}, {0.f, 1.f, kMissing, 1.f, 0.f, 0.3f, kMissing}, 1.f);
    Check(weighted, {-12.f, 15.f, 0.2f}, {1.f, 0.f, 1.f}, 0.5f);  // saturated logits
  }
}

TEST(LossesGradcheck, Mse) {
  Check(Mse, {-1.f, 0.3f, 2.f, 0.f, 5.f}, {0.5f, kMissing, 2.5f, -1.f, kMissing}, 2.f);
}

TEST(LossesGradcheck, HuberInBothRegions) {
  const LossFn huber = [](const float* outputs, int64_t stride, const float* labels, int64_t n, float scale,
                          float* diff, int64_t diff_stride) {
    return Huber(outputs, stride, labels, n, /*delta=*/1.f, scale, diff, diff_stride);
  };
  // Residuals -3, -0.5, 0.2, 0.9, 2.5 and one missing: both sides of delta, away from the joints at ±1.
  Check(huber, {-2.f, 0.5f, 0.2f, 1.9f, 2.5f, 4.f}, {1.f, 1.f, 0.f, 1.f, 0.f, kMissing}, 1.5f);
}

TEST(LossesGradcheck, CountLosses) {
  // Outputs are log means; labels from 0 to large counts, with one missing.
  const std::vector<float> outputs = {-2.f, 0.f, 0.7f, 2.f, 4.5f, 1.f, 6.f};
  const std::vector<float> labels = {0.f, 3.f, 1.f, 0.f, 120.f, kMissing, 250.f};
  const std::vector<float> flags = {0.f, 1.f, 0.f, 1.f, 1.f, 1.f, 0.f};  // censored rows 1, 3 and 4
  const LossFn poisson = [&](const float* o, int64_t stride, const float* y, int64_t n, float scale, float* diff,
                             int64_t diff_stride) {
    return PoissonLoss(o, stride, y, flags.data(), n, scale, diff, diff_stride);
  };
  Check(poisson, outputs, labels, 0.5f);
  for (const float alpha : {0.05f, 0.5f, 3.f}) {
    const LossFn negbin = [&](const float* o, int64_t stride, const float* y, int64_t n, float scale, float* diff,
                              int64_t diff_stride) {
      return NegBinLoss(o, stride, y, flags.data(), n, alpha, scale, diff, diff_stride);
    };
    Check(negbin, outputs, labels, 0.5f);
  }
  for (const float power : {1.1f, 1.5f, 1.9f}) {
    const LossFn tweedie = [power](const float* o, int64_t stride, const float* y, int64_t n, float scale,
                                   float* diff, int64_t diff_stride) {
      return TweedieLoss(o, stride, y, n, power, scale, diff, diff_stride);
    };
    Check(tweedie, outputs, labels, 0.5f);
  }
}

// The censored rows alone, where the survival function's tails are extreme: labels far above and far below the
// mean, large counts and means, both branches of each expansion.
TEST(LossesGradcheck, CensoredSurvivalFarInTheTails) {
  const std::vector<float> outputs = {0.f, 3.f, 6.9f, 6.9f, 9.2f, 9.2f, 2.f, -3.f};
  const std::vector<float> labels = {40.f, 2.f, 1000.f, 950.f, 9000.f, 11000.f, 7.f, 1.f};
  const std::vector<float> flags(labels.size(), 1.f);
  const LossFn poisson = [&](const float* o, int64_t stride, const float* y, int64_t n, float scale, float* diff,
                             int64_t diff_stride) {
    return PoissonLoss(o, stride, y, flags.data(), n, scale, diff, diff_stride);
  };
  Check(poisson, outputs, labels, 1.f);
  const LossFn negbin = [&](const float* o, int64_t stride, const float* y, int64_t n, float scale, float* diff,
                            int64_t diff_stride) {
    return NegBinLoss(o, stride, y, flags.data(), n, 0.2f, scale, diff, diff_stride);
  };
  Check(negbin, outputs, labels, 1.f);
}

TEST(LossesGradcheck, PinballAwayFromTheKink) {
  for (const float tau : {0.1f, 0.5f, 0.9f}) {
    const LossFn pinball = [tau](const float* o, int64_t stride, const float* y, int64_t n, float scale, float* diff,
                                 int64_t diff_stride) {
      return PinballLoss(o, stride, y, n, tau, scale, diff, diff_stride);
    };
    Check(pinball, {-1.f, 0.5f, 2.3f, 7.f, 3.f}, {0.f, 2.f, 1.f, kMissing, 10.f}, 2.f);
  }
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// The calibrator's gradient w.r.t. both columns, on rows where the child is below, above and far above its parent.
TEST(LossesGradcheck, CalibratorPenalty) {
  const int64_t n = 5;
  // Column 0: child logits, column 1: parent logits.
  std::vector<float> outputs = {-2.f, 0.5f, 1.f, -1.f, 0.3f, 0.2f, 4.f, -3.f, -0.5f, 2.f};
  std::vector<float> diff(n * 2, 0.25f);  // the task losses' gradients already there: the penalty adds to them
  const float scale = 0.6f;
  const LossValue value = CalibratorPenalty(outputs.data(), outputs.data() + 1, 2, n, scale, diff.data(),
                                            diff.data() + 1, 2);
  EXPECT_EQ(value.count, n);
  const auto objective = [&] {
    return scale * CalibratorPenalty(outputs.data(), outputs.data() + 1, 2, n, scale, nullptr, nullptr, 0).Mean();
  };
  for (float& d : diff) d -= 0.25f;
  const Tensor x{outputs.data(), n, 2, 2};
  const Tensor analytic{diff.data(), n, 2, 2};
  EXPECT_TRUE(gradcheck::CheckGradient(x, analytic, objective, {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-5}));
  // Row 0 (child −2 below parent 0.5) has no penalty and no gradient; row 3 (4 above −3) has both.
  EXPECT_EQ(diff[0], 0.f);
  EXPECT_EQ(diff[1], 0.f);
  EXPECT_GT(diff[6], 0.f);
  EXPECT_LT(diff[7], 0.f);
  const double p_child = 1 / (1 + std::exp(-4.0)), p_parent = 1 / (1 + std::exp(3.0));
  EXPECT_GT(value.sum, p_child - p_parent - 1e-6);
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// A loss over several adjacent output columns per row (ziln's three, a treated task's two arms): the n × width
// outputs sit at column 1 of an n × (width + 2) matrix, the gradient in an n × (width + 1) one.
void CheckColumns(const std::function<LossValue(const float*, int64_t, float*, int64_t)>& loss,
                  const std::vector<float>& outputs_block, int64_t n, int64_t width, float scale) {
  const int64_t stride = width + 2;
  std::vector<float> matrix(n * stride, 0.f);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < width; ++j) matrix[i * stride + 1 + j] = outputs_block[i * width + j];
  }
  std::vector<float> diff(n * (width + 1), 7.f);  // garbage the loss must overwrite
  loss(matrix.data() + 1, stride, diff.data(), width + 1);
  const auto objective = [&] { return scale * loss(matrix.data() + 1, stride, nullptr, 0).Mean(); };
  const Tensor x{matrix.data() + 1, n, width, stride};
  const Tensor analytic{diff.data(), n, width, width + 1};
  EXPECT_TRUE(CheckGradient(x, analytic, objective, {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-5}));
}

TEST(LossesGradcheck, Ziln) {
  // (s, mu, r) per row: zeros and positive amounts from cents to thousands, one missing label, a wide and a
  // narrow sigma.
  const std::vector<float> outputs = {-1.f, 3.f,  0.5f, 0.4f, 2.f,  -1.f, 2.f,  5.f, 1.5f, -0.3f, 0.f, 0.f,
                                      0.8f, -1.f, 0.2f, 1.2f, 4.f,  -2.f, -3.f, 1.f, 0.f};
  const std::vector<float> labels = {0.f, 12.f, 800.f, 0.f, 0.05f, kMissing, 60.f};
  const int64_t n = static_cast<int64_t>(labels.size());
  CheckColumns(
      [&](const float* o, int64_t stride, float* diff, int64_t diff_stride) {
        return ZilnLoss(o, stride, labels.data(), n, 1.5f, diff, diff_stride);
      },
      outputs, n, 3, 1.5f);
}

TEST(LossesGradcheck, ArmLossPicksEachRowsArm) {
  TaskConfig converted;
  converted.name = "converted";
  converted.treatment = "treatment";
  const std::vector<float> outputs = {-1.f, 0.5f, 0.3f, 2.f, 1.f, -2.f, 0.2f, 0.1f, -0.5f, 1.5f, 3.f, -1.f};
  const std::vector<float> labels = {0.f, 1.f, 1.f, 0.f, kMissing, 1.f};
  const std::vector<float> treatment = {0.f, 1.f, 0.f, 1.f, 1.f, kMissing};
  const std::vector<float> weights = {2.f, 1.25f, 5.f, 1.1f, 3.f, 4.f};
  const int64_t n = static_cast<int64_t>(labels.size());
  for (const float* w : {static_cast<const float*>(nullptr), weights.data()}) {
    CheckColumns(
        [&](const float* o, int64_t stride, float* diff, int64_t diff_stride) {
          return ArmLoss(converted, 1, o, stride, labels.data(), nullptr, treatment.data(), w, n, 2.f, diff,
                         diff_stride);
        },
        outputs, n, 2, 2.f);
  }
  // ziln arms: three columns each.
  TaskConfig revenue;
  revenue.name = "revenue";
  revenue.kind = TaskKind::kRegression;
  revenue.loss = LossKind::kZiln;
  revenue.treatment = "treatment";
  std::vector<float> ziln_outputs;
  for (int64_t i = 0; i < n * 6; ++i) ziln_outputs.push_back(0.3f * static_cast<float>((i * 7) % 11) - 1.2f);
  const std::vector<float> amounts = {0.f, 30.f, 4.f, 0.f, kMissing, 9.f};
  CheckColumns(
      [&](const float* o, int64_t stride, float* diff, int64_t diff_stride) {
        return ArmLoss(revenue, 3, o, stride, amounts.data(), nullptr, treatment.data(), weights.data(), n, 1.f,
                       diff, diff_stride);
      },
      ziln_outputs, n, 6, 1.f);
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// ESCM²'s terms: rows reached (o = 1) and not (o = 0), one without a parent label and one reached without a task
// label (both left out). Conditional columns: 0 the task's logit s, 2 the imputation's u; outputs column 1 the
// parent's logit, whose σ is the propensity (row 6's is below the clip).
struct CounterfactualCase {
  static constexpr int64_t n = 8;
  std::vector<float> conditional = {0.3f, 9, -0.5f, -1.2f, 9, 0.4f, 2.f, 9, -2.f,  0.1f, 9, 1.f,
                                    -0.7f, 9, 0.2f, 1.5f, 9, -1.f, -2.5f, 9, 0.6f, 0.9f, 9, 0.f};
  std::vector<float> outputs = {9, -1.f, 9, 9, 0.5f, 9, 9, -2.f, 9, 9, 0.f, 9,
                                9, 1.f, 9, 9, -0.3f, 9, 9, -5.f, 9, 9, 2.f, 9};
  std::vector<float> parent = {1, 0, 1, kMissing, 0, 1, 1, 1};
  std::vector<float> labels = {1, 0, 0, 1, 0, kMissing, 1, 0};
  Tensor Conditional() { return {conditional.data(), n, 3, 3}; }
  Tensor Outputs() { return {outputs.data(), n, 3, 3}; }
};

TEST(LossesGradcheck, CounterfactualIpsAndDr) {
  for (const CounterfactualKind kind : {CounterfactualKind::kIps, CounterfactualKind::kDr}) {
    SCOPED_TRACE(kind == CounterfactualKind::kIps ? "ips" : "dr");
    CounterfactualCase c;
    const CounterfactualLink link{.kind = kind, .column = 0, .parent_column = 1,
                                  .imputation_column = kind == CounterfactualKind::kDr ? 2 : -1, .weight = 0.7f,
                                  .clip = 0.05f};
    std::vector<float> diff(c.n * 3, 0.f);
    const Tensor diff_view{diff.data(), c.n, 3, 3};
    const CounterfactualValue value = CounterfactualRisk(link, c.Conditional(), c.Outputs(), c.parent.data(),
                                                         c.labels.data(), c.n, &diff_view);
    EXPECT_EQ(value.count, 6);  // rows 3 (no parent label) and 5 (reached, no label) left out
    const auto part = [&](bool imputation) {
      const CounterfactualValue v =
          CounterfactualRisk(link, c.Conditional(), c.Outputs(), c.parent.data(), c.labels.data(), c.n, nullptr);
      return link.weight * (imputation ? v.imputation_sum : v.risk_sum) / static_cast<double>(v.count);
    };
    // d/ds of the risk (the imputed label held: u is not moved), d/du of the imputation loss.
    EXPECT_TRUE(gradcheck::CheckGradient(Tensor{c.conditional.data(), c.n, 1, 3}, Tensor{diff.data(), c.n, 1, 3},
                                         [&] { return part(false); }, {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-6}));
    EXPECT_TRUE(gradcheck::CheckGradient(Tensor{c.conditional.data() + 2, c.n, 1, 3},
                                         Tensor{diff.data() + 2, c.n, 1, 3}, [&] { return part(true); },
                                         {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-6}));
    for (const int64_t row : {3, 5}) {
      EXPECT_EQ(diff[row * 3], 0.f) << "row " << row;
      EXPECT_EQ(diff[row * 3 + 2], 0.f) << "row " << row;
    }
    EXPECT_EQ(diff[1 * 3 + 2], 0.f) << "an unreached row teaches the imputation nothing";
    if (kind == CounterfactualKind::kIps) {
      EXPECT_EQ(diff[1 * 3], 0.f) << "ips: an unreached row adds nothing";
      for (int64_t r = 0; r < c.n; ++r) EXPECT_EQ(diff[r * 3 + 2], 0.f);
      EXPECT_EQ(value.imputation_sum, 0.0);
    } else {
      EXPECT_NE(diff[1 * 3], 0.f) << "dr: an unreached row is pulled towards its imputed label";
    }
  }
}

// The values against the formulas written out. ips: Σ_reached logloss / max(σ(q), clip). dr, when the imputed
// labels equal the reached rows' labels: the reached rows' residuals vanish, and R is the mean imputed error over
// every row.
TEST(LossesGradcheck, CounterfactualValuesMatchTheirFormulas) {
  const auto sigma = [](double x) { return 1 / (1 + std::exp(-x)); };
  const auto logloss = [&](double y, double s) { return -(y * std::log(sigma(s)) + (1 - y) * std::log(1 - sigma(s))); };
  CounterfactualCase c;
  CounterfactualLink link{.kind = CounterfactualKind::kIps, .column = 0, .parent_column = 1, .clip = 0.05f};
  double want = 0;
  for (int64_t r : {0, 2, 6, 7}) {
    want += logloss(c.labels[r], c.conditional[r * 3]) / std::max(sigma(c.outputs[r * 3 + 1]), 0.05);
  }
  CounterfactualValue value =
      CounterfactualRisk(link, c.Conditional(), c.Outputs(), c.parent.data(), c.labels.data(), c.n, nullptr);
  EXPECT_NEAR(value.risk_sum, want, 1e-5 * want);
  EXPECT_EQ(value.count, 6);

  link.kind = CounterfactualKind::kDr;
  link.imputation_column = 2;
  for (int64_t r = 0; r < c.n; ++r) {
    // The imputed label of a reached row is its label (logit ±30); the others keep theirs.
    if (c.parent[r] == 1 && !std::isnan(c.labels[r])) c.conditional[r * 3 + 2] = c.labels[r] == 1 ? 30.f : -30.f;
  }
  want = 0;
  for (int64_t r : {0, 1, 2, 4, 6, 7}) want += logloss(sigma(c.conditional[r * 3 + 2]), c.conditional[r * 3]);
  value = CounterfactualRisk(link, c.Conditional(), c.Outputs(), c.parent.data(), c.labels.data(), c.n, nullptr);
  EXPECT_NEAR(value.risk_sum, want, 1e-4 * want);
  EXPECT_LT(value.imputation_sum, 1e-9);  // the imputation predicts the reached rows perfectly
}

}  // namespace
}  // namespace mtrec
