// The loss-weighting strategies' updates on hand-computed steps and toy problems, and their checkpoint state.
#include "train/task_weighting.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "common/error.h"

namespace mtrec {
namespace {

WeightingOptions Options(WeightingKind kind, std::vector<bool> regression = {false, false}) {
  WeightingOptions options;
  options.kind = kind;
  options.regression = std::move(regression);
  return options;
}

TaskMatrix Diagonal(std::vector<double> d) {
  TaskMatrix gram(d.size(), std::vector<double>(d.size(), 0.0));
  for (size_t i = 0; i < d.size(); ++i) gram[i][i] = d[i];
  return gram;
}

TEST(TaskWeightingTest, StaticIsAllOnes) {
  TaskWeighting weighting(Options(WeightingKind::kStatic), 2);
  EXPECT_FALSE(weighting.NeedsGradients());
  const TaskCoefficients c = weighting.Step({0.3, 7.0}, nullptr, 1);
  EXPECT_EQ(c.shared, std::vector<double>({1.0, 1.0}));
  EXPECT_EQ(c.specific, c.shared);
}

TEST(TaskWeightingTest, DwaFollowsTheDescentRates) {
  WeightingOptions options = Options(WeightingKind::kDwa);
  options.dwa_temperature = 2.0;
  TaskWeighting weighting(options, 2);
  weighting.BeginEpoch({{1.0, 1.0}});  // one epoch done: not enough history, weights 1
  EXPECT_EQ(weighting.Step({1, 1}, nullptr, 1).shared, std::vector<double>({1.0, 1.0}));
  // r = (0.5/1, 1/1) = (0.5, 1); w = 2 softmax(r / 2) = 2 e^{0.25} / (e^{0.25} + e^{0.5}), ...
  weighting.BeginEpoch({{1.0, 1.0}, {0.5, 1.0}});
  const std::vector<double> w = weighting.Step({1, 1}, nullptr, 1).shared;
  const double e1 = std::exp(0.25), e2 = std::exp(0.5);
  EXPECT_NEAR(w[0], 2 * e1 / (e1 + e2), 1e-12);
  EXPECT_NEAR(w[1], 2 * e2 / (e1 + e2), 1e-12);
  EXPECT_LT(w[0], w[1]);  // the task whose loss fell faster gets less weight
}

TEST(TaskWeightingTest, RandomWeightsHaveMeanOneAndFollowTheSeed) {
  TaskWeighting weighting(Options(WeightingKind::kRlw, {false, false, true}), 3);
  const std::vector<double> a = weighting.Step({1, 1, 1}, nullptr, 11).shared;
  const std::vector<double> b = weighting.Step({1, 1, 1}, nullptr, 11).shared;
  const std::vector<double> c = weighting.Step({1, 1, 1}, nullptr, 12).shared;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NEAR(std::accumulate(a.begin(), a.end(), 0.0), 3.0, 1e-12);
  for (double v : a) EXPECT_GT(v, 0.0);
}

TEST(TaskWeightingTest, UncertaintyFirstStepByHand) {
  WeightingOptions options = Options(WeightingKind::kUncertainty, {false, true});
  options.lr = 0.1;
  TaskWeighting weighting(options, 2);
  // s = 0: coefficients e^0 = 1 (classification), ½ e^0 (regression).
  TaskCoefficients c = weighting.Step({2.0, 0.5}, nullptr, 1);
  EXPECT_EQ(c.shared, std::vector<double>({1.0, 0.5}));
  // d/ds = ½ - c L: (½ - 2, ½ - ¼) = (-1.5, 0.25); Adam's first step is lr · sign: s = (0.1, -0.1).
  // (Adam's ε = 1e-8 shortens the step by at most lr ε / |g|.)
  EXPECT_NEAR(weighting.learned()[0], 0.1, 1e-7);
  EXPECT_NEAR(weighting.learned()[1], -0.1, 1e-7);
  c = weighting.Step({2.0, 0.5}, nullptr, 1);
  EXPECT_NEAR(c.shared[0], std::exp(-0.1), 1e-7);
  EXPECT_NEAR(c.shared[1], 0.5 * std::exp(0.1), 1e-7);
  // A task without labels in the batch (NaN loss) keeps its log-variance.
  const double before = weighting.learned()[1];
  weighting.Step({2.0, NAN}, nullptr, 1);
  EXPECT_EQ(weighting.learned()[1], before);
}

TEST(TaskWeightingTest, UncertaintyConvergesToTheLossScale) {
  // With constant losses the optimum of c L + ½ s is c L = ½: s = log(2L) for classification, log L for
  // regression; a task with 10× the loss ends with 1/10 of the weight.
  WeightingOptions options = Options(WeightingKind::kUncertainty, {false, true});
  options.lr = 0.02;
  TaskWeighting weighting(options, 2);
  TaskCoefficients c;
  for (int step = 0; step < 4000; ++step) c = weighting.Step({0.3, 20.0}, nullptr, 1);
  EXPECT_NEAR(weighting.learned()[0], std::log(0.6), 0.03);
  EXPECT_NEAR(weighting.learned()[1], std::log(20.0), 0.03);
  EXPECT_NEAR(c.shared[0] * 0.3, 0.5, 0.02);
  EXPECT_NEAR(c.shared[1] * 20.0, 0.5, 0.02);
}

TEST(TaskWeightingTest, GradNormFirstStepByHand) {
  WeightingOptions options = Options(WeightingKind::kGradNorm);
  options.lr = 0.1;
  options.gradnorm_alpha = 1.5;
  TaskWeighting weighting(options, 2);
  ASSERT_TRUE(weighting.NeedsGradients());
  // |g| = (2, 1), w = (1, 1): G = (2, 1), mean 1.5. First step: L(0) = L, ratios 1, targets 1.5 for both.
  // d/dw = sign(G - target) |g| = (+2, -1); Adam's first step: w = (0.9, 1.1), already summing to 2.
  const TaskMatrix gram = Diagonal({4, 1});
  TaskCoefficients c = weighting.Step({0.7, 0.2}, &gram, 1);
  EXPECT_EQ(c.shared, std::vector<double>({1.0, 1.0}));
  EXPECT_NEAR(weighting.learned()[0], 0.9, 1e-9);
  EXPECT_NEAR(weighting.learned()[1], 1.1, 1e-9);
  c = weighting.Step({0.7, 0.2}, &gram, 1);
  EXPECT_NEAR(c.shared[0], 0.9, 1e-9);
  EXPECT_NEAR(c.shared[1], 1.1, 1e-9);
}

TEST(TaskWeightingTest, GradNormBalancesGradientNormsAndFavoursSlowTasks) {
  // Equal loss ratios: the weighted norms w_k |g_k| meet, w = (2/3, 4/3) for |g| = (2, 1).
  WeightingOptions options = Options(WeightingKind::kGradNorm);
  options.lr = 0.002;
  TaskWeighting weighting(options, 2);
  const TaskMatrix gram = Diagonal({4, 1});
  for (int step = 0; step < 3000; ++step) weighting.Step({0.5, 0.5}, &gram, 1);
  EXPECT_NEAR(weighting.learned()[0], 2.0 / 3, 0.01);
  EXPECT_NEAR(weighting.learned()[1], 4.0 / 3, 0.01);
  // A task whose loss stays at its start while the other's halves trains "slower": r = (4/3, 2/3) and with α = 1
  // its target norm is twice the other's: w_0 |g_0| = 2 w_1 |g_1| with |g| = (1, 1): w = (4/3, 2/3).
  options.gradnorm_alpha = 1.0;
  TaskWeighting slow(options, 2);
  const TaskMatrix unit = Diagonal({1, 1});
  slow.Step({1.0, 1.0}, &unit, 1);  // L(0)
  for (int step = 0; step < 3000; ++step) slow.Step({1.0, 0.5}, &unit, 1);
  EXPECT_NEAR(slow.learned()[0], 4.0 / 3, 0.01);
  EXPECT_NEAR(slow.learned()[1], 2.0 / 3, 0.01);
}

TEST(TaskWeightingTest, GradientStrategiesLeaveTaskParametersAlone) {
  const TaskMatrix gram = {{1, -1}, {-1, 2}};
  for (WeightingKind kind : {WeightingKind::kPcgrad, WeightingKind::kMgda, WeightingKind::kCagrad}) {
    TaskWeighting weighting(Options(kind), 2);
    ASSERT_TRUE(weighting.CombinesGradients());
    const TaskCoefficients c = weighting.Step({1, 1}, &gram, 3);
    EXPECT_EQ(c.specific, std::vector<double>({1.0, 1.0}));
    EXPECT_NE(c.shared, c.specific);
  }
  TaskWeighting pcgrad(Options(WeightingKind::kPcgrad), 2);
  EXPECT_THROW(pcgrad.Step({1, 1}, nullptr, 1), Error);
}

// A task without labels in the batch, or whose gradient meets no other task's, is left out of the combination
// (coefficient 1): otherwise its zero vector would be MGDA's min-norm point and stop every other task.
TEST(TaskWeightingTest, GradientStrategiesCombineOnlyTasksWithSharedGradients) {
  // Tasks 0 and 1 conflict; task 2 has no shared gradient; task 3 has no labels in the batch.
  const TaskMatrix gram = {{1, -0.5, 0, 0.3}, {-0.5, 2, 0, 0.1}, {0, 0, 0, 0}, {0.3, 0.1, 0, 1}};
  const std::vector<double> losses = {0.2, 0.3, 0.1, NAN};
  const TaskMatrix pair = {{1, -0.5}, {-0.5, 2}};
  TaskWeighting mgda(Options(WeightingKind::kMgda, {false, false, false, false}), 4);
  TaskCoefficients c = mgda.Step(losses, &gram, 1);
  const std::vector<double> expected = MinNormCoefficients(pair);
  EXPECT_NEAR(c.shared[0], expected[0], 1e-12);
  EXPECT_NEAR(c.shared[1], expected[1], 1e-12);
  EXPECT_GT(c.shared[0], 0.1);  // not swallowed by task 2's zero gradient
  EXPECT_EQ(c.shared[2], 1.0);
  EXPECT_EQ(c.shared[3], 1.0);
  TaskWeighting cagrad(Options(WeightingKind::kCagrad, {false, false, false, false}), 4);
  c = cagrad.Step(losses, &gram, 1);
  const std::vector<double> ca = CagradCoefficients(pair, 0.5);
  EXPECT_NEAR(c.shared[0], ca[0], 1e-12);
  EXPECT_NEAR(c.shared[1], ca[1], 1e-12);
  EXPECT_EQ(c.shared[2], 1.0);
  // Nothing shared at all (single_task): every strategy is `static`.
  const TaskMatrix none = {{0, 0}, {0, 0}};
  TaskWeighting pcgrad(Options(WeightingKind::kPcgrad), 2);
  EXPECT_EQ(pcgrad.Step({0.1, 0.2}, &none, 1).shared, std::vector<double>({1.0, 1.0}));
  // One task: MGDA's hull is the one gradient.
  TaskWeighting single(Options(WeightingKind::kMgda, {false}), 1);
  const TaskMatrix one = {{4}};
  EXPECT_EQ(single.Step({0.5}, &one, 1).shared, std::vector<double>({1.0}));
}

TEST(TaskWeightingTest, LateTasksTakeAFirstAdamStepOfTheLearningRate) {
  // Task 1 has no labels for 50 steps; its first update is still lr · sign (its own bias correction).
  WeightingOptions options = Options(WeightingKind::kUncertainty);
  options.lr = 0.1;
  TaskWeighting weighting(options, 2);
  for (int step = 0; step < 50; ++step) weighting.Step({0.3, NAN}, nullptr, 1);
  EXPECT_EQ(weighting.learned()[1], 0.0);
  weighting.Step({0.3, 2.0}, nullptr, 1);
  EXPECT_NEAR(weighting.learned()[1], 0.1, 1e-7);
}

TEST(TaskWeightingTest, StateRoundTripsThroughACheckpoint) {
  WeightingOptions options = Options(WeightingKind::kGradNorm);
  const TaskMatrix gram = Diagonal({4, 1});
  TaskWeighting a(options, 2);
  for (int step = 0; step < 10; ++step) a.Step({0.5, 0.4}, &gram, 1);
  std::string state;
  a.Serialize(&state);
  TaskWeighting b(options, 2);
  b.Deserialize(state);
  for (int step = 0; step < 10; ++step) {
    EXPECT_EQ(a.Step({0.45, 0.41}, &gram, 1).shared, b.Step({0.45, 0.41}, &gram, 1).shared);
  }
  TaskWeighting other(Options(WeightingKind::kUncertainty), 2);
  EXPECT_THROW(other.Deserialize(state), Error);
}

}  // namespace
}  // namespace mtrec
