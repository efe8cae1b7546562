#include "tune/tpe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace mtrec {
namespace {

// A truncated mixture is a density over its range: its integral there is 1 (midpoint rule), and draws stay inside.
TEST(TpeTest, ParzenEstimatorIsADensityOverItsRange) {
  const ParzenEstimator estimator = ParzenEstimator::Fit({0.1, 0.15, 0.8, -0.9}, -1.0, 1.0, 1.0);
  ASSERT_EQ(estimator.mus.size(), 5u);  // four values and the prior
  double integral = 0;
  const int steps = 20000;
  for (int i = 0; i < steps; ++i) integral += std::exp(estimator.LogDensity(-1.0 + (i + 0.5) * 2.0 / steps));
  EXPECT_NEAR(integral * 2.0 / steps, 1.0, 1e-3);
  // Widths: each value's larger gap to a neighbour (the prior at 0 among them), at least range / (n + 1) = 0.4.
  EXPECT_NEAR(estimator.sigmas[0], 0.4, 1e-12);   // 0.1: gaps 0.1 (to 0) and 0.05, clipped up
  EXPECT_NEAR(estimator.sigmas[2], 0.65, 1e-12);  // 0.8: gaps 0.65 and 0.2 (to the end)
  EXPECT_NEAR(estimator.sigmas[3], 0.9, 1e-12);   // -0.9: gaps 0.1 (to the end) and 0.9
  EXPECT_NEAR(estimator.sigmas[4], 2.0, 1e-12);   // the prior spans the range
  Rng rng(1);
  for (int i = 0; i < 1000; ++i) {
    const double x = estimator.Sample(rng);
    ASSERT_GE(x, -1.0);
    ASSERT_LE(x, 1.0);
  }
}

constexpr char kSpace[] = R"(
[params."train.lr"]
low = 1e-5
high = 1e-1
log = true

[params."model.arch"]
choices = ["a", "b", "c", "d"]
)";

// A loss with its minimum at lr = 3e-3 and choice "c".
double Loss(const Point& point) {
  const double distance = std::log10(point[1].number) - std::log10(3e-3);
  return distance * distance + (point[0].choice == 2 ? 0.0 : 0.5);
}

double BestOf(bool tpe, uint64_t seed, int trials) {
  const SearchSpace space = SearchSpace::Parse(kSpace, "space.toml");
  std::vector<Observation> history;
  double best = INFINITY;
  for (int t = 0; t < trials; ++t) {
    Rng rng(seed * 1000 + t);
    const Point point = tpe ? SampleTpe(space, history, TpeSettings{}, rng) : space.Random(rng);
    const double loss = Loss(point);
    history.push_back({point, loss});
    best = std::min(best, loss);
  }
  return best;
}

// TPE's model of the good trials finds a better point than random draws in as many trials (the median over 15
// seeds), and after its random start it keeps sampling near what worked.
TEST(TpeTest, FindsBetterPointsThanRandomSearch) {
  std::vector<double> tpe, random;
  for (uint64_t seed = 1; seed <= 15; ++seed) {
    tpe.push_back(BestOf(true, seed, 40));
    random.push_back(BestOf(false, seed, 40));
  }
  std::sort(tpe.begin(), tpe.end());
  std::sort(random.begin(), random.end());
  EXPECT_LT(tpe[7], random[7]) << "median best loss, tpe " << tpe[7] << " random " << random[7];
  EXPECT_LT(tpe[7], 0.01);
}

TEST(TpeTest, RandomUntilTheStartupTrialsHaveFinished) {
  const SearchSpace space = SearchSpace::Parse(kSpace, "space.toml");
  std::vector<Observation> history;
  Rng a(5), b(5);
  for (int t = 0; t < 9; ++t) history.push_back({space.Random(a), 1.0});
  Rng c(9), d(9);
  EXPECT_EQ(SampleTpe(space, history, TpeSettings{}, c), space.Random(d));
}

// A conditional param learns from the trials where it was active; in the others it is absent.
TEST(TpeTest, ConditionalParamsLearnOnlyWhereActive) {
  const SearchSpace space = SearchSpace::Parse(R"(
[params."model.arch"]
choices = ["x", "y"]
[params."model.experts"]
low = 1
high = 100
int = true
when = { "model.arch" = "y" }
)",
                                               "space.toml");
  std::vector<Observation> history;
  Rng rng(2);
  for (int t = 0; t < 60; ++t) {
    const Point point = space.Random(rng);
    const double loss = point[0].choice == 1 ? std::abs(point[1].number - 80) : 50.0;
    history.push_back({point, loss});
  }
  int near = 0, y = 0;
  for (int t = 0; t < 50; ++t) {
    Rng draw(100 + t);
    const Point point = SampleTpe(space, history, TpeSettings{}, draw);
    if (point[0].choice != 1) {
      EXPECT_FALSE(point[1].active);
      continue;
    }
    ++y;
    near += std::abs(point[1].number - 80) <= 15;
  }
  EXPECT_GE(y, 40);         // the good trials are all "y"
  EXPECT_GE(near, y * 3 / 4);  // and their experts near 80
}

}  // namespace
}  // namespace mtrec
