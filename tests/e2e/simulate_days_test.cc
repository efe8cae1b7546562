// simulate --days -> train -> eval on a small run: daily partitions of a drifting world and a small second market,
// whose configs train as they are; a model of the big market scores the small one's files (same columns), and the
// options that need --days, or another preset, are refused with the option named.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

TEST(SimulateDaysTest, SimulateTrainEvalBothMarkets) {
  const std::filesystem::path dir = FreshDir("simulate_days");
  RunResult sim = RunMtrec("simulate --days 6 --rows 3000 --drift 0.8 --market 0.1 --seed 3 --out " + dir.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  EXPECT_NE(sim.output.find("(6 days of 2700 rows), train.csv (10800 rows), valid.csv (2700), test.csv (2700)"),
            std::string::npos)
      << sim.output;
  EXPECT_NE(sim.output.find("drift 0.8: items on sale 375 on day 1"), std::string::npos) << sim.output;
  EXPECT_NE(sim.output.find("market b: "), std::string::npos) << sim.output;
  EXPECT_NE(sim.output.find("300 rows a day (0.100 of all), 1800 in all"), std::string::npos) << sim.output;
  for (const char* file : {"days/day-001.csv", "days/day-006.csv", "market-b/days/day-006.csv",
                           "market-b/train.csv", "market-b/config.toml"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / file)) << file;
  }

  const std::string model = (dir / "a.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model +
                             " train.epochs=1 train.threads=2");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string json = (dir / "b.json").string();
  RunResult eval = RunMtrec("-q eval --model " + model + " --data " + (dir / "market-b" / "test.csv").string() +
                            " --json " + json);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json));
  EXPECT_EQ(metrics["rows"].get<int64_t>(), 300);
  EXPECT_GT(metrics["tasks"]["click"]["oracle_auc"].get<double>(), 0.6) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["click"]["auc"].is_number()) << eval.output;

  RunResult train_b = RunMtrec("-q train --config " + (dir / "market-b" / "config.toml").string() + " --out " +
                               (dir / "b.mtrec").string() + " train.epochs=1 train.threads=2");
  EXPECT_EQ(train_b.exit_code, 0) << train_b.output;
}

TEST(SimulateDaysTest, OptionsThatNeedDaysOrEcommerceAreRefused) {
  const std::filesystem::path dir = FreshDir("simulate_days_options");
  RunResult drift = RunMtrec("simulate --rows 1000 --drift 0.3 --out " + dir.string());
  EXPECT_NE(drift.exit_code, 0);
  EXPECT_NE(drift.output.find("--drift and --market apply to daily partitions: add --days N"), std::string::npos)
      << drift.output;
  RunResult market = RunMtrec("simulate --preset retail --days 30 --market 0.05 --out " + dir.string());
  EXPECT_NE(market.exit_code, 0);
  EXPECT_NE(market.output.find("--market does not apply to preset 'retail'"), std::string::npos) << market.output;
  RunResult range = RunMtrec("simulate --days 5 --drift 2 --out " + dir.string());
  EXPECT_NE(range.exit_code, 0);
  EXPECT_NE(range.output.find("--drift"), std::string::npos) << range.output;
  RunResult share = RunMtrec("simulate --days 5 --rows 1000 --market 0.7 --out " + dir.string());
  EXPECT_NE(share.exit_code, 0);
  EXPECT_NE(share.output.find("market_share must be 0 (one market) or in (0, 0.5], found 0.7"), std::string::npos)
      << share.output;
  RunResult days = RunMtrec("simulate --days 2 --rows 1000 --out " + dir.string());
  EXPECT_NE(days.exit_code, 0);
  EXPECT_NE(days.output.find("days must be 0 (one snapshot) or in [3, 3650]"), std::string::npos) << days.output;
}

}  // namespace
}  // namespace mtrec::e2e
