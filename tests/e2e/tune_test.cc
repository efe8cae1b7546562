// `mtrec tune` as a user runs it: trials of `mtrec train` on a small simulated file, tune.json and best.toml
// written, the best config trains as it is, a bad space is refused before any trial with its place.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

TEST(TuneTest, TrialsOfTrainAndTheBestConfig) {
  const std::filesystem::path dir = FreshDir("tune");
  ASSERT_EQ(RunMtrec("simulate --preset ecommerce --rows 4000 --seed 1 --out " + (dir / "sim").string()).exit_code, 0);
  WriteText(dir / "space.toml", R"(
[params."model.arch"]
choices = ["shared_bottom", "mmoe"]
[params."model.experts"]
low = 2
high = 4
int = true
when = { "model.arch" = "mmoe" }
[params."train.lr"]
low = 3e-4
high = 3e-3
log = true
)");
  const std::string tune = "tune --config " + (dir / "sim/config.toml").string() + " --space " +
                           (dir / "space.toml").string() + " --out " + (dir / "out").string() +
                           " --trials 3 --method random --parallel 2 --asha --asha-min-epochs 1 train.epochs=2";
  const RunResult run = RunMtrec(tune);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // The last line: the best score, its trial, the trials and their CPU time.
  const std::string last = run.output.substr(run.output.rfind("tune: best="));
  EXPECT_EQ(last.find("trials=3 cpu_s="), last.find("trials=")) << last;
  const nlohmann::json saved = nlohmann::json::parse(ReadFileBytes((dir / "out/tune.json").string()));
  ASSERT_EQ(saved["trials"].size(), 3u);
  EXPECT_EQ(saved["rungs"], nlohmann::json::array({1, 2}));
  int complete = 0;
  for (const auto& trial : saved["trials"]) {
    const std::string state = trial["state"];
    EXPECT_TRUE(state == "complete" || state == "stopped") << state;
    complete += state == "complete";
    EXPECT_GT(trial["values"][0].get<double>(), 0.5);  // a validation AUC
    EXPECT_TRUE(std::filesystem::exists(dir / "out/trials" / fmt::format("{:04d}", trial["id"].get<int>()) /
                                        "model.mtrec"));
  }
  EXPECT_EQ(complete, 1);  // 3 trials, eta 3: one goes on to the second epoch
  // best.toml trains as it is, from wherever it is.
  const RunResult train = RunMtrec("train --config " + (dir / "out/best.toml").string() + " --out " +
                                   (dir / "best.mtrec").string() + " train.epochs=1");
  EXPECT_EQ(train.exit_code, 0) << train.output;
  // Run again: every trial is in tune.json, so nothing trains and the answer is the same.
  const RunResult again = RunMtrec(tune);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("3 trials so far; going on"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.substr(again.output.rfind("tune: best=")).substr(0, 30), last.substr(0, 30));
  std::filesystem::remove_all(dir);
}

TEST(TuneTest, ABadSpaceIsRefusedBeforeAnyTrial) {
  const std::filesystem::path dir = FreshDir("tune_bad");
  ASSERT_EQ(RunMtrec("simulate --preset ecommerce --rows 2000 --seed 1 --out " + (dir / "sim").string()).exit_code, 0);
  WriteText(dir / "space.toml", "[params.\"model.arch\"]\nchoices = [\"mmoe\", \"mmeo\"]\n");
  const RunResult run = RunMtrec("tune --config " + (dir / "sim/config.toml").string() + " --space " +
                                 (dir / "space.toml").string() + " --out " + (dir / "out").string());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("space.toml:1:1: params.\"model.arch\" = \"mmeo\" does not make a valid config"),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/trials"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mtrec::e2e
