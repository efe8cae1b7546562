// What the training log prints of expert utilisation, and of task weighting: only what says something (adaptive
// weights, cosines of two tasks or more measured over enough steps).
#include "train/diagnostics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/config.h"

namespace mtrec {
namespace {

Config TwoTasks(const std::string& weighting) {
  return ParseConfig("[[features]]\nname = \"user\"\n[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"buy\"\n"
                     "[train]\nweighting = \"" + weighting + "\"\n",
                     "two_tasks.toml");
}

const TaskMatrix kCosines = {{1.0, -0.25}, {-0.25, 1.0}};

TEST(WeightingDiagnosticsTest, AdaptiveWeightsAndCosinesOverEnoughStepsAreShown) {
  const std::string out = FormatWeightingDiagnostics(TwoTasks("gradnorm"), {0.8, 1.2}, kCosines, 32);
  EXPECT_NE(out.find("weight"), std::string::npos) << out;
  EXPECT_NE(out.find("click=0.800 buy=1.200"), std::string::npos) << out;
  EXPECT_NE(out.find("cosine"), std::string::npos) << out;
  EXPECT_NE(out.find("-0.250"), std::string::npos) << out;
}

TEST(WeightingDiagnosticsTest, StaticWeightsAreTheConfigsAndNotRepeated) {
  const std::string out = FormatWeightingDiagnostics(TwoTasks("static"), {1.0, 1.0}, kCosines, 32);
  EXPECT_EQ(out.find("weight"), std::string::npos) << out;
  EXPECT_NE(out.find("cosine"), std::string::npos) << out;
}

TEST(WeightingDiagnosticsTest, CosinesOfTooFewStepsAreNotShown) {
  EXPECT_EQ(FormatWeightingDiagnostics(TwoTasks("static"), {1.0, 1.0}, kCosines, 1), "");
  EXPECT_EQ(FormatWeightingDiagnostics(TwoTasks("static"), {1.0, 1.0}, kCosines, kMinConflictStepsShown - 1), "");
  EXPECT_NE(FormatWeightingDiagnostics(TwoTasks("static"), {1.0, 1.0}, kCosines, kMinConflictStepsShown), "");
  // The adaptive weights stay: they are measured on every step.
  const std::string out = FormatWeightingDiagnostics(TwoTasks("dwa"), {0.9, 1.1}, kCosines, 1);
  EXPECT_NE(out.find("click=0.900"), std::string::npos) << out;
  EXPECT_EQ(out.find("cosine"), std::string::npos) << out;
}

TEST(WeightingDiagnosticsTest, OneTaskHasNoConflictTable) {
  const Config config = ParseConfig("[[features]]\nname = \"user\"\n[[tasks]]\nname = \"click\"\n", "one_task.toml");
  EXPECT_EQ(FormatWeightingDiagnostics(config, {1.0}, {{1.0}}, 100), "");
}

}  // namespace
}  // namespace mtrec

namespace mtrec {
namespace {

// exp(entropy) of the mean weights: every expert alike counts them all, one expert taking everything counts one, and
// a 50/25/25 gate counts exp(1.5 ln 2) = 2^1.5.
TEST(GateUsageTest, EffectiveExpertsCountsHowManyAGateUses) {
  EXPECT_NEAR(EffectiveExperts({"even", {"a", "b", "c", "d"}, {0.25, 0.25, 0.25, 0.25}}), 4.0, 1e-12);
  EXPECT_NEAR(EffectiveExperts({"collapsed", {"a", "b", "c"}, {1.0, 0.0, 0.0}}), 1.0, 1e-12);
  EXPECT_NEAR(EffectiveExperts({"half", {"a", "b", "c"}, {0.5, 0.25, 0.25}}), std::pow(2.0, 1.5), 1e-12);
  EXPECT_EQ(EffectiveExperts({"unused", {"a"}, {0.0}}), 0.0);  // no rows scored yet
  const std::string text = FormatGateUsage({{"click", {"shared.0", "click.0"}, {0.75, 0.25}}});
  EXPECT_NE(text.find("click  shared.0=75.0  click.0=25.0  effective=1.8 of 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace mtrec
