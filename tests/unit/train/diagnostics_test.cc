// What the training log prints of task weighting: only what says something (adaptive weights, cosines of two tasks
// or more measured over enough steps).
#include "train/diagnostics.h"

#include <gtest/gtest.h>

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
