// mtrec backtest over rolling origins on a tiny retail run: the folds' origins and row counts follow from the dates
// in the files, the mean is the folds' average, and configs or arguments that cannot backtest are refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/dates.h"
#include "common/files.h"
#include "common/strings.h"

namespace mtrec::e2e {
namespace {

// The day of every row of the simulator's files (the date is their first column).
std::vector<int32_t> DaysOfFiles(const std::filesystem::path& dir) {
  std::vector<int32_t> days;
  for (const char* name : {"train.csv", "valid.csv", "test.csv"}) {
    const std::string text = ReadFileBytes((dir / name).string());
    size_t line = text.find('\n') + 1;  // after the header
    while (line < text.size()) {
      days.push_back(*ParseIsoDate(std::string_view(text).substr(line, 10)));
      line = text.find('\n', line) + 1;
      if (line == 0) break;
    }
  }
  return days;
}

int64_t CountDays(const std::vector<int32_t>& days, int32_t after, int32_t until) {
  return std::count_if(days.begin(), days.end(), [&](int32_t d) { return d > after && d <= until; });
}

class BacktestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("backtest");
    RunResult sim = RunMtrec("-q simulate --preset retail --stores 3 --items 8 --days 90 --seed 2 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
  }
  static std::string Config() { return (dir_ / "config.toml").string(); }
  static std::filesystem::path dir_;
};
std::filesystem::path BacktestTest::dir_;

TEST_F(BacktestTest, FoldsFollowTheDatesAndTheMeanAveragesThem) {
  const std::string json_path = (dir_ / "backtest.json").string();
  RunResult run = RunMtrec("backtest --config " + Config() + " --folds 2 --horizon 7 --step 10 --json " + json_path +
                           " train.epochs=1 train.threads=2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("fold 1: origin"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("mean over 2 folds: sales wape"), std::string::npos) << run.output;
  const nlohmann::json json = nlohmann::json::parse(ReadFileBytes(json_path));
  ASSERT_EQ(json["folds"].size(), 2u);

  const std::vector<int32_t> days = DaysOfFiles(dir_);
  const int32_t last = *std::max_element(days.begin(), days.end());
  const int32_t low = std::numeric_limits<int32_t>::min();
  for (int i = 1; i <= 2; ++i) {
    const nlohmann::json& fold = json["folds"][i - 1];
    const int32_t origin = last - 7 - (2 - i) * 10;
    EXPECT_EQ(fold["fold"].get<int>(), i);
    EXPECT_EQ(fold["origin"].get<std::string>(), FormatIsoDate(origin));
    // Valid: the 7 days up to the origin (--valid-days defaults to the horizon); test: the 7 after it.
    EXPECT_EQ(fold["train"]["rows"].get<int64_t>(), CountDays(days, low, origin - 7)) << "fold " << i;
    EXPECT_EQ(fold["valid"]["rows"].get<int64_t>(), CountDays(days, origin - 7, origin)) << "fold " << i;
    EXPECT_EQ(fold["test"]["rows"].get<int64_t>(), CountDays(days, origin, origin + 7)) << "fold " << i;
    EXPECT_EQ(fold["test"]["first"].get<std::string>(), FormatIsoDate(origin + 1));
    EXPECT_EQ(fold["test"]["last"].get<std::string>(), FormatIsoDate(origin + 7));
    EXPECT_EQ(fold["tasks"]["sales"]["rows"].get<int64_t>(), fold["test"]["rows"].get<int64_t>());
  }
  int64_t compared = 0;
  for (const auto& [task, metrics] : json["mean"].items()) {
    for (const auto& [key, value] : metrics.items()) {
      const nlohmann::json& a = json["folds"][0]["tasks"][task][key];
      const nlohmann::json& b = json["folds"][1]["tasks"][task][key];
      if (!a.is_number() || !b.is_number()) continue;
      ASSERT_TRUE(value.is_number()) << task << "." << key;
      EXPECT_NEAR(value.get<double>(), (a.get<double>() + b.get<double>()) / 2,
                  1e-9 * std::max(1.0, std::abs(value.get<double>())))
          << task << "." << key;
      ++compared;
    }
  }
  EXPECT_GT(compared, 20);
  for (const char* key : {"wape", "mase"}) EXPECT_TRUE(json["mean"]["sales"].contains(key)) << key;
  EXPECT_TRUE(json["mean"]["sales_p90"].contains("coverage"));
  EXPECT_TRUE(json["mean"]["stockout"].contains("auc"));
}

TEST_F(BacktestTest, RefusesWhatCannotBacktest) {
  RunResult too_many = RunMtrec("-q backtest --config " + Config() + " --folds 20 --horizon 7 train.epochs=1");
  EXPECT_NE(too_many.exit_code, 0);
  EXPECT_NE(too_many.output.find("fold 1 of 20 (origin "), std::string::npos) << too_many.output;
  EXPECT_NE(too_many.output.find("to train on (the data run from"), std::string::npos) << too_many.output;
  RunResult no_folds = RunMtrec("-q backtest --config " + Config() + " --folds 0 --horizon 7");
  EXPECT_NE(no_folds.exit_code, 0);
  EXPECT_NE(no_folds.output.find("--folds 0: backtest needs at least 1 fold"), std::string::npos) << no_folds.output;
  RunResult no_horizon = RunMtrec("-q backtest --config " + Config() + " --folds 2 --horizon 0");
  EXPECT_NE(no_horizon.exit_code, 0);
  EXPECT_NE(no_horizon.output.find("--horizon 0"), std::string::npos) << no_horizon.output;

  const std::filesystem::path plain = FreshDir("backtest_plain");
  ASSERT_EQ(RunMtrec("-q simulate --preset ecommerce --rows 500 --seed 1 --out " + plain.string()).exit_code, 0);
  RunResult undated = RunMtrec("-q backtest --config " + (plain / "config.toml").string() + " --folds 2 --horizon 7");
  EXPECT_NE(undated.exit_code, 0);
  EXPECT_NE(undated.output.find("backtest needs [time_series] date"), std::string::npos) << undated.output;
}

}  // namespace
}  // namespace mtrec::e2e
