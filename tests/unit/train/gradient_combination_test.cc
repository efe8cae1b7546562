// The gradient strategies' combinations, from the Gram matrix, against hand-computed cases and against slow direct
// implementations on the vectors themselves.
#include "train/gradient_combination.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/rng.h"

namespace mtrec {
namespace {

using Vectors = std::vector<std::vector<double>>;

TaskMatrix GramOf(const Vectors& g) {
  TaskMatrix gram(g.size(), std::vector<double>(g.size(), 0.0));
  for (size_t i = 0; i < g.size(); ++i) {
    for (size_t j = 0; j < g.size(); ++j) {
      for (size_t e = 0; e < g[i].size(); ++e) gram[i][j] += g[i][e] * g[j][e];
    }
  }
  return gram;
}

std::vector<double> Combine(const Vectors& g, const std::vector<double>& a) {
  std::vector<double> out(g[0].size(), 0.0);
  for (size_t k = 0; k < g.size(); ++k) {
    for (size_t e = 0; e < out.size(); ++e) out[e] += a[k] * g[k][e];
  }
  return out;
}

double Dot(const std::vector<double>& x, const std::vector<double>& y) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

Vectors RandomVectors(int k, int dim, uint64_t seed) {
  Rng rng(seed);
  Vectors g(k, std::vector<double>(dim));
  for (auto& v : g) {
    for (double& x : v) x = rng.Normal();
  }
  return g;
}

// PCGrad done literally on the vectors, as the paper's Algorithm 1 writes it.
std::vector<double> PcgradDirect(const Vectors& g, const std::vector<std::vector<int>>& orders) {
  std::vector<double> total(g[0].size(), 0.0);
  for (size_t i = 0; i < g.size(); ++i) {
    std::vector<double> pc = g[i];
    for (int j : orders[i]) {
      const double dot = Dot(pc, g[j]);
      if (dot < 0) {
        const double norm = Dot(g[j], g[j]);
        for (size_t e = 0; e < pc.size(); ++e) pc[e] -= dot / norm * g[j][e];
      }
    }
    for (size_t e = 0; e < pc.size(); ++e) total[e] += pc[e];
  }
  return total;
}

TEST(CosineSimilaritiesTest, HandComputed) {
  const TaskMatrix cos = CosineSimilarities(GramOf({{1, 0}, {1, 1}, {-2, 0}, {0, 0}}));
  EXPECT_NEAR(cos[0][1], 1 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(cos[0][2], -1.0, 1e-12);
  EXPECT_NEAR(cos[1][2], -1 / std::sqrt(2.0), 1e-12);
  EXPECT_EQ(cos[0][3], 0.0);  // a zero gradient agrees with nothing
  EXPECT_NEAR(cos[1][1], 1.0, 1e-12);
}

TEST(PcgradTest, ProjectsConflictingPairByHand) {
  // g1 = (1, 0), g2 = (-1, 1): g1·g2 = -1. g1 loses its part along g2: (1,0) + ½(-1,1) = (½, ½);
  // g2 loses its part along g1: (-1,1) + (1,0) = (0, 1). Sum (½, 3/2) = 2 g1 + 3/2 g2.
  const Vectors g = {{1, 0}, {-1, 1}};
  const std::vector<double> a = PcgradCoefficients(GramOf(g), {{1}, {0}});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_NEAR(a[0], 2.0, 1e-12);
  EXPECT_NEAR(a[1], 1.5, 1e-12);
  const std::vector<double> d = Combine(g, a);
  EXPECT_NEAR(d[0], 0.5, 1e-12);
  EXPECT_NEAR(d[1], 1.5, 1e-12);
}

TEST(PcgradTest, LeavesAgreeingGradientsAlone) {
  const std::vector<double> a = PcgradCoefficients(GramOf({{1, 2}, {2, 1}, {0, 1}}), {{1, 2}, {0, 2}, {1, 0}});
  for (double v : a) EXPECT_EQ(v, 1.0);
}

TEST(PcgradTest, MatchesDirectProjectionsOnRandomTasks) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const Vectors g = RandomVectors(4, 6, seed);
    const std::vector<std::vector<int>> orders = {{2, 1, 3}, {0, 3, 2}, {3, 0, 1}, {1, 2, 0}};
    const std::vector<double> expected = PcgradDirect(g, orders);
    const std::vector<double> got = Combine(g, PcgradCoefficients(GramOf(g), orders));
    for (size_t e = 0; e < expected.size(); ++e) EXPECT_NEAR(got[e], expected[e], 1e-9) << "seed " << seed;
  }
}

TEST(MinNormTest, TwoTaskClosedForm) {
  // Sener & Koltun's two-task solution: α = clip((g2 - g1)·g2 / |g1 - g2|², 0, 1) on g1.
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Vectors g = RandomVectors(2, 3, seed);
    if (seed % 3 == 0) g[1] = {g[0][0] * 3, g[0][1] * 3, g[0][2] * 3};  // one dominates: α at a bound
    std::vector<double> diff(3);
    for (int e = 0; e < 3; ++e) diff[e] = g[1][e] - g[0][e];
    const double alpha = std::clamp(Dot(diff, g[1]) / Dot(diff, diff), 0.0, 1.0);
    const std::vector<double> a = MinNormCoefficients(GramOf(g));
    EXPECT_NEAR(a[0], alpha, 1e-9) << "seed " << seed;
    EXPECT_NEAR(a[1], 1 - alpha, 1e-9) << "seed " << seed;
  }
}

TEST(MinNormTest, ThreeTasksByHand) {
  // Orthonormal gradients: the centroid, |d|² = 1/3.
  std::vector<double> a = MinNormCoefficients(GramOf({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}));
  for (double v : a) EXPECT_NEAR(v, 1.0 / 3, 1e-12);
  // (2,0), (0,2), (2,2): the hull's closest point to 0 is (1,1), the midpoint of the first two; (2,2) gets nothing.
  a = MinNormCoefficients(GramOf({{2, 0}, {0, 2}, {2, 2}}));
  EXPECT_NEAR(a[0], 0.5, 1e-12);
  EXPECT_NEAR(a[1], 0.5, 1e-12);
  EXPECT_NEAR(a[2], 0.0, 1e-12);
  // (1,0), (-1,0), (0,1): 0 lies on the segment between the first two: α = (½, ½, 0), |d| = 0.
  a = MinNormCoefficients(GramOf({{1, 0}, {-1, 0}, {0, 1}}));
  EXPECT_NEAR(a[0], 0.5, 1e-12);
  EXPECT_NEAR(a[1], 0.5, 1e-12);
  EXPECT_NEAR(a[2], 0.0, 1e-12);
  // Duplicated gradients (a singular Gram matrix) still give a point of the simplex with the minimum norm.
  const TaskMatrix dup = GramOf({{1, 1}, {1, 1}, {3, -1}});
  a = MinNormCoefficients(dup);
  EXPECT_NEAR(a[0] + a[1] + a[2], 1.0, 1e-12);
  // |(1-t)(1,1) + t(3,-1)|² = (1+2t)² + (1-2t)² = 2 + 8t²: t = 0, all weight on the duplicates, |d|² = 2.
  EXPECT_NEAR(a[0] + a[1], 1.0, 1e-12);
  EXPECT_NEAR(CombinedNormSquared(dup, a), 2.0, 1e-12);
}

TEST(MinNormTest, NoPointOfTheSimplexIsShorter) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const TaskMatrix gram = GramOf(RandomVectors(5, 4, seed + 100));
    const std::vector<double> a = MinNormCoefficients(gram);
    const double best = CombinedNormSquared(gram, a);
    Rng rng(seed);
    for (int trial = 0; trial < 2000; ++trial) {
      std::vector<double> w(5);
      double sum = 0;
      for (double& v : w) sum += v = -std::log(1 - rng.Uniform());  // uniform on the simplex
      for (double& v : w) v /= sum;
      ASSERT_GE(CombinedNormSquared(gram, w), best - 1e-12) << "seed " << seed;
    }
    // The iterative solver used beyond kMinNormExactTasks tasks reaches the same norm.
    EXPECT_NEAR(CombinedNormSquared(gram, MinNormIterative(gram)), best, 1e-9 * (1 + best));
  }
}

TEST(MinNormTest, ManyTasksUseTheIterativeSolver) {
  const int k = kMinNormExactTasks + 2;
  const TaskMatrix gram = GramOf(RandomVectors(k, 8, 77));
  const std::vector<double> a = MinNormCoefficients(gram);
  double sum = 0;
  for (double v : a) {
    EXPECT_GE(v, 0.0);
    sum += v;
  }
  EXPECT_NEAR(sum, 1.0, 1e-9);
  const double best = CombinedNormSquared(gram, a);
  Rng rng(5);
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<double> w(k);
    double total = 0;
    for (double& v : w) total += v = -std::log(1 - rng.Uniform());
    for (double& v : w) v /= total;
    ASSERT_GE(CombinedNormSquared(gram, w), best - 1e-9);
  }
}

// Gradients of any scale give the same combination (a model's squared gradient norms can be 1e-12 or 1e6).
TEST(GradientCombinationTest, CoefficientsDoNotDependOnTheGradientsScale) {
  const TaskMatrix gram = GramOf({{1, 0.2, 0}, {-0.4, 1, 0.3}, {0.1, -0.8, 0.5}});
  const std::vector<std::vector<int>> orders = {{1, 2}, {2, 0}, {0, 1}};
  for (double scale : {1e-20, 1e-13, 1e-6, 1e8}) {
    TaskMatrix scaled = gram;
    for (auto& row : scaled) {
      for (double& v : row) v *= scale;
    }
    const std::vector<double> mgda = MinNormCoefficients(gram), mgda_scaled = MinNormCoefficients(scaled);
    const std::vector<double> ca = CagradCoefficients(gram, 0.5), ca_scaled = CagradCoefficients(scaled, 0.5);
    const std::vector<double> pc = PcgradCoefficients(gram, orders), pc_scaled = PcgradCoefficients(scaled, orders);
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(mgda_scaled[k], mgda[k], 1e-9) << "scale " << scale;
      EXPECT_NEAR(ca_scaled[k], ca[k], 1e-6) << "scale " << scale;
      EXPECT_NEAR(pc_scaled[k], pc[k], 1e-9) << "scale " << scale;
    }
  }
  TaskMatrix broken = gram;
  broken[0][1] = NAN;
  EXPECT_THROW(MinNormCoefficients(broken), Error);
}

TEST(CagradTest, ZeroCIsTheSum) {
  const std::vector<double> a = CagradCoefficients(GramOf({{1, 0}, {-1, 2}, {0.5, 0.5}}), 0.0);
  for (double v : a) EXPECT_EQ(v, 1.0);
}

TEST(CagradTest, OrthogonalPairByHand) {
  // g1 = (1,0), g2 = (0,1), c = ½: g0 = (½,½), |g0| = 1/√2; w·G·b = ½ for every w, so w minimises |g_w|:
  // w = (½,½), g_w = g0. d = (g0 + ½|g0| g0/|g0|) / (1 + ¼) = 1.5 g0 / 1.25 = 1.2 g0 = 0.6 (g1 + g2); × K = 1.2.
  const std::vector<double> a = CagradCoefficients(GramOf({{1, 0}, {0, 1}}), 0.5);
  EXPECT_NEAR(a[0], 1.2, 1e-6);
  EXPECT_NEAR(a[1], 1.2, 1e-6);
}

TEST(CagradTest, ConflictingPairMatchesGridSearch) {
  for (double c : {0.2, 0.5, 0.9}) {
    const Vectors g = {{2, 0.3}, {-1, 1}};
    const TaskMatrix gram = GramOf(g);
    // The inner problem by brute force over w = (t, 1 - t).
    const std::vector<double> g0 = {(g[0][0] + g[1][0]) / 2, (g[0][1] + g[1][1]) / 2};
    const double s = c * std::sqrt(Dot(g0, g0));
    double best_t = 0, best_f = INFINITY;
    for (int i = 0; i <= 200000; ++i) {
      const double t = i / 200000.0;
      const std::vector<double> gw = Combine(g, {t, 1 - t});
      const double f = Dot(gw, g0) + s * std::sqrt(Dot(gw, gw));
      if (f < best_f) best_f = f, best_t = t;
    }
    const std::vector<double> gw = Combine(g, {best_t, 1 - best_t});
    const double lambda = s / std::sqrt(Dot(gw, gw));
    const std::vector<double> a = CagradCoefficients(gram, c);
    EXPECT_NEAR(a[0], 2 * (0.5 + lambda * best_t) / (1 + c * c), 1e-4) << "c " << c;
    EXPECT_NEAR(a[1], 2 * (0.5 + lambda * (1 - best_t)) / (1 + c * c), 1e-4) << "c " << c;
    // CAGrad's guarantee: the update does not make the worst task's descent worse than the mean direction's
    // inside the ball |d - g0| <= c|g0| (min_i g_i·d >= min_i g_i·g0), d without the K / (1 + c²) scale.
    std::vector<double> d = Combine(g, a);
    for (double& v : d) v *= (1 + c * c) / 2;
    EXPECT_GE(std::min(Dot(g[0], d), Dot(g[1], d)), std::min(Dot(g[0], g0), Dot(g[1], g0)) - 1e-9);
  }
}

}  // namespace
}  // namespace mtrec
