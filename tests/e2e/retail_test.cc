// simulate --preset retail -> train -> eval on a small run: the config the simulator writes trains as it is (count
// losses, a censored demand task, a pinball ladder), eval scores the tasks that have truth columns against their
// oracles, and `predict` answers e^output for the count tasks and a p90 never below the p50.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include <algorithm>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/files.h"
#include "data/column_table.h"
#include "features/time_series.h"
#include "io/model_io.h"

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
  const std::string report = (dir / "report.html").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir / "test.csv").string() + " --history " +
                            (dir / "train.csv").string() + " --history " + (dir / "valid.csv").string() + " --json " +
                            json + " --report " + report);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json));
  // The forecasting keys the config asks for: horizons, the seasonal naive beside the model, the p90 rung's
  // pinball loss and coverage; and the report's forecast charts.
  EXPECT_EQ(metrics["tasks"]["sales"]["horizon"].get<int64_t>(), 1) << eval.output;
  EXPECT_EQ(metrics["tasks"]["units_next_7d"]["horizon"].get<int64_t>(), 7) << eval.output;
  for (const char* task : {"sales", "units_next_7d"}) {
    ASSERT_TRUE(metrics["tasks"][task]["mase"].is_number()) << task << ": " << eval.output;
    EXPECT_GT(metrics["tasks"][task]["naive_wape"].get<double>(), 0.0) << task;
  }
  EXPECT_NEAR(metrics["tasks"]["sales_p90"]["quantile"].get<double>(), 0.9, 1e-12);
  EXPECT_GT(metrics["tasks"]["sales_p90"]["coverage"].get<double>(), 0.5) << eval.output;
  EXPECT_GT(metrics["tasks"]["sales_p90"]["pinball"].get<double>(), 0.0) << eval.output;
  EXPECT_FALSE(metrics["tasks"]["sales"].contains("pinball")) << eval.output;
  const std::string html = ReadFileBytes(report);
  EXPECT_NE(html.find("Forecasts"), std::string::npos);
  EXPECT_NE(html.find("forecast to p90"), std::string::npos);
  EXPECT_GT(metrics["rows"].get<int64_t>(), 0);
  EXPECT_GT(metrics["tasks"]["stockout"]["oracle_auc"].get<double>(), 0.7) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["sales"].contains("oracle_rmse")) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["units_next_7d"].contains("rmse")) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["stockout_next_7d"].contains("auc")) << eval.output;
  // Every regression task reports the forecasting errors, on stdout and in the JSON; binary tasks do not.
  for (const char* task : {"sales", "units_next_7d"}) {
    const auto& m = metrics["tasks"][task];
    ASSERT_TRUE(m["wape"].is_number() && m["bias"].is_number()) << task << ": " << m.dump();
    EXPECT_GT(m["wape"].get<double>(), 0.0) << task;
    // bias = Σ(ŷ − y) / Σy, from the means the report prints beside it.
    EXPECT_NEAR(m["bias"].get<double>(),
                m["mean_prediction"].get<double>() / m["target_mean"].get<double>() - 1.0, 1e-9) << task;
  }
  EXPECT_TRUE(metrics["tasks"]["sales"]["oracle_wape"].is_number()) << eval.output;
  EXPECT_FALSE(metrics["tasks"]["stockout_next_7d"].contains("wape")) << eval.output;
  EXPECT_NE(eval.output.find("\nwape "), std::string::npos) << eval.output;
  EXPECT_NE(eval.output.find("\nbias "), std::string::npos) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["demand"].contains("oracle_rmse")) << eval.output;
  EXPECT_TRUE(metrics["tasks"]["sales_p90"].contains("mae")) << eval.output;

  // predict: the count tasks' columns are e^(the model's output), the ladder never crosses.
  const std::string test_csv = (dir / "test.csv").string();
  const std::string out = (dir / "test.pred").string();
  RunResult predict = RunMtrec("predict --model " + model + " --data " + test_csv + " --out " + out);
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  LoadedModel loaded = LoadModel(model);
  ColumnTable table =
      LoadTable(test_csv, loaded.config.data, FeaturePipeline::Requests(loaded.config, /*labels_required=*/false));
  AddTimeSeriesColumns(loaded.config, table, {});  // as `predict` without --history: the file's own earlier days
  const EncodedData data = loaded.pipeline->Encode(table);
  const int sales = loaded.config.TaskIndex("sales"), demand = loaded.config.TaskIndex("demand");
  const int p50 = loaded.config.TaskIndex("sales_p50"), p90 = loaded.config.TaskIndex("sales_p90");
  const int64_t rows = std::min<int64_t>(data.rows, 256);
  Batch batch;
  std::vector<int64_t> order(rows);
  for (int64_t r = 0; r < rows; ++r) order[r] = r;
  GatherBatch(data, order.data(), rows, &batch);
  const Tensor outputs = loaded.model->Forward(batch, Mode::kInfer);
  std::istringstream csv(ReadFileBytes(out));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "sales,stockout,units_next_7d,stockout_next_7d,demand,sales_p50,sales_p90");
  int64_t checked = 0;
  for (int64_t r = 0; std::getline(csv, line); ++r) {
    std::vector<double> values;
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) values.push_back(std::stod(field));
    ASSERT_EQ(values.size(), 7u) << line;
    EXPECT_GT(values[sales], 0) << "row " << r;
    EXPECT_GT(values[demand], 0) << "row " << r;
    EXPECT_LE(values[p50], values[p90]) << "row " << r;
    if (r < rows) {
      EXPECT_NEAR(values[sales], std::exp(outputs.At(r, sales)), 1e-5 * values[sales]) << "row " << r;
      EXPECT_NEAR(values[demand], std::exp(outputs.At(r, demand)), 1e-5 * values[demand]) << "row " << r;
      ++checked;
    }
  }
  EXPECT_EQ(checked, rows);
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
  const std::string train_csv = ReadFileBytes(dir / "train.csv");
  const std::string valid_csv = ReadFileBytes(dir / "valid.csv");
  const std::string test_csv = ReadFileBytes(dir / "test.csv");
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
  const std::string later_predictions = ReadFileBytes(dir / "later.csv");
  const std::string whole_predictions = ReadFileBytes(dir / "whole.csv");
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
  EXPECT_NE(ReadFileBytes(dir / "alone.csv"), later_predictions);
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
  RunResult days = RunMtrec("simulate --preset marketing --days 30 --out " + dir.string());
  EXPECT_NE(days.exit_code, 0);
  EXPECT_NE(days.output.find("--days does not apply to preset 'marketing'"), std::string::npos) << days.output;
}

}  // namespace
}  // namespace mtrec::e2e
