// Every architecture trains from the simulated example's config by changing model.arch only, with the task
// graph the simulator declares (cart and purchase chained to click), and evaluates, predicts and reports gates.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "cli_runner.h"
#include "common/files.h"
#include "common/names.h"

namespace mtrec::e2e {
namespace {

namespace fs = std::filesystem;

class ArchitecturesTest : public testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("architectures");
    RunResult sim = RunMtrec("simulate --rows 20000 --seed 5 --out " + dir_.string());
    ASSERT_EQ(sim.exit_code, 0) << sim.output;
  }
  static std::string Train(const std::string& out, const std::string& extra) {
    return "-q train --config " + (dir_ / "config.toml").string() + " --out " + out +
           " train.epochs=2 train.threads=2 model.experts=3 model.expert=[32,16] model.bottom=[32,16] " + extra;
  }
  static fs::path dir_;
};
fs::path ArchitecturesTest::dir_;

// The values of a CSV column, by header name.
std::vector<double> Column(const std::string& csv, const std::string& name) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream h(line);
  for (std::string field; std::getline(h, field, ',');) header.push_back(field);
  const auto at = std::find(header.begin(), header.end(), name);
  if (at == header.end()) return {};
  const size_t index = static_cast<size_t>(at - header.begin());
  std::vector<double> values;
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string field;
    for (size_t i = 0; i <= index; ++i) std::getline(row, field, ',');
    values.push_back(std::stod(field));
  }
  return values;
}

TEST_P(ArchitecturesTest, TrainsEvaluatesAndPredicts) {
  const std::string arch = GetParam();
  const std::string model = (dir_ / (arch + ".mtrec")).string();
  RunResult train = RunMtrec(Train(model, "model.arch=" + arch));
  ASSERT_EQ(train.exit_code, 0) << train.output;

  const std::string json_path = (dir_ / (arch + ".json")).string();
  const std::string test = (dir_ / "test.csv").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + test + " --json " + json_path);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json_path));
  EXPECT_GT(metrics["tasks"]["click"]["auc"].get<double>(), 0.55) << arch;
  const auto& purchase = metrics["tasks"]["purchase"];
  EXPECT_GT(purchase["auc"].get<double>(), 0.55) << arch;
  // The conditional p(purchase | click) against the simulator's truth, over every row.
  EXPECT_GT(purchase["cond_mae"].get<double>(), 0.0) << arch;
  EXPECT_LT(purchase["cond_mae"].get<double>(), 0.3) << arch;
  EXPECT_GT(purchase["oracle_cond_auc"].get<double>(), purchase["cond_auc"].get<double>() - 0.02) << arch;

  const bool gated = arch == "omoe" || arch == "mmoe" || arch == "ple" || arch == "adatt" || arch == "stem" ||
                     arch == "home";
  EXPECT_EQ(metrics.contains("gates"), gated) << metrics.dump(2);
  if (gated) {
    for (const auto& [gate, experts] : metrics["gates"].items()) {
      double sum = 0;
      for (const auto& [expert, weight] : experts.items()) sum += weight.get<double>();
      EXPECT_NEAR(sum, 1.0, 1e-4) << gate;
    }
    EXPECT_NE(eval.output.find("expert utilisation"), std::string::npos) << eval.output;
  }

  const std::string predictions = (dir_ / (arch + ".csv")).string();
  RunResult predict = RunMtrec("predict --conditional --model " + model + " --data " + test + " --out " + predictions);
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  const std::string csv = ReadFileBytes(predictions);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "click,cart,purchase,gmv,cart_given_click,purchase_given_click");
  const auto click = Column(csv, "click"), buy = Column(csv, "purchase"), buy_given_click = Column(csv, "purchase_given_click");
  ASSERT_EQ(click.size(), 2000u);
  for (size_t r = 0; r < click.size(); ++r) {
    // The chain: p(purchase) = p(click) · p(purchase | click), up to the 7 printed digits.
    ASSERT_NEAR(buy[r], click[r] * buy_given_click[r], 1e-6 + 1e-5 * buy[r]) << arch << " row " << r;
  }

  // inspect names the sizes the architecture reads, and no others: the experts replace the bottom.
  RunResult inspect = RunMtrec("inspect " + model);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  const size_t line = inspect.output.find("architecture: " + arch + ",");
  ASSERT_NE(line, std::string::npos) << inspect.output;
  const std::string architecture = inspect.output.substr(line, inspect.output.find('\n', line) - line);
  EXPECT_EQ(architecture.find("bottom") != std::string::npos, arch == "shared_bottom") << architecture;
  EXPECT_EQ(architecture.find("experts") != std::string::npos, gated) << architecture;
}

// Every registered architecture, so a new one is trained here by being added to NameTable<Arch>.
INSTANTIATE_TEST_SUITE_P(Architectures, ArchitecturesTest, testing::ValuesIn(Names<Arch>()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

// A masked task learns and is measured only where its parent's label is 1.
TEST(TaskGraphTest, MaskedTaskIsEvaluatedOnItsParentsPositives) {
  const fs::path dir = FreshDir("masked");
  ASSERT_EQ(RunMtrec("simulate --rows 6000 --seed 6 --out " + dir.string()).exit_code, 0);
  const std::string model = (dir / "m.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model +
                             " train.epochs=1 tasks.purchase.mode=masked");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string json_path = (dir / "m.json").string();
  const std::string test = (dir / "test.csv").string();
  ASSERT_EQ(RunMtrec("eval --model " + model + " --data " + test + " --json " + json_path).exit_code, 0);
  nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json_path));
  const auto clicks = Column(ReadFileBytes(test), "click");
  const auto purchases = Column(ReadFileBytes(test), "purchase");
  double clicked = 0, bought = 0;
  for (size_t r = 0; r < clicks.size(); ++r) {
    clicked += clicks[r];
    bought += purchases[r];
  }
  ASSERT_GT(clicked, 20);
  EXPECT_EQ(metrics["tasks"]["purchase"]["rows"].get<double>(), clicked);
  EXPECT_NEAR(metrics["tasks"]["purchase"]["positive_rate"].get<double>(), bought / clicked, 1e-9);
  EXPECT_EQ(metrics["tasks"]["click"]["rows"].get<double>(), 600);
  // Trained on clicked rows only, its mean prediction there is near the conversion rate, several times the
  // purchase rate per impression that an unmasked model would have learned.
  const double mean_prediction = metrics["tasks"]["purchase"]["mean_prediction"].get<double>();
  EXPECT_GT(mean_prediction, 0.5 * bought / clicked);
  EXPECT_GT(mean_prediction, 2.0 * bought / 600);
  // p(purchase | click) is the masked task's own output: --conditional adds only cart's chain column.
  const std::string predictions = (dir / "p.csv").string();
  ASSERT_EQ(RunMtrec("predict --conditional --model " + model + " --data " + test + " --out " + predictions).exit_code, 0);
  const std::string csv = ReadFileBytes(predictions);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "click,cart,purchase,gmv,cart_given_click");
}

// ESCM²: an ESMM chain with the counterfactual term (ips) and with the imputation tower (dr) trains, reports the
// term each epoch, and predicts the columns ESMM predicts; the imputation column is trained, never written.
TEST(CounterfactualTest, IpsAndDrTrainAndPredictAsTheChainDoes) {
  const fs::path dir = FreshDir("counterfactual");
  ASSERT_EQ(RunMtrec("simulate --rows 20000 --seed 7 --selection-unobserved 1 --out " + dir.string()).exit_code, 0);
  const std::string test = (dir / "test.csv").string();
  for (const std::string kind : {"ips", "dr"}) {
    SCOPED_TRACE(kind);
    const std::string model = (dir / (kind + ".mtrec")).string();
    RunResult train = RunMtrec("train --config " + (dir / "config.toml").string() + " --out " + model +
                               " train.epochs=2 model.arch=esmm model.bottom=[32] tasks.purchase.counterfactual=" +
                               kind + " tasks.purchase.counterfactual_weight=0.5");
    ASSERT_EQ(train.exit_code, 0) << train.output;
    EXPECT_NE(train.output.find(" counterfactual "), std::string::npos) << train.output;
    RunResult inspect = RunMtrec("inspect " + model);
    ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
    EXPECT_EQ(inspect.output.find("purchase.imputation") != std::string::npos, kind == "dr") << inspect.output;
    const std::string predictions = (dir / (kind + ".csv")).string();
    RunResult predict = RunMtrec("predict --conditional --model " + model + " --data " + test + " --out " + predictions);
    ASSERT_EQ(predict.exit_code, 0) << predict.output;
    const std::string csv = ReadFileBytes(predictions);
    EXPECT_EQ(csv.substr(0, csv.find('\n')), "click,cart,purchase,gmv,cart_given_click,purchase_given_click");
    const auto click = Column(csv, "click"), buy = Column(csv, "purchase"), given = Column(csv, "purchase_given_click");
    for (size_t r = 0; r < click.size(); ++r) ASSERT_NEAR(buy[r], click[r] * given[r], 1e-6 + 1e-5 * buy[r]);
    const std::string json_path = (dir / (kind + ".json")).string();
    ASSERT_EQ(RunMtrec("eval --model " + model + " --data " + test + " --json " + json_path).exit_code, 0);
    nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json_path));
    EXPECT_GT(metrics["tasks"]["purchase"]["cond_auc"].get<double>(), 0.55) << metrics["tasks"]["purchase"].dump();
  }
}

}  // namespace
}  // namespace mtrec::e2e
