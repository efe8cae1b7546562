#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"
#include "nn/embedding.h"
#include "nn/parameters.h"
#include "train/dense_optimizer.h"
#include "train/sparse_optimizer.h"

namespace mtrec {
namespace {

// A weight (decayed) and a bias (not decayed), with given values and gradients.
struct TwoParameters {
  TwoParameters() {
    weight = arena.Reserve("w", 2, 2, Init::kZero, /*decay=*/true);
    bias = arena.Reserve("b", 1, 3, Init::kZero, /*decay=*/false);
    arena.Allocate();
  }
  void Set(size_t id, std::vector<float> values, std::vector<float> grads) {
    std::copy(values.begin(), values.end(), arena.Value(id));
    std::copy(grads.begin(), grads.end(), arena.Grad(id));
  }
  std::vector<float> Values(size_t id) {
    return std::vector<float>(arena.Value(id), arena.Value(id) + arena.Info(id).size());
  }
  ParameterArena arena;
  size_t weight;
  size_t bias;
};

TEST(DenseOptimizerTest, AdamFirstStepMovesEachWeightByLrTimesSignOfGradient) {
  TwoParameters p;
  p.Set(p.weight, {1.f, 1.f, 1.f, 1.f}, {0.5f, -3.f, 1e-3f, 0.f});
  p.Set(p.bias, {0.f, 0.f, 0.f}, {100.f, -0.01f, 0.f});
  DenseOptimizer adam(p.arena, {.kind = DenseOptimizerKind::kAdam, .lr = 0.1f});
  adam.Step();
  EXPECT_EQ(adam.step(), 1);
  const std::vector<float> w = p.Values(p.weight);
  EXPECT_NEAR(w[0], 0.9f, 1e-6);
  EXPECT_NEAR(w[1], 1.1f, 1e-6);
  EXPECT_NEAR(w[2], 0.9f, 1e-4);  // |g| = 1e-3 is still far above eps
  EXPECT_EQ(w[3], 1.f);           // zero gradient: no move
  const std::vector<float> b = p.Values(p.bias);
  EXPECT_NEAR(b[0], -0.1f, 1e-6);
  EXPECT_NEAR(b[1], 0.1f, 1e-5);
  EXPECT_EQ(b[2], 0.f);
  // Gradients are the caller's to clear.
  EXPECT_EQ(p.arena.Grad(p.weight)[0], 0.5f);
}

TEST(DenseOptimizerTest, AdamSecondStepFollowsTheBiasCorrectedMoments) {
  TwoParameters p;
  p.Set(p.weight, {0.f, 0.f, 0.f, 0.f}, {1.f, 0.f, 0.f, 0.f});
  const float lr = 0.01f;
  DenseOptimizer adam(p.arena, {.kind = DenseOptimizerKind::kAdam, .lr = lr});
  adam.Step();
  p.arena.Grad(p.weight)[0] = -2.f;
  adam.Step();
  // By hand: g1 = 1, g2 = -2.
  const double m = 0.9 * 0.1 * 1 + 0.1 * -2;           // -0.11
  const double v = 0.999 * 0.001 * 1 + 0.001 * 4;      // 0.004999
  const double m_hat = m / (1 - 0.9 * 0.9);
  const double v_hat = v / (1 - 0.999 * 0.999);
  const double expected = -lr - lr * m_hat / (std::sqrt(v_hat) + 1e-8);
  EXPECT_NEAR(p.Values(p.weight)[0], expected, 1e-6);
}

TEST(DenseOptimizerTest, AdamWDecaysOnlyDecayedParametersDecoupledFromTheGradient) {
  TwoParameters p;
  p.Set(p.weight, {2.f, -4.f, 0.f, 1.f}, {0.f, 0.f, 0.f, 0.f});
  p.Set(p.bias, {2.f, -4.f, 1.f}, {0.f, 0.f, 0.f});
  DenseOptimizer adamw(p.arena, {.kind = DenseOptimizerKind::kAdamW, .lr = 0.1f, .weight_decay = 0.5f});
  adamw.Step();
  // w ← w - lr·λ·w = 0.95·w; the zero gradient adds nothing.
  const std::vector<float> w = p.Values(p.weight);
  EXPECT_FLOAT_EQ(w[0], 1.9f);
  EXPECT_FLOAT_EQ(w[1], -3.8f);
  EXPECT_FLOAT_EQ(w[3], 0.95f);
  EXPECT_EQ(p.Values(p.bias), (std::vector<float>{2.f, -4.f, 1.f}));
}

TEST(DenseOptimizerTest, AdamWeightDecayIsAnL2TermInTheGradient) {
  TwoParameters p;
  p.Set(p.weight, {2.f, -4.f, 0.f, 1.f}, {0.f, 0.f, 0.f, 0.f});
  p.Set(p.bias, {2.f, -4.f, 1.f}, {0.f, 0.f, 0.f});
  DenseOptimizer adam(p.arena, {.kind = DenseOptimizerKind::kAdam, .lr = 0.1f, .weight_decay = 0.5f});
  adam.Step();
  // g = 0.5·w, so the first Adam step moves by lr·sign(w).
  const std::vector<float> w = p.Values(p.weight);
  EXPECT_NEAR(w[0], 1.9f, 1e-6);
  EXPECT_NEAR(w[1], -3.9f, 1e-6);
  EXPECT_EQ(w[2], 0.f);
  EXPECT_NEAR(w[3], 0.9f, 1e-6);
  EXPECT_EQ(p.Values(p.bias), (std::vector<float>{2.f, -4.f, 1.f}));
}

TEST(DenseOptimizerTest, SgdWithAndWithoutMomentum) {
  TwoParameters plain;
  plain.Set(plain.weight, {1.f, 1.f, 1.f, 1.f}, {1.f, -2.f, 0.f, 4.f});
  DenseOptimizer sgd(plain.arena, {.kind = DenseOptimizerKind::kSgd, .lr = 0.5f});
  sgd.Step();
  EXPECT_EQ(plain.Values(plain.weight), (std::vector<float>{0.5f, 2.f, 1.f, -1.f}));

  TwoParameters heavy;
  heavy.Set(heavy.weight, {1.f, 1.f, 1.f, 1.f}, {1.f, 0.f, 0.f, 0.f});
  DenseOptimizer momentum(heavy.arena, {.kind = DenseOptimizerKind::kSgd, .lr = 0.5f, .momentum = 0.5f});
  momentum.Step();  // b = 1, w = 0.5
  momentum.Step();  // b = 1.5, w = -0.25
  EXPECT_FLOAT_EQ(heavy.Values(heavy.weight)[0], -0.25f);
}

TEST(DenseOptimizerTest, StateRoundTripsAndResumesBitForBit) {
  TwoParameters a;
  a.Set(a.weight, {1.f, 2.f, 3.f, 4.f}, {0.1f, -0.2f, 0.3f, 0.4f});
  a.Set(a.bias, {0.f, 0.f, 0.f}, {1.f, 1.f, -1.f});
  DenseOptimizer first(a.arena, {.kind = DenseOptimizerKind::kAdamW, .lr = 0.01f, .weight_decay = 0.1f});
  first.Step();
  first.Step();
  std::string state = "prefix";  // Serialize appends
  first.Serialize(&state);

  TwoParameters b;
  std::copy(a.arena.values(), a.arena.values() + a.arena.size(), b.arena.values());
  std::copy(a.arena.grads(), a.arena.grads() + a.arena.size(), b.arena.grads());
  DenseOptimizer second(b.arena, {.kind = DenseOptimizerKind::kAdamW, .lr = 0.01f, .weight_decay = 0.1f});
  second.Deserialize(std::string_view(state).substr(6));
  EXPECT_EQ(second.step(), 2);
  first.Step();
  second.Step();
  EXPECT_EQ(a.Values(a.weight), b.Values(b.weight));
  EXPECT_EQ(a.Values(a.bias), b.Values(b.bias));
}

TEST(DenseOptimizerTest, RefusesStateOfAnotherShapeOrKindAndStaysUnchanged) {
  TwoParameters a;
  DenseOptimizer adam(a.arena, {.kind = DenseOptimizerKind::kAdam});
  adam.Step();
  std::string state;
  adam.Serialize(&state);

  ParameterArena bigger;
  bigger.Reserve("w", 8, 8, Init::kZero, true);
  bigger.Allocate();
  DenseOptimizer other(bigger, {.kind = DenseOptimizerKind::kAdam});
  try {
    other.Deserialize(state);
    FAIL() << "a state of another size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("floats"), std::string::npos) << e.what();
  }
  EXPECT_EQ(other.step(), 0);

  DenseOptimizer sgd(a.arena, {.kind = DenseOptimizerKind::kSgd});
  EXPECT_THROW(sgd.Deserialize(state), Error);
  EXPECT_THROW(adam.Deserialize(std::string_view(state).substr(0, state.size() - 3)), Error);
  EXPECT_THROW(adam.Deserialize("garbage!"), Error);
  EXPECT_EQ(adam.step(), 1);
}

TEST(DenseOptimizerTest, RefusesAnUnallocatedArenaAndBadOptions) {
  ParameterArena arena;
  arena.Reserve("w", 1, 1, Init::kZero, true);
  EXPECT_THROW(DenseOptimizer(arena, {}), Error);
  arena.Allocate();
  EXPECT_THROW(DenseOptimizer(arena, {.beta1 = 1.f}), Error);
  EXPECT_THROW(DenseOptimizer(arena, {.lr = -1.f}), Error);
}

// A 4×2 table with known values and a gradient for rows 1 and 3.
struct SparseFixture {
  SparseFixture() : table("t", 4, 2) {
    for (int64_t i = 0; i < 8; ++i) table.data()[i] = static_cast<float>(i);
    grad.dim = 2;
    grad.rows = {1, 3};
    grad.values = {3.f, 4.f, -1.f, 0.f};
  }
  std::vector<float> Values() const { return std::vector<float>(table.data(), table.data() + 8); }
  EmbeddingTable table;
  SparseGrad grad;
};

TEST(SparseOptimizerTest, RowWiseAdagradByHand) {
  SparseFixture f;
  SparseOptimizer adagrad(f.table, {.kind = SparseOptimizerKind::kAdagrad, .lr = 0.5f, .initial_accumulator = 0.1f});
  adagrad.Step(f.grad);
  // Row 1: G = 0.1 + (9 + 16)/2 = 12.6. Row 3: G = 0.1 + 1/2 = 0.6.
  const double scale1 = 0.5 / (std::sqrt(12.6) + 1e-8);
  const double scale3 = 0.5 / (std::sqrt(0.6) + 1e-8);
  std::vector<float> w = f.Values();
  EXPECT_EQ(w[0], 0.f);
  EXPECT_EQ(w[1], 1.f);
  EXPECT_NEAR(w[2], 2 - scale1 * 3, 1e-6);
  EXPECT_NEAR(w[3], 3 - scale1 * 4, 1e-6);
  EXPECT_EQ(w[4], 4.f);
  EXPECT_EQ(w[5], 5.f);
  EXPECT_NEAR(w[6], 6 + scale3, 1e-6);
  EXPECT_EQ(w[7], 7.f);
  // Second step on row 1 with g = (1, 1): G = 12.6 + 1.
  f.grad.rows = {1};
  f.grad.values = {1.f, 1.f};
  adagrad.Step(f.grad);
  const double scale1b = 0.5 / (std::sqrt(13.6) + 1e-8);
  EXPECT_NEAR(f.table.Row(1)[0], 2 - scale1 * 3 - scale1b, 1e-6);
}

TEST(SparseOptimizerTest, L2PenaltyAddsLambdaTimesTheTouchedRows) {
  // Every kind sees g + λ·w on rows 1 and 3; rows 0 and 2 are not touched and not shrunk.
  const float l2 = 0.25f;
  for (SparseOptimizerKind kind : {SparseOptimizerKind::kAdagrad, SparseOptimizerKind::kLazyAdam,
                                   SparseOptimizerKind::kSgd}) {
    SparseFixture plain;
    SparseFixture penalised;
    // The same step without a penalty, given the penalised gradient by hand: row 1 is (2, 3), row 3 is (6, 7).
    plain.grad.values = {3.f + l2 * 2, 4.f + l2 * 3, -1.f + l2 * 6, 0.f + l2 * 7};
    SparseOptimizer reference(plain.table, {.kind = kind, .lr = 0.5f});
    SparseOptimizer optimizer(penalised.table, {.kind = kind, .lr = 0.5f, .l2 = l2});
    reference.Step(plain.grad);
    optimizer.Step(penalised.grad);
    const std::vector<float> expected = plain.Values();
    const std::vector<float> got = penalised.Values();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << static_cast<int>(kind) << " " << i;
    EXPECT_EQ(got[0], 0.f);
    EXPECT_EQ(got[4], 4.f);
  }
  SparseFixture f;
  EXPECT_THROW(SparseOptimizer(f.table, {.l2 = -1.f}), Error);
}

TEST(SparseOptimizerTest, LazyAdamLeavesUntouchedRowsAndUsesTheGlobalStep) {
  SparseFixture f;
  const float lr = 0.1f;
  SparseOptimizer adam(f.table, {.kind = SparseOptimizerKind::kLazyAdam, .lr = lr});
  adam.Step(f.grad);
  std::vector<float> w = f.Values();
  EXPECT_EQ(w[0], 0.f);
  EXPECT_EQ(w[1], 1.f);
  EXPECT_NEAR(w[2], 2 - lr, 1e-6);
  EXPECT_NEAR(w[3], 3 - lr, 1e-6);
  EXPECT_EQ(w[4], 4.f);
  EXPECT_EQ(w[5], 5.f);
  EXPECT_NEAR(w[6], 6 + lr, 1e-6);
  EXPECT_EQ(w[7], 7.f);

  // Step 2 touches only row 0, for the first time: its moments start from zero but the bias correction uses t = 2.
  SparseGrad row0;
  row0.dim = 2;
  row0.rows = {0};
  row0.values = {2.f, 0.f};
  adam.Step(row0);
  EXPECT_EQ(adam.step(), 2);
  const double m_hat = 0.1 * 2 / (1 - 0.81);
  const double v_hat = 0.001 * 4 / (1 - 0.999 * 0.999);
  EXPECT_NEAR(f.table.Row(0)[0], 0 - lr * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-6);
  EXPECT_EQ(f.table.Row(0)[1], 1.f);
  // Rows 1 and 3 were not touched by step 2: not even their momentum moved them.
  EXPECT_EQ(f.table.Row(1)[0], w[2]);
  EXPECT_EQ(f.table.Row(3)[0], w[6]);
  EXPECT_EQ(f.table.Row(2)[0], 4.f);
}

TEST(SparseOptimizerTest, SgdAndEmptyStepsAndDimChecks) {
  SparseFixture f;
  SparseOptimizer sgd(f.table, {.kind = SparseOptimizerKind::kSgd, .lr = 0.5f});
  sgd.Step(f.grad);
  EXPECT_EQ(f.Values(), (std::vector<float>{0, 1, 0.5f, 1, 4, 5, 6.5f, 7}));
  sgd.Step(SparseGrad{});
  EXPECT_EQ(sgd.step(), 2);
  SparseGrad wrong;
  wrong.dim = 3;
  wrong.rows = {0};
  wrong.values = {1, 1, 1};
  EXPECT_THROW(sgd.Step(wrong), Error);
  SparseGrad outside;
  outside.dim = 2;
  outside.rows = {4};
  outside.values = {1, 1};
  EXPECT_THROW(sgd.Step(outside), Error);
  SparseGrad unsorted;
  unsorted.dim = 2;
  unsorted.rows = {2, 1};
  unsorted.values = {1, 1, 1, 1};
  EXPECT_THROW(sgd.Step(unsorted), Error);
  SparseGrad short_values;
  short_values.dim = 2;
  short_values.rows = {0, 1};
  short_values.values = {1, 1};
  EXPECT_THROW(sgd.Step(short_values), Error);
}

TEST(SparseOptimizerTest, StateRoundTripsAndRefusesAnotherTable) {
  SparseFixture a;
  SparseOptimizer first(a.table, {.kind = SparseOptimizerKind::kLazyAdam, .lr = 0.1f});
  first.Step(a.grad);
  std::string state;
  first.Serialize(&state);

  SparseFixture b;
  std::copy(a.table.data(), a.table.data() + 8, b.table.data());
  SparseOptimizer second(b.table, {.kind = SparseOptimizerKind::kLazyAdam, .lr = 0.1f});
  second.Deserialize(state);
  EXPECT_EQ(second.step(), 1);
  first.Step(a.grad);
  second.Step(b.grad);
  EXPECT_EQ(a.Values(), b.Values());

  EmbeddingTable wider("t", 4, 3);
  SparseOptimizer other(wider, {.kind = SparseOptimizerKind::kLazyAdam});
  EXPECT_THROW(other.Deserialize(state), Error);
  SparseOptimizer adagrad(a.table, {.kind = SparseOptimizerKind::kAdagrad});
  EXPECT_THROW(adagrad.Deserialize(state), Error);
  EXPECT_EQ(adagrad.step(), 0);
}

}  // namespace
}  // namespace mtrec
