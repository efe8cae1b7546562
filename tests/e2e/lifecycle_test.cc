// A model's life through the command line: trained on day 1, warm-started on day 2 with a task added and parts
// frozen (`train --init-from`, train.freeze), and the refusals of what cannot be warm-started.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

// The simulated config without its gmv task (the base model of a transfer to a new task).
std::string WithoutGmv(std::string config) {
  const size_t begin = config.find("# Revenue per impression");
  const size_t end = config.find("# A shared-bottom network");
  return config.erase(begin, end - begin);
}

class LifecycleTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(FreshDir("lifecycle"));
    const RunResult sim = RunMtrec("-q simulate --days 4 --rows 20000 --seed 5 --out " + dir_->string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
    WriteText(*dir_ / "base.toml", WithoutGmv(ReadFileBytes(*dir_ / "config.toml")));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }
  static const std::string kFast;

  static std::filesystem::path* dir_;
};

std::filesystem::path* LifecycleTest::dir_ = nullptr;
const std::string LifecycleTest::kFast = " train.epochs=2 train.threads=2 model.bottom=[32] model.tower=[8]";

TEST_F(LifecycleTest, ANewTaskOnADayLaterWithTheBodyFrozen) {
  RunResult base = RunMtrec("train --config " + Path("base.toml") + " --out " + Path("base.mtrec") +
                            " data.train=days/day-001.csv data.valid=days/day-002.csv" + kFast);
  ASSERT_EQ(base.exit_code, 0) << base.output;

  RunResult warm = RunMtrec("train --config " + Path("config.toml") + " --init-from " + Path("base.mtrec") +
                            " --out " + Path("warm.mtrec") +
                            " data.train=days/day-002.csv data.valid=days/day-003.csv" + kFast +
                            " 'train.freeze=[\"embeddings\", \"bottom\"]'");
  ASSERT_EQ(warm.exit_code, 0) << warm.output;
  EXPECT_NE(warm.output.find("warm start from " + Path("base.mtrec") + ":"), std::string::npos) << warm.output;
  EXPECT_NE(warm.output.find("new outputs, trained from scratch: gmv"), std::string::npos) << warm.output;
  EXPECT_NE(warm.output.find("feature item_id: "), std::string::npos) << warm.output;  // new items admitted
  EXPECT_NE(warm.output.find("frozen: "), std::string::npos) << warm.output;

  const std::string json = Path("warm.json");
  RunResult eval = RunMtrec("-q eval --model " + Path("warm.mtrec") + " --data " + Path("days/day-004.csv") +
                            " --json " + json);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json));
  EXPECT_GT(metrics["tasks"]["click"]["auc"].get<double>(), 0.6) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["gmv"].contains("rmse")) << eval.output;
}

TEST_F(LifecycleTest, WhatCannotBeWarmStartedIsRefusedByName) {
  RunResult base = RunMtrec("-q train --config " + Path("config.toml") + " --out " + Path("mmoe.mtrec") +
                            " data.train=days/day-001.csv model.arch=mmoe model.expert=[8] model.experts=2" + kFast);
  ASSERT_EQ(base.exit_code, 0) << base.output;

  RunResult wider = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("mmoe.mtrec") +
                             " --out " + Path("x.mtrec") +
                             " data.train=days/day-002.csv model.arch=mmoe model.expert=[12] model.experts=2" + kFast);
  EXPECT_NE(wider.exit_code, 0);
  EXPECT_NE(wider.output.find("--init-from " + Path("mmoe.mtrec") + ": tensor 'experts."), std::string::npos)
      << wider.output;

  RunResult freeze = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("mmoe.mtrec") +
                              " --out " + Path("x.mtrec") + " data.train=days/day-002.csv model.arch=mmoe "
                              "model.expert=[8] model.experts=2 'train.freeze=[\"expert\"]'" + kFast);
  EXPECT_NE(freeze.exit_code, 0);
  EXPECT_NE(freeze.output.find("train.freeze: 'expert' names no part of this model"), std::string::npos)
      << freeze.output;

  RunResult both = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("mmoe.mtrec") +
                            " --resume " + Path("mmoe.mtrec") + ".ckpt");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("--init-from and --resume"), std::string::npos) << both.output;

  RunResult missing = RunMtrec("-q train --config " + Path("config.toml") + " --init-from " + Path("none.mtrec"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find(Path("none.mtrec")), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace mtrec::e2e
