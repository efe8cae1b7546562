#include "nn/parameters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/memory.h"
#include "support/test_files.h"

namespace mtrec {
namespace {

TEST(ParameterArenaTest, OffsetsAre64ByteAlignedAndDisjoint) {
  ParameterArena arena;
  const size_t a = arena.Reserve("a", 3, 5, Init::kHeUniform, true);    // 15 floats
  const size_t b = arena.Reserve("b", 1, 5, Init::kZero, false);        // 5 floats
  const size_t c = arena.Reserve("c", 17, 1, Init::kGlorotUniform, true);
  EXPECT_EQ(arena.Info(a).offset, 0u);
  EXPECT_EQ(arena.Info(b).offset, 16u);
  EXPECT_EQ(arena.Info(c).offset, 32u);
  EXPECT_EQ(arena.size(), 64u);
  arena.Allocate();
  for (size_t id : {a, b, c}) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(arena.Value(id)) % 64, 0u) << arena.Info(id).name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(arena.Grad(id)) % 64, 0u) << arena.Info(id).name;
  }
  EXPECT_EQ(arena.Info(b).name, "b");
  EXPECT_FALSE(arena.Info(b).decay);
}

TEST(ParameterArenaTest, InitializesWithinBoundsWithExpectedSpread) {
  ParameterArena arena;
  const size_t he = arena.Reserve("he", 50, 40, Init::kHeUniform, true);
  const size_t glorot = arena.Reserve("glorot", 50, 40, Init::kGlorotUniform, true);
  const size_t zero = arena.Reserve("zero", 1, 40, Init::kZero, false);
  const size_t one = arena.Reserve("one", 1, 40, Init::kOne, false);
  arena.Allocate();
  arena.Initialize(7);
  const double he_bound = std::sqrt(6.0 / 50);
  const double glorot_bound = std::sqrt(6.0 / 90);
  for (auto [id, bound] : {std::pair{he, he_bound}, std::pair{glorot, glorot_bound}}) {
    const float* w = arena.Value(id);
    double sum = 0;
    double sum_sq = 0;
    double largest = 0;
    for (size_t i = 0; i < 2000; ++i) {
      sum += w[i];
      sum_sq += double(w[i]) * w[i];
      largest = std::max(largest, std::abs(double(w[i])));
    }
    EXPECT_LE(largest, bound);
    EXPECT_GT(largest, 0.95 * bound);
    EXPECT_NEAR(sum / 2000, 0.0, 0.05 * bound);
    // U(-a, a) has variance a²/3.
    EXPECT_NEAR(sum_sq / 2000, bound * bound / 3, 0.1 * bound * bound / 3);
  }
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(arena.Value(zero)[i], 0.f);
    EXPECT_EQ(arena.Value(one)[i], 1.f);
  }
}

TEST(ParameterArenaTest, InitializationIsDeterministicAndPerParameter) {
  ParameterArena first;
  const size_t a1 = first.Reserve("a", 4, 6, Init::kHeUniform, true);
  const size_t b1 = first.Reserve("b", 6, 3, Init::kHeUniform, true);
  first.Allocate();
  first.Initialize(42);

  // Same seed, and another parameter of a different shape in front of nothing else: parameter values depend only
  // on (seed, index, own shape).
  ParameterArena second;
  const size_t a2 = second.Reserve("a", 4, 6, Init::kHeUniform, true);
  const size_t b2 = second.Reserve("b", 6, 3, Init::kHeUniform, true);
  second.Reserve("extra", 9, 9, Init::kHeUniform, true);
  second.Allocate();
  second.Initialize(42);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(first.Value(a1)[i], second.Value(a2)[i]);
  for (int i = 0; i < 18; ++i) EXPECT_EQ(first.Value(b1)[i], second.Value(b2)[i]);

  // Different parameters and different seeds give different values.
  EXPECT_NE(first.Value(a1)[0], first.Value(b1)[0]);
  second.Initialize(43);
  int same = 0;
  for (int i = 0; i < 24; ++i) same += first.Value(a1)[i] == second.Value(a2)[i];
  EXPECT_EQ(same, 0);
}

TEST(ParameterArenaTest, ZeroGradClearsEveryGradient) {
  ParameterArena arena;
  const size_t a = arena.Reserve("a", 3, 3, Init::kOne, true);
  arena.Allocate();
  for (int i = 0; i < 9; ++i) arena.Grad(a)[i] = 1.5f;
  arena.ZeroGrad();
  for (int i = 0; i < 9; ++i) EXPECT_EQ(arena.Grad(a)[i], 0.f);
}

TEST(ParameterArenaTest, RefusesMisuse) {
  ParameterArena arena;
  arena.Reserve("a", 2, 2, Init::kZero, true);
  EXPECT_THROW(arena.Reserve("a", 2, 2, Init::kZero, true), Error);
  EXPECT_THROW(arena.Reserve("b", 0, 2, Init::kZero, true), Error);
  EXPECT_THROW(arena.Initialize(1), Error);
  arena.Allocate();
  EXPECT_TRUE(arena.allocated());
  EXPECT_THROW(arena.Reserve("c", 2, 2, Init::kZero, true), Error);
  EXPECT_THROW(arena.Allocate(), Error);
}

// A frozen arena (a served model) lets its gradients go: asking for one, or zeroing them, is refused by name.
TEST(ParameterArenaTest, AFrozenArenaKeepsNoGradients) {
  ParameterArena arena;
  const size_t a = arena.Reserve("tower.weight", 300, 300, Init::kOne, true);
  arena.Allocate();
  const int64_t arrays = AlignedBytes();
  arena.FreezeValues();
  EXPECT_EQ(arrays - AlignedBytes(), static_cast<int64_t>(arena.size() * sizeof(float)));
  EXPECT_THROW(arena.grads(), Error);
  EXPECT_NE(ErrorOf([&] { arena.Grad(a); }).find("'tower.weight'"), std::string::npos);
  EXPECT_THROW(arena.ZeroGrad(), Error);
  EXPECT_EQ(arena.Value(a)[0], 0.f);  // the values stay
}

// An arena of the same layout reads the frozen one's values (one array, not a copy) and is frozen itself; an arena
// of another layout, or a source that may still change, is refused.
TEST(ParameterArenaTest, SharesTheValuesOfAFrozenArenaOfTheSameLayout) {
  const auto build = [](int64_t cols, uint64_t seed) {
    auto arena = std::make_unique<ParameterArena>();
    arena->Reserve("w", 4, cols, Init::kHeUniform, true);
    arena->Reserve("b", 1, cols, Init::kZero, false);
    arena->Allocate();
    arena->Initialize(seed);
    return arena;
  };
  auto source = build(5, 1);
  auto copy = build(5, 2);
  EXPECT_NE(ErrorOf([&] { copy->ShareValuesOf(*source); }).find("may still change"), std::string::npos);
  source->FreezeValues();
  auto other = build(6, 2);
  EXPECT_NE(ErrorOf([&] { other->ShareValuesOf(*source); }).find("'w' (4 × 6) here and 'w' (4 × 5)"),
            std::string::npos);
  const std::vector<float> expected(source->values(), source->values() + source->size());
  copy->ShareValuesOf(*source);
  EXPECT_TRUE(copy->values_frozen());
  EXPECT_NE(ErrorOf([&] { copy->ShareValuesOf(*source); }).find("frozen already"), std::string::npos);
  EXPECT_TRUE(copy->values_shared() && source->values_shared());
  EXPECT_EQ(copy->values(), source->values());
  source.reset();  // the values live on with their last reader
  EXPECT_EQ(std::vector<float>(copy->values(), copy->values() + copy->size()), expected);
  EXPECT_FALSE(copy->values_shared());
}

}  // namespace
}  // namespace mtrec
