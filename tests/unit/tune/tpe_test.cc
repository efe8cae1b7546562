#include "tune/tpe.h"

#include "common/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace mtrec {
namespace {

SearchSpace CensusLikeSpace() {
  return SearchSpace::Parse(R"(
[params."model.arch"]
choices = ["shared_bottom", "mmoe", "ple"]
[params."model.bottom"]
choices = [[128, 64], [256, 128]]
when = { "model.arch" = ["shared_bottom"] }
[params."model.experts"]
low = 2
high = 8
int = true
when = { "model.arch" = ["mmoe", "ple"] }
[params."model.expert"]
choices = [[128], [512, 256]]
when = { "model.arch" = ["mmoe", "ple"] }
[params."train.lr"]
low = 3e-4
high = 3e-3
log = true
[params."train.weighting"]
choices = ["static", "gradnorm"]
[params."train.gradnorm_alpha"]
low = 0.5
high = 2.5
when = { "train.weighting" = ["gradnorm"] }
)",
                            "space.toml");
}

size_t Index(const SearchSpace& space, const std::string& key) {
  for (size_t p = 0; p < space.params().size(); ++p) {
    if (space.params()[p].key == key) return p;
  }
  ADD_FAILURE() << "no param " << key;
  return 0;
}

// Params with the same conditions are drawn together: the unconditional ones, those under mmoe or ple, ...
TEST(TpeTest, ParamsWithTheSameConditionsFormOneGroup) {
  const SearchSpace space = CensusLikeSpace();
  const std::vector<std::vector<size_t>> groups = TpeGroups(space);
  auto group_of = [&](const std::string& key) {
    for (size_t g = 0; g < groups.size(); ++g) {
      if (std::find(groups[g].begin(), groups[g].end(), Index(space, key)) != groups[g].end()) return g;
    }
    return groups.size();
  };
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(group_of("model.arch"), group_of("train.lr"));
  EXPECT_EQ(group_of("model.arch"), group_of("train.weighting"));
  EXPECT_EQ(group_of("model.experts"), group_of("model.expert"));
  EXPECT_NE(group_of("model.experts"), group_of("model.bottom"));
  EXPECT_NE(group_of("train.gradnorm_alpha"), group_of("model.arch"));
  // A group comes after the groups its conditions read.
  EXPECT_LT(group_of("model.arch"), group_of("model.experts"));
  EXPECT_LT(group_of("train.weighting"), group_of("train.gradnorm_alpha"));
}

// The mixture of product kernels is a density over the group's values: a float and a choice integrate to 1 (the
// midpoint rule over log lr, summed over the choices), an integer's bins sum to 1 as well; draws stay in range.
TEST(TpeTest, AProductMixtureIsADensityOverTheGroup) {
  const SearchSpace space = CensusLikeSpace();
  const std::vector<size_t> group = {Index(space, "model.arch"), Index(space, "train.lr")};
  const ProductMixture mixture(space, group, {{0, 1e-3}, {2, 2.5e-3}, {2, 2.9e-3}, {1, 4e-4}}, 1.0);
  const double low = std::log(3e-4), high = std::log(3e-3);
  const int steps = 20000;
  double integral = 0;
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < steps; ++i) {
      const double log_lr = low + (i + 0.5) * (high - low) / steps;
      // The density is of log lr: the mixture reads lr itself.
      integral += std::exp(mixture.LogDensity({static_cast<double>(c), std::exp(log_lr)})) * (high - low) / steps;
    }
  }
  EXPECT_NEAR(integral, 1.0, 1e-3);
  // Widths: Scott's rule, 0.2 · n^(-1/(d + 4)) of the range, clipped below at range / (n + 2): for 4 trials in 2
  // dimensions the clip (0.159 < 1/6), for 20 the rule; the prior spans the range.
  EXPECT_NEAR(mixture.sigmas(1)[0], (high - low) / 6, 1e-12);
  EXPECT_NEAR(mixture.sigmas(1)[4], high - low, 1e-12);
  const ProductMixture twenty(space, group, std::vector<std::vector<double>>(20, {1, 1e-3}), 1.0);
  EXPECT_NEAR(twenty.sigmas(1)[0], 0.2 * std::pow(20.0, -1.0 / 6.0) * (high - low), 1e-12);
  const std::vector<size_t> experts = {Index(space, "model.experts")};
  const ProductMixture whole(space, experts, {{2}, {3}, {8}}, 1.0);
  double total = 0;
  for (int k = 2; k <= 8; ++k) total += std::exp(whole.LogDensity({static_cast<double>(k)}));
  EXPECT_NEAR(total, 1.0, 1e-9);
  Rng rng(1);
  for (int i = 0; i < 1000; ++i) {
    const std::vector<double> x = mixture.Sample(rng);
    ASSERT_TRUE(x[0] == 0 || x[0] == 1 || x[0] == 2);
    ASSERT_GE(x[1], 3e-4);
    ASSERT_LE(x[1], 3e-3);
    const double k = whole.Sample(rng)[0];
    ASSERT_EQ(k, std::round(k));
    ASSERT_GE(k, 2);
    ASSERT_LE(k, 8);
  }
}

// An integer of a log range is scored by its bin in log space, [log(k - 0.5), log(k + 0.5)]: the bins still sum
// to 1, and a kernel at 2 puts more mass on 2 than on 16 although 16's bin is wider.
TEST(TpeTest, ALogIntegerIsScoredByItsBinInLogSpace) {
  const SearchSpace space = SearchSpace::Parse(R"(
[params."model.experts"]
low = 1
high = 64
int = true
log = true
)",
                                               "space.toml");
  const ProductMixture mixture(space, {0}, {{2}, {2}, {3}}, 1.0);
  double total = 0;
  for (int k = 1; k <= 64; ++k) total += std::exp(mixture.LogDensity({static_cast<double>(k)}));
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_GT(mixture.LogDensity({2}), mixture.LogDensity({16}));
  // A value outside the range or a choice out of its list is refused, naming the param.
  EXPECT_THROW(ProductMixture(space, {0}, {{65}}, 1.0), Error);
}

// A param under two conditions forms its own group, after the groups of both.
TEST(TpeTest, AParamUnderTwoConditionsIsItsOwnGroupAfterBoth) {
  const SearchSpace space = SearchSpace::Parse(R"(
[params."model.arch"]
choices = ["mmoe", "ple"]
[params."train.weighting"]
choices = ["static", "gradnorm"]
[params."model.experts"]
low = 2
high = 8
int = true
when = { "model.arch" = ["ple"] }
[params."train.gradnorm_alpha"]
low = 0.5
high = 2.5
when = { "model.arch" = ["ple"], "train.weighting" = ["gradnorm"] }
)",
                                               "space.toml");
  const std::vector<std::vector<size_t>> groups = TpeGroups(space);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].size(), 2u);  // arch and weighting
  EXPECT_EQ(groups[1], std::vector<size_t>{Index(space, "model.experts")});
  EXPECT_EQ(groups[2], std::vector<size_t>{Index(space, "train.gradnorm_alpha")});
}

// A running trial's point counts among the rest: with the best trials all at lr 1e-3, TPE draws near it, and
// with trials running there it moves away.
TEST(TpeTest, RunningTrialsCountAmongTheRest) {
  const SearchSpace space = SearchSpace::Parse(R"(
[params."train.lr"]
low = 1e-5
high = 1e-1
log = true
)",
                                               "space.toml");
  std::vector<Observation> history;
  Rng rng(3);
  for (int t = 0; t < 20; ++t) {
    const Point point = space.Random(rng);
    history.push_back({point, std::abs(std::log10(point[0].number) + 3)});
  }
  Point busy(1);
  busy[0] = {.active = true, .number = 1e-3};
  const std::vector<Point> running(30, busy);
  double alone = 0, crowded = 0;
  for (int t = 0; t < 40; ++t) {
    Rng a(50 + t), b(50 + t);
    alone += std::abs(std::log10(SampleTpe(space, history, TpeSettings{}, a)[0].number) + 3);
    crowded += std::abs(std::log10(SampleTpe(space, history, TpeSettings{}, b, running)[0].number) + 3);
  }
  EXPECT_GT(crowded, alone * 1.2) << "mean decades from 1e-3: " << crowded / 40 << " against " << alone / 40;
}

// Past 25 trials on a side the older ones weigh less: from 1/n up to 1, the newest 25 at 1, then the prior.
TEST(TpeTest, OlderTrialsWeighLessPastTwentyFive) {
  const SearchSpace space = CensusLikeSpace();
  std::vector<std::vector<double>> observed;
  for (int t = 0; t < 30; ++t) observed.push_back({1e-3});
  const ProductMixture mixture(space, {Index(space, "train.lr")}, observed, 1.0);
  const std::vector<double>& w = mixture.weights();
  ASSERT_EQ(w.size(), 31u);
  const double unit = w[29];  // a weight of 1 after normalising
  EXPECT_NEAR(w[0] / unit, 1.0 / 30, 1e-12);
  EXPECT_NEAR(w[4] / unit, 1.0, 1e-12);
  EXPECT_NEAR(w[2] / unit, 1.0 / 30 + (1 - 1.0 / 30) * 0.5, 1e-12);
  EXPECT_NEAR(w[30] / unit, 1.0, 1e-12);  // the prior, prior_weight 1
  double sum = 0;
  for (double x : w) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-12);
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

// Until the start-up trials have finished the points are random, each the farthest from the points tried so far
// of the candidates drawn: the start covers the space better than as many independent draws.
TEST(TpeTest, TheStartSpreadsOutRandomPoints) {
  const SearchSpace space = SearchSpace::Parse(kSpace, "space.toml");
  Rng c(9), d(9);
  EXPECT_EQ(SampleTpe(space, {}, TpeSettings{}, c), space.Random(d));  // the first is the first draw
  // lr's nearest neighbour among 8 start-up points, in log10 units, the median over 31 seeds: spread start
  // against independent draws.
  std::vector<double> spread_gaps, random_gaps;
  for (uint64_t seed = 1; seed <= 31; ++seed) {
    std::vector<Observation> spread, random;
    Rng a(seed), b(seed + 1000);
    for (int t = 0; t < 8; ++t) {
      spread.push_back({SampleTpe(space, spread, TpeSettings{}, a), 1.0});
      random.push_back({space.Random(b), 1.0});
    }
    auto smallest_gap = [](const std::vector<Observation>& points) {
      double gap = INFINITY;
      for (size_t i = 0; i < points.size(); ++i) {
        for (size_t j = i + 1; j < points.size(); ++j) {
          if (points[i].point[0].choice != points[j].point[0].choice) continue;
          gap = std::min(gap, std::abs(std::log10(points[i].point[1].number / points[j].point[1].number)));
        }
      }
      return gap;
    };
    spread_gaps.push_back(smallest_gap(spread));
    random_gaps.push_back(smallest_gap(random));
  }
  std::sort(spread_gaps.begin(), spread_gaps.end());
  std::sort(random_gaps.begin(), random_gaps.end());
  EXPECT_GT(spread_gaps[15], 2 * random_gaps[15]) << spread_gaps[15] << " against " << random_gaps[15];
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
