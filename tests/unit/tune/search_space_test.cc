#include "tune/search_space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "common/error.h"

namespace mtrec {
namespace {

constexpr char kSpace[] = R"(
[params."model.arch"]
choices = ["shared_bottom", "mmoe", "ple"]

[params."model.experts"]
low = 2
high = 8
int = true
when = { "model.arch" = ["mmoe", "ple"] }

[params."model.expert"]
choices = [[128], [256, 128]]
when = { "model.arch" = "mmoe" }

[params."train.lr"]
low = 1e-4
high = 1e-2
log = true
points = 2
)";

std::string Refusal(const std::string& text) {
  try {
    SearchSpace::Parse(text, "space.toml");
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(SearchSpaceTest, ReadsChoicesRangesAndConditions) {
  const SearchSpace space = SearchSpace::Parse(kSpace, "space.toml");
  ASSERT_EQ(space.params().size(), 4u);
  const Param& arch = space.params()[0];
  EXPECT_EQ(arch.key, "model.arch");
  EXPECT_EQ(arch.choices, (std::vector<std::string>{"\"shared_bottom\"", "\"mmoe\"", "\"ple\""}));
  const Param& expert = space.params()[1];  // toml++ keeps the keys sorted
  EXPECT_EQ(expert.key, "model.expert");
  EXPECT_EQ(expert.choices, (std::vector<std::string>{"[128]", "[256, 128]"}));
  ASSERT_EQ(expert.when.size(), 1u);
  EXPECT_EQ(expert.when[0].param, 0u);
  EXPECT_EQ(expert.when[0].values, std::vector<std::string>{"\"mmoe\""});
  const Param& experts = space.params()[2];
  EXPECT_EQ(experts.kind, Param::Kind::kInt);
  EXPECT_EQ(experts.low, 2);
  EXPECT_EQ(experts.high, 8);
  EXPECT_EQ(space.params()[3].kind, Param::Kind::kFloat);
  EXPECT_TRUE(space.params()[3].log);
  // A condition's param comes first.
  const std::vector<size_t>& order = space.order();
  EXPECT_LT(std::find(order.begin(), order.end(), 0) - order.begin(),
            std::find(order.begin(), order.end(), 1) - order.begin());
  EXPECT_NE(arch.where.find("space.toml:"), std::string::npos);
}

TEST(SearchSpaceTest, RandomPointsKeepRangesAndConditions) {
  const SearchSpace space = SearchSpace::Parse(kSpace, "space.toml");
  Rng rng(3);
  std::set<double> experts;
  double lowest_lr = 1, highest_lr = 0;
  int below_1e3 = 0;
  for (int i = 0; i < 2000; ++i) {
    const Point point = space.Random(rng);
    const int64_t arch = point[0].choice;
    ASSERT_TRUE(point[0].active);
    EXPECT_EQ(point[1].active, arch == 1) << i;           // model.expert only under mmoe
    EXPECT_EQ(point[2].active, arch == 1 || arch == 2);  // model.experts under mmoe and ple
    if (point[2].active) {
      EXPECT_EQ(point[2].number, std::round(point[2].number));
      experts.insert(point[2].number);
    }
    const double lr = point[3].number;
    ASSERT_GE(lr, 1e-4);
    ASSERT_LE(lr, 1e-2);
    EXPECT_EQ(space.Snap(3, lr), lr);  // kept to 6 significant digits
    lowest_lr = std::min(lowest_lr, lr);
    highest_lr = std::max(highest_lr, lr);
    below_1e3 += lr < 1e-3;
  }
  EXPECT_EQ(experts, (std::set<double>{2, 3, 4, 5, 6, 7, 8}));  // every integer, the ends included
  EXPECT_LT(lowest_lr, 1.2e-4);
  EXPECT_GT(highest_lr, 0.8e-2);
  // Log-uniform: half of the draws below the range's geometric middle (1e-3).
  EXPECT_NEAR(below_1e3 / 2000.0, 0.5, 0.05);
}

TEST(SearchSpaceTest, OverridesAndDescriptionsNameTheActiveParams) {
  const SearchSpace space = SearchSpace::Parse(kSpace, "space.toml");
  Point point(4);
  point[0] = {true, 0, 1};
  point[1] = {true, 0, 1};
  point[2] = {true, 4, -1};
  point[3] = {true, 0.00123, -1};
  EXPECT_EQ(space.Overrides(point), (std::vector<std::string>{"model.arch=\"mmoe\"", "model.expert=[256, 128]",
                                                              "model.experts=4", "train.lr=0.00123"}));
  EXPECT_EQ(space.Describe(point), "model.arch=mmoe model.expert=[256, 128] model.experts=4 train.lr=0.00123");
  point[0].choice = 0;  // shared_bottom: the expert params drop out
  point[1] = {};
  point[2] = {};
  EXPECT_EQ(space.Overrides(point), (std::vector<std::string>{"model.arch=\"shared_bottom\"", "train.lr=0.00123"}));
}

TEST(SearchSpaceTest, TheGridCrossesOnlyActiveParams) {
  const SearchSpace space = SearchSpace::Parse(kSpace, "space.toml");
  // lr: 2 points; shared_bottom: 1; ple: 3 expert counts (2, 5, 8); mmoe: 3 counts x 2 expert shapes.
  const std::vector<Point> grid = space.Grid();
  EXPECT_EQ(grid.size(), 2u * (1 + 3 + 3 * 2));
  std::set<std::string> seen;
  for (const Point& point : grid) seen.insert(space.Describe(point));
  EXPECT_EQ(seen.size(), grid.size());
  EXPECT_TRUE(seen.count("model.arch=ple model.experts=5 train.lr=0.0001"));
  EXPECT_TRUE(seen.count("model.arch=shared_bottom train.lr=0.01"));
}

TEST(SearchSpaceTest, MistakesAreRefusedWithTheirPlace) {
  EXPECT_EQ(Refusal("[params.\"train.lr\"]\nlow = 1\nhigh = 2\nlogg = true\n"),
            "space.toml:4:1: unknown key 'logg' in params.\"train.lr\" (did you mean 'log'?); a param has 'choices', "
            "'low', 'high', 'log', 'int', 'points', 'when'");
  EXPECT_NE(Refusal("[params.\"train.lr\"]\nlow = 2\nhigh = 1\n").find("low and high must be numbers with low < high"),
            std::string::npos);
  EXPECT_NE(Refusal("[params.\"train.lr\"]\nlow = 0\nhigh = 1\nlog = true\n").find("a log range needs low > 0"),
            std::string::npos);
  EXPECT_NE(Refusal("[params.lr]\nlow = 0\nhigh = 1\n").find("'lr' is not a config key"), std::string::npos);
  EXPECT_NE(Refusal("[params.\"a.b\"]\nchoices = [1]\nwhen = { \"model.arhc\" = [\"x\"] }\n"
                    "[params.\"model.arch\"]\nchoices = [\"x\"]\n")
                .find("the condition names 'model.arhc', which is not a param of the space (did you mean "
                      "'model.arch'?)"),
            std::string::npos);
  EXPECT_NE(Refusal("[params.\"a.b\"]\nchoices = [1]\nwhen = { \"model.arch\" = [\"mmeo\"] }\n"
                    "[params.\"model.arch\"]\nchoices = [\"mmoe\"]\n")
                .find("the condition's value \"mmeo\" is not one of model.arch's choices \"mmoe\""),
            std::string::npos);
  EXPECT_NE(Refusal("[params.\"a.b\"]\nchoices = [1]\nwhen = { \"c.d\" = 1 }\n"
                    "[params.\"c.d\"]\nchoices = [1]\nwhen = { \"a.b\" = 1 }\n")
                .find("its conditions form a cycle"),
            std::string::npos);
  EXPECT_NE(Refusal("").find("no params"), std::string::npos);
  EXPECT_NE(Refusal("[params.\"a.b\"]\nchoices = [1]\nlow = 0\nhigh = 1\n").find("both choices and a range"),
            std::string::npos);
  EXPECT_NE(Refusal("[params.\"a.b\"\nchoices = [1]\n").find("space.toml:1:"), std::string::npos);
}

}  // namespace
}  // namespace mtrec
