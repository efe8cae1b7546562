#include "models/task_outputs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/config.h"
#include "models/ziln.h"

namespace mtrec {
namespace {

const char* kConfig = R"(
[data]
train = "train.csv"
[[features]]
name = "x"
kind = "numeric"
[[tasks]]
name = "converted"
treatment = "treatment"
propensity = "treated"
[[tasks]]
name = "revenue"
kind = "regression"
loss = "ziln"
quantiles = [0.5, 0.975]
treatment = "treatment"
[[tasks]]
name = "churned"
[[tasks]]
name = "treated"
column = "treatment"
auxiliary = true
)";

TEST(TaskOutputsTest, ColumnsPerTaskAndArm) {
  const Config config = ParseConfig(kConfig, "config.toml");
  const TaskOutputs outputs(config);
  // converted: 2 arms × 1; revenue: 2 arms × 3; churned 1; treated 1.
  EXPECT_EQ(outputs.columns(), 10);
  EXPECT_EQ(outputs.first(0), 0);
  EXPECT_EQ(outputs.first(1), 2);
  EXPECT_EQ(outputs.first(2), 8);
  EXPECT_EQ(outputs.first(3), 9);
  EXPECT_EQ(outputs.arm_width(1), kZilnColumns);
  EXPECT_TRUE(outputs.has_treatment(1));
  EXPECT_FALSE(outputs.has_treatment(2));
  EXPECT_FALSE(outputs.one_per_task());
  EXPECT_EQ(outputs.names(),
            (std::vector<std::string>{"converted", "revenue", "churned", "treated", "converted_uplift",
                                      "converted_treated", "converted_control", "revenue_q50", "revenue_q97_5",
                                      "revenue_uplift", "revenue_treated", "revenue_control"}));

  const Config heads = HeadsConfig(config);
  std::vector<std::string> names;
  for (const auto& task : heads.tasks) names.push_back(task.name);
  EXPECT_EQ(names, (std::vector<std::string>{"converted.control", "converted.treated", "revenue.control.purchase",
                                             "revenue.control.mu", "revenue.control.sigma", "revenue.treated.purchase",
                                             "revenue.treated.mu", "revenue.treated.sigma", "churned", "treated"}));
}

// A dr task's imputation column follows its own; it keeps its parent in the heads, the imputation has none, and
// nothing is predicted from it.
TEST(TaskOutputsTest, ADrTaskOwnsItsImputationColumn) {
  const Config config = ParseConfig(R"(
[[tasks]]
name = "click"
[[tasks]]
name = "purchase"
parent = "click"
counterfactual = "dr"
[[tasks]]
name = "cart"
parent = "click"
counterfactual = "ips"
)",
                                    "config.toml");
  const TaskOutputs outputs(config);
  EXPECT_EQ(outputs.columns(), 4);
  EXPECT_EQ(outputs.first(2), 3);
  EXPECT_EQ(outputs.width(1), 2);
  EXPECT_EQ(outputs.imputation_column(1), 2);
  EXPECT_EQ(outputs.imputation_column(2), -1);
  EXPECT_FALSE(outputs.one_per_task());
  EXPECT_EQ(outputs.names(), (std::vector<std::string>{"click", "purchase", "cart"}));
  const Config heads = HeadsConfig(config);
  ASSERT_EQ(heads.tasks.size(), 4u);
  EXPECT_EQ(heads.tasks[1].name, "purchase");
  EXPECT_EQ(heads.tasks[1].parent, "click");
  EXPECT_EQ(heads.tasks[2].name, "purchase.imputation");
  EXPECT_TRUE(heads.tasks[2].parent.empty());
  EXPECT_EQ(heads.tasks[3].name, "cart");
}

TEST(TaskOutputsTest, PredictionsReadTheRowsArm) {
  const Config config = ParseConfig(kConfig, "config.toml");
  const TaskOutputs outputs(config);
  // One row of outputs: converted control/treated logits, revenue's two arms (s, mu, r), churned, treated.
  const std::vector<float> row = {-1.f, 0.5f, 0.f, 2.f, 0.3f, 1.f, 2.5f, -0.2f, -2.f, 0.4f};
  const auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
  const auto names = outputs.names();
  const auto at = [&](const std::string& name, float treatment) {
    const auto c = static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    return outputs.Predict(c, row.data(), treatment);
  };
  EXPECT_NEAR(at("converted", 0.f), sigmoid(-1), 1e-7);
  EXPECT_NEAR(at("converted", 1.f), sigmoid(0.5), 1e-7);
  EXPECT_NEAR(at("converted", NAN), sigmoid(-1), 1e-7);  // missing treatment: control
  EXPECT_NEAR(at("converted_uplift", 0.f), sigmoid(0.5) - sigmoid(-1), 1e-7);
  EXPECT_NEAR(at("converted_uplift", 1.f), sigmoid(0.5) - sigmoid(-1), 1e-7);  // the same whatever the arm
  const Ziln control = ZilnOf(row.data() + 2);
  const Ziln treated = ZilnOf(row.data() + 5);
  EXPECT_NEAR(at("revenue", 0.f), control.Mean(), 1e-4);
  EXPECT_NEAR(at("revenue", 1.f), treated.Mean(), 1e-4);
  EXPECT_NEAR(at("revenue_uplift", 0.f), treated.Mean() - control.Mean(), 1e-4);
  EXPECT_NEAR(at("revenue_q97_5", 1.f), treated.Quantile(0.975), 1e-3);
  EXPECT_NEAR(at("churned", 1.f), sigmoid(-2), 1e-7);
}

TEST(ZilnTest, MeanAndQuantilesMatchSampling) {
  const float outputs[] = {0.4f, 3.f, 0.2f};
  const Ziln d = ZilnOf(outputs);
  EXPECT_NEAR(d.p, 1 / (1 + std::exp(-0.4)), 1e-7);  // 0.4f is not 0.4
  EXPECT_NEAR(d.sigma, std::log1p(std::exp(0.2)) + kZilnMinSigma, 1e-7);
  std::mt19937_64 rng(7);
  std::bernoulli_distribution buys(d.p);
  std::lognormal_distribution<double> amount(d.mu, d.sigma);
  std::vector<double> draws(400000);
  double sum = 0;
  for (double& y : draws) sum += y = buys(rng) ? amount(rng) : 0.0;
  std::sort(draws.begin(), draws.end());
  EXPECT_NEAR(sum / static_cast<double>(draws.size()) / d.Mean(), 1.0, 0.02);
  for (double q : {0.2, 0.5, 0.75, 0.9, 0.99}) {
    const double empirical = draws[static_cast<size_t>(q * static_cast<double>(draws.size()))];
    if (q <= 1 - d.p) {
      EXPECT_EQ(d.Quantile(q), 0.0) << q;
      EXPECT_EQ(empirical, 0.0) << q;
    } else {
      EXPECT_NEAR(empirical / d.Quantile(q), 1.0, 0.03) << q;
    }
  }
}

TEST(ZilnTest, NllIsTheLogNormalDensity) {
  const float outputs[] = {-0.3f, 1.2f, 0.5f};
  const Ziln d = ZilnOf(outputs);
  const double y = 5.0;
  const double density = d.p / (y * d.sigma * std::sqrt(2 * M_PI)) *
                         std::exp(-std::pow(std::log(y) - d.mu, 2) / (2 * d.sigma * d.sigma));
  EXPECT_NEAR(ZilnNll(outputs, y, nullptr), -std::log(density), 1e-9);
  EXPECT_NEAR(ZilnNll(outputs, 0.0, nullptr), -std::log(1 - d.p), 1e-9);
}

TEST(ZilnTest, ConstantOutputsFitShareAndLogMoments) {
  const std::vector<float> labels = {0.f, 0.f, NAN, 10.f, 0.f, 100.f, 0.f};
  double c[3];
  ZilnConstantOutputs(labels.data(), static_cast<long>(labels.size()), c);
  const float outputs[] = {static_cast<float>(c[0]), static_cast<float>(c[1]), static_cast<float>(c[2])};
  const Ziln d = ZilnOf(outputs);
  EXPECT_NEAR(d.p, 2.0 / 6.0, 1e-6);
  EXPECT_NEAR(d.mu, 0.5 * (std::log(10.0) + std::log(100.0)), 1e-6);
  EXPECT_NEAR(d.sigma, 0.5 * (std::log(100.0) - std::log(10.0)), 1e-5);
}

}  // namespace
}  // namespace mtrec
