// Permutation importance end to end: on a file where one feature drives each task and others are pure noise, the
// drivers' importance is large and the noise's about 0.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "common/files.h"
#include "common/rng.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

// buy (binary) follows `signal`; amount (regression) follows `shade`; `noise` and `junk` are independent of both.
std::string SyntheticRows(int64_t rows, uint64_t seed) {
  Rng rng(seed);
  std::string text = "signal,noise,shade,junk,buy,amount\n";
  for (int64_t i = 0; i < rows; ++i) {
    const double signal = rng.Normal();
    const double noise = rng.Normal();
    const int shade = static_cast<int>(rng.Below(5));
    const int junk = static_cast<int>(rng.Below(8));
    const int buy = rng.Uniform() < 1 / (1 + std::exp(-3 * signal)) ? 1 : 0;
    const double amount = shade + 0.3 * rng.Normal();
    text += fmt::format("{:.4f},{:.4f},s{},j{},{},{:.4f}\n", signal, noise, shade, junk, buy, amount);
  }
  return text;
}

constexpr const char* kConfig = R"([data]
train = "train.csv"
valid = "valid.csv"

[[features]]
name = "signal"
kind = "numeric"

[[features]]
name = "noise"
kind = "numeric"

[[features]]
name = "shade"

[[features]]
name = "junk"

[[tasks]]
name = "buy"

[[tasks]]
name = "amount"
kind = "regression"

[model]
bottom = [32]
tower = [16]

[train]
epochs = 4
threads = 2
)";

TEST(ImportanceTest, DrivingFeaturesMatterAndNoiseDoesNot) {
  const fs::path dir = FreshDir("importance");
  WriteText(dir / "train.csv", SyntheticRows(6000, 1));
  WriteText(dir / "valid.csv", SyntheticRows(1000, 2));
  WriteText(dir / "test.csv", SyntheticRows(6000, 3));
  WriteText(dir / "config.toml", kConfig);
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model);
  ASSERT_EQ(train.exit_code, 0) << train.output;

  const std::string json_path = (dir / "metrics.json").string();
  const std::string report_path = (dir / "report.html").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir / "test.csv").string() +
                            " --importance --json " + json_path + " --report " + report_path);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("permutation importance for buy (auc "), std::string::npos) << eval.output;
  EXPECT_NE(eval.output.find("permutation importance: 4 features over 6000 rows in "), std::string::npos);

  const nlohmann::ordered_json json = nlohmann::ordered_json::parse(ReadFileBytes(json_path));
  ASSERT_TRUE(json.contains("importance")) << json.dump();
  const auto& buy = json["importance"]["buy"];
  EXPECT_EQ(buy["metric"], "auc");
  EXPECT_NEAR(buy["base"].get<double>(), json["tasks"]["buy"]["auc"].get<double>(), 1e-12);
  const auto& amount = json["importance"]["amount"];
  EXPECT_EQ(amount["metric"], "rmse");
  EXPECT_NEAR(amount["base"].get<double>(), json["tasks"]["amount"]["rmse"].get<double>(), 1e-12);
  for (const auto* task : {&buy, &amount}) {
    ASSERT_EQ((*task)["importance"].size(), 4u);
    double previous = INFINITY;
    for (const auto& [feature, value] : (*task)["importance"].items()) {
      EXPECT_LE(value.get<double>(), previous) << feature << ": most important first";
      previous = value.get<double>();
    }
  }
  EXPECT_EQ(buy["importance"].begin().key(), "signal");
  EXPECT_GT(buy["importance"]["signal"].get<double>(), 0.05);
  EXPECT_LT(std::abs(buy["importance"]["noise"].get<double>()), 0.01);
  EXPECT_LT(std::abs(buy["importance"]["junk"].get<double>()), 0.01);
  EXPECT_LT(std::abs(buy["importance"]["shade"].get<double>()), 0.01);
  EXPECT_EQ(amount["importance"].begin().key(), "shade");
  EXPECT_GT(amount["importance"]["shade"].get<double>(), 0.5);  // RMSE from ~0.3 to ~2 (shade's spread is 1.4)
  EXPECT_LT(std::abs(amount["importance"]["noise"].get<double>()), 0.01);
  EXPECT_LT(std::abs(amount["importance"]["junk"].get<double>()), 0.01);

  const std::string html = ReadFileBytes(report_path);
  EXPECT_NE(html.find("Feature importance"), std::string::npos);
  EXPECT_NE(html.find("data-chart=\"importance\""), std::string::npos);

  // Without the flag (and eval.importance false) nothing is shuffled.
  RunResult plain =
      RunMtrec("eval --model " + model + " --data " + (dir / "test.csv").string() + " --json " + json_path);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_FALSE(nlohmann::ordered_json::parse(ReadFileBytes(json_path)).contains("importance"));
}

}  // namespace
}  // namespace mtrec::e2e
