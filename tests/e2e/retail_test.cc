// simulate --preset retail -> train -> eval on a small run: the config the simulator writes trains as it is, and
// eval scores the two tasks that have truth columns against their oracles.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "common/files.h"

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
  nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json));
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
