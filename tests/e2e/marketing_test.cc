// simulate --preset marketing -> train -> eval -> predict on a small run: the config the simulator writes trains as
// it is (a ziln value task and a conversion task with per-arm heads, a propensity head), eval reports the value
// and uplift metrics beside the oracle's, and predict writes the expected value, its quantiles and the uplift.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/files.h"
#include "support/simulated_csv.h"

namespace mtrec::e2e {
namespace {

TEST(MarketingTest, SimulateTrainEvalPredict) {
  const std::filesystem::path dir = FreshDir("marketing");
  RunResult sim = RunMtrec("simulate --preset marketing --rows 6000 --targeted --seed 3 --out " + dir.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model +
                             " train.epochs=2 train.threads=2");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string json = (dir / "metrics.json").string();
  const std::string report = (dir / "report.html").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir / "test.csv").string() + " --json " + json +
                            " --report " + report);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json));
  const auto& revenue = metrics["tasks"]["revenue"];
  for (const char* key : {"gini", "spearman", "decile_max_rel_error", "revenue_share_top10", "revenue_share_top30",
                          "oracle_gini", "qini", "true_qini", "oracle_qini"}) {
    ASSERT_TRUE(revenue[key].is_number()) << key << ": " << revenue.dump();
  }
  // The truth ranks customers by value far better than chance, and a trained model does too.
  EXPECT_GT(revenue["oracle_gini"].get<double>(), 0.4);
  EXPECT_GT(revenue["gini"].get<double>(), 0.2) << revenue.dump();
  EXPECT_LE(revenue["revenue_share_top10"].get<double>(), revenue["revenue_share_top30"].get<double>());
  const auto& converted = metrics["tasks"]["converted"];
  for (const char* key : {"qini", "auuc", "uplift_top10", "policy_value_top10", "policy_value_none",
                          "policy_value_all", "true_qini", "true_uplift_top10", "pehe", "oracle_qini",
                          "oracle_true_qini"}) {
    ASSERT_TRUE(converted[key].is_number()) << key << ": " << converted.dump();
  }
  // Ranking by the true uplift gains more true uplift than any model of these rows can.
  EXPECT_GT(converted["oracle_true_qini"].get<double>(), 0.0);
  EXPECT_GE(converted["oracle_true_qini"].get<double>(), converted["true_qini"].get<double>());
  EXPECT_FALSE(metrics["tasks"]["churned"].contains("qini"));
  EXPECT_FALSE(metrics["tasks"]["churned"].contains("gini"));
  ASSERT_EQ(metrics["curves"]["revenue"]["deciles"].size(), 10u) << metrics["curves"].dump();
  EXPECT_GT(metrics["curves"]["converted"]["qini"].size(), 10u);
  const std::string html = ReadFileBytes(report);
  EXPECT_NE(html.find("Customer value and campaign effect"), std::string::npos);
  EXPECT_NE(html.find("deciles_revenue"), std::string::npos);
  EXPECT_NE(html.find("qini_converted"), std::string::npos);

  // predict: each task, then the ziln quantiles and each treated task's uplift and arms.
  const std::string out = (dir / "test.pred").string();
  RunResult predict = RunMtrec("predict --model " + model + " --data " + (dir / "test.csv").string() + " --out " + out);
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  const Rows predictions = ReadCsv(out);
  const std::vector<std::string> expected = {
      "converted",   "revenue",     "churned",        "treated",         "converted_uplift", "converted_treated",
      "converted_control", "revenue_q10", "revenue_q50", "revenue_q90", "revenue_uplift",   "revenue_treated",
      "revenue_control"};
  ASSERT_EQ(predictions.header, expected);
  const Rows test = ReadCsv(dir / "test.csv");
  ASSERT_EQ(predictions.cells.size(), test.cells.size());
  for (size_t r = 0; r < test.cells.size(); ++r) {
    const auto p = [&](const char* name) { return predictions.Number(r, name); };
    // Written with 7 significant digits: differences of probabilities agree to about 1e-6.
    EXPECT_NEAR(p("converted_uplift"), p("converted_treated") - p("converted_control"), 2e-6) << r;
    EXPECT_NEAR(p("converted"), test.Number(r, "treatment") == 1 ? p("converted_treated") : p("converted_control"),
                1e-6)
        << r;
    EXPECT_NEAR(p("revenue"), test.Number(r, "treatment") == 1 ? p("revenue_treated") : p("revenue_control"),
                1e-5 * p("revenue"))
        << r;
    EXPECT_GE(p("revenue_q10"), 0.0) << r;
    EXPECT_LE(p("revenue_q10"), p("revenue_q50")) << r;
    EXPECT_LE(p("revenue_q50"), p("revenue_q90")) << r;
  }
}

TEST(MarketingTest, BadTreatmentValueIsReportedWithItsLine) {
  const std::filesystem::path dir = FreshDir("marketing_bad");
  RunResult sim = RunMtrec("simulate --preset marketing --rows 1000 --seed 3 --out " + dir.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  // The third data row of train.csv gets treatment 2.
  std::string text = ReadFileBytes((dir / "train.csv").string());
  size_t line_start = 0;
  for (int line = 0; line < 3; ++line) line_start = text.find('\n', line_start) + 1;
  const std::string header = text.substr(0, text.find('\n'));
  int column = 0;
  for (size_t at = 0; at < header.find("treatment"); ++at) column += header[at] == ',';
  size_t field = line_start;
  for (int c = 0; c < column; ++c) field = text.find(',', field) + 1;
  text.replace(field, 1, "2");
  WriteFileAtomic((dir / "train.csv").string(), text);
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " +
                             (dir / "m.mtrec").string() + " train.epochs=1");
  EXPECT_NE(train.exit_code, 0);
  EXPECT_NE(train.output.find("train.csv:4"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("column 'treatment'"), std::string::npos) << train.output;
}

}  // namespace
}  // namespace mtrec::e2e
