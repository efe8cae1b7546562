// The acceptance check of the walking skeleton: on the default simulated data, with the config the simulator
// writes, the test AUC of click and of purchase is within 0.01 of the oracle AUC (the AUC of the simulator's
// true probabilities on the same rows).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "common/files.h"

namespace mtrec::e2e {
namespace {

TEST(OracleGapTest, DefaultSimulationTrainsCloseToTheOracle) {
  const std::filesystem::path dir = FreshDir("oracle_gap");
  RunResult sim = RunMtrec("simulate --preset ecommerce --seed 1 --out " + dir.string());
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  const std::string model = (dir / "model.mtrec").string();
  RunResult train = RunMtrec("-q train --config " + (dir / "config.toml").string() + " --out " + model);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string json = (dir / "metrics.json").string();
  RunResult eval = RunMtrec("eval --model " + model + " --data " + (dir / "test.csv").string() + " --json " + json);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  nlohmann::json metrics = nlohmann::json::parse(ReadFileBytes(json));
  for (const char* task : {"click", "purchase"}) {
    const double auc = metrics["tasks"][task]["auc"].get<double>();
    const double oracle = metrics["tasks"][task]["oracle_auc"].get<double>();
    EXPECT_GT(auc, oracle - 0.01) << task << ": model auc " << auc << ", oracle auc " << oracle << "\n" << eval.output;
  }
}

}  // namespace
}  // namespace mtrec::e2e
