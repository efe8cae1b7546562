// Per-task evaluation of predictions: the metrics of each task (binary or regression), the same metrics of the
// oracle column beside them when the data has one, a printable table and the JSON of `mtrec eval --json`:
// {"tasks": {"<task>": {"auc": ..., "logloss": ..., ...}}, "rows": N}.
//
//   std::vector<TaskScores> scores = {{"click", true, predictions[0], labels[0], oracle[0]}};
//   std::vector<TaskReport> reports = EvaluateTasks(scores, config.eval);
//   fmt::print("{}", FormatMetricTable(reports));
//
// Binary tasks: rows, positive_rate, mean_prediction, calibration (Σ predicted / Σ observed), auc, gauc, gauc_pos,
// gauc_groups, gauc_skipped (with group ids), pr_auc, logloss, ece, accuracy, precision, recall, f1 (at
// eval.threshold), best_f1, best_f1_threshold. Regression: rows, horizon (of a forecast), target_mean,
// mean_prediction, rmse, mae, wape, bias, r2, poisson_deviance, tweedie_deviance (power 1.5); a quantile task adds
// quantile, pinball, coverage; with a naive forecast, mase and naive_wape (eval/forecast_metrics.h). With an oracle
// column: oracle_auc, oracle_logloss / oracle_rmse, oracle_mae, oracle_wape, oracle_bias.
// Customer value (ziln tasks): gini, spearman, decile_max_rel_error, revenue_share_top{k} (oracle_gini). Campaign
// effect (tasks with a treatment): qini, auuc, uplift_top{k}, policy_value_top{k}, policy_value_none,
// policy_value_all; with the true uplift true_qini, true_uplift_top{k}, pehe, and the oracle's oracle_qini,
// oracle_true_qini, oracle_true_uplift_top{k} (k: eval.top_percent).
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "eval/calibration.h"
#include "eval/curves.h"
#include "eval/uplift_metrics.h"
#include "eval/value_metrics.h"

namespace mtrec {

struct TaskScores {
  std::string name;
  bool binary = true;
  std::span<const float> predictions;  // probabilities for binary tasks
  std::span<const float> labels;       // NaN = missing
  std::span<const float> oracle;       // empty when there is no oracle column
  // A masked task is measured where its parent's label is 1 (CVR on clicks): when not empty, other rows are left out.
  std::span<const float> sample_space;
  // A task with a parent: its prediction of p(task | parent) on every row, and the truth of it (simulated data).
  // With both, cond_mae and cond_auc (SoftAuc against the truth) measure it over every row.
  std::span<const float> conditional;
  std::span<const float> conditional_oracle;
  // Group ids per row (users, requests) for GAUC; empty: no GAUC.
  std::span<const int64_t> groups;
  // Forecasting (regression tasks). A quantile task predicts the quantile at this level of its target: pinball and
  // coverage measure it (NaN: not a quantile task).
  double quantile = NAN;
  // A baseline's forecast of the same rows, the seasonal naive (NaN where it has none): mase and naive_wape.
  // Empty: no baseline.
  std::span<const float> naive;
  // How many days ahead the task forecasts, carried to the report as "horizon" (0: not a forecast).
  int64_t horizon = 0;
  // Customer value (a ziln task): gini, spearman, the decile table and the top k% shares (eval/value_metrics.h).
  bool value_metrics = false;
  // Campaign effect (a task with a treatment): the predicted uplift, the 0/1 treatment, the propensity for the
  // policy values (empty: the treated share) and the true uplift (empty: none) give qini, auuc, ...
  // (eval/uplift_metrics.h).
  std::span<const float> uplift;
  std::span<const float> treatment;
  std::span<const float> propensity;
  double propensity_clip = 0;  // > 0: the propensities are clipped to [clip, 1 − clip] first, as in training
  std::span<const float> true_uplift;
};

struct TaskReport {
  std::string name;
  bool binary = true;
  std::vector<std::pair<std::string, double>> metrics;  // in display order; oracle_* keys for the oracle
  // Binary tasks evaluated with curves: the ROC curve (thinned) and the reliability curve.
  std::vector<CurvePoint> roc;
  std::vector<ReliabilityBin> reliability;
  // With curves: a value task's decile table; a treated task's uplift metrics (its Qini curve) and the oracle's.
  std::vector<DecileRow> deciles;
  std::optional<UpliftMetrics> uplift;
  std::optional<UpliftMetrics> oracle_uplift;

  double Get(const std::string& key) const;  // NaN when absent
  bool Has(const std::string& key) const;
};

// A task's labels where it is measured: NaN outside its sample space (rows whose sample_space is not 1), as they
// are without one. Metrics that skip missing labels (Auc, Rmse) then score the rows EvaluateTasks scores.
std::vector<float> LabelsInSampleSpace(const TaskScores& task);

// `with_curves`: also fill roc and reliability (the report draws them; training's per-epoch validation does not).
std::vector<TaskReport> EvaluateTasks(const std::vector<TaskScores>& tasks, const EvalConfig& eval,
                                      bool with_curves = false);
// Metrics whose values are counts (printed and written as integers).
bool IsCountMetric(const std::string& key);
std::string FormatMetricTable(const std::vector<TaskReport>& reports);
// A metric as JSON: the number, or null where it is undefined (JSON has no NaN); and back, null as NaN.
nlohmann::ordered_json JsonNumber(double value);
double NumberFromJson(const nlohmann::ordered_json& value);
nlohmann::ordered_json ReportsToJson(const std::vector<TaskReport>& reports, int64_t rows);
// The reports of ReportsToJson(...)["tasks"]; a task is binary when it has an AUC. `what` names the source in errors.
std::vector<TaskReport> ReportsFromJson(const nlohmann::ordered_json& tasks, const std::string& what);

}  // namespace mtrec
