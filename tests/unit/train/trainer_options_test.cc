// How the trainer turns the config into optimizer settings, table by table, and what early stopping watches.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metric_info.h"
#include "data/column_table.h"
#include "eval/evaluation.h"
#include "features/pipeline.h"
#include "models/model.h"
#include "models/ziln.h"
#include "support/test_files.h"
#include "train/trainer.h"

namespace mtrec {
namespace {

const char* kConfig = R"(
[[features]]
name = "user"
embedding_l2 = 0.5

[[features]]
name = "city"

[[features]]
name = "home_city"
share_with = "city"

[[features]]
name = "age"
kind = "numeric"
buckets = 2
embedding_l2 = 0.0

[[tasks]]
name = "click"

[model]
arch = "single_task"
embedding_dim = 2
tower = [2]

[train]
embedding_l2 = 0.01
)";

TEST(TrainerOptionsTest, EachEmbeddingTableGetsItsFeaturesL2OrTheDefault) {
  const Config config = ParseConfig(kConfig, "trainer_options_test.toml");
  const std::string path = WriteFile(TestDir("trainer_options"), "train.csv",
                                     "user,city,home_city,age,click\nu1,paris,rome,30,1\nu2,rome,oslo,40,0\n");
  const ColumnTable table = LoadTable(path, config.data, FeaturePipeline::Requests(config, true));
  const FeaturePipeline pipeline = FeaturePipeline::Fit(config, table);
  std::unique_ptr<Model> model = CreateModel(config, pipeline.layout(), 8);
  Trainer trainer(config, *model);
  const auto& tables = model->input().tables();
  ASSERT_EQ(tables.size(), 3u);  // user, city (shared by home_city), age's buckets; one set: one task
  std::map<std::string, float> l2;
  for (size_t t = 0; t < tables.size(); ++t) l2[model->input().TableFeature(t)] = trainer.sparse_optimizer(t).options().l2;
  EXPECT_EQ(l2.at("user"), 0.5f);
  EXPECT_EQ(l2.at("city"), 0.01f);  // the default, for city and home_city's lookups in it
  EXPECT_EQ(l2.at("age"), 0.0f);    // 0 set explicitly overrides the default
  std::filesystem::remove_all(TestDir("trainer_options"));
}

// Reports of three tasks: AUC 0.9, 0.7 and (auxiliary) 0.2; logloss 0.1, 0.3, 0.5.
std::vector<TaskReport> ThreeReports() {
  std::vector<TaskReport> reports(3);
  const double auc[] = {0.9, 0.7, 0.2}, logloss[] = {0.1, 0.3, 0.5};
  for (int k = 0; k < 3; ++k) reports[k].metrics = {{"auc", auc[k]}, {"logloss", logloss[k]}};
  return reports;
}

Config MonitorConfig(const std::string& train) {
  return ParseConfig("[[tasks]]\nname = \"a\"\nweight = 2.0\n[[tasks]]\nname = \"b\"\n"
                     "[[tasks]]\nname = \"aux\"\nauxiliary = true\n[train]\n" + train,
                     "cfg.toml");
}

TEST(ValidationMonitorTest, AuxiliaryTasksAreLeftOutOfTheMeanUnlessNamed) {
  const std::vector<TaskReport> reports = ThreeReports();
  EXPECT_DOUBLE_EQ(ValidationMonitor(MonitorConfig(""), reports), 0.8);  // (0.9 + 0.7) / 2, not / 3 with 0.2
  EXPECT_DOUBLE_EQ(ValidationMonitor(MonitorConfig("early_stop_task = \"aux\""), reports), 0.2);
  EXPECT_DOUBLE_EQ(ValidationMonitor(MonitorConfig("early_stop_task = \"b\""), reports), 0.7);
  // "loss": the weighted sum of the main tasks' validation losses.
  EXPECT_DOUBLE_EQ(ValidationMonitor(MonitorConfig("early_stop_metric = \"loss\""), reports), 2 * 0.1 + 0.3);
  EXPECT_TRUE(std::isnan(ValidationMonitor(MonitorConfig("early_stop_metric = \"none\""), reports)));
}

// "loss" takes a count or pinball task's own validation loss (ValidationLosses), weighted; the others' from the
// reports as before.
TEST(ValidationMonitorTest, LossOfCountAndPinballTasksIsTheirOwn) {
  const Config config = ParseConfig(
      "[[tasks]]\nname = \"click\"\n"
      "[[tasks]]\nname = \"sales\"\nkind = \"regression\"\nloss = \"poisson\"\nweight = 0.5\n"
      "[[tasks]]\nname = \"p90\"\ncolumn = \"sales\"\nkind = \"regression\"\nloss = \"pinball\"\n"
      "quantile = 0.9\n[train]\nearly_stop_metric = \"loss\"\n",
      "cfg.toml");
  EncodedData data;
  data.rows = 2;
  data.labels = {{1, 0}, {2, 0}, {2, 0}};
  // Poisson predictions μ = 2 and 1: (2 − 2 log 2 + 1 − 0) / 2; pinball q = 1 and 1: (0.9·1 + 0.1·1) / 2.
  const std::vector<std::vector<float>> predictions = {{0.5f, 0.5f}, {2.f, 1.f}, {1.f, 1.f}};
  const std::vector<double> losses = ValidationLosses(config, data, predictions);
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_TRUE(std::isnan(losses[0]));
  EXPECT_NEAR(losses[1], (3 - 2 * std::log(2.0)) / 2, 1e-6);
  EXPECT_NEAR(losses[2], 0.5, 1e-6);
  std::vector<TaskReport> reports(3);
  reports[0].metrics = {{"logloss", 0.4}};
  reports[1].metrics = {{"rmse", 10.0}};  // not the poisson task's loss: left aside
  reports[2].metrics = {{"rmse", 10.0}};
  EXPECT_NEAR(ValidationMonitor(config, reports, losses), 0.4 + 0.5 * losses[1] + losses[2], 1e-9);
}

// A ziln task's "loss" is its negative log-likelihood under each row's arm of the model outputs, not the squared
// error of its expected value (which one heavy-tailed row dominates); rows without a treatment or label are left out.
TEST(ValidationMonitorTest, LossOfZilnTaskIsItsLikelihoodUnderTheRowsArm) {
  const Config config = ParseConfig(
      "[[tasks]]\nname = \"revenue\"\nkind = \"regression\"\nloss = \"ziln\"\ntreatment = \"offer\"\n"
      "[train]\nearly_stop_metric = \"loss\"\n",
      "cfg.toml");
  EncodedData data;
  data.rows = 4;
  data.labels = {{0.f, static_cast<float>(std::exp(1.0)), 5.f, NAN}};
  data.treatment = {{0.f, 1.f, NAN, 1.f}};
  // Output columns: control s, mu, r, then treated s, mu, r. Row 0 (control, y = 0): softplus(0) = log 2. Row 1
  // (treated, log y = 1 = mu, p = 1/2, sigma = softplus(0) + 0.01): log 2 + 1 + log sigma + ½ log 2π.
  // A control arm that reads row 1 would see mu = −3 and a far larger loss.
  const std::vector<std::vector<float>> outputs = {
      {0, 0, 0, 0}, {-3, -3, -3, -3}, {0, 0, 0, 0}, {9, 0, 9, 9}, {9, 1, 9, 9}, {9, 0, 9, 9}};
  const std::vector<std::vector<float>> predictions = {{0, 0, 0, 0}};
  const std::vector<double> losses = ValidationLosses(config, data, predictions, outputs);
  const double sigma = std::log(2.0) + kZilnMinSigma;
  const double positive = std::log(2.0) + 1 + std::log(sigma) + 0.5 * std::log(2 * M_PI);
  ASSERT_EQ(losses.size(), 1u);
  EXPECT_NEAR(losses[0], (std::log(2.0) + positive) / 2, 1e-6);
  std::vector<TaskReport> reports(1);
  reports[0].metrics = {{"rmse", 10.0}};
  EXPECT_NEAR(ValidationMonitor(config, reports, losses), losses[0], 1e-12);
  EXPECT_THROW(ValidationLosses(config, data, predictions), Error);  // the outputs are needed
}

// The epoch Fit keeps when validation measures `values` (one per epoch) on every metric of one task: the first
// epoch, then each that beats the best so far in the direction of train.early_stop_metric (Trainer::IsBetterScore).
int64_t KeptEpoch(const Config& config, const std::vector<double>& values) {
  int64_t best_epoch = 0;
  double best = NAN;
  for (size_t e = 0; e < values.size(); ++e) {
    TaskReport report;
    report.binary = config.tasks[0].kind == TaskKind::kBinary;
    for (const MetricInfo& metric : Metrics()) report.metrics.emplace_back(metric.name, values[e]);
    const double monitor = ValidationMonitor(config, {report});
    if (!std::isfinite(monitor)) continue;
    if (best_epoch == 0 || IsBetter(GetMetric(config.train.early_stop_metric), monitor, best)) {
      best_epoch = static_cast<int64_t>(e) + 1;
      best = monitor;
    }
  }
  return best_epoch;
}

// One task of `kind` watched by `metric`.
Config EarlyStopConfig(const std::string& kind, const std::string& metric) {
  return ParseConfig(
      "[[tasks]]\nname = \"t\"\nkind = \"" + kind + "\"\n[train]\nearly_stop_metric = \"" + metric + "\"\n",
      "cfg.toml");
}

// Early stopping keeps the best epoch in each metric's own direction: the highest AUC, the lowest logloss or RMSE.
// Every metric of the table with a direction is covered, so a new one is checked by being registered.
TEST(EarlyStoppingTest, EveryMetricKeepsTheEpochBestInItsDirection) {
  const std::vector<double> values = {0.5, 0.8, 0.3, 0.6};  // highest at epoch 2, lowest at epoch 3
  for (const MetricInfo& metric : Metrics()) {
    if (!metric.early_stopping) continue;
    const std::string kind = metric.binary ? "binary" : "regression";
    EXPECT_EQ(KeptEpoch(EarlyStopConfig(kind, metric.name), values), metric.higher_is_better ? 2 : 3)
        << metric.name << " on a " << kind << " task";
  }
  EXPECT_EQ(KeptEpoch(EarlyStopConfig("binary", "auc"), values), 2);
  EXPECT_EQ(KeptEpoch(EarlyStopConfig("binary", "logloss"), values), 3);
  EXPECT_EQ(KeptEpoch(EarlyStopConfig("regression", "rmse"), values), 3);
  EXPECT_EQ(KeptEpoch(EarlyStopConfig("regression", "loss"), values), 3);
  EXPECT_EQ(KeptEpoch(EarlyStopConfig("regression", "wape"), values), 3);
  EXPECT_EQ(KeptEpoch(EarlyStopConfig("regression", "mase"), values), 3);
  EXPECT_EQ(KeptEpoch(EarlyStopConfig("regression", "pinball"), values), 3);
}

// What early stopping watches is a key of the validation reports: every metric of the table (but "loss", which
// ValidationMonitor computes from logloss and rmse) is reported by EvaluateTasks for a task of its kind, mase where
// a naive forecast is given and pinball and coverage on a quantile task, and the monitor reads it from there.
TEST(EarlyStoppingTest, EveryMetricIsAKeyOfTheValidationReports) {
  const std::vector<float> clicks = {1, 0, 1, 0}, probabilities = {0.8f, 0.3f, 0.6f, 0.4f};
  const std::vector<float> sales = {3, 0, 5, 2}, forecast = {2.5f, 0.5f, 4.f, 3.f}, naive = {1, 1, 6, NAN};
  TaskScores click, units;
  click.name = "click";
  click.predictions = probabilities;
  click.labels = clicks;
  units.name = "units";
  units.binary = false;
  units.predictions = forecast;
  units.labels = sales;
  units.quantile = 0.9;
  units.naive = naive;
  const std::vector<TaskReport> reports = EvaluateTasks({click, units}, EvalConfig());
  for (const MetricInfo& metric : Metrics()) {
    if (std::string(metric.name) == "loss") continue;
    EXPECT_EQ(reports[0].Has(metric.name), metric.binary) << metric.name;
    EXPECT_EQ(reports[1].Has(metric.name), metric.regression) << metric.name;
  }
  for (const char* metric : {"wape", "mase", "pinball"}) {
    const Config config = ParseConfig("[[tasks]]\nname = \"click\"\n[[tasks]]\nname = \"units\"\n"
                                      "kind = \"regression\"\n[train]\nearly_stop_metric = \"" +
                                          std::string(metric) + "\"\n",
                                      "cfg.toml");
    EXPECT_DOUBLE_EQ(ValidationMonitor(config, reports), reports[1].Get(metric)) << metric;
  }
}

}  // namespace
}  // namespace mtrec
