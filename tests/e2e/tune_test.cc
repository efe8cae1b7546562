// `mtrec tune` as a user runs it: trials of `mtrec train` on a small simulated file, tune.json and best.toml
// written, the best config trains as it is, a bad space is refused before any trial with its place.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

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
    const double auc = trial["values"][0].get<double>();  // a mean validation AUC (a small file: any value)
    EXPECT_GT(auc, 0.0);
    EXPECT_LE(auc, 1.0);
    EXPECT_TRUE(std::filesystem::exists(dir / "out/trials" / fmt::format("{:04d}", trial["id"].get<int>()) /
                                        "model.mtrec"));
  }
  EXPECT_EQ(complete, 1);  // 3 trials, eta 3: one goes on to the second epoch
  // A trial's history for scripts (what peer_optuna.py reads): per epoch, each task's validation metrics.
  const RunResult history = RunShell(std::string(MTREC_BINARY) + " inspect " +
                                     (dir / "out/trials/0000/model.mtrec").string() + " --history-json 2>/dev/null");
  ASSERT_EQ(history.exit_code, 0) << history.output;
  const nlohmann::json epochs = nlohmann::json::parse(history.output);
  ASSERT_TRUE(epochs.is_array());
  ASSERT_GE(epochs.size(), 1u);
  EXPECT_EQ(epochs[0]["epoch"], 1);
  const double auc = epochs[0]["valid"]["click"]["auc"].get<double>();  // one epoch on 2,800 rows: any AUC
  EXPECT_GE(auc, 0.0);
  EXPECT_LE(auc, 1.0);
  EXPECT_TRUE(epochs[0]["valid"]["cart"].contains("logloss"));
  // The report: the search by trial, time and compute, and each param against the score.
  const std::string report = ReadFileBytes((dir / "out/report.html").string());
  for (const char* chart : {"by_trial", "by_time", "by_compute", "param_train.lr", "param_model.experts"}) {
    EXPECT_NE(report.find(std::string("data-chart=\"") + chart + "\""), std::string::npos) << chart;
  }
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

// Killed after its first trial, the search goes on from tune.json when started again: that trial is kept as it
// was, the others follow, and no trial of the killed run is left training.
TEST(TuneTest, AKilledSearchGoesOn) {
  const std::filesystem::path dir = FreshDir("tune_kill");
  ASSERT_EQ(RunMtrec("simulate --preset ecommerce --rows 4000 --seed 2 --out " + (dir / "sim").string()).exit_code, 0);
  WriteText(dir / "space.toml", "[params.\"train.lr\"]\nlow = 3e-4\nhigh = 3e-3\nlog = true\n");
  const std::string tune = std::string(MTREC_BINARY) + " tune --config " + (dir / "sim/config.toml").string() +
                           " --space " + (dir / "space.toml").string() + " --out " + (dir / "out").string() +
                           " --trials 3 --method random train.epochs=2";
  // In the background; killed (SIGKILL: no chance to tidy up) once tune.json holds a finished trial.
  const RunResult started = RunShell("(" + tune + " > " + (dir / "first.log").string() +
                                     " 2>&1 & echo $! > " + (dir / "pid").string() + ")");
  ASSERT_EQ(started.exit_code, 0);
  const std::string json_path = (dir / "out/tune.json").string();
  bool finished_one = false;
  for (int i = 0; i < 600 && !finished_one; ++i) {
    usleep(50000);
    if (std::filesystem::exists(json_path)) {
      const auto saved = nlohmann::json::parse(ReadFileBytes(json_path), nullptr, false);
      if (!saved.is_discarded()) {
        for (const auto& trial : saved["trials"]) finished_one = finished_one || trial["state"] == "complete";
      }
    }
  }
  ASSERT_TRUE(finished_one) << ReadFileBytes((dir / "first.log").string());
  RunShell("kill -9 $(cat " + (dir / "pid").string() + ")");
  usleep(300000);
  // The trial that was training died with the tuner (its parent-death signal).
  // ("[t]rain": the pattern does not match the command line of the shell that runs pgrep.)
  EXPECT_NE(RunShell("pgrep -f '[t]rain --config " + (dir / "sim/config.toml").string() + "'").exit_code, 0);
  const auto killed = nlohmann::json::parse(ReadFileBytes(json_path));
  const RunResult again = RunShell(tune);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const auto resumed = nlohmann::json::parse(ReadFileBytes(json_path));
  ASSERT_EQ(resumed["trials"].size(), 3u);
  for (const auto& trial : resumed["trials"]) EXPECT_EQ(trial["state"], "complete") << trial.dump();
  for (const auto& trial : killed["trials"]) {
    if (trial["state"] == "complete") {
      EXPECT_EQ(resumed["trials"][trial["id"].get<size_t>()], trial);
    }
  }
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
