#include "train/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "common/error.h"
#include "train/count_survival.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

TaskConfig Task(TaskKind kind, LossKind loss, double pos_weight = 1.0) {
  TaskConfig task;
  task.name = "t";
  task.kind = kind;
  task.loss = loss;
  task.pos_weight = pos_weight;
  return task;
}
const TaskConfig kBinary = Task(TaskKind::kBinary, LossKind::kLogloss);
const TaskConfig kSquared = Task(TaskKind::kRegression, LossKind::kMse);
const TaskConfig kHuber = Task(TaskKind::kRegression, LossKind::kHuber);

TEST(LossesTest, BceMatchesHandValuesAndSkipsMissingLabels) {
  // Outputs in column 1 of a 3-wide matrix (stride 3); gradients into stride 2.
  const std::vector<float> outputs = {9, 0.f, 9, 9, 2.f, 9, 9, -1.f, 9, 9, 100.f, 9};
  const std::vector<float> labels = {1.f, 0.f, kMissing, 0.f};
  std::vector<float> diff(8, 7.f);
  const LossValue loss = BceWithLogits(outputs.data() + 1, 3, labels.data(), 4, 2.f, diff.data(), 2);
  EXPECT_EQ(loss.count, 3);
  // log(2) + (2 + log1p(e^-2)) + (100 + log1p(e^-100)).
  const double expected = std::log(2.0) + 2.0 + std::log1p(std::exp(-2.0)) + 100.0;
  EXPECT_NEAR(loss.sum, expected, 1e-9);
  EXPECT_NEAR(loss.Mean(), expected / 3, 1e-9);
  // (sigmoid(s) - y) · scale / count.
  EXPECT_NEAR(diff[0], (0.5 - 1.0) * 2 / 3, 1e-7);
  EXPECT_NEAR(diff[2], (1 / (1 + std::exp(-2.0))) * 2 / 3, 1e-7);
  EXPECT_EQ(diff[4], 0.f);
  EXPECT_NEAR(diff[6], 1.0 * 2 / 3, 1e-7);
  EXPECT_EQ(diff[1], 7.f);  // the stride's gaps are left alone
}

TEST(LossesTest, BceAcceptsSoftLabelsAndRefusesOutOfRangeOnes) {
  const float s = 0.3f;
  const float y = 0.25f;
  float diff = 0;
  const LossValue loss = BceWithLogits(&s, 1, &y, 1, 1.f, &diff, 1);
  const double p = 1 / (1 + std::exp(-0.3));
  EXPECT_NEAR(loss.sum, -(0.25 * std::log(p) + 0.75 * std::log(1 - p)), 1e-7);
  EXPECT_NEAR(diff, p - 0.25, 1e-7);
  const float bad = 2.f;
  EXPECT_THROW(BceWithLogits(&s, 1, &bad, 1, 1.f, &diff, 1), Error);
}

TEST(LossesTest, PosWeightScalesThePositiveRowsAndDividesByTheRowCount) {
  // Logits in column 0 of a 2-wide matrix; rows: positive, negative, missing, soft label 0.25.
  const std::vector<float> outputs = {0.5f, 9, -1.f, 9, 3.f, 9, 2.f, 9};
  const std::vector<float> labels = {1.f, 0.f, kMissing, 0.25f};
  const float w = 4.f;
  std::vector<float> diff(4, 7.f);
  const LossValue loss = WeightedBceWithLogits(outputs.data(), 2, labels.data(), 4, w, 3.f, diff.data(), 1);
  auto p = [](double s) { return 1 / (1 + std::exp(-s)); };
  // -(w·y·log p + (1 - y)·log(1 - p)) row by row, as torch.nn.BCEWithLogitsLoss(pos_weight=4) writes it.
  const double positive = -w * std::log(p(0.5));
  const double negative = -std::log(1 - p(-1.0));
  const double soft = -(w * 0.25 * std::log(p(2.0)) + 0.75 * std::log(1 - p(2.0)));
  EXPECT_EQ(loss.count, 3);
  EXPECT_NEAR(loss.sum, positive + negative + soft, 1e-9);
  EXPECT_NEAR(loss.Mean(), (positive + negative + soft) / 3, 1e-9);  // over the labelled rows, not Σ weights
  // ((1 - y + w·y)·σ(s) - w·y) · scale / count.
  EXPECT_NEAR(diff[0], (w * p(0.5) - w) * 3 / 3, 1e-6);
  EXPECT_NEAR(diff[1], p(-1.0) * 3 / 3, 1e-6);
  EXPECT_EQ(diff[2], 0.f);
  EXPECT_NEAR(diff[3], ((0.75 + w * 0.25) * p(2.0) - w * 0.25) * 3 / 3, 1e-6);
  // Weight 1 is the plain loss; a weight of 0 or less is refused.
  const LossValue plain = WeightedBceWithLogits(outputs.data(), 2, labels.data(), 4, 1.f, 1.f, nullptr, 0);
  EXPECT_EQ(plain.sum, BceWithLogits(outputs.data(), 2, labels.data(), 4, 1.f, nullptr, 0).sum);
  EXPECT_THROW(WeightedBceWithLogits(outputs.data(), 2, labels.data(), 4, 0.f, 1.f, nullptr, 0), Error);
}

TEST(LossesTest, WeightedConstantPredictorIsTheBestConstantsLoss) {
  // Positive rate 1/4 with w = 3: the best constant p = 3/4 / (3/4 + 3/4) = 1/2, loss (3/4 + 3/4)·log 2.
  const std::vector<float> labels = {1, 0, 0, 0};
  EXPECT_NEAR(ConstantPredictorLoss(Task(TaskKind::kBinary, LossKind::kLogloss, 3.0), labels), 1.5 * std::log(2.0), 1e-12);
  // No constant does better: the weighted loss of a few others is larger.
  for (const double q : {0.3, 0.45, 0.55, 0.7}) {
    EXPECT_GT(-(3.0 * 0.25 * std::log(q) + 0.75 * std::log(1 - q)), 1.5 * std::log(2.0)) << q;
  }
}

TEST(LossesTest, MseIsTheSquareWithoutAHalf) {
  const std::vector<float> outputs = {1.f, 3.f, -2.f};
  const std::vector<float> labels = {0.f, kMissing, 1.f};
  std::vector<float> diff(3, 5.f);
  const LossValue loss = Mse(outputs.data(), 1, labels.data(), 3, 1.f, diff.data(), 1);
  EXPECT_EQ(loss.count, 2);
  EXPECT_DOUBLE_EQ(loss.sum, 1.0 + 9.0);
  EXPECT_FLOAT_EQ(diff[0], 2.f * 1 / 2);
  EXPECT_EQ(diff[1], 0.f);
  EXPECT_FLOAT_EQ(diff[2], 2.f * -3 / 2);
}

TEST(LossesTest, HuberIsQuadraticInsideDeltaAndLinearOutside) {
  const std::vector<float> outputs = {0.5f, 4.f, -3.f, 0.f};
  const std::vector<float> labels = {0.f, 0.f, 0.f, kMissing};
  std::vector<float> diff(4, 5.f);
  const LossValue loss = Huber(outputs.data(), 1, labels.data(), 4, 1.f, 3.f, diff.data(), 1);
  EXPECT_EQ(loss.count, 3);
  EXPECT_DOUBLE_EQ(loss.sum, 0.125 + 3.5 + 2.5);
  EXPECT_FLOAT_EQ(diff[0], 0.5f * 3 / 3);
  EXPECT_FLOAT_EQ(diff[1], 1.f * 3 / 3);
  EXPECT_FLOAT_EQ(diff[2], -1.f * 3 / 3);
  EXPECT_EQ(diff[3], 0.f);
  EXPECT_THROW(Huber(outputs.data(), 1, labels.data(), 4, 0.f, 1.f, diff.data(), 1), Error);
}

TEST(LossesTest, AllLabelsMissingGivesZeroLossAndGradient) {
  const std::vector<float> outputs = {1.f, 2.f};
  const std::vector<float> labels = {kMissing, kMissing};
  std::vector<float> diff(2, 5.f);
  const LossValue loss = Mse(outputs.data(), 1, labels.data(), 2, 1.f, diff.data(), 1);
  EXPECT_EQ(loss.count, 0);
  EXPECT_EQ(loss.sum, 0.0);
  EXPECT_EQ(loss.Mean(), 0.0);
  EXPECT_EQ(diff, (std::vector<float>{0.f, 0.f}));
}

TEST(LossesTest, NullDiffOnlyEvaluates) {
  const std::vector<float> outputs = {1.f, 2.f};
  const std::vector<float> labels = {0.f, 1.f};
  const LossValue loss = BceWithLogits(outputs.data(), 1, labels.data(), 2, 1.f, nullptr, 0);
  EXPECT_EQ(loss.count, 2);
  EXPECT_GT(loss.sum, 0.0);
}

TEST(LossesTest, ConstantPredictorLossByHand) {
  // Binary: positive rate ¼ over the labelled rows: H(¼) = -¼ ln ¼ - ¾ ln ¾.
  const std::vector<float> clicks = {1, 0, NAN, 0, 0};
  EXPECT_NEAR(ConstantPredictorLoss(kBinary, clicks), -0.25 * std::log(0.25) - 0.75 * std::log(0.75), 1e-12);
  // Regression: the variance (mean 2 of 1, 2, 3 → (1 + 0 + 1) / 3).
  const std::vector<float> gmv = {1, 2, NAN, 3};
  EXPECT_NEAR(ConstantPredictorLoss(kSquared, gmv), 2.0 / 3, 1e-12);
  // Huber with delta 1 around the mean 2 of 0, 2, 4: errors -2, 0, 2 → 1·(2 - ½) twice, over 3 rows.
  EXPECT_NEAR(ConstantPredictorLoss(kHuber, {0, 2, 4}), 1.0, 1e-12);
  // Only where the parent is 1: labels 1, 1 of rows 0 and 3; a constant task has no loss to divide by.
  const std::vector<float> parent = {1, 0, 0, 1, 0};
  EXPECT_EQ(ConstantPredictorLoss(kSquared, {5, 1, 9, 5, 2}, &parent), 0.0);
  EXPECT_NEAR(ConstantPredictorLoss(kBinary, {1, 0, 0, 0, 0}, &parent), std::log(2.0), 1e-12);
  EXPECT_TRUE(std::isnan(ConstantPredictorLoss(kBinary, {NAN, NAN})));
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

TaskConfig CountTask(LossKind loss) {
  TaskConfig task = Task(TaskKind::kRegression, loss);
  task.name = "sales";
  return task;
}

TEST(CountLossesTest, PoissonTweedieAndNegBinMatchHandValues) {
  const std::vector<float> outputs = {0.f, std::log(2.f), std::log(4.f), 1.f};
  const std::vector<float> labels = {3.f, 0.f, 2.f, kMissing};
  std::vector<float> diff(4, 7.f);
  // Poisson: μ − y·s per row: 1 − 0, 2 − 0, 4 − 2·log 4; d/ds = μ − y, divided by the 3 labelled rows.
  const LossValue poisson = PoissonLoss(outputs.data(), 1, labels.data(), nullptr, 4, 3.f, diff.data(), 1);
  EXPECT_EQ(poisson.count, 3);
  EXPECT_NEAR(poisson.sum, 1.0 + 2.0 + 4.0 - 2.0 * std::log(4.0), 1e-6);
  EXPECT_NEAR(diff[0], (1.0 - 3.0) * 3 / 3, 1e-6);
  EXPECT_NEAR(diff[1], 2.0, 1e-6);
  EXPECT_NEAR(diff[2], 2.0, 1e-6);
  EXPECT_EQ(diff[3], 0.f);
  // Tweedie p = 1.5 at μ = 4, y = 2: −2·4^{-0.5}/(−0.5) + 4^{0.5}/0.5 = 2 + 4; d/ds = −2·0.5 + 2 = 1.
  const LossValue tweedie = TweedieLoss(outputs.data() + 2, 1, labels.data() + 2, 1, 1.5f, 1.f, diff.data(), 1);
  EXPECT_NEAR(tweedie.sum, 6.0, 1e-5);
  EXPECT_NEAR(diff[0], 1.0, 1e-5);
  // NB2 with α = 0.5 (r = 2) at μ = 4, y = 2: −log[Γ(4)/(Γ(2)·2!) (2/6)² (4/6)²] = −log(3 · 1/9 · 4/9);
  // d/ds = r(μ − y)/(r + μ) = 2·2/6.
  const LossValue negbin =
      NegBinLoss(outputs.data() + 2, 1, labels.data() + 2, nullptr, 1, 0.5f, 1.f, diff.data(), 1);
  EXPECT_NEAR(negbin.sum, -std::log(3.0 / 9.0 * 4.0 / 9.0), 1e-5);
  EXPECT_NEAR(diff[0], 4.0 / 6.0, 1e-6);
  // As α → 0 the NB likelihood becomes Poisson's (with its log y! included).
  const LossValue near_poisson =
      NegBinLoss(outputs.data() + 2, 1, labels.data() + 2, nullptr, 1, 1e-6f, 1.f, nullptr, 0);
  EXPECT_NEAR(near_poisson.sum, 4.0 - 2.0 * std::log(4.0) + std::log(2.0), 1e-3);
}

TEST(CountLossesTest, PinballWeighsEachSideByItsQuantile) {
  // τ = 0.9: y above q costs 0.9 per unit, below 0.1; at y = q the gradient is 0.
  const std::vector<float> outputs = {1.f, 5.f, 2.f};
  const std::vector<float> labels = {3.f, 1.f, 2.f};
  std::vector<float> diff(3);
  const LossValue loss = PinballLoss(outputs.data(), 1, labels.data(), 3, 0.9f, 3.f, diff.data(), 1);
  EXPECT_NEAR(loss.sum, 0.9 * 2 + 0.1 * 4, 1e-6);
  EXPECT_NEAR(diff[0], -0.9, 1e-6);
  EXPECT_NEAR(diff[1], 0.1, 1e-6);
  EXPECT_EQ(diff[2], 0.f);
  EXPECT_THROW(PinballLoss(outputs.data(), 1, labels.data(), 3, 1.f, 1.f, nullptr, 0), Error);
}

TEST(CountLossesTest, NegativeCountsAreRefusedNamingTheTask) {
  const std::vector<float> outputs = {0.f, 0.f};
  const std::vector<float> labels = {1.f, -2.f};
  for (const LossKind loss : {LossKind::kPoisson, LossKind::kTweedie, LossKind::kNegbin}) {
    try {
      TaskLoss(CountTask(loss), outputs.data(), 1, labels.data(), nullptr, 2, 1.f, nullptr, 0);
      ADD_FAILURE() << "a negative count was accepted by " << NameOf(loss);
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("task 'sales'"), std::string::npos) << message;
      EXPECT_NE(message.find("-2"), std::string::npos) << message;
      EXPECT_NE(message.find("negative"), std::string::npos) << message;
    }
  }
  const std::vector<float> flags = {0.f, 0.5f};
  const std::vector<float> counts = {1.f, 2.f};
  EXPECT_THROW(PoissonLoss(outputs.data(), 1, counts.data(), flags.data(), 2, 1.f, nullptr, 0), Error);
}

// log P(Y >= y) by summing the upper tail's probabilities one by one (log-sum-exp), until they are e^-45 below the
// largest past the mode (the pmf is unimodal and its tail at least geometric).
double SlowLogSurvival(int64_t y, const std::function<double(int64_t)>& log_pmf) {
  std::vector<double> terms;
  double top = -INFINITY;
  for (int64_t k = y;; ++k) {
    const double term = log_pmf(k);
    terms.push_back(term);
    if (term < top - 45) break;
    top = std::max(top, term);
  }
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return top + std::log(sum);
}

TEST(CountSurvivalTest, PoissonAndNegBinMatchASlowSumOfTheTail) {
  for (const double mu : {0.05, 1.0, 3.7, 40.0, 900.0}) {
    for (const int64_t y : {1, 2, 5, 30, 800, 1000}) {
      const double s = std::log(mu);
      const double poisson = SlowLogSurvival(
          y, [&](int64_t k) { return k * s - mu - std::lgamma(k + 1.0); });
      EXPECT_NEAR(PoissonLogSurvival(static_cast<double>(y), s).log_survival, poisson, 1e-9 * (1 + std::abs(poisson)))
          << "poisson y " << y << " mu " << mu;
      for (const double alpha : {0.05, 0.5, 2.0}) {
        const double r = 1 / alpha;
        const double negbin = SlowLogSurvival(
            y,
            [&](int64_t k) {
              return std::lgamma(k + r) - std::lgamma(r) - std::lgamma(k + 1.0) + r * std::log(r / (r + mu)) +
                     k * std::log(mu / (r + mu));
            });
        EXPECT_NEAR(NegBinLogSurvival(static_cast<double>(y), s, alpha).log_survival, negbin,
                    1e-8 * (1 + std::abs(negbin)))
            << "negbin y " << y << " mu " << mu << " alpha " << alpha;
      }
    }
  }
  // y = 0 is certain: no loss, no gradient.
  EXPECT_EQ(PoissonLogSurvival(0, 2.0).log_survival, 0.0);
  EXPECT_EQ(NegBinLogSurvival(0, 2.0, 0.5).d_ds, 0.0);
  EXPECT_THROW(PoissonLogSurvival(-1, 0.0), Error);
}

TEST(CountSurvivalTest, CensoredRowsUseTheSurvivalForm) {
  // Row 0 censored at 3 with μ = 2: −log P(Y >= 3) = −log(1 − e^{-2}(1 + 2 + 2)); row 1 is an ordinary row.
  const std::vector<float> outputs = {std::log(2.f), std::log(2.f)};
  const std::vector<float> labels = {3.f, 3.f};
  const std::vector<float> censored = {1.f, 0.f};
  TaskConfig task = CountTask(LossKind::kPoisson);
  task.censored = "stockout";
  const LossValue loss = TaskLoss(task, outputs.data(), 1, labels.data(), censored.data(), 2, 1.f, nullptr, 0);
  const double tail = -std::log(1 - std::exp(-2.0) * 5);
  EXPECT_NEAR(loss.sum, tail + 2.0 - 3.0 * std::log(2.0), 1e-6);
  // Without `censored` in the config the column is not read.
  task.censored.clear();
  EXPECT_NEAR(TaskLoss(task, outputs.data(), 1, labels.data(), censored.data(), 2, 1.f, nullptr, 0).sum,
              2 * (2.0 - 3.0 * std::log(2.0)), 1e-6);
}

TEST(CountLossesTest, ConstantPredictorIsTheExcessOfTheMeanOverTheSaturatedModel) {
  const std::vector<float> labels = {0, 1, 2, 5, NAN};
  // Poisson at the mean m = 2: Σ (m − y log m) − Σ (y − y log y), over 4 rows: half the Poisson deviance.
  const double m = 2.0;
  double expected = 0;
  for (const double y : {0.0, 1.0, 2.0, 5.0}) expected += (m - y * std::log(m)) - (y > 0 ? y - y * std::log(y) : 0);
  const TaskConfig poisson = CountTask(LossKind::kPoisson);
  EXPECT_NEAR(ConstantPredictorLoss(poisson, labels), expected / 4, 1e-6);
  EXPECT_GT(ConstantPredictorLoss(CountTask(LossKind::kTweedie), labels), 0.0);
  EXPECT_GT(ConstantPredictorLoss(CountTask(LossKind::kNegbin), labels), 0.0);
  EXPECT_NEAR(BestConstantOutput(poisson, labels), std::log(2.0), 1e-7);
  // Pinball τ = 0.5: the median 1 (the lower middle of 0 1 2 5); losses ½·(1 + 0 + 1 + 4) / 4.
  TaskConfig pinball = CountTask(LossKind::kPinball);
  EXPECT_EQ(BestConstantOutput(pinball, labels), 1.0);
  EXPECT_NEAR(ConstantPredictorLoss(pinball, labels), 0.5 * 6 / 4, 1e-7);
  pinball.quantile = 0.9;
  EXPECT_EQ(BestConstantOutput(pinball, labels), 5.0);
  // All zeros: a mean of 0 is perfect, nothing to divide by.
  EXPECT_EQ(ConstantPredictorLoss(poisson, {0, 0, 0}), 0.0);
}

}  // namespace
}  // namespace mtrec
