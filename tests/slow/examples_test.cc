// The slow tier (`make test-slow`, ctest label `slow`): the examples at full size, checked against the figures
// their READMEs quote. Each runs the example's script as a user would and reads its last line, the script's
// contract (`census: arch=ple income_auc_mean=X ...`).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "e2e/cli_runner.h"

namespace mtrec::e2e {
namespace {

// The key=value pairs of an output's last non-empty line that starts with `prefix`.
std::map<std::string, std::string> LastLineFields(const std::string& output, const std::string& prefix = "") {
  std::istringstream lines(output);
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.starts_with(prefix)) last = line;
  }
  std::map<std::string, std::string> fields;
  std::istringstream words(last);
  std::string word;
  while (words >> word) {
    const size_t eq = word.find('=');
    if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return fields;
}

double Field(const std::map<std::string, std::string>& fields, const std::string& key) {
  auto it = fields.find(key);
  EXPECT_NE(it, fields.end()) << "no " << key << "= in the last line";
  return it == fields.end() ? 0.0 : std::stod(it->second);
}

RunResult RunExample(const std::string& script_and_args) {
  return RunShell("MTREC=" + std::string(MTREC_BINARY) + " " + std::string(MTREC_SOURCE_DIR) + "/examples/" +
                  script_and_args);
}

// examples/ecommerce at its default size (1.25M rows): the model within 0.01 AUC of the simulator's oracle on click
// and purchase, as the README and the simulator's default size promise.
TEST(ExamplesTest, EcommerceTrainsCloseToTheOracle) {
  RunResult run = RunExample("ecommerce/run.sh");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto fields = LastLineFields(run.output);
  EXPECT_GT(Field(fields, "click_auc"), Field(fields, "click_oracle") - 0.01) << run.output;
  EXPECT_GT(Field(fields, "purchase_auc"), Field(fields, "purchase_oracle") - 0.01) << run.output;
}

// examples/census, one seed of the shipped PLE config: above the best published figures on this protocol (the PLE
// paper's 0.9522 income / 0.9945 never-married); the README's 5-seed mean is 0.9557 / 0.99497.
TEST(ExamplesTest, CensusBeatsThePublishedAucs) {
  const std::filesystem::path data =
      std::filesystem::path(MTREC_SOURCE_DIR) / "../shared/data/census-kdd/census-income.data.xz";
  const char* census_dir = std::getenv("CENSUS_DIR");
  if (census_dir == nullptr && !std::filesystem::exists(data)) {
    GTEST_SKIP() << "the Census-Income files are not here: set CENSUS_DIR to the folder holding "
                    "census-income.data.xz and census-income.test.xz";
  }
  RunResult run = RunExample("census/run.sh --seeds 1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto fields = LastLineFields(run.output);
  EXPECT_GT(Field(fields, "income_auc_mean"), 0.9522) << run.output;
  EXPECT_GT(Field(fields, "marital_auc_mean"), 0.9945) << run.output;
}

// examples/retail at its default size without LightGBM (bench/retail compares it): the targets against the
// seasonal naive and the oracle, the p90 rung's coverage, and the censored likelihood's smaller demand bias.
TEST(ExamplesTest, RetailForecastsBeatTheNaiveNearTheOracle) {
  RunResult run = RunExample("retail/run.sh --no-lgbm");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto fields = LastLineFields(run.output);
  EXPECT_LE(Field(fields, "wape"), 0.75 * Field(fields, "naive_wape")) << run.output;
  EXPECT_LE(Field(fields, "wape"), 1.05 * Field(fields, "oracle_wape")) << run.output;
  EXPECT_GE(Field(fields, "coverage90"), 0.88) << run.output;
  EXPECT_LE(Field(fields, "coverage90"), 0.92) << run.output;
  double censored = 0, uncensored = 0;
  const size_t at = run.output.find("demand bias against the true mean demand:");
  ASSERT_NE(at, std::string::npos) << run.output;
  ASSERT_EQ(std::sscanf(run.output.c_str() + at,
                        "demand bias against the true mean demand: censored likelihood %lf%%, without it %lf%%",
                        &censored, &uncensored),
            2)
      << run.output;
  EXPECT_LT(std::abs(censored), std::abs(uncensored)) << run.output;
}

// examples/marketing at its default size (1M customers) under random assignment, without the peers
// (bench/marketing compares them): customer value within 10% of the oracle's Gini, and an uplift ranking that
// captures at least half of the oracle's Qini (the README's figures: 96% and 57%; a features-only model of the
// true uplift reaches 73%, since the truth also depends on traits no column shows), every predicted decile's mean
// near its actual mean (7.6% in the README).
TEST(ExamplesTest, MarketingRanksValueAndUpliftNearTheOracle) {
  RunResult run = RunExample("marketing/run.sh --no-peers --no-targeted");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto fields = LastLineFields(run.output);
  EXPECT_GE(Field(fields, "gini"), 0.9 * Field(fields, "oracle_gini")) << run.output;
  EXPECT_GE(Field(fields, "qini"), 0.5 * Field(fields, "oracle_qini")) << run.output;
  EXPECT_LE(Field(LastLineFields(run.output, "value (revenue):"), "decile_max_rel_error"), 0.15) << run.output;
}

// examples/lifecycle at a fifth of its size (4,000 impressions a day, a 200,000-row snapshot for the new task):
// the stream beats the model frozen after day 7 by 0.01 and stays within 0.005 of a daily full retrain at under
// a fifth of its compute; its embedding rows stay within the ids active in its window; the small market gains
// from the big market's model; the task added with 10% of its labels stays within 0.01 of all tasks trained from
// scratch (the README's figures, at full size, are tighter).
TEST(ExamplesTest, LifecycleStreamTransferAndNewTask) {
  RunResult run = RunExample("lifecycle/run.sh --rows 4000 --snapshot-rows 200000");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto fields = LastLineFields(run.output);
  EXPECT_GE(Field(fields, "incremental_auc"), Field(fields, "frozen_auc") + 0.01) << run.output;
  EXPECT_GE(Field(fields, "incremental_auc"), Field(fields, "retrain_auc") - 0.005) << run.output;
  EXPECT_LE(Field(fields, "compute_ratio"), 0.2) << run.output;
  EXPECT_GE(Field(fields, "transfer_auc"), Field(fields, "scratch_auc")) << run.output;
  EXPECT_GE(Field(fields, "newtask_auc"), Field(fields, "newtask_full_auc") - 0.01) << run.output;
  EXPECT_LE(Field(LastLineFields(run.output, "memory:"), "max_ratio"), 1.2) << run.output;
}

}  // namespace
}  // namespace mtrec::e2e
