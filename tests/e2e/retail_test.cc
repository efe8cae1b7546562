// simulate --preset retail -> train -> eval on a small run: the config the simulator writes trains as it is, and
// eval scores the two tasks that have truth columns against their oracles.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace mtrec::e2e {
namespace {

TEST(RetailTest, SimulateTrainEval) {
  const std::filesystem::path dir = FreshDir("retail");
  RunResult sim = RunMtrec("simulate --preset retail --stores 6 --items 20 --days 90 --seed 3 --out " + dir.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  EXPECT_NE(sim.output.find("stock-out rate"), std::string::npos) << sim.output;
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model +
                             " train.epochs=1 train.threads=2");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string json = (dir / "metrics.json").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir / "test.csv").string() + " --json " + json);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  nlohmann::json metrics = nlohmann::json::parse(ReadText(json));
  EXPECT_GT(metrics["rows"].get<int64_t>(), 0);
  EXPECT_GT(metrics["tasks"]["stockout"]["oracle_auc"].get<double>(), 0.7) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["sales"].contains("oracle_rmse")) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["units_next_7d"].contains("rmse")) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["stockout_next_7d"].contains("auc")) << eval.output;
}

// The derived time-series columns of a later file, read with --history, are those of the same rows inside one file
// that holds the history before them: predictions agree to the last digit, and eval --history sees the same rows.
TEST(RetailTest, PredictWithHistoryEqualsScoringTheRowsInsideOneFile) {
  const std::filesystem::path dir = FreshDir("retail_history");
  RunResult sim = RunMtrec("simulate --preset retail --stores 3 --items 8 --days 80 --seed 4 --out " + dir.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model +
                             " train.epochs=1 train.threads=2");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string train_csv = ReadText(dir / "train.csv");
  const std::string valid_csv = ReadText(dir / "valid.csv");
  const std::string test_csv = ReadText(dir / "test.csv");
  auto body = [](const std::string& csv) { return csv.substr(csv.find('\n') + 1); };
  WriteText(dir / "all.csv", train_csv + body(valid_csv) + body(test_csv));
  RunResult later = RunMtrec("predict --model " + model + " --data " + (dir / "test.csv").string() + " --history " +
                             (dir / "train.csv").string() + " --history " + (dir / "valid.csv").string() +
                             " --out " + (dir / "later.csv").string());
  ASSERT_EQ(later.exit_code, 0) << later.output;
  EXPECT_NE(later.output.find("over " + std::to_string(std::count(train_csv.begin(), train_csv.end(), '\n') - 1 +
                                                       std::count(valid_csv.begin(), valid_csv.end(), '\n') - 1) +
                              " history rows"),
            std::string::npos)
      << later.output;
  RunResult whole = RunMtrec("predict --model " + model + " --data " + (dir / "all.csv").string() + " --out " +
                             (dir / "whole.csv").string());
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const std::string later_predictions = ReadText(dir / "later.csv");
  const std::string whole_predictions = ReadText(dir / "whole.csv");
  const size_t test_rows = std::count(test_csv.begin(), test_csv.end(), '\n') - 1;
  std::vector<std::string> lines;
  for (size_t at = 0, next; at < whole_predictions.size(); at = next + 1) {
    next = whole_predictions.find('\n', at);
    lines.push_back(whole_predictions.substr(at, next - at + 1));
  }
  ASSERT_GT(lines.size(), test_rows);
  std::string tail = lines[0];  // the header
  for (size_t i = lines.size() - test_rows; i < lines.size(); ++i) tail += lines[i];
  EXPECT_EQ(later_predictions, tail);
  // Without the history the test file's first days lack their lags, and the predictions differ.
  RunResult alone = RunMtrec("predict --model " + model + " --data " + (dir / "test.csv").string() + " --out " +
                             (dir / "alone.csv").string());
  ASSERT_EQ(alone.exit_code, 0) << alone.output;
  EXPECT_NE(ReadText(dir / "alone.csv"), later_predictions);
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir / "test.csv").string() + " --history " +
                            (dir / "train.csv").string() + " --history " + (dir / "valid.csv").string());
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("history rows"), std::string::npos) << eval.output;
}

// data.split_by = "date" on the training file alone: validation and test days carved out of it by range.
TEST(RetailTest, TrainsOnADateSplitOfOneFile) {
  const std::filesystem::path dir = FreshDir("retail_date_split");
  RunResult sim = RunMtrec("simulate --preset retail --stores 3 --items 8 --days 60 --seed 5 --out " + dir.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  // The first day is 2022-01-03; of the 48 training days, the last two weeks are held out and a gap day dropped.
  RunResult train = RunMtrec("train --config " + (dir / "config.toml").string() + " --out " +
                             (dir / "model.mtrec").string() +
                             " train.epochs=1 train.threads=2 data.valid= data.test= data.split_by=date"
                             " data.valid_dates=2022-02-07..2022-02-12 data.test_dates=2022-02-14..2022-02-19");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("by date: "), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("dropped "), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("test metrics"), std::string::npos) << train.output;
  RunResult part = RunMtrec("eval --model " + (dir / "model.mtrec").string() + " --data " +
                            (dir / "train.csv").string() + " --part test");
  ASSERT_EQ(part.exit_code, 0) << part.output;
  EXPECT_NE(part.output.find("--part test: "), std::string::npos) << part.output;
}

TEST(RetailTest, OptionsOfTheOtherPresetAreRefused) {
  const std::filesystem::path dir = FreshDir("retail_options");
  RunResult rows = RunMtrec("simulate --preset retail --rows 1000 --out " + dir.string());
  EXPECT_NE(rows.exit_code, 0);
  EXPECT_NE(rows.output.find("--rows does not apply to preset 'retail'"), std::string::npos) << rows.output;
  RunResult days = RunMtrec("simulate --days 30 --out " + dir.string());
  EXPECT_NE(days.exit_code, 0);
  EXPECT_NE(days.output.find("--days does not apply to preset 'ecommerce'"), std::string::npos) << days.output;
}

}  // namespace
}  // namespace mtrec::e2e
