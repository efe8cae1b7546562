#include "eval/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/error.h"
#include "eval/calibration.h"
#include "eval/grouped_auc.h"
#include "eval/metrics.h"

namespace mtrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

struct Fixture {
  std::vector<float> scores = {0.9f, 0.2f, 0.6f, 0.6f, 0.1f, 0.8f, 0.3f, 0.7f};
  std::vector<float> labels = {1, 0, 1, 0, kMissing, 1, 0, 0};
  std::vector<float> parent = {1, 1, 0, 1, 1, 1, 0, 1};
  std::vector<int64_t> groups = {7, 7, 3, 3, 3, 9, 9, 7};
};

TEST(EvaluationTest, BinaryReportHoldsEveryMetricOfItsFunctions) {
  Fixture f;
  TaskScores task;
  task.name = "click";
  task.predictions = f.scores;
  task.labels = f.labels;
  task.groups = f.groups;
  EvalConfig eval;
  eval.calibration_bins = 5;
  const TaskReport report = EvaluateTasks({task}, eval, /*with_curves=*/true)[0];
  EXPECT_EQ(report.Get("rows"), 7);
  EXPECT_DOUBLE_EQ(report.Get("auc"), Auc(f.scores, f.labels));
  EXPECT_DOUBLE_EQ(report.Get("pr_auc"), PrAuc(f.scores, f.labels));
  EXPECT_DOUBLE_EQ(report.Get("best_f1"), FindBestF1(f.scores, f.labels).f1);
  const Calibration c = ComputeCalibration(f.scores, f.labels, 5);
  EXPECT_DOUBLE_EQ(report.Get("ece"), c.ece);
  EXPECT_DOUBLE_EQ(report.Get("calibration"), c.ratio);
  const GroupedAuc g = ComputeGroupedAuc(f.scores, f.labels, f.groups);
  EXPECT_DOUBLE_EQ(report.Get("gauc"), g.by_impressions);
  EXPECT_DOUBLE_EQ(report.Get("gauc_pos"), g.by_positives);
  EXPECT_EQ(report.Get("gauc_groups"), 3);
  EXPECT_EQ(report.Get("gauc_skipped"), 0);
  EXPECT_EQ(report.reliability.size(), 5u);
  ASSERT_FALSE(report.roc.empty());
  EXPECT_EQ(report.roc.front().x, 0.0);
  EXPECT_EQ(report.roc.back().y, 1.0);
  // Without groups there is no GAUC, and without curves no curves.
  task.groups = {};
  const TaskReport plain = EvaluateTasks({task}, eval)[0];
  EXPECT_FALSE(plain.Has("gauc"));
  EXPECT_TRUE(plain.roc.empty());
}

TEST(EvaluationTest, SampleSpaceRestrictsScoresLabelsAndGroupsTogether) {
  Fixture f;
  TaskScores task;
  task.name = "purchase|click";
  task.predictions = f.scores;
  task.labels = f.labels;
  task.groups = f.groups;
  task.sample_space = f.parent;
  std::vector<float> kept_scores, kept_labels;
  std::vector<int64_t> kept_groups;
  for (size_t i = 0; i < f.parent.size(); ++i) {
    if (f.parent[i] != 1.f) continue;
    kept_scores.push_back(f.scores[i]);
    kept_labels.push_back(f.labels[i]);
    kept_groups.push_back(f.groups[i]);
  }
  const TaskReport report = EvaluateTasks({task}, EvalConfig())[0];
  EXPECT_EQ(report.Get("rows"), 5);  // 6 rows where the parent is 1, one of them without a label
  EXPECT_DOUBLE_EQ(report.Get("auc"), Auc(kept_scores, kept_labels));
  EXPECT_DOUBLE_EQ(report.Get("gauc"), ComputeGroupedAuc(kept_scores, kept_labels, kept_groups).by_impressions);
  // Kept: group 7 has 1, 0, 0 (in the average); group 3 keeps one labelled negative and group 9 one positive
  // (one class each: skipped and counted).
  EXPECT_EQ(report.Get("gauc_groups"), 1);
  EXPECT_EQ(report.Get("gauc_skipped"), 2);
}

// Labels equal row by row, NaN (missing) matching NaN.
bool SameLabels(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  }
  return true;
}

TEST(EvaluationTest, LabelsInSampleSpaceAreMissingOutsideIt) {
  Fixture f;
  TaskScores task;
  task.name = "purchase|click";
  task.labels = f.labels;
  // Without a sample space every label counts, the missing one stays missing.
  EXPECT_TRUE(SameLabels(LabelsInSampleSpace(task), f.labels));
  // Parent 0 at rows 2 and 6: left out; row 4 was missing already.
  task.sample_space = f.parent;
  EXPECT_TRUE(SameLabels(LabelsInSampleSpace(task), {1, 0, kMissing, 0, kMissing, 1, kMissing, 0}));
  // Only a 1 is inside: a missing parent label leaves the row out too.
  const std::vector<float> parent = {1, kMissing, 1, 1, 1, 1, 1, 1};
  task.sample_space = parent;
  EXPECT_TRUE(SameLabels(LabelsInSampleSpace(task), {1, kMissing, 1, 0, kMissing, 1, 0, 0}));
  const std::vector<float> short_space = {1, 1};
  task.sample_space = short_space;
  EXPECT_THROW(LabelsInSampleSpace(task), Error);
}

TEST(EvaluationTest, RegressionReport) {
  const std::vector<float> predictions = {1.f, 2.f, 0.f, -0.5f}, targets = {1.5f, 2.f, 0.f, kMissing};
  TaskScores task;
  task.name = "gmv";
  task.binary = false;
  task.predictions = predictions;
  task.labels = targets;
  const TaskReport report = EvaluateTasks({task}, EvalConfig())[0];
  EXPECT_EQ(report.Get("rows"), 3);
  EXPECT_DOUBLE_EQ(report.Get("r2"), RSquared(predictions, targets));
  EXPECT_DOUBLE_EQ(report.Get("poisson_deviance"), PoissonDeviance(predictions, targets));
  EXPECT_DOUBLE_EQ(report.Get("tweedie_deviance"), TweedieDeviance(predictions, targets, 1.5));
  // Every regression task: |−0.5| / 3.5 units, and 0.5 fewer units forecast than the 3.5 observed.
  EXPECT_DOUBLE_EQ(report.Get("wape"), 0.5 / 3.5);
  EXPECT_DOUBLE_EQ(report.Get("bias"), -0.5 / 3.5);
  EXPECT_FALSE(report.Has("auc"));
  // Without a quantile, a naive forecast or a horizon, none of their keys.
  for (const char* key : {"horizon", "quantile", "pinball", "coverage", "mase", "naive_wape", "oracle_wape"}) {
    EXPECT_FALSE(report.Has(key)) << key;
  }
}

// A p90 forecast of units sold 7 days ahead, beside the seasonal naive and the true p90: every forecasting key.
TEST(EvaluationTest, ForecastTaskReportsQuantileNaiveAndHorizon) {
  const std::vector<float> p90 = {4, 2, 6, 3, 9}, sales = {3, 0, 7, 3, kMissing}, naive = {1, kMissing, 5, 4, 2};
  const std::vector<float> true_p90 = {5, 1, 6, 4, 8};
  TaskScores task;
  task.name = "units_p90";
  task.binary = false;
  task.predictions = p90;
  task.labels = sales;
  task.oracle = true_p90;
  task.quantile = 0.9;
  task.naive = naive;
  task.horizon = 7;
  const TaskReport report = EvaluateTasks({task}, EvalConfig())[0];
  EXPECT_EQ(report.Get("rows"), 4);
  EXPECT_EQ(report.Get("horizon"), 7);
  EXPECT_DOUBLE_EQ(report.Get("wape"), (1 + 2 + 1 + 0) / 13.0);
  EXPECT_DOUBLE_EQ(report.Get("bias"), (1 + 2 - 1 + 0) / 13.0);
  EXPECT_EQ(report.Get("quantile"), 0.9);
  // Pinball at 0.9: over by 1 and 2 (0.1 each unit), under by 1 (0.9), exact once.
  EXPECT_NEAR(report.Get("pinball"), (0.1 + 0.2 + 0.9 + 0.0) / 4, 1e-12);
  EXPECT_DOUBLE_EQ(report.Get("coverage"), 0.75);
  // The rows with a naive forecast and a label: 0, 2, 3. Model errors 1, 1, 0; naive's 2, 2, 1.
  EXPECT_DOUBLE_EQ(report.Get("mase"), 2.0 / 5.0);
  EXPECT_DOUBLE_EQ(report.Get("naive_wape"), 5.0 / 13.0);
  EXPECT_DOUBLE_EQ(report.Get("oracle_wape"), (2 + 1 + 1 + 1) / 13.0);
  EXPECT_DOUBLE_EQ(report.Get("oracle_bias"), (2 + 1 - 1 + 1) / 13.0);
  // The keys keep their places: forecasting metrics after the ones every regression task has.
  std::vector<std::string> keys;
  for (const auto& [key, value] : report.metrics) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"rows", "horizon", "target_mean", "mean_prediction", "rmse", "mae", "wape",
                                            "bias", "r2", "poisson_deviance", "tweedie_deviance", "quantile",
                                            "pinball", "coverage", "mase", "naive_wape", "oracle_rmse", "oracle_mae",
                                            "oracle_wape", "oracle_bias"}));
  // The horizon is a count in the table and the JSON, and comes back from it.
  const nlohmann::ordered_json json = ReportsToJson({report}, 5);
  EXPECT_TRUE(json["tasks"]["units_p90"]["horizon"].is_number_integer());
  EXPECT_EQ(ReportsFromJson(json["tasks"], "test")[0].Get("horizon"), 7);
  const std::string table = FormatMetricTable({report});
  EXPECT_NE(table.find("\nhorizon                    7\n"), std::string::npos) << table;

  // A sample space restricts the naive forecast with the rest: rows 0 and 2 only.
  const std::vector<float> space = {1, 0, 1, 0, 1};
  task.sample_space = space;
  const TaskReport restricted = EvaluateTasks({task}, EvalConfig())[0];
  EXPECT_EQ(restricted.Get("rows"), 2);
  EXPECT_DOUBLE_EQ(restricted.Get("mase"), 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(restricted.Get("naive_wape"), 4.0 / 10.0);
}

TEST(EvaluationTest, JsonKeepsCountsAsIntegersAndUndefinedAsNull) {
  TaskReport report;
  report.name = "click";
  report.metrics = {{"rows", 12}, {"auc", 0.75}, {"gauc", NAN}, {"gauc_groups", 4}};
  const nlohmann::ordered_json json = ReportsToJson({report}, 12);
  EXPECT_TRUE(json["tasks"]["click"]["rows"].is_number_integer());
  EXPECT_TRUE(json["tasks"]["click"]["gauc_groups"].is_number_integer());
  EXPECT_TRUE(json["tasks"]["click"]["gauc"].is_null());
  const std::vector<TaskReport> back = ReportsFromJson(json["tasks"], "test");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].binary);
  EXPECT_EQ(back[0].Get("auc"), 0.75);
  EXPECT_TRUE(std::isnan(back[0].Get("gauc")));
}

TEST(EvaluationTest, JsonNumberWritesUndefinedAsNullAndReadsNullAsNaN) {
  EXPECT_EQ(JsonNumber(0.25).dump(), "0.25");
  EXPECT_EQ(JsonNumber(-3.0).dump(), "-3.0");
  EXPECT_TRUE(JsonNumber(NAN).is_null());
  EXPECT_TRUE(JsonNumber(INFINITY).is_null());
  EXPECT_TRUE(JsonNumber(-INFINITY).is_null());
  EXPECT_EQ(NumberFromJson(JsonNumber(0.25)), 0.25);
  EXPECT_EQ(NumberFromJson(nlohmann::ordered_json(7)), 7.0);
  EXPECT_TRUE(std::isnan(NumberFromJson(nlohmann::ordered_json(nullptr))));
  EXPECT_TRUE(std::isnan(NumberFromJson(nlohmann::ordered_json("0.5"))));  // not a number: undefined, as null
}

TEST(EvaluationTest, TableHasAMetricPerLineAndATaskPerColumn) {
  TaskReport click, gmv;
  click.name = "click";
  click.metrics = {{"rows", 10}, {"auc", 0.7}};
  gmv.name = "gmv";
  gmv.binary = false;
  gmv.metrics = {{"rows", 10}, {"rmse", 2.5}};
  const std::string table = FormatMetricTable({click, gmv});
  EXPECT_EQ(table,
            "metric       click         gmv\n"
            "rows            10          10\n"
            "auc         0.7000            \n"
            "rmse                    2.5000\n");
}

}  // namespace
}  // namespace mtrec
